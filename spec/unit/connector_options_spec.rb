# frozen_string_literal: true

require "spec_helper"

# What the connector shows of its connection to tools such as mcollective-choria's choria_util
# agent: active_options and connected_server, with ChoriaNats::Connection.connect replaced by a double.
RSpec.describe "MCollective::Connector::Nats#active_options and #connected_server" do
  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-connector-options")
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "ssl"))
    @pki.cert_for("node1.example.net")
    ChoriaNats::TestSupport::MCollectiveConfig.load(
      @dir, identity: "node1.example.net",
            settings: { "plugin.choria.ssldir" => @pki.dir, "plugin.choria.middleware_hosts" => "[::1]:4223",
                        "plugin.nats.user" => "mco", "plugin.nats.pass" => "s3cret-pw" }
    )
  end

  after(:all) { FileUtils.rm_rf(@dir) }

  let(:connection) { instance_double(ChoriaNats::Connection, connected_server: "[::1]:4223", closed?: false) }

  def connected
    allow(ChoriaNats::Connection).to receive(:connect).and_return(connection)
    MCollective::Connector::Nats.new.tap(&:connect)
  end

  it "gives the connection's options without the password or the logger, the TLS files under :tls" do
    connector = MCollective::Connector::Nats.new
    expect(connector.active_options).to eq({})
    connector = connected
    options = connector.active_options
    expect(options).to include(servers: [["[::1]:4223", "config"]], name: "node1.example.net", user: "mco")
    expect(options[:tls]).to eq(ca_file: @pki.ca_file, cert_file: @pki.cert_for("node1.example.net"),
                                key_file: @pki.key_for("node1.example.net"))
    expect(options.keys).not_to include(:password, :logger, :ca_file)
    expect(options.inspect).not_to include("s3cret-pw")
  end

  it "gives the broker as an object with scheme, host and port whose to_s is host:port" do
    server = connected.connected_server
    expect([server.scheme, server.host, server.port, server.to_s]).to eq(["nats", "::1", 4223, "[::1]:4223"])
    expect(MCollective::Connector::Nats.new.connected_server).to be_nil
  end
end
