# frozen_string_literal: true

require "spec_helper"
require_relative "../../sim/fleet_sim"

# The small version of `ruby sim/run.rb` (docs/performance.md, Reconnect storms): 200
# simulated nodes, each with its own TLS connection made by the gem's own
# connect code and reconnect policy, through a broker restart.
RSpec.describe "A simulated fleet of 200 nodes whose broker restarts" do
  before(:all) do
    ChoriaNats::Sim.binary # a release build of the example when it is out of date: not part of the bound below
    ChoriaNats::Sim.limits
    @dir = Dir.mktmpdir("choria-nats-fleet")
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "ssl"))
  end

  after(:all) { FileUtils.rm_rf(@dir) }

  it "brings every node back once, spread out, and each receives its own and the broadcast messages; " \
     "a connector in this process gets every node's reply", bounded: 120 do
    fanout = nil
    storm = ChoriaNats::Sim::Storm.new(dir: @dir, pki: @pki, policy: :choria, nodes: 200, outage: 2,
                                       options: { reconnect_spread: 4 }, log: nil)
    result = storm.run do |fleet, broker|
      fanout = ChoriaNats::Sim::FanOut.new(dir: @dir, pki: @pki, broker: broker, fleet: fleet, nodes: 200, log: nil)
                                      .run([1, 2])
    end
    puts format("\n  200 nodes: all back %<all>ss after the restart, peak %<peak>d/100 ms, %<acc>.2f accepted " \
                "connections per node; replies drained in %<d>s",
                all: result[:all_back], peak: result[:peak_per_100ms], acc: result[:accepted_per_node],
                d: fanout.map { |f| "#{f[:drained]}s (#{f[:expected]})" }.join(", "))
    expect(result).to include(back: 200, disconnected: 200)
    expect(result[:all_back]).to be < 10
    expect(result[:first_back]).to be < 2 # spread out, not held back
    expect(result[:peak_per_100ms]).to be <= 40 # not one herd
    expect(result[:accepted_per_node]).to be <= 1.1
    expect(result[:subscriptions]).to include(direct_ok: 200, broadcast_ok: 200)
    expect(fanout.map { |f| f.values_at(:received, :lost, :senders) }).to eq([[200, 0, 200], [400, 0, 200]])
  end
end
