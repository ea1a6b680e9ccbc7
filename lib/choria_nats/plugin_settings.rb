# frozen_string_literal: true

module ChoriaNats
  # The connector's settings from MCollective's `plugin.*` configuration, with
  # SPEC §5's defaults and environment fall-backs. Works on a plain Hash.
  class PluginSettings
    # Longest accepted plugin.choria.network.connect_timeout, in seconds.
    MAX_CONNECT_TIMEOUT = 120
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

    # plugin.choria.ssldir, or nil.
    def ssldir
      value("choria.ssldir")
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

    # No password in here.
    def inspect
      "#<#{self.class.name} middleware_hosts=#{middleware_hosts.inspect} user=#{user.inspect}>"
    end

    private

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
