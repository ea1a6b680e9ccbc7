# frozen_string_literal: true

module ChoriaNats
  # Hands the connection's log lines to MCollective::Log, checking the level
  # first: MCollective 2.12's Log captures a backtrace on every call, even for
  # lines its level drops.
  class MCollectiveLog
    # MCollective's levels, least severe first.
    LEVELS = %i[debug info warn error fatal].freeze

    # Logs `line` at `level` when MCollective's active level lets it through.
    def call(level, line)
      MCollective::Log.public_send(level, line) if enabled?(level)
    end

    # Whether MCollective would print `level` now (its level can change at run time).
    def enabled?(level)
      active = MCollective::Log.instance.active_level if MCollective::Log.instance.respond_to?(:active_level)
      LEVELS.index(level).to_i >= LEVELS.index(active || :debug).to_i
    rescue StandardError
      true
    end
  end
end
