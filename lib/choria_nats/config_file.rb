# frozen_string_literal: true

require "socket"
require_relative "errors"
require_relative "text_file"

module ChoriaNats
  # The parts of an MCollective server.cfg / client.cfg the gem's commands need,
  # read as MCollective reads them (`key = value` lines, `plugin.*` settings,
  # and `plugin.d/<plugin>.cfg` beside the file), without loading MCollective.
  # The one reader of MCollective configs: the doctor and `plugin install` both use it.
  class ConfigFile
    # Where mco looks for its config (after ~/.mcollective): Puppet's AIO layout, then the distributions'.
    CLIENT_FILES = %w[/etc/puppetlabs/mcollective/client.cfg /etc/mcollective/client.cfg].freeze
    # Where mcollectived looks for its config, in the same order.
    SERVER_FILES = %w[/etc/puppetlabs/mcollective/server.cfg /etc/mcollective/server.cfg].freeze

    # The config file read.
    attr_reader :path
    # The identity (the host name when the file sets none).
    attr_reader :identity
    # The `plugin.*` settings without the `plugin.` prefix, as MCollective's Config#pluginconf.
    attr_reader :pluginconf
    # MCollective's connection_timeout, or nil.
    attr_reader :connection_timeout
    # Why MCollective itself cannot read these files in this process' locale (one line), or nil.
    attr_reader :locale_problem

    # The config a command run by this user would read: root's server.cfg, anyone else's
    # ~/.mcollective or client.cfg. Raises ChoriaNats::ConfigurationError when there is none.
    # Without HOME, ~/.mcollective is left out, as mco leaves it out.
    def self.default_path(uid: Process.uid, home: nil, env: ENV, server_files: SERVER_FILES,
                          client_files: CLIENT_FILES)
      home ||= env["HOME"]
      user_files = home.nil? || home.empty? ? [] : [File.join(home, ".mcollective")]
      candidates = uid.zero? ? server_files + client_files : user_files + client_files
      found = candidates.find { |file| File.file?(file) }
      return found if found

      raise ConfigurationError, "No MCollective config found (looked for #{candidates.join(', ')}): " \
                                "pass --config FILE (server.cfg or client.cfg)"
    end

    # The first config in `config_files` that names a libdir, read without its plugin.d. Raises
    # ChoriaNats::ConfigurationError saying which configs were missing, unreadable or named none.
    def self.naming_libdir(config_files)
      unreadable = []
      without = []
      config_files.each do |path|
        next unless File.exist?(path)

        unless File.file?(path) && File.readable?(path)
          unreadable << path
          next
        end
        config = new(path, plugin_dir: false)
        return config unless config.libdirs.empty?

        without << path
      end
      raise ConfigurationError, no_libdir_message(config_files, unreadable, without)
    end

    def self.no_libdir_message(config_files, unreadable, without)
      found = unreadable + without
      reason =
        if found.empty? then "no MCollective config found (looked for #{config_files.join(', ')})"
        elsif without.empty? then "cannot read #{unreadable.join(', ')} (run as root?)"
        else
          unread = unreadable.empty? ? "" : "; cannot read #{unreadable.join(', ')}"
          "#{without.join(', ')} names no libdir#{unread}"
        end
      "#{reason}: pass --libdir DIR (the libdir of your server.cfg and client.cfg) or --config FILE"
    end
    private_class_method :no_libdir_message

    # Reads `path`, and the plugin.d folder beside it unless `plugin_dir` is false; raises
    # ChoriaNats::ConfigurationError when it cannot.
    def initialize(path, plugin_dir: true)
      @path = File.expand_path(path)
      @pluginconf = {}
      @identity = nil
      @connection_timeout = nil
      @locale_problem = nil
      @libdirs = []
      parse(read(@path))
      read_plugin_dir(File.join(File.dirname(@path), "plugin.d")) if plugin_dir
      @identity ||= Socket.gethostname
    end

    # The libdirs in the order written (`libdir = /a:/b` lines add up, as in MCollective). Raises
    # ChoriaNats::ConfigurationError for a relative one, which MCollective refuses too.
    def libdirs
      relative = @libdirs.reject { |dir| dir.start_with?("/") }
      raise ConfigurationError, "#{@path}: libdir #{relative.first} is not an absolute path" unless relative.empty?

      @libdirs
    end

    private

    def read(file)
      text = TextFile.read(file, what: "The MCollective config")
      @locale_problem ||= locale_problem_in(file, text)
      text
    rescue SystemCallError => e
      raise ConfigurationError, "Cannot read the MCollective config #{file}: #{e.message}"
    end

    # MCollective reads its config in Ruby's default external encoding, which the locale sets:
    # US-ASCII without LANG or with LANG=C, where it fails on any non-ASCII byte, even in a comment.
    def locale_problem_in(file, text)
      encoding = Encoding.default_external
      return nil if text.ascii_only? || encoding == Encoding::UTF_8

      number, = TextFile.first_invalid(text, encoding)
      return nil unless number

      "MCollective cannot read #{file} here: line #{number} is not #{encoding}, the encoding this locale gives " \
        "Ruby for files: make that line ASCII, or run mco and mcollectived with LANG=C.UTF-8"
    end

    def parse(text, prefix: nil)
      text.each_line do |line|
        line = line.sub(/\s*\z/, "")
        next if line.start_with?("#") || line.empty?

        match = line.match(/\A(.+?)\s*=\s*(.+)\z/)
        next unless match

        key = match[1].strip
        prefix ? @pluginconf["#{prefix}.#{key}"] = match[2] : setting(key, match[2])
      end
    end

    def setting(key, value)
      case key
      when "identity" then @identity = value
      when "connection_timeout" then @connection_timeout = Float(value, exception: false)
      when "libdir" then @libdirs.concat(value.split(File::PATH_SEPARATOR).reject(&:empty?))
      when /\Aplugin\.(.+)\z/ then @pluginconf[Regexp.last_match(1)] = value
      end
    end

    def read_plugin_dir(dir)
      return unless File.directory?(dir)

      Dir.children(dir).sort.each do |name|
        plugin = name[/\A(\w+)\.cfg\z/, 1]
        next unless plugin

        parse(read(File.join(dir, name)), prefix: plugin)
      end
    end
  end
end
