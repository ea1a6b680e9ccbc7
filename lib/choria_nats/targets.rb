# frozen_string_literal: true

require "digest/md5"

module ChoriaNats
  # NATS subjects for MCollective's target types.
  module Targets
    # The target types MCollective asks for.
    TYPES = %i[directed broadcast reply request direct_request].freeze

    # The subject for `type`; `reply_to` gives [callerid, pid, sequence] for :reply.
    def self.subject(agent:, type:, collective:, collectives:, identity:, reply_to: nil)
      raise ChoriaNats::Error, "Unknown target type #{type.inspect}: expected one of #{TYPES.join(', ')}" unless
        TYPES.include?(type)

      unless collectives.include?(collective)
        raise ChoriaNats::Error,
              "Unknown collective #{collective.inspect}: known collectives are #{collectives.join(', ')}"
      end

      case type
      when :reply then reply(collective, *reply_to.call)
      when :broadcast, :request then "#{collective}.broadcast.agent.#{agent}"
      else "#{collective}.node.#{identity}"
      end
    end

    # `<collective>.reply.<md5 of the caller id>.<pid>.<request sequence>`.
    def self.reply(collective, callerid, pid, sequence)
      "#{collective}.reply.#{Digest::MD5.hexdigest(callerid.to_s)}.#{pid}.#{sequence}"
    end
  end
end
