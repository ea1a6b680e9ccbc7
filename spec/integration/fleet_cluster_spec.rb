# frozen_string_literal: true

require "spec_helper"
require_relative "../../sim/cluster_scenarios"

# The small version of `ruby sim/run.rb --brokers 3` (docs/performance.md, The
# fleet on a cluster): 300 simulated nodes, each with the three brokers of a
# TLS cluster in its shuffled pool, through the loss of one broker and a
# rolling restart.
RSpec.describe "A simulated fleet of 300 nodes on a three-broker cluster" do
  before(:all) do
    ChoriaNats::Sim.binary # a release build of the example when it is out of date: not part of the bounds below
    ChoriaNats::Sim.limits
    @dir = Dir.mktmpdir("choria-nats-fleet-cluster")
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "ssl"))
  end

  after(:all) { FileUtils.rm_rf(@dir) }

  def nodes
    300
  end

  def scenario(kind)
    kind.new(dir: @dir, pki: @pki, nodes: nodes, options: { reconnect_spread: 4 }, settle: 2, move_limit: 15,
             log: nil).run
  end

  it "refuses a route from a broker whose certificate the cluster's CA did not sign", bounded: 60 do
    cluster = ChoriaNats::TestSupport::NatsCluster.new(pki: @pki, dir: File.join(@dir, "untrusted")).start
    first = cluster.members.first
    # It trusts the cluster's CA, so a refusal can only come from the member checking the intruder's certificate.
    intruder = ChoriaNats::TestSupport::NatsServer.new(
      pki: @pki, dir: File.join(@dir, "untrusted", "intruder"), name: "intruder", host: "127.0.0.5", monitor: true,
      cert: @pki.foreign_broker_cert, key: @pki.foreign_broker_key, cluster: { routes: [first.route_address] }
    ).start
    begin
      refusal = / - rid:\d+ - TLS route handshake error/
      eventually(20) { first.log.match?(refusal) || intruder.routez["num_routes"].positive? }
      expect(intruder.routez["num_routes"]).to eq(0)
      expect(first.log).to match(refusal)
      expect(cluster.route_counts.values).to eq([2, 2, 2])
    ensure
      intruder.stop
      cluster.stop
    end
  end

  it "moves the nodes of a killed broker to the other two once each, evenly, and a broadcast " \
     "through a survivor reaches every node with every reply back", bounded: 90 do
    result = scenario(ChoriaNats::Sim::KillOne)
    puts format("\n  kill-one, %<n>d nodes: %<moved>d moved in %<all>ss to %<to>s, %<acc>.2f accepted per node",
                n: nodes, moved: result[:moved], all: result[:all_back], to: result[:moved_to].values,
                acc: result[:accepted_per_node])
    expect(result[:moved]).to be > nodes / 6
    expect(result).to include(back: result[:moved], connected: nodes)
    expect(result[:all_back]).not_to be_nil
    expect(result[:accepted_per_node]).to be <= 1.1
    expect(result[:failures].values.sum + result[:handshakes_failed]).to eq(0)
    expect(result[:moved_to].values).to all(be >= result[:moved] / 4) # both survivors take a share
    expect(result[:broadcast]).to include(expected: nodes, received: nodes, lost: 0, direct_ok: nodes,
                                          broadcast_ok: nodes)
    expect(result[:per_broker][result[:killed]]).to eq(0)
    expect(result[:after_return][result[:killed]]).to eq(0) # no rebalance: a broker that returns gets no one back
  end

  it "keeps every node connected through a rolling restart, and each broadcast through the broker that " \
     "came back reaches every node", bounded: 120 do
    result = scenario(ChoriaNats::Sim::RollingRestart)
    puts format("\n  rolling-restart, %<n>d nodes: steps %<s>s s, %<acc>.2f accepted per node, spread at the end %<e>s",
                n: nodes, s: result[:step_seconds], acc: result[:accepted_per_node], e: result[:per_broker].values)
    expect(result[:steps].size).to eq(3)
    result[:steps].each do |step|
      expect(step).to include(back: step[:moved], connected: nodes)
      expect(step[:all_back]).not_to be_nil
      expect(step[:broadcast]).to include(received: nodes, lost: 0, direct_ok: nodes, broadcast_ok: nodes)
    end
    expect(result[:accepted_per_node]).to be <= 1.1
    expect(result[:failures].values.sum + result[:handshakes_failed]).to eq(0)
    expect(result[:broadcast]).to include(expected: 3 * nodes, received: 3 * nodes, lost: 0)
    expect(result[:per_broker].values.sum).to eq(nodes)
  end
end
