# frozen_string_literal: true

module ChoriaNats
  # Lets one warning through per interval and counts the rest, so a flood of
  # bad input costs a line a second, not a line a message.
  class WarningThrottle
    # interval:: seconds between warnings
    def initialize(interval: 1.0, clock: -> { Process.clock_gettime(Process::CLOCK_MONOTONIC) })
      @interval = interval
      @clock = clock
      @last = nil
      @suppressed = 0
    end

    # When this warning may go out: the number held back since the last one let through.
    # nil (and counted) when it may not.
    def let_through
      now = @clock.call
      if @last && now - @last < @interval
        @suppressed += 1
        return nil
      end
      held = @suppressed
      @last = now
      @suppressed = 0
      held
    end
  end
end
