# frozen_string_literal: true

require_relative "errors"

module ChoriaNats
  # A path from the MCollective configuration made absolute as mcollective-choria made it
  # (File.expand_path: `~`, `~user`, and relative to the working directory), except that `~` is
  # HOME only: without HOME, Ruby would ask getlogin(), which names whoever logged in (sudo, setpriv).
  module ConfiguredPath
    # `path` expanded; `key` names the setting in errors; `home` is HOME (nil when unset).
    # Raises ChoriaNats::ConfigurationError when `~` needs a HOME that is not set, or `~user` names no user.
    def self.expand(path, key:, home:)
      return File.expand_path(path) unless path == "~" || path.start_with?("~/")

      if home.nil? || home.empty?
        raise ConfigurationError, "#{key} is #{path}, and ~ is HOME, which is not set: set HOME, or write the " \
                                  "path in full (or as ~user/..., the home of a user named there)"
      end
      File.expand_path(path.delete_prefix("~").delete_prefix("/"), home)
    rescue ArgumentError => e
      raise ConfigurationError, "#{key} is #{path}, which cannot be expanded (#{e.message}): write the path in full"
    end
  end
end
