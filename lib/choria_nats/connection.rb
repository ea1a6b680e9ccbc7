# frozen_string_literal: true

module ChoriaNats
  # A verified-TLS NATS connection. The class and its I/O methods are native
  # (see ext/choria_nats/src/connection.rs); this file adds the keyword-argument
  # constructor, logging and a safe #inspect.
  #
  #   conn = ChoriaNats::Connection.connect(servers: ["nats1:4222"], ca_file: ca,
  #                                         cert_file: cert, key_file: key)
  #   conn.subscribe("mcollective.node.example")
  #   subject, reply, payload = conn.receive(5)
  class Connection
    # Where a server came from when the caller does not say.
    DEFAULT_SOURCE = "config"

    # Warnings and errors to standard error when no logger is given.
    STDERR_LOGGER = lambda do |level, line|
      warn("choria-nats #{level}: #{line}") if %i[warn error].include?(level)
    end

    # Makes a connection and connects it.
    #
    # servers:: `host:port` strings, or `[host_port, source]` pairs
    # ca_file, cert_file, key_file:: PEM files (the CA is the only trust anchor)
    # user, password:: NATS credentials, if the broker wants them
    # name:: the connection name the broker shows (the identity)
    # connect_timeout:: seconds for TCP, TLS and CONNECT of one attempt (2)
    # ping_interval:: seconds between pings; two unanswered pings end the link (20)
    # reconnect_initial_delay, reconnect_max_delay:: the jittered back-off (0.5, 60; see backoff.rs)
    # reconnect_spread:: seconds over which a fleet spreads its return after its links dropped, and the retry
    #   period while the broker refuses it (25)
    # randomize:: shuffle the servers (true)
    # retry_initial_connect:: false: one round over the servers; true: for ever;
    #   a number: keep trying that many seconds
    # receive_capacity:: messages waiting for #receive before drops (250,000)
    # receive_buffer_bytes:: bytes of messages waiting for #receive before drops (default: settings.rs)
    # outgoing_buffer_bytes:: bytes of large messages not yet sent before #publish waits (default: settings.rs)
    # publish_timeout:: seconds a publish waits for buffer room, and a subscribe for the broker (5)
    # srv_names, srv_nameserver:: SRV names to look up again after each failed round
    #   of the first connect, and the DNS server (`IP:PORT`, default the system's)
    # legacy_certificates:: also accept a broker certificate without subjectAltName whose
    #   common name is the host dialled; the chain is still verified (false)
    # logger:: `call(level, line)`; level is :debug, :info, :warn or :error
    def self.connect(logger: STDERR_LOGGER, **options)
      connection = new(native_options(**options))
      connection.logger = logger
      connection.connect
      connection
    end

    # The option hash the native constructor reads.
    def self.native_options(servers:, ca_file:, cert_file:, key_file:, **rest)
      retry_initial_connect = rest.delete(:retry_initial_connect)
      unknown = rest.keys - OPTIONAL
      raise ConfigurationError, "Unknown connection option #{unknown.join(', ')}" unless unknown.empty?

      options = rest.merge(servers: normalize_servers(servers), ca_file: ca_file.to_s,
                           cert_file: cert_file.to_s, key_file: key_file.to_s)
      retry_for = retry_seconds(retry_initial_connect)
      options[:retry_initial_connect] = retry_for if retry_for
      options.each_with_object({}) { |(key, value), out| out[key] = numeric?(key) ? Float(value) : value }
    end

    # Options besides the required ones.
    OPTIONAL = %i[user password name connect_timeout ping_interval reconnect_initial_delay
                  reconnect_max_delay randomize receive_capacity receive_buffer_bytes outgoing_buffer_bytes
                  publish_timeout srv_names srv_nameserver reconnect_spread legacy_certificates].freeze
    # Options given in seconds.
    SECONDS = %i[connect_timeout ping_interval reconnect_initial_delay reconnect_max_delay
                 publish_timeout retry_initial_connect reconnect_spread].freeze

    # `[[address, source], ...]` from strings or pairs.
    def self.normalize_servers(servers)
      Array(servers).map do |server|
        case server
        when String then [server, DEFAULT_SOURCE]
        when Array then [server[0].to_s, (server[1] || DEFAULT_SOURCE).to_s]
        else raise ConfigurationError, "A NATS server must be \"host:port\", not #{server.inspect}"
        end
      end
    end

    def self.retry_seconds(value)
      case value
      when nil, false then nil
      when true then Float::INFINITY
      else Float(value)
      end
    end

    def self.numeric?(key)
      SECONDS.include?(key)
    end
    private_class_method :normalize_servers, :retry_seconds, :numeric?

    # The callable that receives `(level, line)` log lines.
    attr_writer :logger

    # A description without credentials.
    def inspect
      "#<#{self.class.name} #{connected? ? "connected to #{connected_server}" : 'not connected'}>"
    end
    alias to_s inspect

    private

    # Called by the native side with log lines made on its threads.
    def emit_log(level, line)
      (@logger || STDERR_LOGGER).call(level, line)
    rescue StandardError => e
      warn("choria-nats: the logger failed (#{e.class}: #{e.message}) on: #{line}")
    end
  end
end
