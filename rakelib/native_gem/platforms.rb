# frozen_string_literal: true

require "rubygems"
require_relative "../../lib/choria_nats/version"
require_relative "../roots"

# The precompiled platform gems: one per CPU of Roots::MATRIX, each carrying a
# library per Ruby minor of that CPU's rows.
module NativeGem
  ROOT = File.expand_path("../..", __dir__)
  # The newest glibc a library may need: cargo-zigbuild links against this one, so the gems
  # load on EL7 and anything newer.
  GLIBC = "2.17"
  # glibc's own libraries, present on every glibc system: with the CPU's dynamic loader, the
  # only ones a library may link (its TLS is rustls, inside it).
  GLIBC_LIBRARIES = %w[libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1].freeze
  # Per CPU, as Roots names it: the gem platform, the Rust target, the ELF machine as readelf
  # names it, and glibc's dynamic loader there.
  PLATFORMS = {
    "x86_64" => { gem: "x86_64-linux", rust: "x86_64-unknown-linux-gnu",
                  machine: "Advanced Micro Devices X86-64", loader: "ld-linux-x86-64.so.2" },
    "aarch64" => { gem: "aarch64-linux", rust: "aarch64-unknown-linux-gnu",
                   machine: "AArch64", loader: "ld-linux-aarch64.so.1" }
  }.freeze

  module_function

  # The CPUs of Roots::MATRIX: one platform gem each.
  def arches
    Roots::MATRIX.map { |row| row[:arch] }.uniq
  end

  # The Rust targets the gems are built for (bin/setup installs them).
  def rust_targets
    arches.map { |arch| platform(arch)[:rust] }
  end

  # The facts of `arch`'s platform gem; raises for a CPU it has none for.
  def platform(arch)
    PLATFORMS.fetch(arch) { raise ArgumentError, "NativeGem: no platform gem for #{arch}" }
  end

  # Where `rake native` puts `arch`'s platform gem.
  def gem_file(arch)
    File.join(ROOT, "pkg", "choria-nats-#{ChoriaNats::VERSION}-#{platform(arch)[:gem]}.gem")
  end

  # Every platform gem's file, in the order of `arches`.
  def gem_files
    arches.map { |arch| gem_file(arch) }
  end

  # The Ruby minors `arch`'s gem carries, oldest first.
  def abis(arch)
    Roots.rows(arch: arch).map { |row| row[:abi] }.sort_by { |abi| Gem::Version.new(abi) }
  end

  # The libraries `arch`'s library may link.
  def allowed_libraries(arch)
    GLIBC_LIBRARIES + [platform(arch)[:loader]]
  end
end
