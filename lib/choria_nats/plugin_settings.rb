# frozen_string_literal: true

require_relative "setting_sources"
require_relative "settings_table"

module ChoriaNats
  # The connector's settings from MCollective's `plugin.*` configuration, with their environment
  # fall-backs. Works on a plain Hash. Keys, fall-backs, defaults and checks come from the native
  # settings table (ChoriaNats::SETTINGS; docs/configuration.md lists it).
  class PluginSettings
    # The settings table by name.
    TABLE = SettingsTable::ROWS
    # The Connection options an MCollective key sets, by name.
    CONFIGURED_OPTIONS = TABLE.select { |_, row| row[:role] == :option && row[:key] }.keys.freeze
    # The options only mcollectived is given: one status file and one metrics port per node, not
    # one per mco run.
    DAEMON_OPTIONS = %w[status_file_path status_update_interval stats_port stats_address].freeze
    # Seconds mco keeps trying to reach a broker when its config sets no connection_timeout.
    CLIENT_CONNECT_DEADLINE = TABLE.fetch("connection_timeout")[:default]

    private_constant :TABLE, :CONFIGURED_OPTIONS, :DAEMON_OPTIONS

    # pluginconf:: MCollective's `Config#pluginconf` (keys without "plugin.")
    def initialize(pluginconf, env: ENV)
      @sources = SettingSources.new(pluginconf, env)
    end

    # One line for each setting given two spellings (go-choria's and ours) that disagree, saying
    # which is used; the settings read so far, or all of them with `all: true`.
    def warnings(all: false)
      TABLE.each_key { |name| configured(name) } if all
      @sources.warnings
    end

    # plugin.choria.middleware_hosts, or nil.
    def middleware_hosts
      configured("middleware_hosts")
    end

    # CHORIA_SRV_DOMAIN (go-choria's, overriding the file), else plugin.choria.srv_domain, or nil (then
    # facter's networking.domain).
    def srv_domain
      configured("srv_domain")
    end

    # plugin.choria.use_srv_records, else go-choria's plugin.choria.use_srv.
    def use_srv?
      setting("use_srv_records")
    end

    # plugin.choria.srv_nameserver: "IP:PORT" of the DNS server for SRV, or nil for the system's.
    def srv_nameserver
      configured("srv_nameserver")
    end

    # plugin.choria.randomize_middleware_hosts.
    def randomize?
      setting("randomize")
    end

    # plugin.security.support_legacy_certificates: accept a broker certificate without
    # subjectAltName whose common name is the host dialled; the chain is still verified.
    def legacy_certificates?
      setting("legacy_certificates")
    end

    # plugin.choria.ssldir, or nil.
    def ssldir
      configured("ssldir")
    end

    # plugin.security.provider: "puppet" or "file" (anything else is refused, listing those).
    def security_provider
      setting("security_provider")
    end

    # plugin.security.file.certificate, or nil.
    def security_file_certificate
      configured("security_file_certificate")
    end

    # plugin.security.file.key, or nil.
    def security_file_key
      configured("security_file_key")
    end

    # plugin.security.file.ca, or nil.
    def security_file_ca
      configured("security_file_ca")
    end

    # plugin.choria.puppetca_host, or nil (then SRV, then puppet).
    def puppetca_host
      configured("puppetca_host")
    end

    # plugin.choria.puppetca_port as an Integer, or nil (then the table's default).
    def puppetca_port
      configured("puppetca_port")
    end

    # plugin.choria.puppetca_fingerprint as written, or nil: the SHA256 fingerprint the Puppet
    # CA's certificate must have when `mco choria request_cert` downloads it (ChoriaNats::CAPin reads it).
    def puppetca_fingerprint
      configured("puppetca_fingerprint")
    end

    # plugin.choria.puppetserver_host, or nil (then SRV, then puppet).
    def puppetserver_host
      configured("puppetserver_host")
    end

    # plugin.choria.puppetserver_port as an Integer.
    def puppetserver_port
      setting("puppetserver_port")
    end

    # plugin.choria.puppetdb_host, or nil (then SRV, then puppet).
    def puppetdb_host
      configured("puppetdb_host")
    end

    # plugin.choria.puppetdb_port as an Integer.
    def puppetdb_port
      setting("puppetdb_port")
    end

    # The key or environment variable that sets the setting `name`, or nil when its default applies.
    def source(name)
      origin(name)[2]
    end

    # Where the setting `name` comes from and as what text: `[:config, text, key]`, `[:env, text, variable]`,
    # or `[:default, nil, nil]`; the spelling that wins when several are given.
    def origin(name)
      label, text = @sources.winner(TABLE.fetch(name))
      return [:default, nil, nil] unless label

      [label.start_with?("plugin.") ? :config : :env, text, label]
    end

    # plugin.nats.user, else MCOLLECTIVE_NATS_USERNAME, or nil.
    def user
      configured("user")
    end

    # plugin.nats.pass, else MCOLLECTIVE_NATS_PASSWORD, or nil.
    def password
      configured("password")
    end

    # plugin.nats.credentials, else MCOLLECTIVE_NATS_CREDENTIALS: the path of a NATS `.creds` file, or nil.
    def credentials
      configured("credentials")
    end

    # plugin.choria.network.connect_timeout in seconds.
    def connect_timeout
      setting("connect_timeout")
    end

    # plugin.choria.network.reconnect_initial_delay: seconds; the first retry after a link drops waits up to this.
    def reconnect_initial_delay
      setting("reconnect_initial_delay")
    end

    # plugin.choria.network.reconnect_max_delay: seconds; no wait between attempts is longer.
    def reconnect_max_delay
      setting("reconnect_max_delay")
    end

    # plugin.choria.network.reconnect_spread: seconds over which the nodes of a broker spread their
    # return after their links dropped, and their retry period while it refuses them.
    def reconnect_spread
      setting("reconnect_spread")
    end

    # plugin.choria.network.receive_buffer_bytes: bytes of received messages held for MCollective
    # before new ones are dropped, or nil for the native default.
    def receive_buffer_bytes
      configured("receive_buffer_bytes")
    end

    # plugin.choria.network.outgoing_buffer_bytes: bytes of large messages not yet sent before a
    # publish waits, or nil for the native default.
    def outgoing_buffer_bytes
      configured("outgoing_buffer_bytes")
    end

    # The federated networks: CHORIA_FED_COLLECTIVE when set (it overrides the configuration, as in
    # Choria), else plugin.choria.federation.collectives; [] when not federated.
    def federation_collectives
      configured("federation_collectives") || []
    end

    # plugin.choria.federation_middleware_hosts, or nil.
    def federation_middleware_hosts
      configured("federation_middleware_hosts")
    end

    # plugin.choria.status_file_path, or nil: the JSON status file mcollectived rewrites.
    def status_file_path
      configured("status_file_path")
    end

    # plugin.choria.status_update_interval: seconds between two writes of the status file.
    def status_update_interval
      setting("status_update_interval")
    end

    # plugin.choria.stats_port as an Integer, or nil: the port of the Prometheus metrics.
    def stats_port
      configured("stats_port")
    end

    # plugin.choria.stats_address, or nil (then 127.0.0.1): the address of the metrics port.
    def stats_address
      configured("stats_address")
    end

    # The ChoriaNats::Connection options the MCollective configuration sets: each option of the
    # settings table that has a key, as this class's method of that name (with `?` for a flag) gives it.
    # The status file and the metrics port are the daemon's: without `daemon` they are left out.
    def connection_options(daemon: false)
      refuse_ngs
      names = daemon ? CONFIGURED_OPTIONS : CONFIGURED_OPTIONS - DAEMON_OPTIONS
      names.to_h do |name|
        [name.to_sym, public_send(TABLE.fetch(name)[:type] == "flag" ? "#{name}?" : name)]
      end
    end

    # No password in here.
    def inspect
      "#<#{self.class.name} middleware_hosts=#{middleware_hosts.inspect} user=#{user.inspect}>"
    end

    private

    # go-choria's plugin.nats.ngs = true trusts the public CAs for Synadia's service: this connector trusts
    # the SSL dir's CA alone, so it says so rather than connect elsewhere than the configuration reads.
    def refuse_ngs
      return unless setting("ngs")

      raise ConfigurationError, "plugin.nats.ngs = true is not supported: this connector trusts only the CA in " \
                                "the SSL dir, not the public CAs NGS's certificates chain to; remove it, and for " \
                                "a broker with JWT accounts set plugin.nats.credentials (see the NGS section of " \
                                "docs/configuration.md)"
    end

    # The value the configuration, Choria's other spellings or the environment fall-back give the
    # setting, checked natively, or nil when none sets it (ChoriaNats::SettingSources says which wins).
    def configured(name)
      @sources.values(TABLE.fetch(name)).first&.last
    end

    # The configured value, or the table's default.
    def setting(name)
      value = configured(name)
      value.nil? ? TABLE.fetch(name)[:default] : value
    end
  end
end
