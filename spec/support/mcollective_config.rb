# frozen_string_literal: true

require "fileutils"

module ChoriaNats
  module TestSupport
    # Writes MCollective config files that load this checkout's connector.
    module MCollectiveConfig
      # The repository's lib/, where the connector and its DDL live.
      LIB = File.expand_path("../../lib", __dir__)

      # The text of a server.cfg / client.cfg: `settings` add or override lines.
      def self.text(identity:, libdir: LIB, collectives: %w[mcollective], settings: {})
        base = {
          "libdir" => libdir, "identity" => identity, "collectives" => collectives.join(","),
          "main_collective" => collectives.first, "connector" => "nats", "securityprovider" => "psk",
          "plugin.psk" => "choria-nats-specs", "factsource" => "yaml", "direct_addressing" => "1",
          "logger_type" => "console", "loglevel" => "warn"
        }
        base.merge(settings).map { |key, value| "#{key} = #{value}" }.join("\n") << "\n"
      end

      # Writes `text(...)` to `path` and returns the path.
      def self.write(path, **options)
        FileUtils.mkdir_p(File.dirname(path))
        File.write(path, text(**options))
        path
      end

      # Loads a config into MCollective::Config.instance (in this process).
      # A second load would fail re-adding its stats plugin, so that one goes;
      # the others stay registered (reloading their classes does not register
      # them again).
      def self.load(dir, **options)
        require "mcollective"
        MCollective::PluginManager.delete("global_stats")
        MCollective::Config.instance.loadconfig(write(File.join(dir, "server.cfg"), **options))
        MCollective::Log.configure
        MCollective::Config.instance
      end
    end
  end
end
