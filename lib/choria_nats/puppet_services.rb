# frozen_string_literal: true

require_relative "puppet_ca"

module ChoriaNats
  # Where the Puppet server and PuppetDB are, found as Choria finds them, for `mco choria show_config`:
  # the Choria plugins that use them (PuppetDB discovery, for one) read the same settings and records.
  module PuppetServices
    # The Puppet server: plugin.choria.puppetserver_host (and _port), else SRV `_x-puppet._tcp`,
    # else `puppet:8140`.
    class Server < PuppetCA::Location
      # The SRV services looked up under the domain.
      SRV_SERVICES = %w[_x-puppet._tcp].freeze
      # The line #description gives, by source.
      DESCRIPTIONS = {
        config: "Puppet server from plugin.choria.puppetserver_host: %<list>s",
        srv: "Puppet server from SRV %<srv_name>s: %<list>s",
        default: "Puppet server: none configured and %<reason>s: using the default %<list>s"
      }.freeze

      # The location a ChoriaNats::PluginSettings describes; `options` as for SrvLocator.
      def self.from_settings(settings, **options)
        new(host: settings.puppetserver_host, port: settings.puppetserver_port, **srv_options(settings), **options)
      end
    end

    # PuppetDB: plugin.choria.puppetdb_host (and _port), else SRV `_x-puppet-db._tcp`, else SRV
    # `_x-puppet._tcp` with plugin.choria.puppetdb_port (those records give the Puppet server's port),
    # else `puppet:8081`.
    class DB < PuppetCA::Location
      # The SRV services looked up under the domain, in order.
      SRV_SERVICES = %w[_x-puppet-db._tcp _x-puppet._tcp].freeze
      # The line #description gives, by source.
      DESCRIPTIONS = {
        config: "PuppetDB from plugin.choria.puppetdb_host: %<list>s",
        srv: "PuppetDB from SRV %<srv_name>s: %<list>s",
        default: "PuppetDB: none configured and %<reason>s: using the default %<list>s"
      }.freeze

      # The location a ChoriaNats::PluginSettings describes; `options` as for SrvLocator.
      def self.from_settings(settings, **options)
        new(host: settings.puppetdb_host, port: settings.puppetdb_port, **srv_options(settings), **options)
      end

      # As SrvLocator#servers, with PuppetDB's port on the Puppet server's records.
      def servers
        found = super
        return found unless source == :srv && srv_name.to_s.start_with?("_x-puppet._tcp.")

        @addresses = found.map { |address, _| address.sub(/:\d+\z/, ":#{@port}") }
        @addresses.map { |address| [address, "srv"] }
      end
    end
  end
end
