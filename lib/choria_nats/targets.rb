# frozen_string_literal: true

require "digest/md5"

module ChoriaNats
  # NATS subjects for MCollective's target types.
  module Targets
    # The target types MCollective asks for.
    TYPES = %i[directed broadcast reply request direct_request].freeze
    # The identities MCollective's own configuration accepts, in dot-separated words: anything else
    # in a node subject (a `*` or `>` a discovery reply claims, an empty word) would widen it to
    # other nodes' subjects.
    IDENTITY = /\A[\w-]+(\.[\w-]+)*\z/.freeze

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
      else node(collective, identity)
      end
    end

    # `<collective>.node.<identity>`, for an identity MCollective would accept (IDENTITY).
    def self.node(collective, identity)
      problem = identity_problem(identity)
      raise ChoriaNats::Error, problem if problem

      "#{collective}.node.#{identity}"
    end

    # The identities of `hosts` that can name a node's subject; each other one's problem is yielded
    # (a `>` a discovery reply claimed would reach other nodes, so it is left out).
    def self.sendable(hosts, &problems)
      hosts.reject { |host| identity_problem(host)&.tap(&problems) }
    end

    # Why `identity` cannot name a node's subject, in a line; nil when it can.
    def self.identity_problem(identity)
      return nil if identity.to_s.match?(IDENTITY)

      "Not a node identity: #{identity.to_s.inspect} (an identity is words of letters, digits, '_' and '-', " \
        "separated by dots); no message was sent to it"
    end

    # `<collective>.reply.<md5 of the caller id>.<pid>.<request sequence>`.
    def self.reply(collective, callerid, pid, sequence)
      "#{collective}.reply.#{Digest::MD5.hexdigest(callerid.to_s)}.#{pid}.#{sequence}"
    end
  end
end
