# frozen_string_literal: true

require "json"
require "tmpdir"
require "timeout"

module ChoriaNats
  module Bench
    # Seconds a nats-bare process may take to say it is subscribed.
    READY_TIMEOUT = 20
    # What nats-bare and the probes print once subscribed.
    READY = /\A\{"ready":true/.freeze
    # The slowest drain the bench waits for (msgs/s) before counting the rest as lost.
    SLOWEST_RATE = 2000

    # What every scenario shares: a temporary directory, the PKI, the TLS
    # nats-server, nats-bare, the child processes and (on demand) MCollective.
    class Rig
      # The connector's identity and certname in the MCollective scenarios.
      IDENTITY = "bench.example.net"

      attr_reader :settings, :dir, :pki, :server, :bare, :children

      # A rig for +settings+; nothing starts before #open.
      def initialize(settings)
        @settings = settings
        @children = Children.new
      end

      # Sets everything up, yields self, and tears it all down.
      def open
        Dir.mktmpdir("choria-nats-bench") do |dir|
          @dir = dir
          @pki = TestSupport::PKI.new(File.join(dir, "ssl"))
          @bare = settings.bare || TestSupport::NatsBare.binary
          @server = TestSupport::NatsServer.new(pki: @pki, dir: File.join(dir, "server"), verify: true)
          @server.start
          yield self
        ensure
          @children.stop_all
          @server&.stop
        end
      end

      # Options for ChoriaNats::Connection.connect as a client of the bench server.
      def connect_options(**overrides)
        { servers: [server.address], ca_file: pki.ca_file, cert_file: pki.client_cert, key_file: pki.client_key,
          name: "choria-nats-bench", logger: ->(_level, _line) {} }.merge(overrides)
      end

      # The connection arguments nats-bare and the probes take.
      def connection_args
        ["--server", server.address, "--ca", pki.ca_file, "--cert", pki.client_cert, "--key", pki.client_key]
      end

      # Starts `nats-bare MODE` with the connection arguments and +args+; returns [pid, reader].
      def spawn_bare(mode, name, *args)
        children.spawn([bare, mode, *connection_args, *args], err_file(name))
      end

      # Waits for the ready line of process +name+; raises without it.
      def await_ready(out, name)
        line = Bench.read_line(out, READY_TIMEOUT)
        raise "#{name} did not get ready: #{line.inspect}#{stderr_of(name)}" unless line&.match?(READY)

        JSON.parse(line)
      end

      # Reads the JSON line of process +name+ (within +timeout+ s) and waits for it to exit; raises on failure.
      def finish(pid, out, name, timeout)
        line = Bench.read_line(out, timeout)
        status = children.wait(pid, STOP_TIMEOUT)
        raise "#{name} failed (#{status.inspect}): #{line.inspect}#{stderr_of(name)}" unless line && status&.success?

        JSON.parse(line)
      ensure
        out.close
      end

      # Seconds to allow for +count+ messages to be drained (the floor rate plus the gap).
      def drain_limit(count)
        settings.gap + (count.to_f / SLOWEST_RATE)
      end

      # Calls the block (which returns a message or nil) until +count+ messages arrived, it returns
      # nil, or drain_limit(count) passes; returns [received, seconds from the first to the last].
      def drain(count)
        received = 0
        first = last = nil
        begin
          Timeout.timeout(drain_limit(count)) do
            while received < count
              break unless yield

              last = Bench.now
              first ||= last
              received += 1
            end
          end
        rescue Timeout::Error
          nil # the rest count as lost
        end
        [received, first ? last - first : 0.0]
      end

      # Where the stderr of process +name+ goes.
      def err_file(name)
        File.join(dir, "#{name}.err")
      end

      # The stderr process +name+ left, for error messages.
      def stderr_of(name)
        file = err_file(name)
        File.exist?(file) ? "\n#{File.read(file)}" : ""
      end

      # Slow-consumer reports in the server log since the last call.
      def slow_consumer_events
        log = server.log
        events = log.byteslice(@log_seen.to_i..).to_s.scan(/Slow Consumer/i).size
        @log_seen = log.bytesize
        events
      end

      # MCollective's Config, loaded once with `connector = nats` and this bench's broker and PKI.
      def mcollective
        @mcollective ||= begin
          ENV["MCOLLECTIVE_CERTNAME"] = IDENTITY
          pki.cert_for(IDENTITY)
          TestSupport::MCollectiveConfig.load(
            File.join(dir, "mcollective"),
            identity: IDENTITY,
            settings: { "plugin.choria.middleware_hosts" => server.address, "plugin.choria.ssldir" => pki.dir,
                        "plugin.choria.use_srv_records" => "false" }
          )
        end
      end

      # The server.cfg #mcollective writes (and loads here), for the probe processes.
      def mcollective_config
        mcollective
        File.join(dir, "mcollective", "server.cfg")
      end

      # A connected MCollective::Connector::Nats, as mcollectived (:server) or mco (:client) makes it.
      def connector(mode)
        mcollective.mode = mode
        connector = MCollective::Connector::Nats.new
        connector.connect
        connector
      end
    end
  end
end
