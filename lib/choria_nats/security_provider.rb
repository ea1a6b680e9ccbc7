# frozen_string_literal: true

require_relative "file_paths"
require_relative "ssl_paths"

module ChoriaNats
  # The files of the security provider plugin.security.provider names: ChoriaNats::SSLPaths for
  # `puppet` (the default), ChoriaNats::FilePaths for `file`. An unknown provider is refused by the
  # settings table's check, which lists the known ones.
  module SecurityProvider
    # The paths for `settings` (a ChoriaNats::PluginSettings); `process` are the keywords both
    # classes take for the process' identity (uid, user, home, env) and SSLPaths' puppet_ssldir.
    def self.paths(settings, identity:, **process)
      if settings.security_provider == "file"
        FilePaths.new(identity: identity, settings: settings, **process.reject { |key, _| key == :puppet_ssldir })
      else
        SSLPaths.new(identity: identity, ssldir: settings.ssldir, **process)
      end
    end
  end
end
