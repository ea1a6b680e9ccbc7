# frozen_string_literal: true

module ChoriaNats
  # Finds and loads the native library: the precompiled one for this Ruby when
  # the platform gem carries it, otherwise the one built from source.
  module Native
    # The library `rake compile` or `gem install` of the source gem builds.
    SOURCE_BUILD = "choria_nats/choria_nats"

    # The `major.minor` of a Ruby version, as precompiled directories are named.
    # (`RUBY_VERSION.to_f` would turn 3.10 into 3.1.)
    def self.abi(version = RUBY_VERSION)
      version[/\A\d+\.\d+/]
    end

    # The Ruby versions this copy of the gem carries precompiled libraries for.
    def self.carried(dir = __dir__)
      Dir[File.join(dir, "*", "choria_nats.so")].map { |path| File.basename(File.dirname(path)) }.sort
    end

    # Loads the library; raises ChoriaNats::LoadError saying what to do.
    def self.load!(ruby_version: RUBY_VERSION, dir: __dir__)
      precompiled = File.join(dir, abi(ruby_version), "choria_nats.so")
      return require(precompiled) if File.exist?(precompiled)

      require SOURCE_BUILD
    rescue ::LoadError => e
      raise ChoriaNats::LoadError, message(ruby_version, carried(dir), e)
    end

    # The explanation for a Ruby the gem has no library for. RubyGems activates a platform gem
    # over the source gem of the same version, so the platform gem must go first.
    def self.message(ruby_version, carried, error)
      have = carried.empty? ? "no precompiled library" : "precompiled libraries for Ruby #{carried.join(', ')}"
      "choria-nats has #{have}, and none built from source for Ruby #{abi(ruby_version)} (#{error.message}): " \
        "install the source gem with Rust >= 1.89 and cargo available (gem uninstall --all --executables " \
        "choria-nats, then gem install choria-nats --platform ruby), or use a Ruby the gem carries"
    end
  end
end
