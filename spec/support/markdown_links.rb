# frozen_string_literal: true

module ChoriaNats
  module TestSupport
    # The relative links of a Markdown file that lead nowhere: a file that does not exist, or
    # a `#fragment` that names no heading of its target, with heading ids made as GitHub makes them.
    class MarkdownLinks
      # `[text](target)` and `![alt](target)`, with an optional "title" after the target.
      LINK = /!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/.freeze
      FENCE = /\A\s*(```|~~~)/.freeze
      HEADING = /\A\#{1,6}\s+(.+?)\s*#*\s*\z/.freeze
      EXPLICIT_ANCHOR = /<a\s+(?:name|id)="([^"]+)"/.freeze
      EXTERNAL = %r{\A(?:[a-z][a-z0-9+.-]*:|//)}i.freeze

      # path:: the Markdown file to read
      def initialize(path)
        @path = path
        @text = File.read(path, encoding: "UTF-8")
      end

      # The targets as written, outside code blocks and inline code.
      def targets
        prose_lines.flat_map { |line| line.gsub(/`[^`]*`/, "").scan(LINK).flatten }
      end

      # "target: why" for each relative link that leads nowhere.
      def broken
        targets.grep_v(EXTERNAL).filter_map { |target| problem(target) }
      end

      # The ids GitHub gives this file's headings, and the explicit anchors in it.
      def anchors
        seen = Hash.new(0)
        ids = prose_lines.filter_map { |line| line[HEADING, 1] }.map do |heading|
          slug = self.class.slug(heading)
          count = seen[slug]
          seen[slug] += 1
          count.zero? ? slug : "#{slug}-#{count}"
        end
        ids + @text.scan(EXPLICIT_ANCHOR).flatten
      end

      # GitHub's heading id: lower case, punctuation dropped (hyphens and underscores kept), spaces to hyphens.
      def self.slug(heading)
        heading.downcase.gsub(/[^\p{Word}\- ]/u, "").tr(" ", "-")
      end

      private

      def problem(target)
        file, fragment = target.split("#", 2)
        resolved = file.empty? ? @path : File.expand_path(file, File.dirname(@path))
        return "#{target}: no file #{resolved}" unless File.exist?(resolved)
        return nil if fragment.nil? || fragment.empty?
        return "#{target}: not a Markdown file, so no heading #{fragment}" unless resolved.end_with?(".md")
        return nil if self.class.new(resolved).anchors.include?(fragment)

        "#{target}: no heading with the id #{fragment} in #{resolved}"
      end

      def prose_lines
        fenced = false
        @text.each_line.reject do |line|
          fenced = !fenced if line.match?(FENCE)
          fenced || line.match?(FENCE)
        end
      end
    end
  end
end
