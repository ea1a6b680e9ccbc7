# frozen_string_literal: true

module ChoriaNats
  module Bench
    # What one run measures, read from the environment (see bench/run.rb).
    class Settings
      # Every scenario, in the order a round runs them.
      SCENARIOS = %w[publish publish_distinct receive request_reply fan_in intake decode connect idle].freeze

      # Rounds of every scenario.
      attr_reader :rounds
      # Messages published and received in the raw publish and receive scenarios.
      attr_reader :count
      # Bytes per message in the raw publish, receive and request/reply scenarios.
      attr_reader :size
      # Seconds without a message that end a receive.
      attr_reader :gap
      # Sequential round trips per request/reply run.
      attr_reader :round_trips
      # Simulated nodes per reply fan-in (one scenario each).
      attr_reader :fan_in
      # Connections the simulated nodes share.
      attr_reader :fan_in_connections
      # Broadcast requests flooded into the node.
      attr_reader :intake
      # Fresh processes per contender and round in the connect scenario.
      attr_reader :connects
      # Seconds the idle processes are watched.
      attr_reader :idle_seconds
      # Subscriptions the idle processes hold.
      attr_reader :idle_subscriptions
      # The scenarios to run.
      attr_reader :scenarios
      # Where latest.json and latest.svg go.
      attr_reader :results_dir
      # A prebuilt nats-bare, or nil to build it.
      attr_reader :bare

      # Reads the BENCH_* variables of +env+.
      def initialize(env = ENV)
        @rounds = positive(env, "BENCH_ROUNDS", 9)
        @count = positive(env, "BENCH_COUNT", 100_000)
        @size = positive(env, "BENCH_SIZE", 1024)
        @gap = Float(env.fetch("BENCH_GAP", "5"))
        @round_trips = positive(env, "BENCH_ROUND_TRIPS", 2000)
        @fan_in = env.fetch("BENCH_FAN_IN", "10000,50000").split(",").map { |n| Integer(n.strip) }
        @fan_in_connections = positive(env, "BENCH_FAN_IN_CONNECTIONS", 16)
        @intake = positive(env, "BENCH_INTAKE", 50_000)
        @connects = positive(env, "BENCH_CONNECTS", 10)
        @idle_seconds = Float(env.fetch("BENCH_IDLE_SECONDS", "10"))
        @idle_subscriptions = positive(env, "BENCH_IDLE_SUBSCRIPTIONS", 10)
        @scenarios = selected(env.fetch("BENCH_SCENARIOS", SCENARIOS.join(",")))
        @results_dir = File.expand_path(env.fetch("BENCH_RESULTS", File.join(ROOT, "bench", "results")))
        @bare = env["NATS_BARE"]
        validate!
      end

      # The settings as JSON-friendly data.
      def to_h
        { rounds: rounds, count: count, size: size, gap: gap, round_trips: round_trips, fan_in: fan_in,
          fan_in_connections: fan_in_connections, intake: intake, connects: connects, idle_seconds: idle_seconds,
          idle_subscriptions: idle_subscriptions, scenarios: scenarios }
      end

      private

      def positive(env, name, default)
        value = Integer(env.fetch(name, default.to_s))
        raise ArgumentError, "#{name} must be positive, not #{value}" unless value.positive?

        value
      end

      def selected(list)
        names = list.split(",").map(&:strip).reject(&:empty?)
        unknown = names - SCENARIOS
        raise ArgumentError, "BENCH_SCENARIOS: unknown #{unknown.join(', ')}; known: #{SCENARIOS.join(', ')}" if
          unknown.any?

        SCENARIOS & names
      end

      def validate!
        raise ArgumentError, "BENCH_GAP must be positive" unless gap.positive?
        raise ArgumentError, "BENCH_IDLE_SECONDS must be positive" unless idle_seconds.positive?
        raise ArgumentError, "BENCH_FAN_IN must list positive counts" unless fan_in.all?(&:positive?)
      end
    end
  end
end
