# frozen_string_literal: true

require "spec_helper"

RSpec.describe ChoriaNats::Connection, "failover and dead links" do
  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-failover")
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "ssl"))
  end

  after(:all) { FileUtils.rm_rf(@dir) }

  after { close_clients }

  let(:pki) { @pki }
  let(:fast) { { reconnect_initial_delay: 0.1, reconnect_max_delay: 0.5 } }

  it "dials only the configured brokers of a 3-node cluster, logs what the cluster announced, and fails over",
     bounded: 120 do
    # Brokers announce their peers in the INFO at connect time: start returns once the routes are up.
    cluster = ChoriaNats::TestSupport::NatsCluster.new(pki: pki, dir: File.join(@dir, "cluster")).start
    nodes = cluster.members
    begin
      seed = nodes.first
      logs = ChoriaNats::TestSupport::LogCollector.new
      connection = connect_client(pki, seed, servers: nodes.map(&:address), randomize: false, logger: logs, **fast)
      connection.subscribe("failover.test")
      connection.flush
      others = nodes.drop(1).map(&:address)
      pool = connection.stats["servers"].map { |s| [s["server"], s["source"]] }
      expect(pool).to eq(nodes.map { |node| [node.address, "config"] })
      announced = logs.grep(/\AThe NATS broker #{Regexp.escape(seed.address)} \(config\) announced the cluster member /)
      expect(announced.map(&:first)).to all(eq(:info))
      expect(announced.size).to be >= 2

      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      seed.stop
      eventually(30) do
        connection.receive(0.05)
        connection.connected? && others.include?(connection.connected_server)
      end
      failover = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
      now_on = connection.connected_server
      expect(logs.grep(/\AReconnected after connection failure: #{Regexp.escape(now_on)} \(config\)/)).not_to be_empty

      # The subscription is back once a probe comes through; then everything published arrives.
      sender = connect_client(pki, nodes.drop(1).find { |node| node.address != now_on })
      eventually(10) do
        sender.publish("failover.test", "probe")
        connection.receive(0.5)
      end
      sleep 0.5
      nil while connection.receive(0.2)
      1000.times { |i| sender.publish("failover.test", "after #{i}") }
      sender.flush
      got = []
      while got.size < 1000 && (message = connection.receive(5))
        got << message[2]
      end
      expect(got).to eq(Array.new(1000) { |i| "after #{i}" })
      puts format("\n  failed over from %<from>s to %<to>s in %<s>.2fs", from: seed.address, to: now_on, s: failover)
    ensure
      cluster.stop
    end
  end

  it "notices a link that died silently through pings, and reconnects", bounded: 90 do
    server = ChoriaNats::TestSupport::NatsServer.new(pki: pki, dir: File.join(@dir, "single")).start
    forwarder = ChoriaNats::TestSupport::TcpForwarder.new(server.host, server.port).start
    begin
      logs = ChoriaNats::TestSupport::LogCollector.new
      connection = connect_client(pki, server, servers: ["127.0.0.1:#{forwarder.port}"], ping_interval: 0.5,
                                               logger: logs, **fast)
      connection.subscribe("dead.link")
      connection.flush
      forwarder.freeze_existing!
      eventually(30) do
        connection.receive(0.05)
        logs.grep(/\ADisconnected from NATS: 127\.0\.0\.1:#{forwarder.port} \(config\)/).any?
      end
      eventually(30) do
        connection.receive(0.05)
        connection.connected? && logs.grep(/\AReconnected after connection failure/).any?
      end
      sender = connect_client(pki, server)
      sender.publish("dead.link", "alive again")
      sender.flush
      expect(connection.receive(10)).to eq(["dead.link", nil, "alive again"])
      expect(connection.stats["reconnects"]).to be >= 1
    ensure
      forwarder.stop
      server.stop
    end
  end
end
