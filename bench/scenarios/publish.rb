# frozen_string_literal: true

module ChoriaNats
  module Bench
    # Raw publish: BENCH_COUNT messages of BENCH_SIZE bytes, then a flush. The
    # "publish" scenario sends one payload every time; "publish_distinct" sends
    # DISTINCT payloads in turn, each unlike the one before, so that no publish
    # can reuse the previous one's copy (as an application sending fresh data does).
    class Publish < Scenario
      include BothLevels

      # Messages per second, higher is better.
      METRICS = { msgs_per_sec: Metric.new(label: "msgs/s", better: :higher, digits: 0) }.freeze
      # Payloads publish_distinct cycles through (1 MiB of 1 KiB payloads: made before the clock starts).
      DISTINCT = 1000

      # A publish scenario named +key+ on +rig+, cycling through +distinct+ payloads.
      def initialize(rig, key, distinct: 1)
        super(rig, key)
        @distinct = distinct
      end

      # The table's name for it.
      def title
        kind = @distinct > 1 ? ", #{@distinct} distinct" : ", one payload"
        "publish #{settings.count} x #{settings.size} B#{kind}"
      end

      # One publish run of +who+.
      def run(who, round)
        case who
        when :bare then bare(round)
        when :connection then connection(round)
        else connector(round)
        end
      end

      # The connection reaches at least 0.8 of the bare client; the connector's ratio is reported.
      def checks(summary)
        [ratio_check(summary, "connection / bare msgs/s", :msgs_per_sec, %i[connection bare], target: [:>=, 0.8]),
         ratio_check(summary, "connector / bare msgs/s", :msgs_per_sec, %i[connector bare])]
      end

      private

      # The payloads to send in turn: variant n has n's digits over its first bytes.
      def payloads
        base = "x" * settings.size
        return [base.freeze] if @distinct == 1

        Array.new(@distinct) do |n|
          tag = n.to_s[0, settings.size]
          (tag + base[tag.size..]).freeze
        end
      end

      def connection(round)
        connection = ChoriaNats::Connection.connect(**rig.connect_options)
        subject = "bench.publish.#{round}.#{key}.connection"
        payloads = self.payloads
        GC.start
        started = Bench.now
        publish_all(connection, subject, payloads)
        connection.flush(120)
        elapsed = Bench.now - started
        { elapsed: elapsed, msgs_per_sec: settings.count / elapsed }
      ensure
        connection&.close
      end

      # MCollective::Connector::Nats#publish of BENCH_COUNT broadcast requests, as mco sends them:
      # the connector base64-encodes each payload, adds the headers and a reply subject, and
      # encodes the envelope. The messages are made before the clock starts.
      def connector(round)
        connector = rig.connector(:client)
        payloads = self.payloads
        messages = Array.new(settings.count) do |n|
          MCollective::Message.new(payloads[n % payloads.size], nil, agent: "bench#{round}",
                                                                     collective: "mcollective", type: :request)
        end
        GC.start
        started = Bench.now
        messages.each { |message| connector.publish(message) }
        connector.connection.flush(120)
        elapsed = Bench.now - started
        { elapsed: elapsed, msgs_per_sec: settings.count / elapsed }
      ensure
        connector&.disconnect
      end

      # BENCH_COUNT publishes of +payloads+ in turn; one payload goes in the plainest loop.
      def publish_all(connection, subject, payloads)
        if payloads.size == 1
          only = payloads.first
          settings.count.times { connection.publish(subject, only) }
        else
          full, rest = settings.count.divmod(payloads.size)
          full.times { payloads.each { |payload| connection.publish(subject, payload) } }
          payloads.first(rest).each { |payload| connection.publish(subject, payload) }
        end
      end

      def bare(round)
        pid, out = rig.spawn_bare("publish", "#{key}-bare", "--subject", "bench.publish.#{round}.#{key}.bare",
                                  "--count", settings.count.to_s, "--size", settings.size.to_s,
                                  "--distinct", @distinct.to_s)
        result = rig.finish(pid, out, "#{key}-bare", rig.drain_limit(settings.count) + 30)
        { elapsed: result["elapsed"], msgs_per_sec: result["msgs_per_sec"] }
      end
    end
  end
end
