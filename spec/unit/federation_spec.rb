# frozen_string_literal: true

require "spec_helper"
require "json"

RSpec.describe ChoriaNats::Federation do
  def settings(conf = {}, env = {})
    ChoriaNats::PluginSettings.new({ "choria.use_srv_records" => "true" }.merge(conf), env: env)
  end

  describe "the federated networks" do
    it "reads plugin.choria.federation.collectives as a comma list, and is nil without networks" do
      expect(described_class.from_settings(settings("choria.federation.collectives" => " dev1, dev2 ,")).networks)
        .to eq(%w[dev1 dev2])
      expect(described_class.from_settings(settings)).to be_nil
      expect(described_class.from_settings(settings("choria.federation.collectives" => " , "))).to be_nil
    end

    it "lets CHORIA_FED_COLLECTIVE override the configuration, as Choria does" do
      federation = described_class.from_settings(settings({ "choria.federation.collectives" => "dev1" },
                                                          { "CHORIA_FED_COLLECTIVE" => "prod" }))
      expect(federation.networks).to eq(%w[prod])
    end

    it "refuses a name that is not one subject token, naming where it came from" do
      expect { described_class.from_settings(settings("choria.federation.collectives" => "dev1,dev.2")) }
        .to raise_error(ChoriaNats::ConfigurationError,
                        "plugin.choria.federation.collectives must be a comma-separated list of network names " \
                        "(letters, digits, `-` and `_`), not \"dev1,dev.2\"")
      expect { described_class.from_settings(settings({}, { "CHORIA_FED_COLLECTIVE" => "*" })) }
        .to raise_error(ChoriaNats::ConfigurationError,
                        /\ACHORIA_FED_COLLECTIVE \(which overrides plugin\.choria\.federation\.collectives\) must be/)
    end

    it "is ignored by a server, which says so once" do
      lines = []
      logger = ->(*line) { lines << line }
      federation = described_class.from_settings(settings("choria.federation.collectives" => "dev1"),
                                                 server: true, logger: logger)
      expect(federation).to be_nil
      expect(lines).to eq([[:warn, "Federation is for mco only: mcollectived ignores the federated networks dev1 " \
                                   "(plugin.choria.federation.collectives or CHORIA_FED_COLLECTIVE)"]])
    end
  end

  describe "#messages" do
    let(:headers) { { "mc_sender" => "client", "reply-to" => "mcollective.reply.x.1.1" } }

    it "sends 450 node targets as batches of 200, 200 and 50, once per network" do
      targets = (1..450).map { |n| "mcollective.node.n#{n}" }
      messages = described_class.new(%w[dev1 dev2]).messages(payload: "cGF5bG9hZA==", headers: headers,
                                                             targets: targets, requestid: "req1")
      expect(messages.map(&:first)).to eq((["choria.federation.dev1.federation"] * 3) +
                                          (["choria.federation.dev2.federation"] * 3))
      envelopes = messages.map { |_, body| JSON.parse(body) }
      expect(envelopes.map { |e| e["headers"]["federation"]["target"].size }).to eq([200, 200, 50] * 2)
      expect(envelopes.first(3).flat_map { |e| e["headers"]["federation"]["target"] }).to eq(targets)
      expect(envelopes.map { |e| e["headers"]["federation"]["req"] }.uniq).to eq(["req1"])
      expect(envelopes.map { |e| e["headers"].slice("mc_sender", "reply-to") }.uniq).to eq([headers])
      expect(envelopes.map { |e| e["data"] }.uniq).to eq(["cGF5bG9hZA=="])
    end

    it "sends nothing for no targets" do
      expect(described_class.new(%w[dev1]).messages(payload: "", headers: headers, targets: [], requestid: "r"))
        .to eq([])
    end
  end

  describe "#brokers" do
    let(:lines) { [] }
    let(:logger) { ->(*line) { lines << line } }
    let(:records) { {} }
    # Like the native lookup: the records of every name asked, together.
    let(:resolver) { ->(names, _nameserver) { names.flat_map { |name| records.fetch(name, []) } } }
    let(:federation) { described_class.new(%w[dev1 dev2]) }

    def brokers(conf)
      s = settings({ "choria.srv_domain" => "example.net" }.merge(conf))
      fallback = ChoriaNats::BrokerList.from_settings(s, resolver: resolver)
      federation.brokers(s, fallback: fallback, logger: logger, resolver: resolver)
    end

    it "takes plugin.choria.federation_middleware_hosts first, and says so in one info line" do
      list = brokers("choria.federation_middleware_hosts" => "fed1:4223, fed2",
                     "choria.middleware_hosts" => "local:4222")
      expect(list.servers).to eq([%w[fed1:4223 config], %w[fed2:4222 config]])
      expect(list.srv_names).to eq([])
      expect(lines).to eq([[:info, "Federated client: requests go to the networks dev1, dev2 through the federation " \
                                   "brokers from plugin.choria.federation_middleware_hosts: fed1:4223, fed2:4222"]])
    end

    it "names the federation setting when one of its entries is refused" do
      expect { brokers("choria.federation_middleware_hosts" => "user:pw@fed1") }
        .to raise_error(ChoriaNats::ConfigurationError, /plugin\.choria\.federation_middleware_hosts/)
    end

    it "else the federation SRV records, in Choria's order, looked up again while connecting fails" do
      records["_x-puppet-mcollective_federation._tcp.example.net"] = [["fed3", 4333, 1, 1]]
      list = brokers("choria.middleware_hosts" => "local:4222")
      expect(list.servers).to eq([%w[fed3:4333 srv]])
      expect(list.srv_names).to eq(%w[_mcollective-federation_server._tcp.example.net
                                      _x-puppet-mcollective_federation._tcp.example.net])
      expect(lines.first.last).to end_with("through the federation brokers from SRV " \
                                           "_mcollective-federation_server._tcp.example.net, " \
                                           "_x-puppet-mcollective_federation._tcp.example.net: fed3:4333")
    end

    it "else the collective's brokers, as Choria falls back to them" do
      list = brokers("choria.middleware_hosts" => "local:4222")
      expect(list.servers).to eq([%w[local:4222 config]])
      expect(lines.first.last).to eq("Federated client: requests go to the networks dev1, dev2 through the " \
                                     "NATS brokers from plugin.choria.middleware_hosts: local:4222 " \
                                     "(no federation brokers: no SRV records for example.net)")
    end
  end
end

RSpec.describe "The connector of a federated mco (a recorded wire, no broker)" do
  let(:wire) do
    Class.new do
      attr_reader :published

      def initialize
        @published = []
      end

      def publish(subject, body, reply = nil)
        @published << [subject, JSON.parse(body), reply]
      end

      def connected_server
        "127.0.0.1:4222"
      end
    end.new
  end

  before(:all) do
    @dir = Dir.mktmpdir("h-fed-unit")
    federated = { "plugin.choria.federation.collectives" => "dev1" }
    ChoriaNats::TestSupport::MCollectiveConfig.load(@dir, identity: "client.example.net", settings: federated)
    MCollective::Config.instance.mode = :client
  end

  after(:all) { FileUtils.rm_rf(@dir) }

  let(:connector) { MCollective::Connector::Nats.new.tap { |c| c.instance_variable_set(:@connection, wire) } }

  def request(type, hosts = [])
    MCollective::Message.new("x", nil, agent: "rpcutil", collective: "mcollective", type: type).tap do |msg|
      msg.discovered_hosts = hosts
    end
  end

  it "publishes a direct request to 450 identities as 3 messages of 200, 200 and 50 targets" do
    hosts = (1..450).map { |n| "n#{n}.example.net" }
    msg = request(:direct_request, hosts)
    connector.publish(msg)
    expect(wire.published.map(&:first).uniq).to eq(["choria.federation.dev1.federation"])
    expect(wire.published.map { |_, e, _| e["headers"]["federation"]["target"].size }).to eq([200, 200, 50])
    expect(wire.published.flat_map { |_, e, _| e["headers"]["federation"]["target"] })
      .to eq(hosts.map { |h| "mcollective.node.#{h}" })
    expect(wire.published.map { |_, e, _| e["headers"]["federation"]["req"] }.uniq).to eq([msg.requestid])
    expect(wire.published.map { |_, e, reply| e["headers"]["reply-to"] == reply }).to all(be(true))
  end

  it "publishes a broadcast request once, naming the broadcast subject as the target" do
    connector.publish(request(:request))
    expect(wire.published.size).to eq(1)
    subject, envelope, reply = wire.published.first
    expect(subject).to eq("choria.federation.dev1.federation")
    expect(envelope["headers"]["federation"]["target"]).to eq(["mcollective.broadcast.agent.rpcutil"])
    expect(reply).to start_with("mcollective.reply.")
  end
end
