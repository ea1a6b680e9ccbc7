# frozen_string_literal: true

require "fileutils"
require_relative "version"
require_relative "errors"
require_relative "atomic_file"
require_relative "config_file"
require_relative "plugin_backup"
require_relative "reference_files"

module ChoriaNats
  # The gem's own MCollective plugin tree (connector/nats.rb, connector/nats.ddl, ...). The files
  # `choria-nats plugin install` writes into MCollective's libdir load the Ruby files from here.
  PLUGIN_DIR = File.expand_path("../mcollective", __dir__)

  # `choria-nats plugin install`: makes MCollective find the gem's plugins. MCollective loads a
  # connector with `load "mcollective/connector/nats.rb"` over $LOAD_PATH, on which it puts each
  # libdir of its config first, and reads `mcollective/connector/nats.ddl` from those libdirs; the gem
  # is on neither. So for each plugin file the gem carries, this writes into <libdir>/mcollective/
  # a small loader (Ruby files: it activates the installed gem and loads the gem's copy, so upgrading
  # the gem upgrades the plugin) or a copy (DDL files). It only ever rewrites or removes files that
  # carry its marker on their first line; anything else is reported and left alone, except, with
  # `replace`, mcollective-choria's own versions of these files (ChoriaNats::ReferenceFiles), which
  # it moves aside into a backup (ChoriaNats::PluginBackup) that `uninstall` puts back.
  class PluginInstaller
    # On the first line of every file we write; how we recognise them, whatever version wrote them.
    MARKER = "Written by `choria-nats plugin install`"

    # The configs searched for a libdir: the server configs first, then the client configs.
    CONFIG_FILES = (ConfigFile::SERVER_FILES + ConfigFile::CLIENT_FILES).freeze

    # What `#install` or `#uninstall` did to one file; `note` ends its line.
    Action = Struct.new(:status, :path, :note)

    # The statuses of a file that was left in the way: the plugin is not fully installed.
    LEFT_ALONE = %i[foreign reference].freeze

    # Everything `#install` or `#uninstall` did; not a success when a file was left alone on install.
    Result = Struct.new(:actions, :complete) do
      # Whether every plugin file is in place (install) or every file of ours is gone (uninstall).
      def success?
        complete
      end

      # The command's exit status: 0 on success, else 1.
      def exit_status
        success? ? 0 : 1
      end

      # The paths of the files whose action had `status` (:created, :foreign, ...).
      def paths(status)
        actions.select { |action| action.status == status }.map(&:path)
      end
    end

    # An installer for the libdir MCollective would use: the first entry of the first `libdir` line of
    # the first readable config in `config_files` that has one, said on `out`; the config's other
    # libdirs are checked for files loaded instead of ours. Raises ChoriaNats::ConfigurationError.
    def self.from_config(config_files: CONFIG_FILES, out: $stdout, plugin_dir: PLUGIN_DIR, replace: false)
      config = ConfigFile.naming_libdir(config_files)
      out.puts("libdir #{config.libdirs.first} (from #{config.path})")
      new(libdir: config.libdirs.first, out: out, other_libdirs: config.libdirs.drop(1), plugin_dir: plugin_dir,
          replace: replace)
    end

    # The libdir installed into, and the gem plugin tree its files load.
    attr_reader :libdir, :plugin_dir

    # libdir: the MCollective libdir to install into. other_libdirs: the config's other libdirs, only
    # checked for files that could be loaded instead of ours. plugin_dir: the gem's plugin tree.
    # replace: move mcollective-choria's own versions of our files aside (`--replace`).
    def initialize(libdir:, out: $stdout, other_libdirs: [], plugin_dir: PLUGIN_DIR, replace: false)
      @libdir = File.expand_path(libdir)
      @out = out
      @other_libdirs = other_libdirs.map { |dir| File.expand_path(dir) } - [@libdir]
      @plugin_dir = plugin_dir
      @replace = replace
      @backup = PluginBackup.new(libdir: @libdir)
    end

    # The gem's plugin files, relative to its plugin tree: ["connector/nats.ddl", "connector/nats.rb"].
    def plugin_files
      (Dir.glob("**/*.rb", base: plugin_dir) + Dir.glob("**/*.ddl", base: plugin_dir)).sort
    end

    # Writes every plugin file; idempotent. Never touches a file without our marker.
    def install
      files = plugin_files
      raise Error, "no MCollective plugin files in #{plugin_dir}: is the choria-nats gem complete?" if files.empty?

      in_the_way, replacing = plan(files)
      actions = files.map { |relative| install_file(relative, in_the_way[relative], replacing) }
      result = Result.new(actions, actions.none? { |action| LEFT_ALONE.include?(action.status) })
      warn_shadowed(files)
      @out.puts(install_summary(result))
      result
    end

    # Removes every file under <libdir>/mcollective that carries our marker, and nothing else, putting
    # back the mcollective-choria files `install --replace` moved aside.
    def uninstall
      ours, foreign = installed_files.partition { |path| ours?(path) }
      actions = ours.map { |path| remove_or_restore(path) }
      actions += orphan_backups(ours)
      foreign &= plugin_files.map { |relative| target(relative) }
      actions += foreign.map { |path| report(Action.new(:foreign, path)) }
      @out.puts("nothing to remove: no file written by choria-nats in #{mcollective_dir}") if ours.empty?
      @out.puts("Set `connector` back to your previous connector in server.cfg and client.cfg " \
                "before restarting mcollectived.")
      Result.new(actions, true)
    end

    # What a plugin file becomes in the libdir: a loader for Ruby files, a marked copy for the others.
    def content_for(relative)
      if relative.end_with?(".rb")
        loader(relative)
      else
        header = "# #{MARKER} (choria-nats #{VERSION}). A copy of the gem's #{relative}, as MCollective\n" \
                 "# reads DDLs from its libdir. Remove with `choria-nats plugin uninstall`.\n"
        header + File.read(File.join(plugin_dir, relative), encoding: Encoding::UTF_8)
      end
    end

    # A Ruby file that activates the installed gem and loads the gem's copy of `relative`. It loads
    # by absolute path: `require "mcollective/..."` would find this very file first on $LOAD_PATH.
    def loader(relative)
      parts = relative.split("/").map(&:inspect).join(", ")
      <<~RUBY
        # #{MARKER} (choria-nats #{VERSION}). Loads the plugin from the installed
        # choria-nats gem, so upgrading the gem upgrades the plugin. Remove with `choria-nats plugin uninstall`.
        begin
          gem "choria-nats"
        rescue NameError, Gem::LoadError # NameError first: without RubyGems, naming Gem::LoadError raises
          nil # not installed as a gem: found through RUBYLIB/-I (development)
        end
        require "choria_nats"
        load File.join(ChoriaNats::PLUGIN_DIR, #{parts})
      RUBY
    end

    # Whether a file was written by us: a regular file (we never write links) whose first line starts
    # with `# ` and our marker.
    def ours?(path)
      return false if File.symlink?(path) || !File.file?(path)

      first = File.open(path, "rb", &:gets)
      !first.nil? && first.start_with?("# #{MARKER}".b)
    end

    private

    def mcollective_dir
      File.join(libdir, "mcollective")
    end

    def target(relative)
      File.join(mcollective_dir, relative)
    end

    def install_file(relative, releases, replacing)
      return in_the_way_action(relative, releases, replacing) if releases

      path = target(relative)
      content = content_for(relative)
      status =
        if !File.exist?(path) && !File.symlink?(path) then :created
        elsif File.binread(path) == content.b then :unchanged
        else
          :updated
        end
      write(path, content) if %i[created updated].include?(status)
      report(Action.new(status, path))
    end

    # Replaces the file in one rename, so a starting mcollectived never reads half a file.
    def write(path, content)
      FileUtils.mkdir_p(File.dirname(path))
      AtomicFile.replace(path, content, 0o644)
    end

    def remove(path)
      File.delete(path)
      prune(File.dirname(path))
      report(Action.new(:removed, path))
    end

    # Removes the directories our removal emptied, up to (not including) <libdir>/mcollective.
    def prune(dir)
      while dir.start_with?("#{mcollective_dir}/") && Dir.empty?(dir)
        Dir.rmdir(dir)
        dir = File.dirname(dir)
      end
    end

    def installed_files
      return [] unless File.directory?(mcollective_dir)

      (Dir.glob("**/*.rb", base: mcollective_dir) + Dir.glob("**/*.ddl", base: mcollective_dir))
        .sort.map { |relative| File.join(mcollective_dir, relative) }
    end

    def report(action)
      line =
        case action.status
        when :foreign then "left alone #{action.path}: not written by choria-nats (another plugin of " \
                           "that name? move it away, then run again)"
        when :reference then "left alone #{action.path}: #{action.note}"
        else
          line = format("%-10<status>s %<path>s", status: action.status, path: action.path)
          action.note ? "#{line}: #{action.note}" : line
        end
      @out.puts(line)
      action
    end

    # MCollective searches every libdir (the last one of the config first): a file of the same name
    # in another one may be loaded instead of ours.
    def warn_shadowed(files)
      @other_libdirs.product(files).each do |dir, relative|
        path = File.join(dir, "mcollective", relative)
        next unless File.exist?(path) && !ours?(path)

        @out.puts("warning: #{path} (another libdir) may be loaded instead of ours: move it away")
      end
    end

    def install_summary(result)
      if result.success?
        "Now set `connector = nats` in server.cfg and client.cfg and restart mcollectived."
      else
        left = LEFT_ALONE.sum { |status| result.paths(status).size }
        "choria-nats plugin install: #{left} file(s) left alone, so the plugin is not " \
          "fully installed: move them away and run it again."
      end
    end
  end

  # The installer's second part.
  class PluginInstaller
    # What the installer does with mcollective-choria's own versions of its files: recognise them,
    # leave them alone or (with `replace`) move them aside, and put them back on uninstall.
    module References
      private

      # For a file of another plugin at the target of `relative`: the mcollective-choria releases that
      # shipped it ([] when none did); nil when the target is free or ours.
      def in_the_way(relative)
        path = target(relative)
        return nil if (!File.exist?(path) && !File.symlink?(path)) || ours?(path)

        ReferenceFiles.recognise(path, relative)
      end

      # For each file, what #in_the_way says; and whether to replace what is in the way, which is all
      # or nothing: moving some files aside while another stays would leave a mix of two connectors.
      def plan(files)
        in_the_way = files.to_h { |relative| [relative, in_the_way(relative)] }
        replacing = @replace && in_the_way.values.none? { |releases| releases&.empty? }
        @backup.prepare(in_the_way.compact.keys.to_h { |relative| [relative, target(relative)] }) if replacing
        [in_the_way, replacing]
      end

      def in_the_way_action(relative, releases, replacing)
        path = target(relative)
        return left_alone(path, releases) unless replacing

        report(Action.new(:replaced, path, @backup.replace(path, relative, content_for(relative))))
      end

      def left_alone(path, releases)
        return report(Action.new(:foreign, path)) if releases.empty?

        hint = if @replace then "not moved aside while a file that is not mcollective-choria's is in the way"
               else
                 "`choria-nats plugin install --replace` moves it aside into #{@backup.dir} (`plugin uninstall` " \
                   "puts it back)"
               end
        report(Action.new(:reference, path, "#{ReferenceFiles.describe(releases)}'s own file: #{hint}"))
      end

      def remove_or_restore(path)
        relative = path.delete_prefix("#{mcollective_dir}/")
        return remove(path) unless @backup.backed_up?(relative)

        report(Action.new(:restored, path, @backup.restore(path, relative)))
      end

      # Backups whose file is no longer ours: put back where nothing is, kept where something else is.
      def orphan_backups(ours)
        (@backup.relatives - ours.map { |path| path.delete_prefix("#{mcollective_dir}/") }).map do |relative|
          path = target(relative)
          next report(Action.new(:restored, path, @backup.restore(path, relative))) unless File.exist?(path) ||
                                                                                           File.symlink?(path)

          report(Action.new(:kept, @backup.path_for(relative), "#{path} is not choria-nats' file: put it back by hand"))
        end
      end
    end
    include References
  end
end
