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

  # A cluster route block with TLS and verify on the route port, like the seed documentation's.
  def cluster_block(route_port, peer_route_ports)
    routes = peer_route_ports.map { |port| "    nats-route://127.0.0.1:#{port}" }.join("\n")
    <<~CONF
      cluster {
        name: "choria-nats-spec"
        host: "127.0.0.1"
        port: #{route_port}
        tls {
          cert_file: "#{pki.broker_cert}"
          key_file: "#{pki.broker_key}"
          ca_file: "#{pki.ca_file}"
          verify: true
          timeout: 2
        }
        routes = [
      #{routes}
        ]
      }
    CONF
  end

  def start_cluster(size)
    route_ports = Array.new(size) { ChoriaNats::TestSupport::NatsServer.free_port }
    route_ports.each_with_index.map do |route_port, i|
      ChoriaNats::TestSupport::NatsServer.new(
        pki: pki, dir: File.join(@dir, "cluster#{i}"), name: "n#{i}",
        extra: cluster_block(route_port, route_ports - [route_port])
      ).start
    end
  end

  it "adds the servers the cluster announces to the pool and fails over to them", bounded: 90 do
    nodes = start_cluster(2)
    begin
      seed, other = nodes
      # async-nats learns members from the INFO at connect time: let the routes form first.
      eventually(20) { [seed, other].all? { |node| node.log.include?("Route connection created") } }
      logs = ChoriaNats::TestSupport::LogCollector.new
      connection = connect_client(pki, seed, logger: logs, **fast)
      connection.subscribe("failover.test")
      connection.flush
      eventually(20) do
        connection.receive(0.05)
        connection.stats["servers"].any? { |s| s["server"] == other.address && s["source"] == "cluster" }
      end
      expect(logs.grep(/\AThe NATS cluster announced #{Regexp.escape(other.address)}: added to the server pool\z/))
        .not_to be_empty

      seed.stop
      eventually(30) do
        connection.receive(0.05)
        connection.connected? && connection.connected_server == other.address
      end
      sender = connect_client(pki, other)
      message = eventually(10) do
        sender.publish("failover.test", "after failover")
        connection.receive(0.5)
      end
      expect(message).to eq(["failover.test", nil, "after failover"])
      expect(logs.grep(/\AReconnected after connection failure: #{Regexp.escape(other.address)} \(cluster\)/))
        .not_to be_empty
    ensure
      nodes.each(&:stop)
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
