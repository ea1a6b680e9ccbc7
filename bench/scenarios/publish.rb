# frozen_string_literal: true

module ChoriaNats
  module Bench
    # Raw publish: BENCH_COUNT messages of BENCH_SIZE bytes, then a flush.
    class Publish < Scenario
      # Messages per second, higher is better.
      METRICS = { msgs_per_sec: Metric.new(label: "msgs/s", better: :higher, digits: 0) }.freeze

      # The table's name for it.
      def title
        "publish #{settings.count} x #{settings.size} B"
      end

      # One publish run of +who+.
      def run(who, round)
        who == :bare ? bare(round) : connection(round)
      end

      # The connection reaches at least 0.8 of the bare client.
      def checks(summary)
        [ratio_check(summary, "connection / bare msgs/s", :msgs_per_sec, %i[connection bare], target: [:>=, 0.8])]
      end

      private

      def connection(round)
        connection = ChoriaNats::Connection.connect(**rig.connect_options)
        subject = "bench.publish.#{round}.connection"
        payload = ("x" * settings.size).freeze
        GC.start
        started = Bench.now
        settings.count.times { connection.publish(subject, payload) }
        connection.flush(120)
        elapsed = Bench.now - started
        { elapsed: elapsed, msgs_per_sec: settings.count / elapsed }
      ensure
        connection&.close
      end

      def bare(round)
        pid, out = rig.spawn_bare("publish", "publish-bare", "--subject", "bench.publish.#{round}.bare",
                                  "--count", settings.count.to_s, "--size", settings.size.to_s)
        result = rig.finish(pid, out, "publish-bare", rig.drain_limit(settings.count) + 30)
        { elapsed: result["elapsed"], msgs_per_sec: result["msgs_per_sec"] }
      end
    end
  end
end
