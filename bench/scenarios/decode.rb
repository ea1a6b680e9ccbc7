# frozen_string_literal: true

module ChoriaNats
  module Bench
    # Envelope decoding without a network, per message: as the connector does
    # it (Envelope.decode: serde_json into Ruby objects where it agrees with
    # JSON.parse, and the native base64 character check; then
    # Envelope.payload's unpack), as MCollective alone does it (JSON.parse,
    # and SSL.base64_decode inside Message.new), and in Rust alone (serde_json
    # into owned values and the base64 crate, in nats-bare). These figures
    # decided what moved into the extension: see docs/performance.md, "What bounds each figure".
    class Decode < Scenario
      # Decodes per contender and round (cycling through the bodies).
      ITERATIONS = 20_000
      # Microseconds per message, lower is better.
      METRICS = {
        parse_us: Metric.new(label: "JSON us", better: :lower, digits: 2),
        base64_us: Metric.new(label: "base64 us", better: :lower, digits: 2)
      }.freeze

      # +kind+ is :reply (the fan-in envelopes) or :request (the intake payload).
      def initialize(rig, kind)
        super(rig, "decode_#{kind}")
        @kind = kind
      end

      # bare: Rust; connector: the connector's Ruby; floor: MCollective's own way.
      def contenders
        %i[bare connector floor]
      end

      # The table's name for it.
      def title
        "decode #{@kind} envelope (#{@bodies.first.bytesize} B)"
      end

      # The bodies, in memory and in a file for nats-bare.
      def setup
        rig.mcollective
        @bodies = @kind == :reply ? FanIn.envelopes(rig, 1000) : [File.read(Intake::PAYLOAD).delete("\n").freeze]
        @file = File.join(rig.dir, "#{key}.txt")
        File.write(@file, @bodies.join("\n") << "\n")
      end

      # One run of +who+.
      def run(who, _round)
        case who
        when :bare then bare
        when :connector then ruby(->(body) { Envelope.decode(body) }, ->(envelope) { Envelope.payload(envelope) })
        else ruby(->(body) { JSON.parse(body) }, ->(envelope) { MCollective::SSL.base64_decode(envelope["data"]) })
        end
      end

      # Reported only: how the Ruby paths compare with Rust's.
      def checks(summary)
        %i[parse_us base64_us].flat_map do |metric|
          %i[connector floor].map do |who|
            ratio_check(summary, "#{who} / Rust #{metrics[metric].label.split.first}", metric, [who, :bare])
          end
        end
      end

      private

      def iterations
        [settings.count, ITERATIONS].min
      end

      def bare
        pid, out = rig.spawn_bare("decode", "#{key}-bare", "--file", @file, "--count", iterations.to_s)
        rig.finish(pid, out, "#{key}-bare", 120).slice("parse_us", "base64_us").transform_keys(&:to_sym)
      end

      def ruby(parse, payload)
        envelopes = @bodies.map { |body| parse.call(body) }
        { parse_us: per_message { |i| parse.call(@bodies[i % @bodies.size]) },
          base64_us: per_message { |i| payload.call(envelopes[i % envelopes.size]) } }
      end

      def per_message(&block)
        GC.start
        started = Bench.now
        iterations.times(&block)
        (Bench.now - started) * 1e6 / iterations
      end
    end
  end
end
