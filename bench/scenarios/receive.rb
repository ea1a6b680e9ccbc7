# frozen_string_literal: true

require "rbconfig"

module ChoriaNats
  module Bench
    # Raw receive: another process floods BENCH_COUNT messages of BENCH_SIZE
    # bytes at a subscriber; timed from its first to its last message. Both
    # contenders receive in a fresh process of their own (Ruby:
    # bench/probes/receive.rb), so that the peak RSS while the flood is
    # drained is the receiver's alone; both queue up to BENCH_COUNT + 1024.
    class Receive < Scenario
      # The Ruby side's probe.
      PROBE = File.join(ROOT, "bench", "probes", "receive.rb")
      # Rate, losses and memory.
      METRICS = {
        msgs_per_sec: Metric.new(label: "msgs/s", better: :higher, digits: 0),
        lost: Metric.new(label: "lost", better: :lower, digits: 0, combine: :sum),
        rss_mb: Metric.new(label: "RSS MiB, subscribed", better: :lower, digits: 1),
        peak_rss_mb: Metric.new(label: "peak RSS MiB", better: :lower, digits: 1)
      }.freeze

      # The table's name for it.
      def title
        "receive #{settings.count} x #{settings.size} B"
      end

      # One receive run of +who+.
      def run(who, round)
        subject = "bench.receive.#{round}.#{who}"
        name = "receive-#{who}"
        pid, out = start(who, name, "--subject", subject, "--count", settings.count.to_s,
                         "--timeout", settings.gap.to_s)
        rig.await_ready(out, name)
        figures(rig.finish(*flood(subject), "receive-flood", rig.drain_limit(settings.count)),
                rig.finish(pid, out, name, rig.drain_limit(settings.count)))
      end

      # At least 0.8 of the bare client, nothing lost, and the memory reported.
      def checks(summary)
        [ratio_check(summary, "connection / bare msgs/s", :msgs_per_sec, %i[connection bare], target: [:>=, 0.8]),
         lost_check(summary),
         Check.new(scenario: key, label: "connection peak RSS while draining (bare: " \
                                         "#{METRICS[:peak_rss_mb].format(summary.combined(:bare, :peak_rss_mb))} MiB)",
                   value: summary.combined(:connection, :peak_rss_mb), unit: "MiB", target: "report", met: nil)]
      end

      private

      def start(who, name, *args)
        return rig.spawn_bare("receive", name, *args) if who == :bare

        rig.children.spawn([RbConfig.ruby, "-I", File.join(ROOT, "lib"), PROBE, *rig.connection_args, *args],
                           rig.err_file(name))
      end

      def flood(subject)
        rig.spawn_bare("publish", "receive-flood", "--subject", subject, "--count", settings.count.to_s,
                       "--size", settings.size.to_s)
      end

      def figures(sent, result)
        { received: result["received"], lost: result["lost"], elapsed: result["elapsed"],
          msgs_per_sec: result["msgs_per_sec"], rss_mb: kib(result["rss_kb"]),
          peak_rss_mb: kib(result["peak_rss_kb"]), dropped: result["dropped"],
          sender_msgs_per_sec: sent["msgs_per_sec"], slow_consumer_events: rig.slow_consumer_events }
      end

      def kib(value)
        value && (value / 1024.0)
      end
    end
  end
end
