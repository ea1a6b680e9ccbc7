# frozen_string_literal: true

module ChoriaNats
  module Bench
    # What reply fan-in and node intake share: `count` envelopes sent by
    # nats-bare at a subscriber, measured for the bare client, the raw
    # ChoriaNats::Connection, MCollective::Connector::Nats producing
    # MCollective::Message objects (as they arrive, and again from a receive
    # queue the whole burst landed in first: the Ruby thread's cost alone,
    # without the broker, the sender and TLS competing for the CPUs), and the
    # floor: JSON.parse + MCollective::Message.new on the same bytes, with no
    # network.
    #
    # Subclasses define #count, #title, #start_sender(subject), #bodies,
    # #connector_mode and #subscribe(connector) (which returns the subject).
    class MessageFlow < Scenario
      # Drain time, rate and losses.
      METRICS = {
        drain_s: Metric.new(label: "drain s", better: :lower, digits: 3),
        msgs_per_sec: Metric.new(label: "msgs/s", better: :higher, digits: 0),
        lost: Metric.new(label: "lost", better: :lower, digits: 0, combine: :sum)
      }.freeze

      # Who is measured.
      def contenders
        %i[bare connection connector queued floor]
      end

      # Loads MCollective and the floor's bodies.
      def setup
        rig.mcollective
        @bodies = bodies
      end

      # One run of +who+.
      def run(who, round)
        case who
        when :bare then bare(round)
        when :connection then connection(round)
        when :connector then connector
        when :queued then queued
        else floor
        end
      end

      # The connector reaches 0.7 of the floor; nothing is lost; the connection against the bare client.
      def checks(summary)
        [ratio_check(summary, "connector / floor msgs/s", :msgs_per_sec, %i[connector floor], target: [:>=, 0.7]),
         ratio_check(summary, "connector, queue pre-filled / floor msgs/s", :msgs_per_sec, %i[queued floor]),
         ratio_check(summary, "connection / bare msgs/s", :msgs_per_sec, %i[connection bare]),
         lost_check(summary)]
      end

      private

      def bare(round)
        subject = "#{key}.#{round}.bare"
        pid, out = rig.spawn_bare("receive", "#{key}-bare", "--subject", subject, "--count", count.to_s,
                                  "--timeout", settings.gap.to_s)
        rig.await_ready(out, "#{key}-bare")
        sent = finish_sender(start_sender(subject))
        result = rig.finish(pid, out, "#{key}-bare", rig.drain_limit(count))
        figures(result["received"], result["elapsed"], sent)
      end

      def connection(round)
        subject = "#{key}.#{round}.connection"
        connection = ChoriaNats::Connection.connect(**rig.connect_options)
        connection.subscribe(subject)
        connection.flush(10)
        measure(subject) { connection.receive(settings.gap) }.merge(dropped: connection.stats["dropped"])
      ensure
        connection&.close
      end

      def connector
        connector = rig.connector(connector_mode)
        subject = subscribe(connector)
        connector.connection.flush(10)
        measure(subject) { connector.receive }.merge(dropped: connector.stats["dropped"])
      ensure
        connector&.disconnect
      end

      # The connector draining a receive queue that already holds the whole burst.
      def queued
        connector = rig.connector(connector_mode)
        subject = subscribe(connector)
        connector.connection.flush(10)
        sent = finish_sender(start_sender(subject))
        limit = Bench.now + rig.drain_limit(count)
        sleep(POLL) until connector.stats["queued"].to_i >= count || Bench.now > limit
        GC.start
        received, elapsed = rig.drain(count) { connector.receive }
        figures(received, elapsed, sent)
      ensure
        connector&.disconnect
      end

      # Starts the sender at +subject+ and drains what arrives with the block.
      def measure(subject, &receive)
        GC.start
        sender = start_sender(subject)
        received, elapsed = rig.drain(count, &receive)
        figures(received, elapsed, finish_sender(sender))
      end

      def floor
        GC.start
        started = Bench.now
        @bodies.each do |body|
          envelope = JSON.parse(body)
          MCollective::Message.new(envelope["data"], envelope, base64: true, headers: envelope["headers"])
        end
        elapsed = Bench.now - started
        { drain_s: elapsed, msgs_per_sec: @bodies.size / elapsed }
      end

      def finish_sender(sender)
        rig.finish(*sender, "#{key}-sender", rig.drain_limit(count))
      end

      def figures(received, elapsed, sent)
        { received: received, lost: count - received, drain_s: elapsed,
          msgs_per_sec: received / [elapsed, 1e-9].max, sender_s: sent["elapsed"],
          slow_consumer_events: rig.slow_consumer_events }
      end
    end
  end
end
