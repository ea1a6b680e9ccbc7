# frozen_string_literal: true

require "cgi"

module ChoriaNats
  module Bench
    # An SVG chart of a run: each ratio as a bar with its target marked, then
    # the absolute targets. No dependency beyond Ruby.
    class Chart
      # Pixel geometry.
      WIDTH = 1000
      LABEL_WIDTH = 380
      BAR_HEIGHT = 18
      ROW = 28
      TOP = 100
      # The axis ends here; longer bars are cut, with their value printed.
      MAX_SCALE = 2.5
      # The chart's title.
      TITLE = "choria-nats benchmark: ratios to the bare async-nats client or the no-network floor"
      # What the bars and the contenders' names mean.
      LEGEND = [
        "bar: measured ratio; tick: target (>= higher is better, <= lower is better); green met, red missed, " \
        "grey reported only",
        "connection: ChoriaNats::Connection; connector: MCollective::Connector::Nats making MCollective::Message " \
        "objects; queued: the connector draining a queue the burst filled first",
        "bare: async-nats alone with the same TLS (bench/nats-bare); floor: JSON.parse + MCollective::Message.new " \
        "on the same bytes, no network"
      ].freeze
      # Bar colours by verdict.
      COLOURS = { true => "#2e7d32", false => "#c62828", nil => "#78909c" }.freeze

      # A chart of +document+ (Report#to_h) and its +checks+.
      def initialize(document, checks)
        @document = document
        @ratios = checks.select { |c| c.unit == "x" && c.value }
        @others = checks.reject { |c| c.unit == "x" }
      end

      # The SVG text.
      def svg
        height = TOP + (@ratios.size * ROW) + 60 + (@others.size * 20) + 20
        parts = [header(height), axis]
        @ratios.each_with_index { |check, i| parts << ratio_row(check, TOP + (i * ROW)) }
        parts << others(TOP + (@ratios.size * ROW) + 40)
        parts << "</svg>\n"
        parts.join("\n")
      end

      private

      def header(height)
        host = @document[:host]
        subtitle = "#{@document[:generated_at]} · #{host[:cpus]} CPUs #{host[:cpu]} · " \
                   "#{@document[:settings][:rounds]} rounds, medians of per-round ratios · #{@document[:nats_server]}"
        <<~SVG.chomp
          <svg xmlns="http://www.w3.org/2000/svg" width="#{WIDTH}" height="#{height}" font-family="sans-serif" font-size="12">
          <rect width="100%" height="100%" fill="white"/>
          #{text(10, 22, TITLE, weight: 'bold', size: 15)}
          #{text(10, 40, subtitle, size: 11)}
          #{LEGEND.each_with_index.map { |line, i| text(10, 56 + (i * 14), line, size: 11) }.join("\n")}
        SVG
      end

      def x_of(value)
        LABEL_WIDTH + ((value / MAX_SCALE) * (WIDTH - LABEL_WIDTH - 80))
      end

      def axis
        bottom = TOP + (@ratios.size * ROW)
        [0, 0.5, 1, 1.5, 2, 2.5].map do |tick|
          x = x_of(tick).round(1)
          %(<line x1="#{x}" y1="#{TOP - 6}" x2="#{x}" y2="#{bottom}" stroke="#ddd"/>) +
            text(x - 8, bottom + 14, "#{format('%g', tick)}x", size: 10)
        end.join("\n")
      end

      def ratio_row(check, top)
        bar = x_of([check.value, MAX_SCALE].min) - LABEL_WIDTH
        limit = check.target && check.target[/[\d.]+/]&.to_f
        tick = limit ? x_of(limit).round(1) : 0
        [text(10, top + 13, "#{check.scenario}: #{check.label}"),
         %(<rect x="#{LABEL_WIDTH}" y="#{top}" width="#{bar.round(1)}" height="#{BAR_HEIGHT}" ) +
           %(fill="#{COLOURS.fetch(check.met)}"/>),
         text([LABEL_WIDTH + bar, tick].max + 6, top + 13, "#{Report.value_text(check)} #{check.target}"),
         limit ? target_tick(tick, top) : ""].join("\n")
      end

      def target_tick(x_pos, top)
        %(<line x1="#{x_pos}" y1="#{top - 3}" x2="#{x_pos}" y2="#{top + BAR_HEIGHT + 3}" stroke="black" ) \
          'stroke-width="2"/>'
      end

      def others(top)
        lines = [text(10, top, "Absolute targets", weight: "bold", size: 13)]
        @others.each_with_index do |check, i|
          line = "#{check.verdict.ljust(6)} #{check.scenario}: #{check.label}: #{Report.value_text(check)} " \
                 "(target #{check.target})"
          lines << text(10, top + 20 + (i * 20), line, fill: COLOURS.fetch(check.met))
        end
        lines.join("\n")
      end

      def text(x_pos, y_pos, content, weight: nil, size: 12, fill: "#222")
        bold = weight ? %( font-weight="#{weight}") : ""
        %(<text x="#{x_pos.round(1)}" y="#{y_pos.round(1)}" font-size="#{size}" fill="#{fill}"#{bold}>) +
          "#{CGI.escapeHTML(content.to_s)}</text>"
      end
    end
  end
end
