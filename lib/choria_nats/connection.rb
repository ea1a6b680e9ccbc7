# frozen_string_literal: true

module ChoriaNats
  # A verified-TLS NATS connection. The class and its I/O methods are native
  # (see ext/choria_nats/src/ruby_api/connection.rs); this file adds the keyword-argument
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
    # servers, ca_file, cert_file, key_file:: required; the other options, their units, defaults
    #   and limits are the settings table's (ChoriaNats::SETTINGS, listed in docs/configuration.md)
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

      rest[:credentials] = rest[:credentials].to_s unless rest[:credentials].nil?
      options = rest.merge(servers: normalize_servers(servers), ca_file: ca_file.to_s,
                           cert_file: cert_file.to_s, key_file: key_file.to_s)
      retry_for = retry_seconds(retry_initial_connect)
      options[:retry_initial_connect] = retry_for if retry_for
      options.each_with_object({}) { |(key, value), out| out[key] = numeric?(key) ? Float(value) : value }
    end

    # Options besides the required ones, from the settings table.
    OPTIONAL = ChoriaNats::SETTINGS.select { |row| row[:role] == :option }.map { |row| row[:name].to_sym }.freeze
    # Options given in seconds, from the settings table.
    SECONDS = ChoriaNats::SETTINGS.select { |row| row[:role] == :option && row[:type] == "seconds" }
                                  .map { |row| row[:name].to_sym }.freeze

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
