# frozen_string_literal: true

# `rake native`: the precompiled x86_64-linux platform gem, which installs
# without a compiler. The library is linked against glibc 2.17 with
# cargo-zigbuild (zig as the linker, from PyPI's `ziglang`), so it loads on any
# x86_64 Linux with glibc >= 2.17; `bin/setup` installs both tools.
require "fileutils"
require "open3"
require "rbconfig"
require "rubygems/package"
require "tmpdir"

# Builds and checks the platform gem (see the `native` task below).
module NativeGem
  ROOT = File.expand_path("..", __dir__)
  PLATFORM = "x86_64-linux"
  # The installed Rust target, with the glibc version to link against as cargo-zigbuild's suffix.
  ZIG_TARGET = "x86_64-unknown-linux-gnu.2.17"
  RUST_TARGET = ZIG_TARGET.sub(/\.[\d.]+\z/, "")
  MAX_GLIBC = Gem::Version.new(ZIG_TARGET[/\d+\.\d+\z/])
  # Kept apart from the shared target/ that `rake compile` and cargo test use.
  TARGET_DIR = File.join(ROOT, "target", "native")
  # The libraries the extension may need: glibc's own, present on every glibc system.
  GLIBC_LIBRARIES = %w[libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 ld-linux-x86-64.so.2].freeze
  # Source gem files that only a build needs.
  BUILD_INPUTS = %r{\A(?:ext/|Cargo\.(?:toml|lock)\z)}.freeze

  module_function

  # The Rubies to build for: $CHORIA_NATS_RUBIES (paths, separated by spaces), else this one.
  def rubies
    ENV.fetch("CHORIA_NATS_RUBIES", RbConfig.ruby).split
  end

  # "3.1" for a Ruby 3.1.x executable: the directory the loader looks in.
  def abi(ruby)
    out, status = Open3.capture2(ruby, "-e", 'print RUBY_VERSION[/\A\d+\.\d+/]')
    raise "#{ruby} did not run" unless status.success?

    out
  end

  # cargo-zigbuild from PATH, or from the scripts directory of the Python that pip installed it with.
  def zigbuild
    found = ENV["CARGO_ZIGBUILD"] || which("cargo-zigbuild")
    return found if found

    scripts, status = Open3.capture2("python3", "-c", 'import sysconfig; print(sysconfig.get_path("scripts"))')
    path = File.join(scripts.strip, "cargo-zigbuild")
    return path if status.success? && File.executable?(path)

    abort "rake native: cargo-zigbuild not found: run bin/setup (pip install ziglang cargo-zigbuild)"
  end

  def which(name)
    ENV.fetch("PATH", "").split(File::PATH_SEPARATOR).map { |dir| File.join(dir, name) }
       .find { |path| File.file?(path) && File.executable?(path) }
  end

  # Builds the release library for `ruby` (rb-sys reads that Ruby's config) and returns its path.
  def build(ruby)
    command = [zigbuild, "zigbuild", "--release", "--locked", "--lib", "-p", "choria_nats", "--target", ZIG_TARGET,
               "--target-dir", TARGET_DIR, "--manifest-path", File.join(ROOT, "Cargo.toml")]
    warn "RUBY=#{ruby} #{command.join(' ')}"
    system({ "RUBY" => ruby }, *command, exception: true)
    File.join(TARGET_DIR, RUST_TARGET, "release", "libchoria_nats.so")
  end

  # What the library links and which glibc it needs; raises unless it is portable and stripped.
  def check(library)
    needed = capture("readelf", "-d", library).scan(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/).flatten
    glibc = capture("objdump", "-T", library).scan(/GLIBC_([\d.]+)/).flatten.map { |v| Gem::Version.new(v) }.max
    stripped = !capture("readelf", "-S", "-W", library).include?(".symtab")
    problems = []
    problems << "links #{(needed - GLIBC_LIBRARIES).join(', ')}" unless (needed - GLIBC_LIBRARIES).empty?
    problems << "needs GLIBC_#{glibc}, newer than #{MAX_GLIBC}" if glibc && glibc > MAX_GLIBC
    problems << "is not stripped" unless stripped
    raise "#{library} #{problems.join('; ')}" unless problems.empty?

    { needed: needed, glibc: glibc, size: File.size(library) }
  end

  def capture(*command)
    out, status = Open3.capture2(*command)
    raise "#{command.join(' ')} failed" unless status.success?

    out
  end

  # The source gemspec with the built library in place of the build inputs.
  def gemspec(abis)
    spec = Dir.chdir(ROOT) { Gem::Specification.load("choria-nats.gemspec") }.dup
    spec.platform = Gem::Platform.new(PLATFORM)
    spec.extensions = []
    spec.files = spec.files.grep_v(BUILD_INPUTS) + abis.map { |v| "lib/choria_nats/#{v}/choria_nats.so" }
    versions = abis.map { |v| Gem::Version.new(v) }.sort
    last = versions.last.segments
    spec.required_ruby_version = [">= #{versions.first}", "< #{last[0]}.#{last[1] + 1}.dev"]
    spec
  end

  # Copies the gem's files and the libraries (ABI => path) into a scratch directory, builds the gem
  # there and moves it into pkg/ (a rename: a reader never sees half a gem).
  def package(libraries)
    spec = gemspec(libraries.keys)
    Dir.mktmpdir("choria-nats-native") do |stage|
      spec.files.each do |file|
        source = libraries[file[%r{\Alib/choria_nats/([^/]+)/choria_nats\.so\z}, 1]] || File.join(ROOT, file)
        FileUtils.mkdir_p(File.dirname(File.join(stage, file)))
        FileUtils.cp(source, File.join(stage, file), preserve: true)
      end
      built = Dir.chdir(stage) { Gem::Package.build(spec) }
      FileUtils.mkdir_p(File.join(ROOT, "pkg"))
      destination = File.join(ROOT, "pkg", built)
      FileUtils.cp(File.join(stage, built), "#{destination}.tmp")
      File.rename("#{destination}.tmp", destination)
      destination
    end
  end
end

desc "Build the precompiled #{NativeGem::PLATFORM} gem into pkg/ (glibc >= #{NativeGem::MAX_GLIBC}, no compiler needed)"
task :native do
  libraries = NativeGem.rubies.to_h do |ruby|
    abi = NativeGem.abi(ruby)
    library = File.join(Dir.mktmpdir("choria-nats-#{abi}"), "choria_nats.so")
    FileUtils.cp(NativeGem.build(ruby), library)
    facts = NativeGem.check(library)
    puts "lib/choria_nats/#{abi}/choria_nats.so: #{facts[:size]} bytes, highest GLIBC_#{facts[:glibc]}, " \
         "needs #{facts[:needed].join(' ')}"
    [abi, library]
  end
  gem = NativeGem.package(libraries)
  puts "Built #{gem.delete_prefix("#{NativeGem::ROOT}/")}"
ensure
  libraries&.each_value { |library| FileUtils.rm_rf(File.dirname(library)) }
end
