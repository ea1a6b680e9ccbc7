# frozen_string_literal: true

require_relative "errors"
require_relative "srv_locator"

module ChoriaNats
  # The ordered NATS broker list and where it came from: plugin.choria.middleware_hosts,
  # else DNS SRV records for the domain, else puppet:4222.
  class BrokerList < SrvLocator
    # The SRV services looked up under the domain, in order.
    SRV_SERVICES = %w[_mcollective-server._tcp _x-puppet-mcollective._tcp].freeze
    # Both names' records are brokers of the same fleet, as the reference connector takes them: the
    # native lookup merges them, keeps a duplicate once and orders the whole set (RFC 2782).
    MERGE_SRV = true
    # The NATS port when an address names none (the native library's).
    DEFAULT_PORT = ChoriaNats::NATS_PORT
    # The setting that names the brokers.
    HOSTS_KEY = "plugin.choria.middleware_hosts"
    # The broker used when nothing else names one.
    DEFAULT_BROKER = "puppet:#{DEFAULT_PORT}"
    # The log line #description gives, by source.
    DESCRIPTIONS = {
      config: "NATS brokers from plugin.choria.middleware_hosts: %<list>s",
      srv: "NATS brokers from SRV %<srv_name>s: %<list>s",
      default: "NATS brokers: none configured and %<reason>s: using the default %<list>s"
    }.freeze

    # The broker list a ChoriaNats::PluginSettings describes; `options` as for #initialize (resolver,
    # domain_lookup).
    def self.from_settings(settings, **options)
      new(middleware_hosts: settings.middleware_hosts, **srv_options(settings), **options)
    end

    # middleware_hosts:: plugin.choria.middleware_hosts: "host[:port], ..." or an Array of entries;
    # the other keywords as for SrvLocator.
    def initialize(middleware_hosts: nil, **options)
      super(**options)
      @middleware_hosts = middleware_hosts
    end

    private

    def configured_addresses
      parse_hosts(@middleware_hosts)
    end

    def default_addresses
      [DEFAULT_BROKER]
    end

    def parse_hosts(hosts)
      Array(hosts).join(",").split(",").map(&:strip).reject(&:empty?).map { |host| with_port(host) }
    end

    # `host:port` with the default port when none is given; bare IPv6 addresses get brackets; an entry
    # with credentials is refused (the native `ChoriaNats.broker_address`, which the connection shares).
    def with_port(host)
      ChoriaNats.broker_address(host, self.class::DEFAULT_PORT, self.class::HOSTS_KEY)
    end

    # The connection's own check of an address, so that a record it would refuse is left out here.
    def record_problem(host, port)
      ChoriaNats.server_address_problem("#{host}:#{port}")
    end
  end
end
