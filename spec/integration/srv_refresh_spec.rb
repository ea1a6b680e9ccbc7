# frozen_string_literal: true

require "spec_helper"

RSpec.describe ChoriaNats::Connection, "looking SRV records up again while the first connect fails" do
  before(:all) do
    skip "dnsmasq is not installed (Debian package dnsmasq-base)" unless ChoriaNats::TestSupport::Dnsmasq.binary

    @dir = Dir.mktmpdir("choria-nats-srv-refresh")
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "ssl"))
    @server = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "broker")).start
    @dns = ChoriaNats::TestSupport::Dnsmasq.new(
      dir: File.join(@dir, "dns"), local_domains: %w[example.net],
      srv_hosts: ["_mcollective-server._tcp.example.net,localhost,#{@server.port},10,0"]
    ).start
  end

  after(:all) do
    @dns&.stop
    @server&.stop
    FileUtils.rm_rf(@dir) if @dir
  end

  after { close_clients }

  it "finds the broker SRV now lists when the ones it started with do not answer", bounded: 60 do
    logs = ChoriaNats::TestSupport::LogCollector.new
    dead = "127.0.0.1:#{ChoriaNats::TestSupport::NatsServer.free_port}"
    connection = connect_client(@pki, @server, servers: [[dead, "default"]], logger: logs,
                                               srv_names: ["_mcollective-server._tcp.example.net"],
                                               srv_nameserver: @dns.nameserver, retry_initial_connect: 20,
                                               reconnect_initial_delay: 0.1)
    expect(connection.connected_server).to eq("localhost:#{@server.port}")
    expect(logs.grep(/\ASRV records now list localhost:#{@server.port}: added to the server pool\z/)).not_to be_empty
    expect(connection.stats["servers"].map { |s| [s["server"], s["source"]] })
      .to eq([["localhost:#{@server.port}", "srv"]])
  end
end
