# frozen_string_literal: true

require_relative "broker_list"
require_relative "envelope"
require_relative "errors"

module ChoriaNats
  # A federated client (`mco`): its requests go to the federation brokers of each network named by
  # plugin.choria.federation.collectives (or CHORIA_FED_COLLECTIVE), which publish them to the
  # subjects in the envelope's `federation` header and bring the replies back to the client's
  # reply subject. docs/configuration.md#federation describes it.
  class Federation
    # Node subjects per message of a direct request, as Choria's federation brokers expect.
    BATCH = 200

    # The federation brokers: plugin.choria.federation_middleware_hosts, else the federation SRV
    # records; nothing else (#brokers then falls back to the collective's brokers).
    class BrokerList < ChoriaNats::BrokerList
      # The SRV services looked up under the domain, in order.
      SRV_SERVICES = %w[_mcollective-federation_server._tcp _x-puppet-mcollective_federation._tcp].freeze
      # The setting that names the brokers.
      HOSTS_KEY = "plugin.choria.federation_middleware_hosts"
      # The log line #description gives, by source.
      DESCRIPTIONS = {
        config: "federation brokers from #{HOSTS_KEY}: %<list>s",
        srv: "federation brokers from SRV %<srv_name>s: %<list>s",
        default: "no federation brokers: %<reason>s"
      }.freeze

      # The federation broker list a ChoriaNats::PluginSettings describes; `options` as for #initialize.
      def self.from_settings(settings, **options)
        new(middleware_hosts: settings.federation_middleware_hosts, **srv_options(settings), **options)
      end

      private

      def default_addresses
        []
      end
    end

    # The federated networks, in order.
    attr_reader :networks

    # The Federation a ChoriaNats::PluginSettings configures, or nil when not federated. Federation is
    # a client's choice: a server (mcollectived) always serves its own collective, and `logger`
    # (`call(level, line)`) says once that it ignores the setting.
    def self.from_settings(settings, server: false, logger: nil)
      networks = settings.federation_collectives
      return nil if networks.empty?
      return new(networks) unless server

      logger&.call(:warn, "Federation is for mco only: mcollectived ignores the federated networks " \
                          "#{networks.join(', ')} (plugin.choria.federation.collectives or CHORIA_FED_COLLECTIVE)")
      nil
    end

    # The NATS subject a federation broker of `network` takes requests on.
    def self.subject(network)
      "choria.federation.#{network}.federation"
    end

    # networks:: the federated network names (already checked by the settings table).
    def initialize(networks)
      @networks = networks.dup.freeze
    end

    # The brokers a federated client connects to: the federation brokers, else `fallback` (the
    # collective's ChoriaNats::BrokerList). `logger` (`call(level, line)`) gets one info line naming
    # the networks and the brokers; `options` as for SrvLocator#initialize (resolver, domain_lookup).
    def brokers(settings, fallback:, logger: nil, **options)
      federation = BrokerList.from_settings(settings, **options)
      federation.servers
      list = federation.source == :default ? fallback : federation
      why = list.equal?(federation) ? "" : " (#{federation.description})"
      logger&.call(:info, "Federated client: requests go to the networks #{networks.join(', ')} " \
                          "through the #{list.description}#{why}")
      list
    end

    # `[[subject, body], ...]` to publish for one request: for each network, one message per batch of
    # at most BATCH `targets` (a broadcast request has one target, its broadcast subject). `headers`
    # are the request's own (mc_sender, reply-to, seen-by); the `federation` header is added here.
    def messages(payload:, headers:, targets:, requestid:)
      bodies = targets.each_slice(BATCH).map do |batch|
        Envelope.encode(payload, headers.merge("federation" => { "target" => batch, "req" => requestid }))
      end
      networks.flat_map { |network| bodies.map { |body| [self.class.subject(network), body] } }
    end
  end
end
