# frozen_string_literal: true

require "etc"
require "fileutils"
require "json"
require "time"

module ChoriaNats
  module Bench
    # The summary of a run: the table on stdout, latest.json and latest.svg.
    class Report
      # Column order of the contenders.
      CONTENDERS = %i[bare connection connector queued floor].freeze
      # How a check's value is printed, by unit.
      VALUE_FORMATS = { "x" => "%.2fx", "s" => "%.3f s", "ms" => "%.2f ms", "MiB" => "%.1f MiB",
                        "msgs" => "%d" }.freeze

      # A report of +runs+ ({key => {who => [results]}}) of +scenarios+, with +timings+ in seconds.
      def initialize(settings, scenarios, runs, timings)
        @settings = settings
        @scenarios = scenarios
        @summaries = scenarios.to_h { |s| [s.key, Summary.new(s, runs.fetch(s.key))] }
        @checks = scenarios.flat_map { |s| s.checks(@summaries.fetch(s.key)) }
        @timings = timings
      end

      # Every target check.
      attr_reader :checks

      # Prints the tables and writes the files; returns the JSON document.
      def write
        document = to_h
        print_medians
        print_checks
        print_timings
        FileUtils.mkdir_p(@settings.results_dir)
        json = File.join(@settings.results_dir, "latest.json")
        File.write(json, "#{JSON.pretty_generate(document)}\n")
        svg = File.join(@settings.results_dir, "latest.svg")
        File.write(svg, Chart.new(document, @checks).svg)
        puts "\nWritten: #{json}, #{svg}"
        document
      end

      # The whole run as JSON-friendly data.
      def to_h
        { generated_at: Time.now.utc.iso8601, host: host, ruby: RUBY_DESCRIPTION,
          nats_server: `#{TestSupport::NatsServer.binary} --version`.strip, settings: @settings.to_h,
          timings: @timings,
          scenarios: @scenarios.to_h do |s|
            [s.key, { title: s.title, metrics: s.metrics.transform_values(&:to_h),
                      contenders: @summaries.fetch(s.key).to_h }]
          end,
          checks: @checks.map(&:to_json_data),
          targets: { met: @checks.count { |c| c.met == true }, missed: @checks.count { |c| c.met == false } } }
      end

      # The 1-minute load average (other work on the machine skews a run), or nil.
      def self.load_average
        Float(File.read("/proc/loadavg").split.first)
      rescue Errno::ENOENT
        nil
      end

      # The printed form of a check's value.
      def self.value_text(check)
        return "-" if check.value.nil?

        format(VALUE_FORMATS.fetch(check.unit, "%.2f #{check.unit}"), check.value)
      end

      private

      def host
        model = File.read("/proc/cpuinfo")[/^model name\s*:\s*(.+)$/, 1]
        { cpus: Etc.nprocessors, cpu: model, kernel: Etc.uname[:release],
          load_average: { before: @timings[:load_before], after: Report.load_average } }
      rescue Errno::ENOENT
        { cpus: Etc.nprocessors }
      end

      def print_medians
        puts "\nMedians over #{@settings.rounds} round(s) (lost: summed over rounds)"
        puts row("scenario", "metric", CONTENDERS.map(&:to_s))
        @scenarios.each do |scenario|
          summary = @summaries.fetch(scenario.key)
          scenario.metrics.each_with_index do |(name, metric), index|
            cells = CONTENDERS.map do |who|
              scenario.contenders.include?(who) ? metric.format(summary.combined(who, name)) : ""
            end
            puts row(index.zero? ? scenario.title : "", metric.label, cells)
          end
        end
      end

      def row(title, metric, cells)
        format("%-40<t>s %-20<m>s%<c>s", t: title, m: metric, c: cells.map { |c| c.rjust(12) }.join)
      end

      def print_checks
        puts "\nTargets"
        @checks.each do |check|
          puts format("  %-16<s>s %-56<l>s %12<v>s  %-10<t>s %<r>s", s: check.scenario, l: check.label,
                                                                     v: Report.value_text(check), t: check.target,
                                                                     r: check.verdict)
        end
        puts format("  %<m>d met, %<x>d missed", m: @checks.count { |c| c.met == true },
                                                 x: @checks.count { |c| c.met == false })
      end

      def print_timings
        parts = @timings[:scenarios].map { |key, seconds| format("%<k>s %<s>.1f s", k: key, s: seconds) }
        puts format("\nWhole run %<t>.1f s (setup %<s>.1f s; %<p>s); load average %<b>s before, %<a>s after",
                    t: @timings[:total], s: @timings[:setup], p: parts.join(", "), b: @timings[:load_before],
                    a: Report.load_average)
      end
    end
  end
end
