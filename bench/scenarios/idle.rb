# frozen_string_literal: true

require "rbconfig"

module ChoriaNats
  module Bench
    # Idle: a Ruby process holding a connection with BENCH_IDLE_SUBSCRIPTIONS
    # subscriptions and waiting in #receive, and nats-bare idle, side by side
    # for BENCH_IDLE_SECONDS. CPU from /proc/<pid>/task/*/schedstat (ns) and
    # /proc/<pid>/stat utime + stime (clock ticks), RSS from VmRSS at the end.
    class Idle < Scenario
      include BothLevels

      # The Ruby side's probe.
      PROBE = File.join(ROOT, "bench", "probes", "idle.rb")
      # Seconds the processes settle after saying they are ready, before the watch starts.
      SETTLE = 1
      # Target: CPU milliseconds per 10 s.
      CPU_TARGET = 10
      # CPU per 10 s and memory, lower is better.
      METRICS = {
        cpu_ms: Metric.new(label: "CPU ms/10 s", better: :lower, digits: 2),
        cpu_ms_ticks: Metric.new(label: "CPU ms/10 s (ticks)", better: :lower, digits: 0),
        rss_mb: Metric.new(label: "RSS MiB", better: :lower, digits: 1)
      }.freeze

      # An idle scenario on +rig+.
      def initialize(rig)
        super(rig, "idle")
      end

      # The table's name for it.
      def title
        "idle #{format('%g', settings.idle_seconds)} s, #{settings.idle_subscriptions} subscriptions"
      end

      # All processes at once: they are idle, so they do not compete.
      def run_round(round)
        processes = contenders.rotate(round).to_h { |who| [who, start(who, round)] }
        sleep(SETTLE)
        before = processes.transform_values { |(pid, _)| ProcStat.cpu(pid) }
        sleep(settings.idle_seconds)
        processes.to_h { |who, (pid, _out)| [who, figures(pid, before.fetch(who))] }
      ensure
        processes&.each_value do |(pid, out)|
          rig.children.stop(pid)
          out.close
        end
      end

      # Each Ruby process under 10 ms of CPU per 10 s.
      def checks(summary)
        %i[connection connector].map do |who|
          value_check("#{who} idle CPU, ms per 10 s", summary.combined(who, :cpu_ms), :<, CPU_TARGET, "ms")
        end
      end

      private

      def start(who, round)
        prefix = ["--subject", "bench.idle.#{round}.#{who}", "--count", settings.idle_subscriptions.to_s]
        probe = [RbConfig.ruby, "-I", File.join(ROOT, "lib"), PROBE, *rig.connection_args, *prefix]
        pid, out = case who
                   when :bare
                     rig.spawn_bare("idle", "idle-bare", *prefix, "--timeout", (settings.idle_seconds + 60).to_s)
                   when :connection then rig.children.spawn(probe, rig.err_file("idle-connection"))
                   else rig.children.spawn([*probe, "--config", @mcollective_config], rig.err_file("idle-connector"))
                   end
        rig.await_ready(out, "idle-#{who}")
        [pid, out]
      end

      def figures(pid, before)
        after = ProcStat.cpu(pid)
        per10 = 10_000 / settings.idle_seconds
        { cpu_ms: ProcStat.cpu_seconds(before, after) * per10, cpu_ms_ticks: (after[:ticks] - before[:ticks]) * per10,
          rss_mb: ProcStat.mib(pid, "VmRSS") }
      end
    end
  end
end
