# frozen_string_literal: true

module ChoriaNats
  module TestSupport
    # Runs a block with Ruby's default external encoding set as a locale would set it: US-ASCII is
    # what a daemon or cron job without LANG (or with LANG=C) gets.
    module ExternalEncoding
      # Yields with `encoding` as Encoding.default_external, then puts the previous one back.
      def self.with(encoding)
        previous = Encoding.default_external
        Encoding.default_external = encoding
        yield
      ensure
        Encoding.default_external = previous
      end
    end
  end
end
