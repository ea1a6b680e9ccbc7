# frozen_string_literal: true

require "io/wait"

module ChoriaNats
  # Runs a helper command (facter, puppet) that may hang, and gives up on it after a time.
  module BoundedCommand
    module_function

    # The standard output of `command`, or nil when it fails or outlives `timeout` seconds (then it is killed).
    def output(command, timeout)
      reader, writer = IO.pipe
      pid = Process.spawn(*command, in: File::NULL, out: writer, err: File::NULL)
      writer.close
      text = read_until(reader, Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout)
      Process.kill("KILL", pid) unless text
      status = Process.wait2(pid).last
      text if status.success?
    rescue SystemCallError
      nil
    ensure
      [reader, writer].each { |io| io.close unless io.nil? || io.closed? }
    end

    # Everything `reader` gives until end of file, or nil when `deadline` passes first.
    def read_until(reader, deadline)
      text = +""
      loop do
        remaining = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
        return nil if remaining <= 0 || reader.wait_readable(remaining).nil?

        chunk = reader.read_nonblock(4096, exception: false)
        return text if chunk.nil?

        text << chunk if chunk.is_a?(String)
      end
    end
    private_class_method :read_until
  end
end
