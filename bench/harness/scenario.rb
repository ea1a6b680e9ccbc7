# frozen_string_literal: true

module ChoriaNats
  module Bench
    # A measured quantity: its label and unit, which way is better, decimals to
    # print, and how rounds combine (:median, or :sum for losses).
    Metric = Struct.new(:label, :better, :digits, :combine, keyword_init: true) do
      # +value+ formatted for the table.
      def format(value)
        return "-" if value.nil?

        text = Kernel.format("%.#{digits}f", value)
        digits.zero? ? text.gsub(/(\d)(?=(\d{3})+\z)/, '\1,') : text
      end
    end

    # A target: the measured value, the bound, and whether it is met (nil: reported, no target).
    Check = Struct.new(:scenario, :label, :value, :target, :met, :unit, keyword_init: true) do
      # "met", "MISSED" or "-".
      def verdict
        { true => "met", false => "MISSED", nil => "-" }.fetch(met)
      end

      # The check as JSON-friendly data.
      def to_json_data
        to_h.merge(verdict: verdict)
      end
    end

    # One scenario: its contenders, metrics, a measurement and its targets.
    # Subclasses define METRICS, #title, #run(who, round) and #checks(summary), and may
    # override #contenders.
    class Scenario
      # The name in the JSON and the table.
      attr_reader :key

      # A scenario on +rig+, named +key+.
      def initialize(rig, key)
        @rig = rig
        @key = key
      end

      # Work done once before the first round (building payloads and the like).
      def setup; end

      # Who is measured: the connection class against the bare client, unless a scenario says otherwise.
      def contenders
        %i[connection bare]
      end

      # What is measured: the scenario's METRICS.
      def metrics
        self.class::METRICS
      end

      # Every contender once, in an order that rotates with +round+; returns {who => result}.
      def run_round(round)
        contenders.rotate(round).to_h { |who| [who, run(who, round)] }
      end

      # One line about +result+ for the progress log.
      def describe(result)
        metrics.filter_map { |name, metric| "#{metric.format(result[name])} #{metric.label}" if result.key?(name) }
               .join(", ")
      end

      private

      attr_reader :rig

      def settings
        rig.settings
      end

      # A check of summary.ratio(metric, *pair) against +target+: [:>=, limit], [:<=, limit] or nil (reported).
      def ratio_check(summary, label, metric, pair, target: nil)
        value = summary.ratio(metric, *pair)
        operator, limit = target
        Check.new(scenario: key, label: label, value: value, unit: "x",
                  target: target && "#{operator} #{format('%.2f', limit)}x",
                  met: target && value ? value.public_send(operator, limit) : nil)
      end

      # A check that +value+ is +operator+ (:<, :<= or :==) +limit+, in +unit+.
      def value_check(label, value, operator, limit, unit)
        Check.new(scenario: key, label: label, value: value, unit: unit,
                  target: "#{{ :< => '<', :<= => '<=', :== => '=' }.fetch(operator)} #{limit}",
                  met: value.nil? ? nil : value.public_send(operator, limit))
      end

      # Nothing lost by any contender in any round.
      def lost_check(summary)
        lost = contenders.sum { |who| summary.combined(who, :lost).to_i }
        value_check("lost, all contenders and rounds", lost, :==, 0, "msgs")
      end
    end

    # A scenario measured at both levels: the connection class and
    # MCollective::Connector::Nats making or taking real MCollective::Message
    # objects, each against the bare client.
    module BothLevels
      # The connection class, the bare client and the connector.
      def contenders
        %i[connection bare connector]
      end

      # Loads MCollective and writes its config for the connector (and for probe processes).
      def setup
        @mcollective_config = rig.mcollective_config
      end
    end

    # The rounds of one scenario, combined per contender and metric.
    class Summary
      # The results of +scenario+: {who => [result of each round]}.
      def initialize(scenario, runs)
        @scenario = scenario
        @runs = runs
      end

      # The combined value (median, or sum for :sum metrics) of +metric+ for +who+.
      def combined(who, metric)
        values = values(who, metric)
        return nil if values.empty?

        @scenario.metrics.fetch(metric).combine == :sum ? values.sum : Bench.median(values)
      end

      # The median over rounds of numerator / denominator, or nil. Per round, because the
      # contenders of one round run back to back: load from elsewhere on the machine cancels out.
      def ratio(metric, numerator, denominator)
        pairs = values(numerator, metric).zip(values(denominator, metric))
        Bench.median(pairs.filter_map { |top, bottom| top.to_f / bottom if bottom&.positive? })
      end

      # The values of +metric+ for +who+, one a round.
      def values(who, metric)
        @runs.fetch(who, []).filter_map { |result| result[metric] }
      end

      # Medians, minimums, maximums and every run, per contender.
      def to_h
        @runs.to_h do |who, results|
          stats = @scenario.metrics.keys.to_h do |metric|
            values = values(who, metric)
            [metric, { value: combined(who, metric), min: values.min, max: values.max, rounds: values }]
          end
          [who, { metrics: stats, runs: results }]
        end
      end
    end
  end
end
