# frozen_string_literal: true

require "etc"

module ChoriaNats
  # The benchmark behind `rake bench` (bench/run.rb).
  module Bench
    # Seconds on the monotonic clock.
    def self.now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    # The median of +values+ (nil when there are none).
    def self.median(values)
      return nil if values.empty?

      sorted = values.sort
      middle = sorted.size / 2
      sorted.size.odd? ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2.0
    end

    # The value at quantile +q+ (0..1) of +values+, nearest rank, as nats-bare computes it.
    def self.percentile(values, quantile)
      return nil if values.empty?

      sorted = values.sort
      sorted[(quantile * sorted.size).ceil.clamp(1, sorted.size) - 1]
    end

    # What /proc says about a process: CPU time and memory.
    module ProcStat
      # Clock ticks per second of utime and stime.
      TICKS = Etc.sysconf(Etc::SC_CLK_TCK)

      # CPU time of +pid+ so far: :ticks, seconds from utime + stime (10 ms steps, exited threads
      # included), and :threads, nanoseconds per live thread from /proc/<pid>/task/*/schedstat.
      def self.cpu(pid)
        fields = File.read("/proc/#{pid}/stat").split(")").last.split
        ticks = (Integer(fields[11]) + Integer(fields[12])).to_f / TICKS
        threads = Dir["/proc/#{pid}/task/*/schedstat"].to_h do |file|
          [File.basename(File.dirname(file)), Integer(File.read(file).split.first)]
        rescue Errno::ENOENT, Errno::ESRCH
          [file, 0]
        end
        { ticks: ticks, threads: threads }
      end

      # CPU seconds between two #cpu readings, by thread run times (a thread that
      # ended between them loses what it used since +before+; idle ones use nothing).
      def self.cpu_seconds(before, after)
        after[:threads].sum { |tid, ns| [ns - before[:threads].fetch(tid, 0), 0].max } / 1e9
      end

      # A kB field of /proc/<pid>/status (VmRSS, VmHWM) in MiB, or nil.
      def self.mib(pid, field)
        line = File.read("/proc/#{pid}/status")[/^#{field}:\s+(\d+) kB/, 1]
        line && (Integer(line) / 1024.0)
      rescue Errno::ENOENT
        nil
      end

      # Resets the peak RSS (VmHWM) of +pid+ to its RSS; false where Linux refuses.
      def self.reset_peak(pid = "self")
        File.write("/proc/#{pid}/clear_refs", "5")
        true
      rescue SystemCallError
        false
      end
    end
  end
end
