# frozen_string_literal: true

require "choria_nats"

module ChoriaNats
  module Bench
    # What the probe processes share: their `--name value` arguments and a connection made from them.
    module Probe
      # The `--name value` pairs of +argv+ as {"name" => "value"}.
      def self.options(argv)
        argv.each_slice(2).to_h.transform_keys { |flag| flag.delete_prefix("--") }
      end

      # A connection to --server with --ca, --cert and --key, named +name+.
      def self.connect(options, name, **extra)
        ChoriaNats::Connection.connect(servers: [options.fetch("server")], ca_file: options.fetch("ca"),
                                       cert_file: options.fetch("cert"), key_file: options.fetch("key"),
                                       name: name, logger: ->(_level, _line) {}, **extra)
      end

      # Loads MCollective and the --config file (a server.cfg with connector = nats) as +mode+
      # (:client as mco, :server as mcollectived).
      def self.mcollective(options, mode)
        require "mcollective"
        MCollective::Config.instance.loadconfig(options.fetch("config"))
        MCollective::Log.configure
        MCollective::Config.instance.mode = mode
      end

      # The connector MCollective's PluginManager makes from the loaded config, connected.
      def self.connector
        connector = MCollective::PluginManager["connector_plugin"]
        connector.connect
        connector
      end
    end
  end
end
