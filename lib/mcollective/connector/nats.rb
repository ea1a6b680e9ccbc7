# frozen_string_literal: true

require "choria_nats"

module MCollective
  module Connector
    # The NATS connector: `connector = nats`. A thin adapter between
    # MCollective's messages and ChoriaNats::Connection, which speaks only
    # verified TLS. Its settings are in the gem's docs/configuration.md.
    class Nats < Base
      # @return [ChoriaNats::Connection, nil] the connection, once connected
      attr_reader :connection

      # Reads the plugin settings from MCollective's config and logs the start-up line; connects later.
      def initialize # rubocop:disable Lint/MissingSuper
        @config = Config.instance
        @settings = ChoriaNats::PluginSettings.new(@config.pluginconf)
        @skip_warnings = ChoriaNats::WarningThrottle.new
        Log.info("choria-nats #{ChoriaNats::VERSION} NATS connector using #{ChoriaNats::NATS_CLIENT} with rustls")
      end

      # Connects, unless connected (or reconnecting) already. mcollectived keeps
      # trying for ever; mco gives up after its connection_timeout.
      def connect
        return if @connection && !@connection.closed?

        options = connection_options
        @connection = ChoriaNats::Connection.connect(**options)
        @active_options = ChoriaNats::ConnectorOptions.shown(options)
        nil
      end

      # Closes the connection.
      def disconnect
        @connection&.close
        @connection = nil
      end

      # Whether the connection is up.
      def connected?
        !@connection.nil? && @connection.connected?
      end

      # The broker in use (a ChoriaNats::ServerAddress: `to_s` is `host:port`, with `scheme`, `host`
      # and `port` for what read mcollective-choria's URI), or nil.
      def connected_server
        address = @connection&.connected_server
        address && ChoriaNats::ServerAddress.new(address)
      end

      # The options of the current connection, as mcollective-choria's `choria_util` agent reads
      # them: the TLS files under :tls, never the password or the logger. Empty before connecting.
      def active_options
        @active_options || {}
      end

      # Counters: in_msgs, out_msgs, in_bytes, out_bytes, reconnects, dropped, the pool and more.
      def stats
        @connection ? @connection.stats : {}
      end

      # This gem's version.
      def client_version
        ChoriaNats::VERSION
      end

      # This gem and the NATS client inside it.
      def client_flavour
        "choria-nats #{ChoriaNats::VERSION} (#{ChoriaNats::NATS_CLIENT}, rustls)"
      end

      # A description without the configuration (MCollective's Config#inspect shows passwords).
      def inspect
        "#<#{self.class.name} #{@connection ? @connection.inspect : 'not connected'}>"
      end
      alias to_s inspect

      # The subject for a target; `identity` defaults to this node's.
      def make_target(agent, type, collective, identity = nil)
        ChoriaNats::Targets.subject(
          agent: agent, type: type, collective: collective, collectives: @config.collectives,
          identity: identity || @config.identity,
          reply_to: -> { [callerid, Process.pid, Client.request_sequence] }
        )
      rescue ChoriaNats::Error => e
        raise e.message
      end

      # Subscribes to the subject of an agent's target.
      def subscribe(agent, type, collective)
        @connection.subscribe(make_target(agent, type, collective))
      end

      # Unsubscribes from the subject of an agent's target.
      def unsubscribe(agent, type, collective)
        @connection.unsubscribe(make_target(agent, type, collective))
      end

      # Publishes a request (broadcast, or once per discovered host when
      # direct; through the federation brokers when federated) or a reply (to
      # the reply-to of its request).
      def publish(msg)
        msg.base64_encode!
        return publish_federated(msg) if federation && %i[request direct_request].include?(msg.type)

        case msg.type
        when :direct_request
          # One body for every node, encoded once (and copied once by the
          # native publish, which shares a copy equal to the previous one).
          headers = request_headers(msg)
          body = ChoriaNats::Envelope.encode(msg.payload, headers)
          sendable_hosts(msg).each do |host|
            target = make_target(msg.agent, :direct_request, msg.collective, host)
            @connection.publish(target, body, headers["reply-to"])
          end
        when :request
          send_envelope(make_target(msg.agent, :request, msg.collective), msg, request_headers(msg))
        when :reply
          send_envelope(reply_subject(msg), msg, reply_headers(msg), reply: nil)
        else
          raise "Don't know how to publish a message of type #{msg.type.inspect}"
        end
      end

      # The next valid message; anything that is not a choria:transport:1
      # envelope is skipped with a (rate-limited) warning.
      def receive
        loop do
          subject, _reply, body = @connection.receive
          envelope = decode(subject, body)
          next unless envelope

          headers = envelope["headers"]
          headers["seen-by"] << [connected_server.to_s, @config.identity] if headers["seen-by"].is_a?(Array)
          return Message.new(ChoriaNats::Envelope.payload(envelope), envelope, headers: headers)
        end
      end

      private

      def connection_options
        ChoriaNats::ConnectorOptions.new(
          settings: @settings, identity: @config.identity, daemon: daemon?,
          connection_timeout: @config.connection_timeout, federation: federation
        ).to_h
      end

      # The security plugin's caller id, asked once per connector: MCollective's plugins log it at
      # debug level on every call, and MCollective's Log captures a backtrace even for a line its
      # level drops, a cost on every request published.
      def callerid
        @callerid ||= PluginManager["security_plugin"].callerid
      end

      # The ChoriaNats::Federation of a federated mco, else nil.
      def federation
        return @federation if defined?(@federation)

        @federation = ChoriaNats::Federation.from_settings(@settings, server: daemon?,
                                                                      logger: ChoriaNats::MCollectiveLog.new)
      end

      # A request through the federation brokers: the subjects the brokers publish to travel in the
      # `federation` header, those of a direct request in batches (ChoriaNats::Federation#messages).
      def publish_federated(msg)
        headers = request_headers(msg)
        hosts = msg.type == :direct_request ? sendable_hosts(msg) : [nil]
        targets = hosts.map { |host| make_target(msg.agent, msg.type, msg.collective, host) }
        federation.messages(payload: msg.payload, headers: headers, targets: targets, requestid: msg.requestid)
                  .each { |subject, body| @connection.publish(subject, body, headers["reply-to"]) }
      end

      # The discovered hosts a direct request can be sent to (ChoriaNats::Targets.sendable).
      def sendable_hosts(msg)
        ChoriaNats::Targets.sendable(msg.discovered_hosts) { |problem| Log.warn(problem) }
      end

      # Whether this is mcollectived (MCollective's server mode), not mco.
      def daemon?
        @config.mode == :server
      end

      def request_headers(msg)
        headers = { "mc_sender" => @config.identity,
                    "reply-to" => msg.reply_to || make_target(msg.agent, :reply, msg.collective) }
        headers["seen-by"] = [[@config.identity, connected_server.to_s]] if msg.headers.include?("seen-by")
        headers
      end

      def reply_headers(msg)
        headers = { "mc_sender" => @config.identity }
        request = msg.request.headers
        if request["seen-by"].is_a?(Array)
          headers["seen-by"] = request["seen-by"]
          headers["seen-by"].last << connected_server.to_s if headers["seen-by"].last.is_a?(Array)
        end
        headers["federation"] = request["federation"] if request.include?("federation")
        headers
      end

      def reply_subject(msg)
        msg.request.headers["reply-to"] ||
          raise("Do not know how to reply, no reply-to header has been set on message #{msg.requestid}")
      end

      def send_envelope(subject, msg, headers, reply: headers["reply-to"])
        @connection.publish(subject, ChoriaNats::Envelope.encode(msg.payload, headers), reply)
      end

      def decode(subject, body)
        ChoriaNats::Envelope.decode(body)
      rescue ChoriaNats::Envelope::Invalid => e
        @connection.count_skipped
        held = @skip_warnings.let_through
        if held
          more = held.positive? ? " (#{held} more skipped since the last warning)" : ""
          Log.warn("Skipped a message on #{subject} that is not a choria:transport:1 envelope: " \
                   "#{e.message}: #{body[0, 100].inspect}#{more}")
        end
        nil
      end
    end
  end
end
