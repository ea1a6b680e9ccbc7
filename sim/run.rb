#!/usr/bin/env ruby
# frozen_string_literal: true

# The fleet simulation: N nodes reconnecting after a broker restart, with
# the gem's reconnect policy and with async-nats' default, then a reply
# fan-out to a real MCollective connector. See docs/performance.md, "Reconnect storms".
# With --brokers 3, the fleet on a cluster that loses a broker or is restarted
# in turn instead ("The fleet on a cluster").
#
#   ruby sim/run.rb                      # N = 1,000, 5,000, 10,000; both policies; fan-out at 10,000
#   ruby sim/run.rb --nodes 1000 --policies choria --no-fanout
#   ruby sim/run.rb --set reconnect_spread=5 --set connect_timeout=5   # try other settings
#   ruby sim/run.rb --brokers 3 --nodes 10000 --scenario kill-one --json FILE   # on a cluster
#
# Results: a table on stdout, everything in sim/results/latest.json.

require "optparse"
require_relative "fleet_sim"
require_relative "cluster_scenarios"

options = { nodes: [1_000, 5_000, 10_000], policies: %i[choria baseline], outage: 5, fanout: true,
            replies: [1, 5], set: {}, json: File.join(__dir__, "results", "latest.json"), brokers: 1,
            scenarios: ChoriaNats::Sim::CLUSTER_SCENARIOS.keys, settle: 5 }
OptionParser.new do |opts|
  opts.banner = "usage: ruby sim/run.rb [options]"
  opts.on("--nodes LIST", Array, "fleet sizes (1000,5000,10000)") { |v| options[:nodes] = v.map { |n| Integer(n) } }
  opts.on("--policies LIST", Array, "choria, baseline or both") { |v| options[:policies] = v.map(&:to_sym) }
  opts.on("--outage SECONDS", Float, "how long the broker stays down (5)") { |v| options[:outage] = v }
  opts.on("--[no-]fanout", "the reply fan-out at the largest N (on)") { |v| options[:fanout] = v }
  opts.on("--replies LIST", Array, "replies per node, one broadcast each (1,5)") do |v|
    options[:replies] = v.map { |n| Integer(n) }
  end
  opts.on("--set NAME=VALUE", "a fleet_sim option for the choria policy, e.g. reconnect_spread=5") do |v|
    name, value = v.split("=", 2)
    options[:set][name.to_sym] = value
  end
  opts.on("--json FILE", "where to write the results") { |v| options[:json] = v }
  opts.on("--brokers N", Integer, "1: one broker restarted (default); 2 or more: a cluster, see --scenario") do |v|
    options[:brokers] = v
  end
  opts.on("--scenario LIST", Array, "on a cluster: kill-one, rolling-restart (both)") do |v|
    unknown = v - ChoriaNats::Sim::CLUSTER_SCENARIOS.keys
    raise OptionParser::InvalidArgument, unknown.join(",") unless unknown.empty?

    options[:scenarios] = v
  end
  opts.on("--settle SECONDS", Float, "on a cluster: how long a broker that came back settles (5)") do |v|
    options[:settle] = v
  end
end.parse!
abort "--brokers must be at least 1" if options[:brokers] < 1

def row(result)
  format("| %-8<policy>s | %6<nodes>d | %6<first>s | %6<half>s | %9<all>s | %5<peak>d | %5<acc>.2f " \
         "| %6<cpu>s | %6<other>s | %11<subs>s |",
         policy: result[:policy], nodes: result[:nodes], first: result[:first_back], half: result[:p50_back],
         all: result[:all_back] || "not all", peak: result[:peak_per_100ms], acc: result[:accepted_per_node],
         cpu: result[:broker_cpu], other: result[:other_cpu],
         subs: "#{result.dig(:subscriptions, :direct_ok)}/#{result[:nodes]}")
end

def cluster_row(result)
  format("| %-15<scenario>s | %6<nodes>d | %5<moved>d | %7<all>s | %5<acc>s | %4<failed>d | %-22<to>s " \
         "| %-22<end>s | %6<rec>d/%<exp>d, %<lost>d lost |",
         scenario: result[:scenario], nodes: result[:nodes], moved: result[:moved], all: result[:all_back] || "not all",
         acc: result[:accepted_per_node], failed: result[:handshakes_failed] + result[:failures].values.sum,
         to: result[:moved_to]&.values.inspect || "-", end: result[:per_broker].values.inspect,
         rec: result.dig(:broadcast, :received), exp: result.dig(:broadcast, :expected),
         lost: result.dig(:broadcast, :lost))
end

# The cluster scenarios, one fresh cluster and fleet each; prints their table.
def run_cluster(options, results)
  Dir.mktmpdir("choria-nats-sim") do |dir|
    pki = ChoriaNats::TestSupport::PKI.new(File.join(dir, "ssl"))
    options[:nodes].each do |nodes|
      options[:scenarios].each do |scenario|
        results[:scenarios] << ChoriaNats::Sim::CLUSTER_SCENARIOS.fetch(scenario).new(
          dir: dir, pki: pki, nodes: nodes, brokers: options[:brokers], options: options[:set], settle: options[:settle]
        ).run
      end
    end
  end
end

# Stamps the end of the run and writes every measurement to `file`.
def write_results(file, results)
  results[:finished] = Time.now.utc.to_s
  FileUtils.mkdir_p(File.dirname(file))
  File.write(file, JSON.pretty_generate(results))
end

limits = ChoriaNats::Sim.limits
warn "limits: #{limits.inspect}"
warn "building fleet_sim (cargo, release) if needed..."
ChoriaNats::Sim.binary
if options[:brokers] > 1
  results = { started: Time.now.utc.to_s, limits: limits, scenarios: [] }
  run_cluster(options, results)
  write_results(options[:json], results)
  puts
  puts "#{options[:brokers]} brokers (times in seconds from the broker going away; rolling-restart: the slowest step)"
  puts
  puts "| scenario | nodes | moved | all back | accepted/moved node | failed handshakes | moved to " \
       "| at the end | broadcast replies |"
  puts "|---|---:|---:|---:|---:|---:|---|---|---|"
  results[:scenarios].each { |r| puts cluster_row(r) }
  puts
  puts "All measurements: #{options[:json]}"
  exit
end
results = { started: Time.now.utc.to_s, limits: limits, storms: [], fanout: [] }
Dir.mktmpdir("choria-nats-sim") do |dir|
  pki = ChoriaNats::TestSupport::PKI.new(File.join(dir, "ssl"))
  options[:nodes].each do |nodes|
    options[:policies].each do |policy|
      fanout = options[:fanout] && policy == options[:policies].first && nodes == options[:nodes].max
      storm = ChoriaNats::Sim::Storm.new(dir: dir, pki: pki, policy: policy, nodes: nodes,
                                         outage: options[:outage], options: policy == :choria ? options[:set] : {})
      results[:storms] << storm.run do |fleet, broker|
        next unless fanout

        results[:fanout] = ChoriaNats::Sim::FanOut.new(dir: dir, pki: pki, broker: broker, fleet: fleet,
                                                       nodes: nodes).run(options[:replies])
      end
    end
  end
end
write_results(options[:json], results)
puts
puts "Broker restart after a #{options[:outage]} s outage (times in seconds from the restart)"
puts
puts "| policy | nodes | first back | half back | all back | peak/100ms | accepted/node | broker CPU s " \
     "| other CPU s | every node receives |"
puts "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
results[:storms].each { |r| puts row(r) }
unless results[:fanout].empty?
  puts
  puts "| replies | received | lost | first reply s | last reply s |"
  puts "|---:|---:|---:|---:|---:|"
  results[:fanout].each do |f|
    puts format("| %<e>d | %<r>d | %<l>d | %<f>s | %<d>s |", e: f[:expected], r: f[:received], l: f[:lost],
                                                             f: f[:first_reply], d: f[:drained])
  end
end
puts
puts "All measurements: #{options[:json]}"
