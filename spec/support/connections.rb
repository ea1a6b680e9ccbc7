# frozen_string_literal: true

module ChoriaNats
  module TestSupport
    # Log lines a connection emitted, for assertions.
    class LogCollector
      # @return [Array<Array(Symbol, String)>] every line so far
      attr_reader :lines

      def initialize
        @lines = []
        @mutex = Mutex.new
      end

      # The logger interface: `call(level, line)`.
      def call(level, line)
        @mutex.synchronize { @lines << [level, line] }
      end

      # Lines whose text matches `pattern`.
      def grep(pattern)
        @mutex.synchronize { @lines.select { |(_, line)| line.match?(pattern) } }
      end
    end

    # Helpers to make connections to the spec's brokers.
    module Connections
      # Options for a client of `server` with the PKI's client certificate.
      def client_options(pki, server, **overrides)
        { servers: [server.address], ca_file: pki.ca_file, cert_file: pki.client_cert,
          key_file: pki.client_key, name: "rspec", logger: LogCollector.new }.merge(overrides)
      end

      # A connected `ChoriaNats::Connection`, closed after the example.
      def connect_client(pki, server, **overrides)
        connection = ChoriaNats::Connection.connect(**client_options(pki, server, **overrides))
        (@connections ||= []) << connection
        connection
      end

      # Closes what `connect_client` opened.
      def close_clients
        (@connections || []).each(&:close)
        @connections = []
      end

      # Polls the block every 50 ms until it is truthy or `seconds` pass.
      def eventually(seconds = 10)
        deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
        loop do
          result = yield
          return result if result
          raise "condition not met within #{seconds}s" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

          sleep 0.05
        end
      end
    end
  end
end
