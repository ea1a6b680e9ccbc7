# frozen_string_literal: true

require_relative "errors"

module ChoriaNats
  # Reads the text files the gem parses (MCollective configs) as UTF-8 whatever the locale: daemons and
  # cron jobs run without LANG, where Ruby would read them as US-ASCII and fail on the first non-ASCII byte.
  module TextFile
    module_function

    # The text of `path` as UTF-8. Raises ChoriaNats::ConfigurationError naming the file and the line when
    # it is not UTF-8; `what` names the file in that message ("The MCollective config").
    def read(path, what: "The file")
      text = File.read(path, mode: "rb").force_encoding(Encoding::UTF_8)
      return text if text.valid_encoding?

      number, byte = first_invalid(text, Encoding::UTF_8)
      raise ConfigurationError, "#{what} #{path} is not UTF-8 text: line #{number} has the byte " \
                                "#{format('0x%02X', byte)}: save the file as UTF-8"
    end

    # [line number, first bad byte] of the first line of `text` that is not valid in `encoding`, or nil.
    def first_invalid(text, encoding)
      text.b.each_line.with_index(1) do |line, number|
        bad = line.force_encoding(encoding).chars.find { |char| !char.valid_encoding? }
        return [number, bad.unpack1("C")] if bad
      end
      nil
    end
  end
end
