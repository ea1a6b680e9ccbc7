# frozen_string_literal: true

require_relative "errors"

module ChoriaNats
  # Where a setting's value comes from: its MCollective key, Choria's other spellings of it (other keys,
  # and environment variables that override the file) and its environment fall-back, each checked by
  # the native settings table, the one that wins first. Keeps a warning when two spellings disagree.
  class SettingSources
    # pluginconf:: MCollective's `Config#pluginconf` (keys without "plugin."); env:: the environment.
    def initialize(pluginconf, env)
      @conf = pluginconf
      @env = env
      @warnings = {}
    end

    # The warning lines kept so far, one per setting whose spellings disagree.
    def warnings
      @warnings.values
    end

    # `[label, value]` for every spelling of the table row `row` that is set, checked, the one that
    # wins first; a refusal names the spelling that gave the value.
    def values(row)
      given = texts(row).filter_map { |label, text| [label, checked(row, label, text)] if text }
      warn_disagreement(row, given)
      given
    end

    # `[label, text]` of the spelling that wins, unchecked, or nil when none is set.
    def winner(row)
      texts(row).find { |_, text| text }
    end

    private

    # `[label, text]` for every spelling, the one that wins first; text nil when unset.
    def texts(row)
      return [] unless row[:key]

      file = [row[:key], *row[:also_keys]].map { |key| [key, presence(@conf[key.delete_prefix("plugin.")])] }
      [*([[row[:override_env], presence(@env[row[:override_env]])]] if row[:override_env]),
       *file, *([[row[:env], presence(@env[row[:env]])]] if row[:env])]
    end

    def checked(row, label, text)
      ChoriaNats.setting_value(row[:name], text)
    rescue ConfigurationError => e
      raise if label == row[:key]

      overrides = label == row[:override_env] ? " (which overrides #{row[:key]})" : ""
      raise ConfigurationError, e.message.sub(row[:key], "#{label}#{overrides}")
    end

    def warn_disagreement(row, given)
      (used_label, used), = given
      other_label, other = given.find { |_, value| value != used }
      return unless other_label

      why = row[:override_env] == used_label ? ", which overrides the file as in Choria" : ""
      @warnings[row[:name]] ||= "#{used_label} = #{used.inspect} and #{other_label} = #{other.inspect} " \
                                "disagree: using #{used_label}#{why}"
    end

    def presence(text)
      text = text.to_s.strip
      text.empty? ? nil : text
    end
  end
end
