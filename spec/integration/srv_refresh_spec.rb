# frozen_string_literal: true

require "spec_helper"

# The server pool following DNS: the SRV records looked up again while the first connect fails, when
# a link drops and after each failed reconnect round, against dnsmasq (its records changed by
# restarting it on the same port) and real nats-servers.
RSpec.describe ChoriaNats::Connection, "looking SRV records up again" do
  let(:srv_name) { "_mcollective-server._tcp.example.net" }

  before(:all) do
    skip "dnsmasq is not installed (Debian package dnsmasq-base)" unless ChoriaNats::TestSupport::Dnsmasq.binary

    @dir = Dir.mktmpdir("choria-nats-srv-refresh")
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "ssl"))
    @server = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "broker")).start
    @other = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "broker2")).start
    @dns = ChoriaNats::TestSupport::Dnsmasq.new(
      dir: File.join(@dir, "dns"), local_domains: %w[example.net],
      srv_hosts: ["_mcollective-server._tcp.example.net,localhost,#{@server.port},10,0"]
    ).start
  end

  after(:all) do
    @dns&.stop
    @server&.stop
    @other&.stop
    FileUtils.rm_rf(@dir) if @dir
  end

  after do
    close_clients
    @server&.start unless @server.nil? || @server.running?
    @dns&.restart(srv_hosts: ["#{srv_name},localhost,#{@server.port},10,0"])
  end

  def srv_options(logs, **overrides)
    { logger: logs, srv_names: [srv_name], srv_nameserver: @dns.nameserver, reconnect_initial_delay: 0.1,
      reconnect_spread: 0.5 }.merge(overrides)
  end

  def pool(connection)
    connection.stats["servers"].map { |s| [s["server"], s["source"]] }
  end

  it "finds the broker SRV now lists when the ones it started with do not answer", bounded: 60 do
    logs = ChoriaNats::TestSupport::LogCollector.new
    dead = "127.0.0.1:#{ChoriaNats::TestSupport::NatsServer.free_port}"
    connection = connect_client(@pki, @server, servers: [[dead, "default"]], retry_initial_connect: 20,
                                               **srv_options(logs))
    expect(connection.connected_server).to eq("localhost:#{@server.port}")
    expect(logs.grep(/\ASRV answer changed: added localhost:#{@server.port}, removed #{dead}; server pool: /))
      .not_to be_empty
    expect(pool(connection)).to eq([["localhost:#{@server.port}", "srv"]])
  end

  it "keeps configured servers when the SRV answer replaces the rest", bounded: 60 do
    logs = ChoriaNats::TestSupport::LogCollector.new
    configured = "127.0.0.1:#{ChoriaNats::TestSupport::NatsServer.free_port}"
    vanished = "127.0.0.2:#{ChoriaNats::TestSupport::NatsServer.free_port}"
    connection = connect_client(@pki, @server, servers: [[configured, "config"], [vanished, "srv"]],
                                               randomize: false, retry_initial_connect: 20, **srv_options(logs))
    expect(connection.connected_server).to eq("localhost:#{@server.port}")
    expect(pool(connection)).to eq([[configured, "config"], ["localhost:#{@server.port}", "srv"]])
  end

  it "follows the brokers when they move: connected to one, DNS names another, the first stops", bounded: 90 do
    logs = ChoriaNats::TestSupport::LogCollector.new
    moved = "localhost:#{@other.port}"
    connection = connect_client(@pki, @server, servers: [["localhost:#{@server.port}", "srv"]],
                                               **srv_options(logs))
    connection.subscribe("moved.check")
    @dns.restart(srv_hosts: ["#{srv_name},localhost,#{@other.port},10,0"])
    @server.stop
    eventually(60) do
      connection.receive(0.05)
      connection.connected_server == moved
    end
    expect(logs.grep(/\ASRV answer changed: added #{moved}, removed none; server pool: /)).not_to be_empty
    expect(logs.grep(/\AConnecting to NATS #{moved} \(srv\) in \d+\.\d+s with a new client: /)).not_to be_empty
    expect(logs.grep(/\ARebuilt the NATS connection to #{moved} \(srv\): 1 of 1 subscriptions restored\z/))
      .not_to be_empty
    connection.publish("moved.check", "after the move")
    message = eventually(10) { connection.receive(0.2) }
    expect(message).to eq(["moved.check", nil, "after the move"])
  end

  it "looks SRV up at most once a reconnect_spread while its broker is down, keeping the pool", bounded: 90 do
    logs = ChoriaNats::TestSupport::LogCollector.new
    spread = 0.5
    connection = connect_client(@pki, @server, servers: [["localhost:#{@server.port}", "srv"]],
                                               **srv_options(logs, reconnect_spread: spread))
    # Taken before the stop: the link may drop, and the first lookup run, before stop returns.
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    @server.stop
    eventually(30) do
      connection.receive(0.05)
      logs.grep(/\ALooked the SRV records up again: /).size >= 4
    end
    outage = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
    lookups = logs.grep(/\ALooked the SRV records up again: /).size
    attempts = logs.grep(/\ACould not reconnect to NATS /).size
    warn format("SRV refresh under a broker outage: %<lookups>d lookups and %<attempts>d reconnect attempts in " \
                "%<outage>.1fs (reconnect_spread %<spread>.1fs): %<rate>.0f lookups a minute",
                lookups: lookups, attempts: attempts, outage: outage, spread: spread, rate: lookups * 60 / outage)
    # One lookup a period at most: never more than the periods begun.
    expect(lookups).to be <= (outage / spread).floor + 1
    expect(pool(connection)).to eq([["localhost:#{@server.port}", "srv"]])
    @server.start
    eventually(30) do
      connection.receive(0.05)
      connection.connected?
    end
  end
end
