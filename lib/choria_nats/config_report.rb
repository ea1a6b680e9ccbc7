# frozen_string_literal: true

require_relative "../choria_nats"
require_relative "config_file"
require_relative "puppet_ca"
require_relative "puppet_services"

module ChoriaNats
  # The sections `mco choria show_config` prints before the doctor's report, one method each: the
  # MCollective side, the Puppet services, the security provider and the files it uses, and every
  # `plugin.choria.*` setting with where its value came from.
  #
  #   report = ChoriaNats::ConfigReport.new(mcollective: facts, pluginconf: conf, out: $stdout)
  #   report.mcollective_section; report.puppet_section; report.security_section; report.choria_settings_section
  class ConfigReport
    # Column of the values.
    WIDTH = 20
    # The MCollective facts the report shows, from MCollective::Config (Facts.from_config).
    Facts = Struct.new(:version, :config_file, :plugin_dir, :identity, :collectives, :main_collective,
                       :securityprovider, :libdirs, keyword_init: true) do
      # The facts of a loaded MCollective::Config; its libdirs are read from its file, as
      # MCollective::Config#libdir gives the whole $LOAD_PATH.
      def self.from_config(config, version:)
        new(version: version, config_file: config.configfile, plugin_dir: File.join(config.configdir, "plugin.d"),
            identity: config.identity, collectives: config.collectives, main_collective: config.main_collective,
            securityprovider: config.securityprovider, libdirs: libdirs(config.configfile))
      end

      # The libdirs the config file names, [] when it cannot be read.
      def self.libdirs(file)
        file ? ConfigFile.new(file).libdirs : []
      rescue ChoriaNats::Error, SystemCallError
        []
      end
    end
    # The key prefix of the settings listed in #choria_settings_section.
    CHORIA_PREFIX = "plugin.choria."

    # mcollective:: Facts; pluginconf:: Config#pluginconf; ssl_paths:: a ChoriaNats::SSLPaths, or a
    # callable making one (it may raise ChoriaNats::ConfigurationError); env:: the process'; domain_lookup
    # and resolver as for SrvLocator (one domain lookup serves every section).
    def initialize(mcollective:, pluginconf:, ssl_paths:, out: $stdout, env: ENV,
                   domain_lookup: -> { SrvLocator.facter_domain }, resolver: ChoriaNats.method(:srv_lookup))
      @facts = mcollective
      @conf = pluginconf
      @out = out
      @settings = PluginSettings.new(pluginconf, env: env)
      @ssl_paths = ssl_paths
      @domain_lookup = domain_lookup
      @resolver = resolver
    end

    # MCollective's version and files, the collectives, and the gem's version.
    def mcollective_section
      heading("MCollective")
      field("MCollective", @facts.version)
      field("choria-nats", "#{VERSION} (#{ChoriaNats::NATS_CLIENT}, rustls)")
      field("Config file", @facts.config_file || "(none)")
      field("Plugin config dir", @facts.plugin_dir)
      field("libdir", @facts.libdirs.empty? ? "(none)" : @facts.libdirs.join(", "))
      field("Collectives", "#{@facts.collectives.join(', ')} (main: #{@facts.main_collective})")
    end

    # The Puppet server, CA and PuppetDB, each with where it came from, and the domain of the SRV lookups.
    def puppet_section
      heading("Puppet")
      field("Facter domain", facter_domain || "(none: facter is missing, failed or gave no networking.domain)")
      field("SRV domain", srv_domain_line)
      [PuppetServices::Server, PuppetCA::Location, PuppetServices::DB].each do |kind|
        @out.puts("  #{kind.from_settings(@settings, domain_lookup: -> { facter_domain }, resolver: @resolver)
                            .description}")
      end
    end

    # MCollective's security plugin, Choria's security provider, and the certificate request's path.
    def security_section
      heading("Security")
      field("securityprovider", "#{@facts.securityprovider} (MCollective's security plugin)")
      field("Security provider", security_provider_line)
      paths = @ssl_paths.respond_to?(:call) ? @ssl_paths.call : @ssl_paths
      field("CSR path", csr_line(paths))
    rescue ConfigurationError => e
      field("CSR path", "(unknown: #{e.message})")
    end

    # Every plugin.choria.* setting of the settings table with its value and origin (config, env,
    # default), then the plugin.choria.* keys of the config that choria-nats does not read.
    def choria_settings_section
      heading("plugin.choria.* settings")
      rows = ChoriaNats::SETTINGS.select { |row| row[:key].to_s.start_with?(CHORIA_PREFIX) }.sort_by { |row| row[:key] }
      width = rows.map { |row| row[:key].size }.max
      rows.each { |row| @out.puts("  #{row[:key].ljust(width)} = #{setting_line(row)}") }
      (unread_keys - rows.map { |row| row[:key] }).each do |key|
        @out.puts("  #{key.ljust(width)} = #{@conf[key.delete_prefix('plugin.')]} (config; not read by choria-nats)")
      end
    end

    private

    def csr_line(paths)
      return "(none: the #{paths.provider} provider requests no certificate)" unless paths.respond_to?(:csr_file)

      "#{paths.csr_file} (#{File.exist?(paths.csr_file) ? 'found' : 'absent'})"
    end

    def security_provider_line
      origin = @settings.source("security_provider") || "the default"
      "#{@settings.security_provider} (#{origin})"
    rescue ConfigurationError => e
      "(refused: #{e.message})"
    end

    # The config's plugin.choria.* keys, in order.
    def unread_keys
      @conf.keys.map { |key| "plugin.#{key}" }.select { |key| key.start_with?(CHORIA_PREFIX) }.sort
    end

    def heading(title)
      @out.puts("", title)
    end

    def field(name, value)
      @out.puts("  #{name.ljust(WIDTH)}#{value}")
    end

    def facter_domain
      return @facter_domain if defined?(@facter_domain)

      @facter_domain = @domain_lookup&.call
    end

    def srv_domain_line
      return "(SRV lookups are off: plugin.choria.use_srv_records = false)" unless @settings.use_srv?
      return "#{@settings.srv_domain} (plugin.choria.srv_domain)" if @settings.srv_domain

      facter_domain ? "#{facter_domain} (facter)" : "(none)"
    end

    # The value and where it came from; a value the setting refuses is shown with why.
    def setting_line(row)
      origin, text, label = @settings.origin(row[:name])
      return default_line(row) if origin == :default

      where = origin == :env ? "env #{label}" : "config"
      ChoriaNats.setting_value(row[:name], text)
      "#{text} (#{where})"
    rescue ConfigurationError => e
      "#{text} (#{where}; refused: #{e.message})"
    end

    def default_line(row)
      return "#{row[:default]} (default)" unless row[:default].nil?

      row[:default_text] ? "(default: #{row[:default_text]})" : "(not set)"
    end
  end
end
