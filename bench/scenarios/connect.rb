# frozen_string_literal: true

require "rbconfig"

module ChoriaNats
  module Bench
    # Connect from a fresh process, TLS verified both ways: the time the
    # connect itself takes inside the process, and the whole process from
    # spawn to exit (for Ruby: starting the interpreter and loading the gem).
    # BENCH_CONNECTS processes per contender and round; their medians.
    class Connect < Scenario
      include BothLevels

      # The Ruby side's probe.
      PROBE = File.join(ROOT, "bench", "probes", "connect.rb")
      # Seconds one process may take.
      TIMEOUT = 60
      # Milliseconds, lower is better.
      METRICS = {
        connect_ms: Metric.new(label: "connect ms", better: :lower, digits: 2),
        process_ms: Metric.new(label: "process ms", better: :lower, digits: 1)
      }.freeze

      # A connect scenario on +rig+.
      def initialize(rig)
        super(rig, "connect")
      end

      # The table's name for it.
      def title
        "connect (TLS, verified), fresh process"
      end

      # BENCH_CONNECTS processes of +who+; the medians.
      def run(who, _round)
        probe = [RbConfig.ruby, "-I", File.join(ROOT, "lib"), PROBE, *rig.connection_args]
        argv = case who
               when :bare then [rig.bare, "connect", *rig.connection_args]
               when :connection then probe
               else [*probe, "--config", @mcollective_config]
               end
        samples = Array.new(settings.connects) { sample(argv, "connect-#{who}") }
        { connect_ms: Bench.median(samples.map(&:first)), process_ms: Bench.median(samples.map(&:last)),
          samples: samples }
      end

      # The connect within twice the bare client's.
      def checks(summary)
        [ratio_check(summary, "connection / bare connect time", :connect_ms, %i[connection bare], target: [:<=, 2.0]),
         ratio_check(summary, "whole Ruby process / whole nats-bare process", :process_ms, %i[connection bare]),
         ratio_check(summary, "connector / bare connect time", :connect_ms, %i[connector bare]),
         ratio_check(summary, "whole connector process / whole nats-bare process", :process_ms, %i[connector bare])]
      end

      private

      # [connect ms, process ms] of one process.
      def sample(argv, name)
        wall, out = rig.children.timed(argv, rig.err_file(name), TIMEOUT)
        [JSON.parse(out.lines.last)["connect_ms"], wall * 1e3]
      end
    end
  end
end
