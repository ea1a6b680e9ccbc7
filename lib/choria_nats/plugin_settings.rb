# frozen_string_literal: true

module ChoriaNats
  # The connector's settings from MCollective's `plugin.*` configuration, with
  # the reference connector's defaults and environment fall-backs. Works on a plain Hash.
  class PluginSettings
    # Longest accepted plugin.choria.network.connect_timeout, in seconds.
    MAX_CONNECT_TIMEOUT = 120
    # The reconnect back-off's defaults in seconds (see ext/choria_nats/src/backoff.rs).
    RECONNECT_DEFAULTS = { "reconnect_initial_delay" => 0.5, "reconnect_max_delay" => 60,
                           "reconnect_spread" => 25 }.freeze
    # Longest accepted reconnect setting, in seconds.
    MAX_RECONNECT_DELAY = 3600
    # Seconds mco keeps trying to reach a broker when its config sets no connection_timeout.
    CLIENT_CONNECT_DEADLINE = 10

    # pluginconf:: MCollective's `Config#pluginconf` (keys without "plugin.")
    def initialize(pluginconf, env: ENV)
      @conf = pluginconf
      @env = env
    end

    # plugin.choria.middleware_hosts, or nil.
    def middleware_hosts
      value("choria.middleware_hosts")
    end

    # plugin.choria.srv_domain, or nil (then facter's networking.domain).
    def srv_domain
      value("choria.srv_domain")
    end

    # plugin.choria.use_srv_records (true).
    def use_srv?
      flag("choria.use_srv_records", true)
    end

    # plugin.choria.srv_nameserver: "IP:PORT" of the DNS server for SRV, or nil for the system's.
    def srv_nameserver
      value("choria.srv_nameserver")
    end

    # plugin.choria.randomize_middleware_hosts (true).
    def randomize?
      flag("choria.randomize_middleware_hosts", true)
    end

    # plugin.security.support_legacy_certificates (false): accept a broker certificate without
    # subjectAltName whose common name is the host dialled; the chain is still verified.
    def legacy_certificates?
      flag("security.support_legacy_certificates", false)
    end

    # plugin.choria.ssldir, or nil.
    def ssldir
      value("choria.ssldir")
    end

    # plugin.choria.puppetca_host, or nil (then SRV, then puppet).
    def puppetca_host
      value("choria.puppetca_host")
    end

    # plugin.choria.puppetca_port as an Integer, or nil (8140).
    def puppetca_port
      raw = value("choria.puppetca_port")
      raw && Integer(raw, 10).tap { |port| raise ArgumentError unless (1..65_535).cover?(port) }
    rescue ArgumentError
      raise ConfigurationError, "plugin.choria.puppetca_port must be a port number, not #{raw.inspect}"
    end

    # plugin.choria.puppetca_fingerprint as written, or nil: the SHA256 fingerprint the Puppet
    # CA's certificate must have when `mco choria request_cert` downloads it (ChoriaNats::CAPin reads it).
    def puppetca_fingerprint
      value("choria.puppetca_fingerprint")
    end

    # plugin.nats.user, else MCOLLECTIVE_NATS_USERNAME, or nil.
    def user
      value("nats.user") || presence(@env["MCOLLECTIVE_NATS_USERNAME"])
    end

    # plugin.nats.pass, else MCOLLECTIVE_NATS_PASSWORD, or nil.
    def password
      value("nats.pass") || presence(@env["MCOLLECTIVE_NATS_PASSWORD"])
    end

    # plugin.choria.network.connect_timeout in seconds (2, at most 120).
    def connect_timeout
      raw = value("choria.network.connect_timeout") || 2
      seconds = Float(raw)
      raise ArgumentError unless seconds.positive? && seconds <= MAX_CONNECT_TIMEOUT

      seconds
    rescue ArgumentError, TypeError
      raise ConfigurationError, "plugin.choria.network.connect_timeout must be seconds above 0 and at most " \
                                "#{MAX_CONNECT_TIMEOUT}, not #{raw.inspect}"
    end

    # plugin.choria.network.reconnect_initial_delay: seconds; the first retry after a link drops waits up to this.
    def reconnect_initial_delay
      reconnect_seconds("reconnect_initial_delay")
    end

    # plugin.choria.network.reconnect_max_delay: seconds; no wait between attempts is longer.
    def reconnect_max_delay
      reconnect_seconds("reconnect_max_delay")
    end

    # plugin.choria.network.reconnect_spread: seconds over which the nodes of a broker spread their
    # return after their links dropped, and their retry period while it refuses them (docs/operations.md, Sizing).
    def reconnect_spread
      reconnect_seconds("reconnect_spread")
    end

    # plugin.choria.network.receive_buffer_bytes: bytes of received messages held for MCollective
    # before new ones are dropped, or nil for the native default (ext/choria_nats/src/settings.rs).
    def receive_buffer_bytes
      byte_count("receive_buffer_bytes")
    end

    # plugin.choria.network.outgoing_buffer_bytes: bytes of large messages not yet sent before a
    # publish waits, or nil for the native default.
    def outgoing_buffer_bytes
      byte_count("outgoing_buffer_bytes")
    end

    # The ChoriaNats::Connection options these settings give: credentials, timeouts, the
    # broker name rule, the reconnect back-off and the buffer bounds.
    def connection_options
      { user: user, password: password, connect_timeout: connect_timeout, randomize: randomize?,
        srv_nameserver: srv_nameserver, legacy_certificates: legacy_certificates?,
        reconnect_initial_delay: reconnect_initial_delay, reconnect_max_delay: reconnect_max_delay,
        reconnect_spread: reconnect_spread, receive_buffer_bytes: receive_buffer_bytes,
        outgoing_buffer_bytes: outgoing_buffer_bytes }
    end

    # No password in here.
    def inspect
      "#<#{self.class.name} middleware_hosts=#{middleware_hosts.inspect} user=#{user.inspect}>"
    end

    private

    def reconnect_seconds(name)
      raw = value("choria.network.#{name}") || RECONNECT_DEFAULTS.fetch(name)
      seconds = Float(raw)
      raise ArgumentError unless seconds.positive? && seconds <= MAX_RECONNECT_DELAY

      seconds
    rescue ArgumentError, TypeError
      raise ConfigurationError, "plugin.choria.network.#{name} must be seconds above 0 and at most " \
                                "#{MAX_RECONNECT_DELAY}, not #{raw.inspect}"
    end

    def byte_count(name)
      raw = value("choria.network.#{name}")
      raw && Integer(raw, 10).tap { |bytes| raise ArgumentError unless bytes.positive? }
    rescue ArgumentError
      raise ConfigurationError, "plugin.choria.network.#{name} must be a whole number of bytes above 0, " \
                                "not #{raw.inspect}"
    end

    def value(key)
      presence(@conf[key])
    end

    def presence(text)
      text = text.to_s.strip
      text.empty? ? nil : text
    end

    def flag(key, default)
      text = value(key)
      return default if text.nil?
      return true if text.match?(/\A(1|y|yes|true|t)\z/i)
      return false if text.match?(/\A(0|n|no|false|f)\z/i)

      raise ConfigurationError, "plugin.#{key} must be true or false, not #{text.inspect}"
    end
  end
end
