# frozen_string_literal: true

module ChoriaNats
  # The settings table of docs/configuration.md, written from the native settings table
  # (ChoriaNats::SETTINGS) by `rake docs:settings` and checked by spec/unit/settings_doc_spec.rb.
  module SettingsDoc
    # The line before the generated table.
    BEGIN_LINE = "<!-- settings table: begin (generated from the Rust settings table; " \
                 "spec/unit/settings_doc_spec.rb checks it) -->"
    # The line after it.
    END_LINE = "<!-- settings table: end -->"
    # The document holding it.
    PATH = File.expand_path("../docs/configuration.md", __dir__)
    # What each type of value is called in the table.
    TYPES = { "seconds" => "seconds", "port" => "port", "flag" => "true or false", "text" => "text",
              "path" => "path", "names" => "list of SRV names", "servers" => "list of brokers",
              "choice" => "name",
              "networks" => "list of networks" }.freeze
    MIB = 1024 * 1024
    private_constant :TYPES, :MIB

    # The markdown table of `rows`.
    def self.table(rows = ChoriaNats::SETTINGS)
      header = "| MCollective setting | `Connection.connect` option | type | default | limits | what it does |\n" \
               "|---|---|---|---|---|---|\n"
      header + rows.map { |row| "| #{cells(row).join(' | ')} |\n" }.join
    end

    # `document` with the text between its begin and end lines replaced by the table.
    def self.update(document)
      start = document.index(BEGIN_LINE) or raise ArgumentError, "no line #{BEGIN_LINE}"
      stop = document.index(END_LINE, start) or raise ArgumentError, "no line #{END_LINE}"
      "#{document[0...start]}#{BEGIN_LINE}\n#{table}#{document[stop..]}"
    end

    def self.cells(row)
      option = %i[required option].include?(row[:role]) ? "`#{row[:name]}`" : ""
      [key(row), option, TYPES.fetch(row[:type]) { row[:unit] }, default(row),
       row[:limits] || "", row[:description]]
    end

    # The key, with go-choria's spellings: its keys, which ours wins over, and its environment
    # variable, which wins over the file.
    def self.key(row)
      return "" unless row[:key]

      also = row[:also_keys].map { |key| " (or go-choria's `#{key}`)" }.join
      env = row[:override_env] ? " (Choria's `#{row[:override_env]}` overrides it)" : ""
      "`#{row[:key]}`#{also}#{env}"
    end

    def self.default(row)
      value = row[:default]
      case value
      when nil then row[:default_text] || absent(row)
      when Float then "#{format('%g', value)} s"
      when Integer then count(value, row)
      else value.to_s
      end
    end

    def self.absent(row)
      return "required" if row[:role] == :required

      row[:env] ? "`#{row[:env]}`, else none" : "none"
    end

    def self.count(value, row)
      return value.to_s if row[:type] == "port"
      return "#{value / MIB} MiB" if row[:unit] == "bytes" && (value % MIB).zero?

      value.to_s.reverse.scan(/\d{1,3}/).join(",").reverse
    end
    private_class_method :cells, :key, :default, :absent, :count
  end
end
