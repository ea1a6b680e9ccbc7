# frozen_string_literal: true

require_relative "atomic_file"
require_relative "errors"
require_relative "reference_files"

module ChoriaNats
  # Where `choria-nats plugin install --replace` keeps the mcollective-choria files it moves aside,
  # and how it moves them: <libdir>/choria-nats-backup/mcollective/<relative>, outside the tree
  # MCollective loads plugins from. A file is moved by a hard link, so it keeps its inode, mode,
  # owner and times, and the move is one step that never crosses a filesystem (that fails, and says
  # so). A link never replaces a file, so an existing backup is never overwritten; it never follows a
  # symbolic link at the file's name either. The folders are made by this process, mode 0700, and
  # refused when they are links or when another user owns them or may write to them.
  class PluginBackup
    # The backup folder's name, beside <libdir>/mcollective.
    DIR_NAME = "choria-nats-backup"

    # The backup folder.
    attr_reader :dir

    # libdir:: the MCollective libdir; uid:: who must own the backup folders.
    def initialize(libdir:, uid: Process.uid)
      @libdir = libdir
      @dir = File.join(libdir, DIR_NAME)
      @uid = uid
    end

    # Where the backup of <libdir>/mcollective/`relative` is.
    def path_for(relative)
      File.join(@dir, "mcollective", relative)
    end

    # Whether a backup of `relative` is there (a regular file, not a link).
    def backed_up?(relative)
      File.lstat(path_for(relative)).file?
    rescue Errno::ENOENT, Errno::ENOTDIR
      false
    end

    # The `relative` files with a backup, in the folder's order.
    def relatives
      base = File.join(@dir, "mcollective")
      return [] unless File.directory?(base) && !File.symlink?(@dir)

      Dir.glob("**/*", base: base).sort.select { |relative| backed_up?(relative) }
    end

    # Checks, before any file is moved, that each of `paths` (by `relative`) can be: its backup folder
    # made and sound, on the same filesystem, and no backup there yet. Raises
    # ChoriaNats::ConfigurationError, so that either every file is moved aside or none is.
    def prepare(paths)
      paths.each do |relative, path|
        backup = path_for(relative)
        make_folders(File.dirname(backup))
        raise ConfigurationError, exists_message(backup) if File.exist?(backup) || File.symlink?(backup)
        next if File.stat(File.dirname(backup)).dev == File.stat(File.dirname(path)).dev

        raise ConfigurationError, other_filesystem_message(path)
      end
    rescue ConfigurationError
      paths.each_key { |relative| prune(File.dirname(path_for(relative))) }
      raise
    end

    # Moves mcollective-choria's file at `path` aside (#keep), then puts `content` in its place in one
    # rename, so the name always holds a whole file, theirs or ours. Returns the line's end saying so.
    def replace(path, relative, content)
      sha = ReferenceFiles.sha256(path)
      releases = ReferenceFiles.releases(relative, sha)
      raise ConfigurationError, "#{path} changed while this ran: nothing was replaced; run again" if releases.empty?

      backup = keep(path, relative, sha)
      AtomicFile.replace(path, content, 0o644)
      "#{ReferenceFiles.describe(releases)}'s, moved to #{backup}"
    end

    # Gives the file at `path` (whose content had the SHA-256 `sha256`) a second name in the backup
    # folder, and checks that what it named has that content. The caller then replaces `path`.
    # Returns the backup's path; raises ChoriaNats::ConfigurationError saying what to do.
    def keep(path, relative, sha256)
      backup = path_for(relative)
      make_folders(File.dirname(backup))
      link(path, backup)
      return backup if ReferenceFiles.sha256(backup) == sha256

      File.unlink(backup)
      raise ConfigurationError, "#{path} changed while it was being moved aside: nothing was replaced; check who " \
                                "can write to #{File.dirname(path)}, then run again"
    end

    # Puts the backup of `relative` back at `path` in one rename, over the file there (choria-nats' own,
    # the caller has checked) or where there is none. Returns the line's end saying so; raises
    # ChoriaNats::ConfigurationError when the backup is not a file mcollective-choria shipped.
    def restore(path, relative)
      backup = path_for(relative)
      releases = ReferenceFiles.recognise(backup, relative)
      if releases.empty?
        raise ConfigurationError, "#{backup} is no longer a file mcollective-choria shipped: it was left where it " \
                                  "is, and #{path} too; put the file you want there by hand"
      end

      File.exist?(path) || File.symlink?(path) ? File.rename(backup, path) : link_then_unlink(backup, path)
      prune(File.dirname(backup))
      "#{ReferenceFiles.describe(releases)}'s, from #{backup}"
    end

    private

    def link(from, to)
      File.link(from, to)
    rescue Errno::EEXIST
      raise ConfigurationError, exists_message(to)
    rescue Errno::EXDEV
      raise ConfigurationError, other_filesystem_message(from)
    rescue Errno::EPERM, Errno::EACCES => e
      raise ConfigurationError, "Cannot move #{from} aside to #{to} (#{e.message}): run this as the user who owns " \
                                "#{from} or as root"
    end

    def exists_message(backup)
      "#{backup} exists already: a backup is never overwritten; move it away (it may be the file an earlier run " \
        "moved aside), then run again"
    end

    def other_filesystem_message(path)
      "#{path} and #{@dir} are on different filesystems, so it cannot be moved aside in one step: move it out of " \
        "#{File.dirname(path)} by hand, then run again"
    end

    # Restores where nothing is at `path`: a link never replaces a file that appeared meanwhile.
    def link_then_unlink(backup, path)
      link(backup, path)
      File.unlink(backup)
    end

    # Makes each folder from the backup folder down to `folder`, checking every one: a link or another
    # user's folder on the way could lead the backup elsewhere.
    def make_folders(folder)
      parts = folder.delete_prefix("#{@dir}/").split("/")
      parts.each_with_index.map { |_, index| File.join(@dir, *parts.first(index)) }.push(folder).uniq.each do |dir|
        begin
          Dir.mkdir(dir, 0o700)
        rescue Errno::EEXIST
          nil # checked below, as a new one is
        end
        check_folder(dir)
      end
    end

    # A folder of the backup must be a real folder this user owns and alone may write to.
    def check_folder(dir)
      stat = File.lstat(dir)
      return if stat.directory? && stat.uid == @uid && (stat.mode & 0o022).zero?

      raise ConfigurationError, "#{dir} is not a folder that only this user (uid #{@uid}) owns and may write to: " \
                                "the backups go there; remove it, or make it so, then run again"
    end

    # Removes the backup folders the restore emptied, up to the backup folder itself.
    def prune(folder)
      while folder.start_with?("#{@dir}/") || folder == @dir
        break if File.symlink?(folder) || !File.directory?(folder) || !Dir.empty?(folder)

        Dir.rmdir(folder)
        folder = File.dirname(folder)
      end
    end
  end
end
