# frozen_string_literal: true

require "spec_helper"
require "base64"
require "json"

RSpec.describe "The choria:transport:1 wire format" do
  samples_dir = File.expand_path("../../../shared/wire-samples", __dir__)
  samples = Dir[File.join(samples_dir, "*.json")].sort.to_h do |file|
    [File.basename(file, ".json"), JSON.parse(File.read(file))]
  end

  # What the older Ruby connectors do with a body they receive.
  def older_reader(body)
    parsed = JSON.parse(body)
    MCollective::Message.new(parsed["data"], parsed, base64: true, headers: parsed["headers"])
  end

  # A stand-in for ChoriaNats::Connection that records publishes and replays bodies.
  let(:wire) do
    Class.new do
      attr_reader :published, :skipped
      attr_accessor :inbox

      def initialize
        @published = []
        @inbox = []
        @skipped = 0
      end

      def count_skipped
        @skipped += 1
      end

      def publish(subject, body, reply = nil)
        @published << [subject, body, reply]
      end

      def receive(_timeout = nil)
        @inbox.shift || raise("nothing left to receive")
      end

      def connected_server
        "127.0.0.1:4222"
      end
    end.new
  end

  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-wire")
    ChoriaNats::TestSupport::MCollectiveConfig.load(@dir, identity: "node1.example.net")
  end

  after(:all) { FileUtils.rm_rf(@dir) }

  let(:connector) do
    MCollective::Connector::Nats.new.tap { |c| c.instance_variable_set(:@connection, wire) }
  end

  it "has the samples to test against" do
    expect(samples.keys).to include("broadcast_request", "directed_request", "discovery_reply", "discovery_request",
                                    "reply")
  end

  samples.each do |name, sample|
    describe "the #{name} sample" do
      let(:transport) { sample["decoded"]["transport"] }
      let(:secure) { sample["decoded"]["transport.data (base64-decoded)"] }

      it "is byte for byte the .raw file" do
        expect(File.binread(File.join(samples_dir, "#{name}.raw"))).to eq(sample["payload"].b)
      end

      it "decodes into the message it holds" do
        envelope = ChoriaNats::Envelope.decode(sample["payload"])
        expect(envelope["headers"]).to eq(transport["headers"])
        wire.inbox << [sample["nats"]["subject"], sample["nats"]["reply"], sample["payload"].b]
        message = connector.receive
        expect(message).to be_a(MCollective::Message)
        expect(JSON.parse(message.payload)).to eq(secure)
        expect(message.headers).to eq(transport["headers"])
      end

      it "gives MCollective the message the older connectors gave it" do
        wire.inbox << [sample["nats"]["subject"], sample["nats"]["reply"], sample["payload"].b]
        ours = connector.receive
        theirs = older_reader(sample["payload"])
        state = ->(m) { m.instance_variables.to_h { |ivar| [ivar, m.instance_variable_get(ivar)] } }
        expect(state.call(ours)).to eq(state.call(theirs))
        expect(ours.payload.encoding).to eq(theirs.payload.encoding)
      end

      it "decodes the same when the base64 has no line breaks" do
        compact = JSON.generate(transport.merge("data" => Base64.strict_encode64(Base64.decode64(transport["data"]))))
        expect(compact).not_to include("\\n")
        wire.inbox << [sample["nats"]["subject"], nil, compact.b]
        expect(JSON.parse(connector.receive.payload)).to eq(secure)
      end

      it "is published by us so that the older connectors read the same message" do
        payload = Base64.decode64(transport["data"])
        nats = sample["nats"]
        if sample["kind"].end_with?("reply")
          request = MCollective::Message.new("", nil, agent: "rpcutil", collective: "mcollective", type: :request,
                                                      headers: { "reply-to" => nats["subject"] })
          message = MCollective::Message.new(payload, nil, request: request)
        else
          agent = nats["subject"].end_with?("discovery") ? "discovery" : "rpcutil"
          message = MCollective::Message.new(payload, nil, agent: agent, collective: "mcollective", type: :request)
          message.reply_to = transport["headers"]["reply-to"]
          if sample["kind"] == "directed_request"
            message.discovered_hosts = [nats["subject"].split(".node.").last]
            message.type = :direct_request
          end
        end
        connector.publish(message)

        expect(wire.published.size).to eq(1)
        subject, body, reply = wire.published.first
        expect(subject).to eq(nats["subject"])
        expect(reply).to eq(nats["reply"])
        read = older_reader(body)
        expect(read.payload).to eq(payload)
        expect(read.headers).to eq(transport["headers"].merge("mc_sender" => "node1.example.net"))
        expect(JSON.parse(body)["protocol"]).to eq("choria:transport:1")
      end
    end
  end

  it "sends a direct request to every discovered node but one whose identity would widen the subject" do
    message = MCollective::Message.new("ping", nil, agent: "rpcutil", collective: "mcollective", type: :request)
    message.discovered_hosts = ["node2.example.net", ">", "node3"]
    message.type = :direct_request
    allow(MCollective::Log).to receive(:warn)
    connector.publish(message)

    expect(wire.published.map(&:first)).to eq(%w[mcollective.node.node2.example.net mcollective.node.node3])
    expect(MCollective::Log).to have_received(:warn).with(/\ANot a node identity: ">" /).once
  end

  it "skips what is not an envelope with one warning, counts each skip, and returns the next valid message" do
    valid = File.binread(File.join(samples_dir, "reply.raw"))
    wire.inbox.concat([["x", nil, "not json"], ["x", nil, "[1]"], ["x", nil, '{"data": 5}'],
                       ["x", nil, '{"headers": {}}'], ["x", nil, '{"data": "@@@"}'], ["x", nil, "\xFF\xFE".b],
                       ["x", nil, "#{'[' * 500}#{']' * 500}"], ["x", nil, '{"protocol": "other:1", "data": ""}'],
                       ["x", nil, valid]])
    warnings = []
    allow(MCollective::Log).to receive(:warn) { |line| warnings << line }
    expect(connector.receive.headers).to eq("mc_sender" => "node1.example.net")
    expect(warnings.size).to eq(1)
    expect(warnings.first).to start_with("Skipped a message on x that is not a choria:transport:1 envelope: not JSON")
    expect(wire.skipped).to eq(8)
  end

  it "asks the security plugin for the caller id once, not for every request (its callerid logs each call)" do
    security = MCollective::PluginManager["security_plugin"]
    callerid = security.callerid
    expect(security).to receive(:callerid).once.and_return(callerid)
    3.times do
      connector.publish(MCollective::Message.new("x", nil, agent: "rpcutil", collective: "mcollective",
                                                           type: :request))
    end
    reply_tos = wire.published.map { |_subject, body, _reply| JSON.parse(body)["headers"]["reply-to"] }
    digest = Digest::MD5.hexdigest(callerid)
    expect(reply_tos).to all(start_with("mcollective.reply.#{digest}.#{Process.pid}."))
    expect(wire.published.map(&:last)).to eq(reply_tos)
  end

  it "refuses to reply to a request without reply-to, naming the request" do
    request = MCollective::Message.new("", nil, agent: "rpcutil", collective: "mcollective", type: :request)
    reply = MCollective::Message.new("x", nil, request: request)
    allow(reply).to receive(:requestid).and_return("abc123")
    expect { connector.publish(reply) }.to raise_error(/no reply-to header has been set on message abc123/)
  end
end
