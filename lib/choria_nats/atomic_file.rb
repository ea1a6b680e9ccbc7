# frozen_string_literal: true

require "securerandom"
require_relative "errors"

module ChoriaNats
  # Puts whole files in place for processes that may run as root in directories other users can
  # write to (a libdir, an SSL dir). The content goes first to a temporary file beside the target:
  # its name is random, so it cannot be predicted; it is created exclusively and never through a
  # link, so a link planted at that name cannot redirect the write to another file; its mode is
  # set on the open file, never through a path that could be swapped. Then the file takes the
  # target's name in one step, so no reader sees half a file.
  module AtomicFile
    # Random names tried before giving up: a name is taken only when someone creates files to match.
    ATTEMPTS = 5
    # A new file only, never one that exists, never through a symbolic link.
    FLAGS = File::WRONLY | File::CREAT | File::EXCL | File::NOFOLLOW | File::BINARY

    module_function

    # Replaces `path` (or creates it) with `content` and `mode`, in one rename.
    def replace(path, content, mode)
      temporary = write_temporary(path, content, mode)
      File.rename(temporary, path)
      temporary = nil
    ensure
      discard(temporary)
    end

    # Creates `path`, which must not exist, with `content` and `mode`, in one step. Yields the name of
    # the complete temporary file first, so the caller can check the content where it will be used;
    # an exception from the block leaves nothing behind.
    def create(path, content, mode)
      temporary = write_temporary(path, content, mode)
      yield temporary if block_given?
      link(temporary, path)
    ensure
      discard(temporary)
    end

    # A fresh name beside `path` for its temporary file.
    def temporary_name(path)
      "#{path}.choria-nats-#{SecureRandom.hex(8)}.tmp"
    end

    # The name of a new file beside `path` holding `content`, with `mode` whatever the umask.
    def write_temporary(path, content, mode)
      ATTEMPTS.times do
        temporary = temporary_name(path)
        file = open_new(temporary, mode)
        next unless file

        fill(file, temporary, content, mode)
        return temporary
      end
      dir = File.dirname(path)
      raise Error, "Cannot write #{path}: #{ATTEMPTS} temporary names beside it in a row were already taken, as " \
                   "if someone were creating them on purpose: check who can write to #{dir}"
    end

    # The open file, or nil when the name is taken (by any file or link, which is left alone).
    def open_new(temporary, mode)
      File.open(temporary, FLAGS, mode)
    rescue Errno::EEXIST, Errno::ELOOP
      nil
    end

    def fill(file, temporary, content, mode)
      written = false
      begin
        file.chmod(mode)
        file.write(content)
        file.fsync
        written = true
      ensure
        file.close
        File.unlink(temporary) unless written
      end
    end

    # A hard link never replaces what is at `path`, so a file that appeared meanwhile is kept.
    def link(temporary, path)
      File.link(temporary, path)
    rescue Errno::EEXIST
      raise ConfigurationError, "#{path} appeared while this ran: it is never overwritten; move it away and run again"
    end

    def discard(temporary)
      File.unlink(temporary) if temporary
    rescue Errno::ENOENT
      nil
    end
    private_class_method :write_temporary, :open_new, :fill, :link, :discard
  end
end
