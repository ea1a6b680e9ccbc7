# frozen_string_literal: true

require "etc"
require "fileutils"
require "socket"
require "timeout"

module ChoriaNats
  module TestSupport
    # Debian's dnsmasq (package dnsmasq-base) serving SRV records on
    # 127.0.0.1 and a free high port. It answers NXDOMAIN (or no data) for
    # names under a `local_domains` domain it has no record for, and REFUSED
    # for any other name (--no-resolv leaves it no upstream).
    class Dnsmasq
      # Where Debian puts it.
      BINARIES = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"].freeze
      # Seconds to answer its first query, and to exit after TERM.
      START_TIMEOUT = 10
      STOP_TIMEOUT = 5

      # The binary, or nil when dnsmasq is not installed.
      def self.binary
        BINARIES.find { |path| File.executable?(path) }
      end

      # `IP:PORT` for ChoriaNats.srv_lookup and plugin.choria.srv_nameserver.
      attr_reader :nameserver

      # srv_hosts:: dnsmasq --srv-host values: "name,target,port,priority,weight"
      def initialize(dir:, srv_hosts:, local_domains:)
        @dir = dir
        FileUtils.mkdir_p(dir)
        @port = TCPServer.new("127.0.0.1", 0).then { |server| server.addr[1].tap { server.close } }
        @nameserver = "127.0.0.1:#{@port}"
        @log = File.join(dir, "dnsmasq.log")
        @local_domains = local_domains
        @command = command(srv_hosts)
      end

      # Serves `srv_hosts` instead, on the same port: dnsmasq reads --srv-host only when it starts.
      def restart(srv_hosts:)
        stop
        @command = command(srv_hosts)
        start
      end

      # Starts it and waits (bounded) until it answers a query.
      def start
        @pid = Process.spawn(*@command, in: File::NULL, out: @log, err: @log)
        deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + START_TIMEOUT
        begin
          ChoriaNats.srv_lookup(["_probe._tcp.invalid"], @nameserver, 0.5)
        rescue ChoriaNats::TimeoutError
          raise "dnsmasq exited: #{File.read(@log)}" if Process.wait(@pid, Process::WNOHANG)
          raise "dnsmasq did not answer within #{START_TIMEOUT}s: #{File.read(@log)}" if
            Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

          sleep 0.05
          retry
        rescue ChoriaNats::ConnectionError
          nil # it answered (REFUSED): it is up
        end
        self
      end

      # Stops it: TERM, then KILL after a bounded wait. Only the PID it started.
      def stop
        return unless @pid

        Process.kill("TERM", @pid)
        Timeout.timeout(STOP_TIMEOUT) { Process.wait(@pid) }
      rescue Timeout::Error
        Process.kill("KILL", @pid)
        Process.wait(@pid)
      rescue Errno::ESRCH, Errno::ECHILD
        nil
      ensure
        @pid = nil
      end

      private

      # The command line serving `srv_hosts`.
      def command(srv_hosts)
        [
          self.class.binary, "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
          "--bind-interfaces", "--listen-address=127.0.0.1", "--port=#{@port}",
          "--pid-file=#{File.join(@dir, 'dnsmasq.pid')}", "--user=#{Etc.getpwuid(Process.uid).name}",
          *@local_domains.map { |domain| "--local=/#{domain}/" },
          *srv_hosts.map { |record| "--srv-host=#{record}" }
        ]
      end
    end
  end
end
