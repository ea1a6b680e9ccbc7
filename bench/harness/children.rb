# frozen_string_literal: true

require "timeout"

module ChoriaNats
  # The benchmark behind `rake bench` (bench/run.rb).
  module Bench
    # Seconds a process gets to exit after TERM (and again after KILL).
    STOP_TIMEOUT = 5
    # Seconds between polls of a child process.
    POLL = 0.02

    # The next line from +reader+ (chomped), or nil at end of file or after +timeout+ seconds.
    def self.read_line(reader, timeout)
      limit = now + timeout
      buffer = +""
      loop do
        left = limit - now
        return nil if left <= 0 || !reader.wait_readable(left)

        chunk = reader.read_nonblock(1, exception: false)
        return nil if chunk.nil?
        next if chunk == :wait_readable
        return buffer if chunk == "\n"

        buffer << chunk
      end
    end

    # Runs child processes, remembers their PIDs and waits for them in bounded time.
    class Children
      # A fresh, empty set of children.
      def initialize
        @pids = []
      end

      # Spawns +argv+ with stdout on a pipe (returned) and stderr to +err_file+; returns [pid, reader].
      def spawn(argv, err_file)
        reader, writer = IO.pipe
        begin
          pid = Process.spawn(*argv, out: writer, err: [err_file, "w"], in: File::NULL)
        rescue SystemCallError
          reader.close
          raise
        ensure
          writer.close
        end
        @pids << pid
        [pid, reader]
      end

      # Runs +argv+ to the end (at most +timeout+ s), reading its stdout meanwhile; returns
      # [wall seconds from spawn to exit, stdout].
      # Raises unless it succeeds.
      def timed(argv, err_file, timeout)
        started = Bench.now
        pid, out = spawn(argv, err_file)
        text, status = Timeout.timeout(timeout) { [out.read, Process.wait2(pid)[1]] }
        elapsed = Bench.now - started
        @pids.delete(pid)
        raise "#{argv.first(2).join(' ')} failed (#{status}): #{File.read(err_file)}" unless status.success?

        [elapsed, text]
      rescue Timeout::Error
        stop(pid)
        raise "#{argv.first(2).join(' ')} took over #{timeout}s"
      ensure
        out&.close
      end

      # The exit status of +pid+, or nil (after killing it) when it has not exited within +timeout+ seconds.
      def wait(pid, timeout)
        limit = Bench.now + timeout
        loop do
          reaped = Process.wait2(pid, Process::WNOHANG)
          if reaped
            @pids.delete(pid)
            return reaped[1]
          end
          break if Bench.now >= limit

          sleep(POLL)
        end
        stop(pid)
        nil
      end

      # Stops +pid+ (TERM, then KILL), waiting a bounded time for each.
      def stop(pid)
        %w[TERM KILL].each do |signal|
          Process.kill(signal, pid)
          limit = Bench.now + STOP_TIMEOUT
          sleep(POLL) until Process.wait2(pid, Process::WNOHANG) || Bench.now >= limit
        rescue Errno::ESRCH, Errno::ECHILD
          break
        end
        @pids.delete(pid)
      end

      # Stops every child still running.
      def stop_all
        @pids.dup.each { |pid| stop(pid) }
      end
    end
  end
end
