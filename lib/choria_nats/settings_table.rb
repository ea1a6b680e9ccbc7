# frozen_string_literal: true

module ChoriaNats
  # The native settings table (ChoriaNats::SETTINGS) by setting name, for the Ruby side.
  module SettingsTable
    # The rows by name.
    ROWS = ChoriaNats::SETTINGS.to_h { |row| [row[:name], row] }.freeze

    # The row of the setting +name+; KeyError for a name the table does not have.
    def self.row(name)
      ROWS.fetch(name)
    end

    # The table's default for the setting +name+ (nil when it has none or it is worked out).
    def self.default(name)
      row(name)[:default]
    end

    # The MCollective key of the setting +name+ (nil when it has none).
    def self.key(name)
      row(name)[:key]
    end
  end
end
