# frozen_string_literal: true

require "choria_nats"
require "choria_nats/certificate_request"
require "choria_nats/config_report"
require "choria_nats/doctor"

module MCollective
  class Application
    # `mco choria request_cert` and `mco choria show_config`, from the choria-nats gem.
    # A thin layer: the work is in ChoriaNats::CertificateRequest, ChoriaNats::ConfigReport and ChoriaNats::Doctor.
    class Choria < Application
      # The commands this application knows.
      COMMANDS = %w[request_cert show_config].freeze

      description "choria-nats: get a certificate from the Puppet CA, or show how this node reaches NATS"
      usage "mco choria request_cert [--ca HOST[:PORT]] [--certname NAME] [--wait SECONDS] [--ca-fingerprint SHA256]"
      usage "mco choria show_config"

      option :wait,
             description: "Seconds to wait for the CA to sign the request " \
                          "(default #{ChoriaNats::CertificateRequest::DEFAULT_WAIT}; 0: submit and stop)",
             arguments: ["--wait SECONDS"],
             type: Float,
             validate: ->(seconds) { seconds >= 0 || "--wait needs 0 or more seconds" }

      option :ca_fingerprint,
             description: "The SHA256 fingerprint the Puppet CA's certificate must have " \
                          "(default: plugin.choria.puppetca_fingerprint; none: shown to compare by eye)",
             arguments: ["--ca-fingerprint SHA256"],
             type: String

      option :ca,
             description: "The Puppet CA to ask, HOST or HOST:PORT (default: plugin.choria.puppetca_host and " \
                          "_port, else SRV, else puppet:8140)",
             arguments: ["--ca HOST[:PORT]"],
             type: String,
             validate: ->(text) { ChoriaNats::PuppetCA::Location.option_problem(text) || true }

      option :certname,
             description: "The certificate's name (default: MCOLLECTIVE_CERTNAME, else <user>.mcollective)",
             arguments: ["--certname NAME"],
             type: String,
             validate: ->(name) { ChoriaNats::Certname.problem(name, given_by: "--certname") || true }

      exclude_argument_sections "common", "filter", "rpc"

      # The command is the first word after `choria`.
      def post_option_parser(configuration)
        configuration[:command] = ARGV.shift unless ARGV.empty?
      end

      # Only known commands.
      def validate_configuration(configuration)
        return if COMMANDS.include?(configuration[:command])

        raise "Give a command: mco choria #{COMMANDS.join(' | ')} (mco help choria)"
      end

      # Runs the command and exits with its status.
      def main
        $stdout.sync = true # progress lines show as they happen, in order with errors
        exit(send(configuration[:command]))
      end

      private

      def request_cert
        settings = ChoriaNats::PluginSettings.new(config.pluginconf)
        raise ChoriaNats::ConfigurationError, ChoriaNats::FilePaths::NO_REQUEST if settings.security_provider == "file"

        paths = ChoriaNats::SSLPaths.new(identity: config.identity, ssldir: settings.ssldir,
                                         certname: configuration[:certname])
        location = ChoriaNats::PuppetCA::Location.from_settings(settings, ca_option: configuration[:ca])
        address, source = location.servers.first
        puts(location.description)
        wait = configuration.fetch(:wait, ChoriaNats::CertificateRequest::DEFAULT_WAIT)
        ChoriaNats::CertificateRequest.new(paths: paths, puppet_ca: ChoriaNats::PuppetCA.new(address, source: source),
                                           ca_pin: ChoriaNats::CAPin.from(configuration[:ca_fingerprint], settings),
                                           wait: wait).run
        0
      rescue ChoriaNats::Error => e
        warn("mco choria request_cert: #{e.message}")
        1
      end

      # What mcollective-choria's show_config showed, then the doctor's report, whose status is the
      # command's. A section is a method, so another is one more line here.
      def show_config
        puts("Active configuration of mco and mcollectived with choria-nats (`mco choria show_config`)")
        show_mcollective
        show_puppet
        show_security
        show_choria_settings
        federation, brokers = federation_config
        show_federation(federation, brokers)
        puts
        ChoriaNats::Doctor.new(identity: config.identity, pluginconf: config.pluginconf,
                               config_file: config.configfile, ssl_paths: ssl_paths, broker_list: brokers).run
      rescue ChoriaNats::Error => e
        warn("mco choria show_config: #{e.message}")
        1
      end

      def show_mcollective
        config_report.mcollective_section
      end

      def show_puppet
        config_report.puppet_section
      end

      def show_security
        config_report.security_section
      end

      def show_choria_settings
        config_report.choria_settings_section
      end

      def config_report
        @config_report ||= ChoriaNats::ConfigReport.new(
          mcollective: ChoriaNats::ConfigReport::Facts.from_config(config, version: MCollective::VERSION),
          pluginconf: config.pluginconf, ssl_paths: -> { ssl_paths }
        )
      end

      # One set of paths for every section, from the security provider: Puppet is asked for its SSL dir once.
      def ssl_paths
        @ssl_paths ||= ChoriaNats::SecurityProvider.paths(ChoriaNats::PluginSettings.new(config.pluginconf),
                                                          identity: config.identity)
      end

      def config
        MCollective::Config.instance
      end

      # [the ChoriaNats::Federation, the brokers it connects to (which the doctor then checks)], or
      # [nil, nil] when this client is not federated.
      def federation_config
        settings = ChoriaNats::PluginSettings.new(config.pluginconf)
        federation = ChoriaNats::Federation.from_settings(settings)
        return [nil, nil] unless federation

        [federation, federation.brokers(settings, fallback: ChoriaNats::BrokerList.from_settings(settings))]
      end

      # The Federation section: whether this client is federated, through which networks and brokers.
      def show_federation(federation, brokers)
        puts("", "Federation")
        unless federation
          puts("  not federated: plugin.choria.federation.collectives and CHORIA_FED_COLLECTIVE are not set")
          return
        end
        settings = ChoriaNats::PluginSettings.new(config.pluginconf)
        puts("  networks   #{federation.networks.join(', ')} (from #{settings.source('federation_collectives')})")
        puts("  subjects   #{federation.networks.map { |n| ChoriaNats::Federation.subject(n) }.join(', ')}")
        puts("  brokers    #{brokers.description}")
      end
    end
  end
end
