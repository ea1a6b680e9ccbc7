# frozen_string_literal: true

# `rake native`: the precompiled platform gems, which install without a
# compiler: one per CPU of Roots::MATRIX, each with a library per Ruby minor of
# that CPU, built against that Ruby's root and linked against the old glibc of
# NativeGem::GLIBC with cargo-zigbuild (zig as the linker, from PyPI's
# `ziglang`; `bin/setup` installs both, and the Rust targets).
require "fileutils"
require "tmpdir"
require_relative "native_gem/build"
require_relative "native_gem/elf"
require_relative "native_gem/package"

arches = NativeGem.arches

# The CPUs build at once: much of a build (the crate with LTO into one codegen unit, rb-sys'
# bindgen) keeps only one core busy.
desc "Build the precompiled platform gems into pkg/ (#{arches.join(', ')}; glibc >= #{NativeGem::GLIBC})"
multitask native: arches.map { |arch| "native:#{arch}" }

namespace :native do
  arches.each do |arch|
    abis = NativeGem.abis(arch)
    desc "Build the #{NativeGem.platform(arch)[:gem]} gem into pkg/, for Ruby #{abis.join(', ')}"
    task arch do
      scratch = Dir.mktmpdir("choria-nats-#{arch}")
      libraries = abis.to_h do |abi|
        library = File.join(scratch, abi, "choria_nats.so")
        FileUtils.mkdir_p(File.dirname(library))
        FileUtils.cp(NativeGem::Build.library(arch, abi), library)
        elf = NativeGem::Elf.read(library)
        problems = elf.problems(arch)
        raise "#{arch} Ruby #{abi}: #{library} #{problems.join('; ')}" unless problems.empty?

        puts "#{arch} #{NativeGem::Package.library_path(abi)}: #{File.size(library)} bytes, " \
             "highest GLIBC_#{elf.glibc}, needs #{elf.needed.join(' ')}"
        [abi, library]
      end
      puts "Built #{NativeGem::Package.build(arch, libraries).delete_prefix("#{NativeGem::ROOT}/")}"
    ensure
      FileUtils.rm_rf(scratch) if scratch
    end
  end
end
