# frozen_string_literal: true

require "digest"
require_relative "errors"

module ChoriaNats
  # mcollective-choria's own versions of the plugin files this gem installs (`connector/nats.rb`,
  # `connector/nats.ddl`, `application/choria.rb`), recognised by their content: the SHA-256 of every
  # version its releases shipped, listed in data/mcollective_choria_files.tsv (`rake reference_files`
  # writes it). A file recognised so is that project's and nothing else: a site's edit, or a release
  # the list lacks, makes it unknown, and unknown files are never moved.
  module ReferenceFiles
    # The list: path under <libdir>/mcollective, SHA-256, the releases that shipped that content.
    LIST = File.expand_path("data/mcollective_choria_files.tsv", __dir__)
    # Larger files are not read: no version of these files comes near it.
    MAX_BYTES = 1024 * 1024
    # Reads without following a symbolic link: a link is never one of these files.
    READ_FLAGS = File::RDONLY | File::NOFOLLOW | File::BINARY

    # The releases whose `relative` file has the SHA-256 `sha256`, oldest first; [] for none.
    def self.releases(relative, sha256)
      table.fetch([relative, sha256], [])
    end

    # The SHA-256 of the regular file at `path`, read without following a link; nil when it is not
    # a regular file, is larger than MAX_BYTES or cannot be read.
    def self.sha256(path)
      File.open(path, READ_FLAGS) do |file|
        stat = file.stat
        return nil unless stat.file? && stat.size <= MAX_BYTES

        Digest::SHA256.hexdigest(file.read(MAX_BYTES + 1).to_s)
      end
    rescue SystemCallError, IOError
      nil
    end

    # The releases that shipped the file at `path` as `relative`; [] when it is no version of theirs.
    def self.recognise(path, relative)
      sha = sha256(path)
      sha ? releases(relative, sha) : []
    end

    # "mcollective-choria 0.16.1", or "mcollective-choria 0.12.0 to 0.16.1" for several releases.
    def self.describe(releases)
      span = releases.size == 1 ? releases.first : "#{releases.first} to #{releases.last}"
      "mcollective-choria #{span}"
    end

    # The list, read once: {[relative, sha256] => [release, ...]}.
    def self.table
      @table ||= File.readlines(LIST, chomp: true, encoding: Encoding::UTF_8)
                     .reject { |line| line.start_with?("#") || line.strip.empty? }
                     .to_h { |line| parse(line) }.freeze
    rescue SystemCallError => e
      raise Error, "Cannot read the list of mcollective-choria's files #{LIST}: #{e.message}: reinstall the gem"
    end

    def self.parse(line)
      relative, sha, releases = line.split("\t")
      raise Error, "#{LIST} has a line that is not path, SHA-256 and releases: #{line.inspect}" unless releases

      [[relative, sha], releases.split(",").freeze]
    end
    private_class_method :table, :parse
  end
end
