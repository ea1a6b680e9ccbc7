# frozen_string_literal: true

require "fileutils"
require "open3"

module ChoriaNats
  module TestSupport
    # Runs Debian's real `mcollectived` in the foreground with its own config,
    # and `mco` against a client config. Only processes started here are
    # signalled; every wait is bounded.
    class Mcollectived
      # Seconds to wait for a log line or an exit.
      WAIT = 20

      # @return [String] the daemon's log file
      attr_reader :log_file
      # @return [Integer, nil] the daemon's PID
      attr_reader :pid

      # config:: the server.cfg text (its logfile is set here); env:: extra environment;
      # command:: how to run the daemon (another Ruby's: [ruby, "-S", "mcollectived"])
      def initialize(dir:, name:, config:, env: {}, command: ["mcollectived"])
        FileUtils.mkdir_p(dir)
        @command = command
        @log_file = File.join(dir, "#{name}.log")
        @config_file = File.join(dir, "#{name}.cfg")
        @env = env
        File.write(@config_file, "#{config}logfile = #{@log_file}\nlogger_type = file\ndaemonize = 0\n")
      end

      # Starts the daemon.
      def start
        FileUtils.touch(@log_file)
        @pid = Process.spawn(@env, *@command, "--config", @config_file, "--no-daemonize",
                             %i[out err] => ["#{@log_file}.out", "w"], pgroup: true)
        self
      end

      # The daemon's log.
      def log
        File.exist?(@log_file) ? File.read(@log_file) : ""
      end

      # Waits until the log matches `pattern`; raises with the log's tail otherwise.
      def wait_for_log(pattern, seconds = WAIT)
        deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
        until log.match?(pattern)
          if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
            raise "mcollectived log did not show #{pattern.inspect} within #{seconds}s:\n#{log.lines.last(30).join}"
          end

          sleep 0.1
        end
      end

      # Stops the daemon: TERM, then KILL after a bounded wait.
      def stop
        return unless @pid

        %w[TERM KILL].each do |signal|
          Process.kill(signal, @pid)
          return @pid = nil if reaped?(5)
        rescue Errno::ESRCH
          reaped?(0)
          return @pid = nil
        end
      end

      # Runs `mco ARGS --config client_config` and returns [stdout+stderr, status]; command:: as in new.
      def self.mco(client_config, *args, env: {}, timeout: 60, command: ["mco"])
        Open3.capture2e(env, "timeout", timeout.to_s, *command, *args, "--config", client_config)
      end

      private

      def reaped?(seconds)
        deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
        loop do
          return true if Process.wait(@pid, Process::WNOHANG)
          return false if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

          sleep 0.05
        end
      rescue Errno::ECHILD
        true
      end
    end
  end
end
