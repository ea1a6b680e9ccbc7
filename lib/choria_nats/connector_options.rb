# frozen_string_literal: true

require_relative "plugin_settings"

module ChoriaNats
  # The ChoriaNats::Connection options of MCollective's connector: the security provider's files,
  # checked before anything is dialled; the brokers (the federation's, for a federated mco); how long
  # the first connect keeps trying; and the plugin settings. Logs the lines operators read at start-up.
  class ConnectorOptions
    # Seconds before mco's own connection_timeout at which the connection gives up, so that its
    # line, which says why, comes before MCollective's.
    AHEAD_OF_MCO = 0.5

    # The options as a connector shows them (mcollective-choria's `choria_util` agent reads them):
    # without the logger and the password, the TLS files under :tls.
    def self.shown(options)
      tls = { ca_file: options[:ca_file], cert_file: options[:cert_file], key_file: options[:key_file] }
      options.reject { |key, _| %i[logger password ca_file cert_file key_file].include?(key) }.merge(tls: tls)
    end

    # settings:: a ChoriaNats::PluginSettings; identity:: MCollective's; daemon:: true for mcollectived;
    # connection_timeout:: MCollective's, or nil; federation:: a ChoriaNats::Federation, or nil;
    # log:: `call(level, line)`.
    def initialize(settings:, identity:, daemon:, connection_timeout:, federation: nil, log: MCollectiveLog.new)
      @settings = settings
      @identity = identity
      @daemon = daemon
      @connection_timeout = connection_timeout
      @federation = federation
      @log = log
    end

    # The options for ChoriaNats::Connection.connect; raises ChoriaNats::Error subclasses with one line
    # when a file, a setting or the broker list is wrong.
    def to_h
      paths = SecurityProvider.paths(@settings, identity: @identity)
      @log.call(:info, "Using certificate #{paths.cert_file} for certname #{paths.certname} from #{paths.source}")
      CertificateCheck.for_paths(paths).check! # each file, the chain, the certname, key and expiry
      brokers = self.brokers
      options = { servers: brokers.servers, ca_file: paths.ca_file, cert_file: paths.cert_file,
                  key_file: paths.key_file, name: @identity, retry_initial_connect: retry_initial_connect,
                  srv_names: brokers.srv_names, logger: @log, **@settings.connection_options(daemon: @daemon) }
      @log.call(:info, brokers.description) unless @federation # the federation's line names its brokers
      brokers.srv_ignored.each { |problem| @log.call(:warn, "Ignoring an SRV record: #{problem}") }
      @settings.warnings.each { |line| @log.call(:warn, line) }
      options
    end

    # The broker list: the federation brokers for a federated mco, else the collective's.
    def brokers
      collective = BrokerList.from_settings(@settings)
      @federation ? @federation.brokers(@settings, fallback: collective, logger: @log) : collective
    end

    private

    # mcollectived retries for ever; mco until just before its own timeout.
    def retry_initial_connect
      return true if @daemon

      timeout = @connection_timeout || PluginSettings::CLIENT_CONNECT_DEADLINE
      [timeout - AHEAD_OF_MCO, AHEAD_OF_MCO].max
    end
  end
end
