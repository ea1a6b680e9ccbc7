# frozen_string_literal: true

# `rake bench`: the gem against a bare async-nats client (bench/nats-bare) with
# the same verified-TLS setup, on one loopback TLS nats-server, every scenario
# for every contender interleaved in each round. See docs/performance.md.
#
#   rake bench                       # or: ruby bench/run.rb
#   BENCH_ROUNDS=5 BENCH_SCENARIOS=publish,receive ruby bench/run.rb
#
# Scenarios (bench/scenarios/): publish (one payload), publish_distinct
# (1,000 payloads in turn), receive, request_reply, fan_in (one
# per BENCH_FAN_IN count), intake, decode (reply and request envelopes), connect,
# idle. Contenders: bare (nats-bare),
# connection (ChoriaNats::Connection), connector (MCollective::Connector::Nats
# making MCollective::Message objects) and floor (JSON.parse +
# MCollective::Message.new on the same bytes, no network).
#
# Environment (defaults):
#   BENCH_ROUNDS (9)                 rounds of every scenario
#   BENCH_COUNT (100000)             messages in publish and receive
#   BENCH_SIZE (1024)                bytes per message in publish, receive, request/reply
#   BENCH_GAP (5)                    seconds without a message that end a receive
#   BENCH_ROUND_TRIPS (2000)         sequential round trips per request/reply run
#   BENCH_FAN_IN (10000,50000)       simulated nodes per reply fan-in
#   BENCH_FAN_IN_CONNECTIONS (16)    connections the simulated nodes share
#   BENCH_INTAKE (50000)             broadcast requests flooded into the node
#   BENCH_CONNECTS (10)              fresh processes per contender and round in connect
#   BENCH_IDLE_SECONDS (10)          seconds the idle processes are watched
#   BENCH_IDLE_SUBSCRIPTIONS (10)    subscriptions the idle processes hold
#   BENCH_SCENARIOS (all)            comma-separated subset
#   BENCH_RESULTS (bench/results)    where latest.json and latest.svg go
#   NATS_BARE                        a prebuilt nats-bare (else built in release when stale)

module ChoriaNats
  # The benchmark behind `rake bench`.
  module Bench
    # The repository.
    ROOT = File.expand_path("..", __dir__)
  end
end

$LOAD_PATH.unshift(File.join(ChoriaNats::Bench::ROOT, "lib"))

require "choria_nats"
%w[pki nats_server nats_bare mcollective_config].each { |f| require_relative "../spec/support/#{f}" }
%w[settings clock children rig scenario report chart].each { |f| require_relative "harness/#{f}" }
%w[publish receive request_reply message_flow fan_in intake decode connect idle].each do |f|
  require_relative "scenarios/#{f}"
end

module ChoriaNats
  module Bench
    # Runs the rounds and reports.
    class Runner
      # A runner for +settings+.
      def initialize(settings = Settings.new)
        @settings = settings
        @runs = Hash.new { |by_key, key| by_key[key] = Hash.new { |by_who, who| by_who[who] = [] } }
        @timings = { scenarios: Hash.new(0.0) }
      end

      # Sets up, runs every round, prints and writes the report; returns the JSON document.
      def run
        started = Bench.now
        @timings[:load_before] = Report.load_average
        Rig.new(@settings).open do |rig|
          scenarios = build(rig)
          scenarios.each(&:setup)
          @timings[:setup] = Bench.now - started
          banner(rig)
          @settings.rounds.times { |round| scenarios.each { |scenario| measure(scenario, round) } }
          @timings[:total] = Bench.now - started
          Report.new(@settings, scenarios, @runs, @timings).write
        end
      end

      private

      # How each scenario name becomes its scenarios (fan_in and decode make several).
      BUILD = {
        "publish" => ->(rig, _settings) { Publish.new(rig, "publish") },
        "publish_distinct" => ->(rig, _settings) { Publish.new(rig, "publish_distinct", distinct: Publish::DISTINCT) },
        "receive" => ->(rig, _settings) { Receive.new(rig, "receive") },
        "request_reply" => ->(rig, _settings) { RequestReply.new(rig, "request_reply") },
        "fan_in" => ->(rig, settings) { settings.fan_in.map { |count| FanIn.new(rig, count) } },
        "intake" => ->(rig, _settings) { Intake.new(rig) },
        "decode" => ->(rig, _settings) { [Decode.new(rig, :reply), Decode.new(rig, :request)] },
        "connect" => ->(rig, _settings) { Connect.new(rig) },
        "idle" => ->(rig, _settings) { Idle.new(rig) }
      }.freeze

      def build(rig)
        @settings.scenarios.flat_map { |name| BUILD.fetch(name).call(rig, @settings) }
      end

      def banner(rig)
        puts "choria-nats bench: #{@settings.rounds} round(s) on #{rig.server.address} (TLS, verified); " \
             "setup #{format('%.1f', @timings[:setup])} s"
      end

      def measure(scenario, round)
        started = Bench.now
        scenario.run_round(round).each do |who, result|
          @runs[scenario.key][who] << result
          puts format("  round %<r>d %-14<s>s %-10<w>s %<d>s", r: round + 1, s: scenario.key, w: who,
                                                               d: scenario.describe(result))
        end
        @timings[:scenarios][scenario.key] += Bench.now - started
      end
    end
  end
end

ChoriaNats::Bench::Runner.new.run if $PROGRAM_NAME == __FILE__
