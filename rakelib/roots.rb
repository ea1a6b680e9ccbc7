# frozen_string_literal: true

require "digest"
require "fileutils"
require_relative "roots/builder"
require_relative "roots/wrapper"

# Debian roots, one per Ruby and CPU the platform gems carry, where each
# library is built against its own Ruby's headers and tested in its own Ruby
# (aarch64 under qemu-user through binfmt_misc). A root is made from Debian's
# packages with the host's apt (which resolves the dependencies) and
# `dpkg-deb -x` (no maintainer scripts, so no emulated CPU time at build), then
# cached under CACHE. Building and running need root (chroot and mounts).
module Roots
  CACHE = ENV.fetch("CHORIA_NATS_ROOTS", "/var/cache/choria-nats/roots")
  MIRROR = "http://deb.debian.org/debian"
  KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
  # experimental moves on; the one Ruby 3.4 build this matrix was tested with.
  RUBY34 = "3.4.11-1~exp1"
  # Bumped when the way a root is made changes, so cached roots are rebuilt.
  RECIPE = 2
  # Days a root of another recipe (an older one, another checkout's) stays in the cache unasked for.
  KEEP_DAYS = 2
  # Debian's name of each CPU, and the GNU triplet of its headers and libraries.
  ARCHES = {
    "x86_64" => { debian: "amd64", triplet: "x86_64-linux-gnu" },
    "aarch64" => { debian: "arm64", triplet: "aarch64-linux-gnu" }
  }.freeze
  # Where each Ruby minor comes from: its suite, packages (libc6-dev: the headers bindgen reads
  # through the root as sysroot) and whether Debian ships MCollective beside it there.
  RUBIES = [
    { abi: "2.7", suite: "bullseye", ruby: "/usr/bin/ruby2.7", mcollective: true,
      packages: %w[ruby2.7 ruby2.7-dev libc6-dev mcollective mcollective-client] },
    { abi: "3.1", suite: "bookworm", ruby: "/usr/bin/ruby3.1", mcollective: true,
      packages: %w[ruby3.1 ruby3.1-dev libc6-dev mcollective mcollective-client] },
    { abi: "3.3", suite: "trixie", ruby: "/usr/bin/ruby3.3", mcollective: false,
      packages: %w[ruby3.3 ruby3.3-dev libc6-dev] },
    { abi: "3.4", suite: "trixie", experimental: true, ruby: "/usr/bin/ruby3.4", mcollective: false,
      packages: %W[ruby3.4=#{RUBY34} libruby3.4=#{RUBY34} ruby3.4-dev=#{RUBY34} libc6-dev] }
  ].freeze
  # Every root also gets base-passwd, whose /etc/passwd and /etc/group lists the root copies; RSpec,
  # which `rake roots:spec` runs the suite with; and dash, the /bin/sh some specs run.
  BASE_PACKAGES = %w[base-passwd ruby-rspec dash].freeze
  # The file in each root naming the row and recipe it was made from.
  STAMP = ".choria-nats-root"

  # The one home of the matrix: one row per (arch, abi) the platform gems carry.
  MATRIX = ARCHES.keys.product(RUBIES).map { |arch, ruby| { arch: arch, **ruby }.freeze }.freeze

  module_function

  # The rows of MATRIX, optionally of one arch.
  def rows(arch: nil)
    arch ? MATRIX.select { |row| row[:arch] == arch } : MATRIX
  end

  # The row of (arch, abi); raises for one the matrix does not carry.
  def row(arch, abi)
    MATRIX.find { |r| r[:arch] == arch && r[:abi] == abi } or
      raise ArgumentError, "Roots: no row for #{arch} Ruby #{abi} (carried: #{MATRIX.map { |r| label(r) }.join(', ')})"
  end

  # "aarch64 Ruby 3.1", for messages.
  def label(row)
    "#{row[:arch]} Ruby #{row[:abi]}"
  end

  # The root's directory (may not exist yet), named for its row and recipe: checkouts whose recipes
  # differ share the cache without rebuilding, or removing, each other's roots.
  def dir(arch, abi)
    r = row(arch, abi)
    File.join(CACHE, "#{name(r)}-#{stamp(r)[0, 12]}")
  end

  # "bookworm-arm64-ruby3.1": what the directories of a row's roots start with, whatever the recipe.
  def name(row)
    "#{row[:suite]}-#{ARCHES.fetch(row[:arch])[:debian]}-ruby#{row[:abi]}"
  end

  # Builds the root if it is missing, and returns its directory. A lock file keeps two processes from
  # building one root at once; the stamp's time says when the root was last asked for.
  def ensure(arch, abi)
    root = dir(arch, abi)
    FileUtils.mkdir_p(CACHE)
    File.open("#{root}.lock", File::RDWR | File::CREAT, 0o644) do |lock|
      lock.flock(File::LOCK_EX)
      Builder.new(row(arch, abi), root).build unless current?(arch, abi)
      FileUtils.touch(File.join(root, STAMP))
      Wrapper.write(arch, abi)
    end
    root
  end

  # Whether the root exists and was made from this row and recipe.
  def current?(arch, abi)
    File.read(File.join(dir(arch, abi), STAMP)) == stamp(row(arch, abi))
  rescue Errno::ENOENT
    false
  end

  # Path of an executable that runs the root's Ruby with ruby's usual arguments; ensures the root.
  def ruby(arch, abi)
    Roots.ensure(arch, abi)
    wrapper(arch, abi)
  end

  # Where ruby(arch, abi) writes its wrapper: beside the root, which never sees it.
  def wrapper(arch, abi)
    "#{dir(arch, abi)}.ruby"
  end

  # What the stamp file of a root holds: changes with the row or the recipe.
  def stamp(row)
    Digest::SHA256.hexdigest([RECIPE, row.sort.to_h, BASE_PACKAGES, MIRROR].inspect)
  end
end
