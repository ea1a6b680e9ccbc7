# frozen_string_literal: true

require "optparse"
require_relative "version"
require_relative "errors"
require_relative "config_file"
require_relative "plugin_installer"
require_relative "status_check"

module ChoriaNats
  # The `choria-nats` command: parses the command line and runs a command; #run returns the exit status.
  # It loads the native library only for `doctor`, so `plugin install` works where it cannot load.
  class CLI
    # The help text, also shown after a usage error.
    USAGE = <<~USAGE
      Usage: choria-nats COMMAND [OPTIONS]

      Commands:
        plugin install [--replace] [--libdir DIR | --config FILE]
            Make MCollective find the choria-nats plugins (connector = nats): writes small loaders
            and the DDLs into DIR/mcollective/. Safe to run again, e.g. after upgrading the gem;
            never overwrites a file it did not write. With --replace, mcollective-choria's own
            connector/nats.rb, connector/nats.ddl and application/choria.rb (recognised by their
            content) are moved aside into DIR/#{PluginBackup::DIR_NAME}/ first.
        plugin uninstall [--libdir DIR | --config FILE]
            Remove the files `plugin install` wrote, and only those; put back the files
            --replace moved aside.
        doctor [--config FILE]
            Say why this node can or cannot reach its NATS brokers: the certname and SSL dir, each
            certificate check, the broker list and where it came from, and a real TLS connection to
            each broker. FILE is server.cfg or client.cfg (default: root's server.cfg, anyone
            else's ~/.mcollective or client.cfg). Exit status 0 only when all is well.
        status --check FILE [--max-age SECONDS] [--cert-days DAYS]
            Judge the status file mcollectived writes (plugin.choria.status_file_path) the Nagios
            way: one line, exit status 0 OK, 1 WARNING (the certificate expires within DAYS,
            default #{StatusCheck::DEFAULT_CERT_DAYS}; reconnects or drops in the last minutes), 2 CRITICAL (the file is
            missing or older than SECONDS, default #{StatusCheck::STALE_WRITES} times the file's update_interval; not
            connected; the certificate expired), 3 UNKNOWN (the file cannot be read, a bad command line).
        help
            Show this help.

      Options:
        --libdir DIR     MCollective's libdir. Default: the first libdir of the first readable of
                         #{PluginInstaller::CONFIG_FILES.join("\n#{' ' * 19}")}
        --config FILE    Use the first libdir of this MCollective config instead.
        --version        Show the version of choria-nats.
    USAGE

    # Commands by name, and the method that runs each.
    COMMANDS = { "plugin" => :plugin, "doctor" => :doctor, "status" => :status, "help" => :help }.freeze
    # The words that may follow `plugin`, each a PluginInstaller method.
    PLUGIN_COMMANDS = %w[install uninstall].freeze

    # Bad command line: usage on stderr, exit status 2.
    class UsageError < StandardError; end

    # out, err:: where the report and the error lines go.
    def initialize(out: $stdout, err: $stderr)
      @out = out
      @err = err
    end

    # Runs the command `argv` names; returns the exit status: 0 done, 1 failed, 2 bad command line.
    def run(argv)
      flags = {}
      args = global_options(flags).order(argv)
      return help([]) if flags[:help]
      return version if flags[:version]

      command = args.shift
      raise UsageError, "no command given" if command.nil?
      raise UsageError, "unknown command '#{command}'" unless COMMANDS.key?(command)

      send(COMMANDS.fetch(command), args)
    rescue UsageError, OptionParser::ParseError => e
      @err.puts("choria-nats: #{e.message}", "", USAGE)
      2
    rescue ChoriaNats::Error, SystemCallError => e
      @err.puts("choria-nats: #{e.message}")
      1
    end

    private

    def global_options(flags)
      OptionParser.new do |parser|
        parser.on("--version") { flags[:version] = true }
        parser.on("-h", "--help") { flags[:help] = true }
      end
    end

    def version
      @out.puts("choria-nats #{VERSION}")
      0
    end

    def help(_args)
      @out.puts(USAGE)
      0
    end

    def plugin(args)
      action = args.shift
      raise UsageError, "plugin needs install or uninstall" if action.nil?
      raise UsageError, "unknown plugin command '#{action}'" unless PLUGIN_COMMANDS.include?(action)

      options = command_options(args, libdir: true, replace: action == "install")
      raise UsageError, "give --libdir or --config, not both" if options[:libdir] && options[:config]
      return help([]) if options[:help]

      installer(options).public_send(action).exit_status
    end

    # The options after a command: --help, --config FILE, with `libdir` --libdir DIR and with `replace`
    # --replace; nothing else.
    def command_options(args, libdir: false, replace: false)
      options = {}
      parser = OptionParser.new do |opts|
        opts.on("-h", "--help") { options[:help] = true }
        opts.on("--libdir DIR") { |dir| options[:libdir] = dir } if libdir
        opts.on("--replace") { options[:replace] = true } if replace
        opts.on("--config FILE") { |file| options[:config] = file }
      end
      rest = parser.parse(args)
      raise UsageError, "unexpected argument '#{rest.first}'" unless rest.empty?

      options
    end

    def doctor(args)
      options = command_options(args)
      return help([]) if options[:help]

      require_relative "doctor"
      file = ConfigFile.new(options[:config] || ConfigFile.default_path)
      Doctor.new(identity: file.identity, pluginconf: file.pluginconf, config_file: file.path,
                 config_problem: file.locale_problem, out: @out).run
    end

    # A Nagios plugin: even a bad command line is one line and UNKNOWN (3), never usage text.
    def status(args)
      options = status_options(args)
      return help([]) if options[:help]

      code, line = StatusCheck.new(options.fetch(:check), **options.slice(:max_age, :cert_days)).run
      @out.puts(line)
      code
    rescue UsageError, OptionParser::ParseError, ArgumentError => e
      @out.puts("UNKNOWN: choria-nats status: #{e.message} (usage: choria-nats status --check FILE " \
                "[--max-age SECONDS] [--cert-days DAYS])")
      StatusCheck::CODES[:unknown]
    end

    def status_options(args)
      options = {}
      parser = OptionParser.new do |opts|
        opts.on("-h", "--help") { options[:help] = true }
        opts.on("--check FILE") { |file| options[:check] = file }
        opts.on("--max-age SECONDS") { |value| options[:max_age] = positive(Float(value), "--max-age") }
        opts.on("--cert-days DAYS") { |value| options[:cert_days] = positive(Float(value), "--cert-days", zero: true) }
      end
      rest = parser.parse(args)
      raise UsageError, "unexpected argument '#{rest.first}'" unless rest.empty?
      raise UsageError, "--check FILE is required" unless options[:check] || options[:help]

      options
    end

    def positive(number, option, zero: false)
      return number if number.finite? && (number.positive? || (zero && number.zero?))

      raise UsageError, "#{option} must be a number above 0#{zero ? ' or 0' : ''}, not #{number}"
    end

    def installer(options)
      replace = options.fetch(:replace, false)
      return PluginInstaller.new(libdir: options[:libdir], out: @out, replace: replace) if options[:libdir]

      files = options[:config] ? [File.expand_path(options[:config])] : PluginInstaller::CONFIG_FILES
      PluginInstaller.from_config(config_files: files, out: @out, replace: replace)
    end
  end
end
