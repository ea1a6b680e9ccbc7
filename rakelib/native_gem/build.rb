# frozen_string_literal: true

require "open3"
require_relative "platforms"

module NativeGem
  # Builds the release library of one row of Roots::MATRIX with cargo-zigbuild
  # (zig links it against glibc GLIBC), against the headers of that row's root.
  module Build
    # Kept apart from the shared target/ that `rake compile` and cargo test use. One directory per
    # CPU, so that the CPUs build at once (cargo locks a target directory); within it, one for
    # every Ruby, so only the crates that read the Ruby (rb-sys, magnus, ours) rebuild when the
    # Ruby changes.
    TARGET_DIR = File.join(ROOT, "target", "native")
    # Prints the Ruby minor and the header directories, which RbConfig reports as seen from inside its root.
    HEADERS = 'puts RUBY_VERSION[/\A\d+\.\d+/], RbConfig::CONFIG.values_at("rubyhdrdir", "rubyarchhdrdir")'

    module_function

    # Builds the library for (arch, abi), making its root first when needed; returns its path.
    # Commands run in ROOT: another thread may be packaging a gem in a scratch directory.
    def library(arch, abi)
      target = NativeGem.platform(arch)[:rust]
      command = [zigbuild, "zigbuild", "--release", "--locked", "--lib", "-p", "choria_nats",
                 "--target", "#{target}.#{GLIBC}", "--target-dir", File.join(TARGET_DIR, arch),
                 "--manifest-path", File.join(ROOT, "Cargo.toml")]
      env = environment(arch, abi)
      warn "#{env.map { |k, v| "#{k}=#{v}" }.join(' ')} #{command.join(' ')}"
      system(env, *command, chdir: ROOT, exception: true)
      File.join(TARGET_DIR, arch, target, "release", "libchoria_nats.so")
    end

    # rb-sys runs $RUBY (the root's Ruby) for RbConfig and takes its header directories from
    # RBCONFIG_*, here the root's; bindgen parses them with the root as sysroot, for its libc headers.
    def environment(arch, abi)
      ruby = Roots.ruby(arch, abi)
      root = Roots.dir(arch, abi)
      out, status = Open3.capture2(ruby, "--disable-gems", "-rrbconfig", "-e", HEADERS, chdir: ROOT)
      version, header_dir, arch_header_dir = out.split("\n")
      raise "#{ruby} did not run" unless status.success?
      raise "#{ruby} is Ruby #{version}, not #{abi}" unless version == abi

      { "RUBY" => ruby,
        "RBCONFIG_rubyhdrdir" => File.join(root, header_dir),
        "RBCONFIG_rubyarchhdrdir" => File.join(root, arch_header_dir),
        "BINDGEN_EXTRA_CLANG_ARGS_#{NativeGem.platform(arch)[:rust].tr('-', '_')}" => "--sysroot=#{root}" }
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
  end
end
