# frozen_string_literal: true

module ChoriaNats
  module Bench
    # Node intake: BENCH_INTAKE copies of a real ~3 KiB broadcast request
    # (bench/payloads/broadcast_request.raw, captured from MCollective 2.12 and
    # the Choria connector) flooded at an mcollectived-side connector.
    class Intake < MessageFlow
      # The request every message carries.
      PAYLOAD = File.join(ROOT, "bench", "payloads", "broadcast_request.raw")

      # An intake scenario on +rig+.
      def initialize(rig)
        super(rig, "intake")
      end

      # Requests flooded.
      def count
        settings.intake
      end

      # The table's name for it.
      def title
        "node intake #{count} x #{File.size(PAYLOAD)} B"
      end

      private

      def start_sender(subject)
        rig.spawn_bare("publish", "#{key}-sender", "--subject", subject, "--count", count.to_s,
                       "--payload-file", PAYLOAD)
      end

      def bodies
        body = File.read(PAYLOAD).freeze
        Array.new(count, body)
      end

      def connector_mode
        :server
      end

      def subscribe(connector)
        connector.subscribe("rpcutil", :broadcast, "mcollective")
        connector.make_target("rpcutil", :broadcast, "mcollective")
      end
    end
  end
end
