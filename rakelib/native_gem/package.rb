# frozen_string_literal: true

require "fileutils"
require "rubygems/package"
require "tmpdir"
require_relative "platforms"

module NativeGem
  # The platform gem of one CPU: the source gem's files with a library per
  # Ruby minor in place of what builds one.
  module Package
    # Source gem files that only a build needs.
    BUILD_INPUTS = %r{\A(?:ext/|Cargo\.(?:toml|lock)\z)}.freeze
    # The gemspec and Gem::Package.build read files from the working directory, which is the
    # process's: one gem is packaged at a time.
    PACKAGING = Mutex.new

    module_function

    # The path of the library for Ruby `abi` inside the gem.
    def library_path(abi)
      "lib/choria_nats/#{abi}/choria_nats.so"
    end

    # The source gemspec made `arch`'s platform gem, carrying libraries for the Ruby minors `abis`.
    # RubyGems takes one range: the carried minors and any between them (the loader explains
    # those to a Ruby it has no library for).
    def gemspec(arch, abis)
      spec = Dir.chdir(ROOT) { Gem::Specification.load("choria-nats.gemspec") }.dup
      spec.platform = Gem::Platform.new(NativeGem.platform(arch)[:gem])
      spec.extensions = []
      spec.files = spec.files.grep_v(BUILD_INPUTS) + abis.map { |abi| library_path(abi) }
      versions = abis.map { |abi| Gem::Version.new(abi) }.sort
      last = versions.last.segments
      spec.required_ruby_version = [">= #{versions.first}", "< #{last[0]}.#{last[1] + 1}.dev"]
      spec
    end

    # Copies the gem's files and the libraries (abi => path) into a scratch directory, builds the
    # gem there and moves it to NativeGem.gem_file (a rename: a reader never sees half a gem).
    def build(arch, libraries)
      PACKAGING.synchronize { package(arch, libraries) }
    end

    def package(arch, libraries)
      spec = gemspec(arch, libraries.keys)
      sources = libraries.transform_keys { |abi| library_path(abi) }
      Dir.mktmpdir("choria-nats-native") do |stage|
        spec.files.each do |file|
          FileUtils.mkdir_p(File.dirname(File.join(stage, file)))
          FileUtils.cp(sources.fetch(file) { File.join(ROOT, file) }, File.join(stage, file), preserve: true)
        end
        built = Dir.chdir(stage) { Gem::Package.build(spec) }
        destination = NativeGem.gem_file(arch)
        FileUtils.mkdir_p(File.dirname(destination))
        FileUtils.cp(File.join(stage, built), "#{destination}.tmp")
        File.rename("#{destination}.tmp", destination)
        destination
      end
    end
  end
end
