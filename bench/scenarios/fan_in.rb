# frozen_string_literal: true

module ChoriaNats
  module Bench
    # Reply fan-in: `count` simulated nodes (nats-bare replies, over
    # BENCH_FAN_IN_CONNECTIONS connections) each send one ~600 B
    # choria:transport:1 reply at once to one client.
    class FanIn < MessageFlow
      # The burst whose drain time has a target, and that target in seconds.
      DRAIN_TARGET = [50_000, 1.5].freeze

      # Simulated nodes.
      attr_reader :count

      # The first +count+ reply envelopes the simulated nodes send, from nats-bare itself.
      def self.envelopes(rig, count)
        elapsed, text = rig.children.timed([rig.bare, "envelopes", "--count", count.to_s], rig.err_file("envelopes"),
                                           60)
        warn(format("  (%<n>d reply envelopes from nats-bare in %<s>.2fs)", n: count, s: elapsed))
        text.split("\n").map(&:freeze)
      end

      # Fan-in of +count+ replies on +rig+.
      def initialize(rig, count)
        super(rig, "fan_in_#{count}")
        @count = count
      end

      # The table's name for it.
      def title
        "reply fan-in #{count} x ~600 B"
      end

      # MessageFlow's checks, and the drain time of the 50,000 burst through the connector.
      def checks(summary)
        checks = super
        return checks unless count == DRAIN_TARGET[0]

        checks << value_check("connector drain of the burst, s", summary.combined(:connector, :drain_s), :<=,
                              DRAIN_TARGET[1], "s")
      end

      private

      def start_sender(subject)
        rig.spawn_bare("replies", "#{key}-sender", "--subject", subject, "--count", count.to_s,
                       "--connections", settings.fan_in_connections.to_s)
      end

      def bodies
        FanIn.envelopes(rig, count)
      end

      def connector_mode
        :client
      end

      def subscribe(connector)
        connector.subscribe("rpcutil", :reply, "mcollective")
        connector.make_target("rpcutil", :reply, "mcollective")
      end
    end
  end
end
