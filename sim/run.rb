#!/usr/bin/env ruby
# frozen_string_literal: true

# The fleet simulation: N nodes reconnecting after a broker restart, with
# the gem's reconnect policy and with async-nats' default, then a reply
# fan-out to a real MCollective connector. See docs/performance.md, "Reconnect storms".
#
#   ruby sim/run.rb                      # N = 1,000, 5,000, 10,000; both policies; fan-out at 10,000
#   ruby sim/run.rb --nodes 1000 --policies choria --no-fanout
#   ruby sim/run.rb --set reconnect_spread=5 --set connect_timeout=5   # try other settings
#
# Results: a table on stdout, everything in sim/results/latest.json.

require "optparse"
require_relative "fleet_sim"

options = { nodes: [1_000, 5_000, 10_000], policies: %i[choria baseline], outage: 5, fanout: true,
            replies: [1, 5], set: {}, json: File.join(__dir__, "results", "latest.json") }
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
end.parse!

def row(result)
  format("| %-8<policy>s | %6<nodes>d | %6<first>s | %6<half>s | %9<all>s | %5<peak>d | %5<acc>.2f " \
         "| %6<cpu>s | %6<other>s | %11<subs>s |",
         policy: result[:policy], nodes: result[:nodes], first: result[:first_back], half: result[:p50_back],
         all: result[:all_back] || "not all", peak: result[:peak_per_100ms], acc: result[:accepted_per_node],
         cpu: result[:broker_cpu], other: result[:other_cpu],
         subs: "#{result.dig(:subscriptions, :direct_ok)}/#{result[:nodes]}")
end

limits = ChoriaNats::Sim.limits
warn "limits: #{limits.inspect}"
warn "building fleet_sim (cargo, release) if needed..."
ChoriaNats::Sim.binary
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
results[:finished] = Time.now.utc.to_s

FileUtils.mkdir_p(File.dirname(options[:json]))
File.write(options[:json], JSON.pretty_generate(results))
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
