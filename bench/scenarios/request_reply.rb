# frozen_string_literal: true

module ChoriaNats
  module Bench
    # Request/reply latency: a nats-bare responder echoes each request to its
    # reply subject; the contender sends BENCH_ROUND_TRIPS requests of
    # BENCH_SIZE bytes one after another (subscribe to a reply subject, publish
    # with it as reply, receive), after WARMUP unmeasured ones.
    class RequestReply < Scenario
      include BothLevels

      # Round trips before the measured ones.
      WARMUP = 50
      # Seconds to wait for one reply before counting it lost.
      REPLY_TIMEOUT = 5
      # Latency percentiles, lower is better, and losses.
      METRICS = {
        p50_us: Metric.new(label: "p50 us", better: :lower, digits: 0),
        p99_us: Metric.new(label: "p99 us", better: :lower, digits: 0),
        lost: Metric.new(label: "lost", better: :lower, digits: 0, combine: :sum)
      }.freeze

      # The table's name for it.
      def title
        "request/reply #{settings.round_trips} x #{settings.size} B"
      end

      # One run of +who+ against a fresh responder.
      def run(who, round)
        # The connector publishes a broadcast request for an agent: the responder listens there.
        subject = who == :connector ? "mcollective.broadcast.agent.bench#{round}" : "bench.request.#{round}.#{who}"
        responder = responder(subject)
        result = case who
                 when :bare then bare(subject)
                 when :connection then connection(subject, round)
                 else connector(round)
                 end
        rig.finish(*responder, "responder", REPLY_TIMEOUT + settings.gap)
        result
      end

      # p50 within 1.2 times the bare client's; p99 and the connector's ratios reported; nothing lost.
      def checks(summary)
        [ratio_check(summary, "connection / bare p50 latency", :p50_us, %i[connection bare], target: [:<=, 1.2]),
         ratio_check(summary, "connection / bare p99 latency", :p99_us, %i[connection bare]),
         ratio_check(summary, "connector / bare p50 latency", :p50_us, %i[connector bare]),
         ratio_check(summary, "connector / bare p99 latency", :p99_us, %i[connector bare]),
         lost_check(summary)]
      end

      private

      def responder(subject)
        pid, out = rig.spawn_bare("respond", "responder", "--subject", subject,
                                  "--count", (WARMUP + settings.round_trips).to_s, "--timeout", settings.gap.to_s)
        rig.await_ready(out, "responder")
        [pid, out]
      end

      def connection(subject, round)
        connection = ChoriaNats::Connection.connect(**rig.connect_options)
        inbox = "bench.inbox.#{round}.connection"
        connection.subscribe(inbox)
        connection.flush(10)
        payload = ("r" * settings.size).freeze
        GC.start
        samples, lost = round_trips(connection, subject, inbox, payload)
        { p50_us: Bench.percentile(samples, 0.5), p90_us: Bench.percentile(samples, 0.9),
          p99_us: Bench.percentile(samples, 0.99), max_us: samples.max, lost: lost }
      ensure
        connection&.close
      end

      # The measured round trips in microseconds, and how many replies never came.
      def round_trips(connection, subject, inbox, payload)
        samples = []
        lost = 0
        (WARMUP + settings.round_trips).times do |n|
          started = Bench.now
          connection.publish(subject, payload, inbox)
          reply = connection.receive(REPLY_TIMEOUT)
          lost += 1 unless reply
          samples << ((Bench.now - started) * 1e6) if reply && n >= WARMUP
        end
        [samples, lost]
      end

      # As mco does it: MCollective::Connector::Nats publishes each request (base64, headers,
      # envelope) with its reply subject, and receive makes the echoed envelope an
      # MCollective::Message. The messages are made before the clock starts. receive waits
      # without a deadline, as MCollective's, so one Timeout bounds the whole run, as
      # MCollective's client bounds its reply loop; replies not received by then are lost.
      def connector(round)
        connector = rig.connector(:client)
        connector.subscribe("bench#{round}", :reply, "mcollective")
        connector.connection.flush(10)
        total = WARMUP + settings.round_trips
        messages = Array.new(total) do
          MCollective::Message.new(("r" * settings.size).freeze, nil, agent: "bench#{round}",
                                                                      collective: "mcollective", type: :request)
        end
        GC.start
        samples = connector_round_trips(connector, messages)
        { p50_us: Bench.percentile(samples, 0.5), p90_us: Bench.percentile(samples, 0.9),
          p99_us: Bench.percentile(samples, 0.99), max_us: samples.max, lost: settings.round_trips - samples.size }
      ensure
        connector&.disconnect
      end

      # The measured round trips of +messages+ through +connector+, in microseconds.
      def connector_round_trips(connector, messages)
        samples = []
        Timeout.timeout(REPLY_TIMEOUT + (messages.size * 0.01)) do
          messages.each_with_index do |message, n|
            started = Bench.now
            connector.publish(message)
            connector.receive
            samples << ((Bench.now - started) * 1e6) if n >= WARMUP
          end
        end
        samples
      rescue Timeout::Error
        samples # the replies not received count as lost
      end

      def bare(subject)
        pid, out = rig.spawn_bare("request", "request-bare", "--subject", subject,
                                  "--count", settings.round_trips.to_s, "--warmup", WARMUP.to_s,
                                  "--size", settings.size.to_s, "--timeout", REPLY_TIMEOUT.to_s)
        result = rig.finish(pid, out, "request-bare", ((WARMUP + settings.round_trips) * 0.1) + REPLY_TIMEOUT)
        result.slice("p50_us", "p90_us", "p99_us", "max_us", "lost").transform_keys(&:to_sym)
      end
    end
  end
end
