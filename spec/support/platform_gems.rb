# frozen_string_literal: true

require "open3"
require "rubygems/package"

module ChoriaNats
  module TestSupport
    # The platform gems under test: bin/test builds them once with `rake native` and names them in
    # $CHORIA_NATS_PLATFORM_GEMS (paths, separated by spaces); a spec run alone builds them.
    module PlatformGems
      ROOT = File.expand_path("../..", __dir__)
      # A precompiled library's path inside a gem; the Ruby minor it is for.
      LIBRARY = %r{\Alib/choria_nats/(\d+\.\d+)/choria_nats\.so\z}.freeze

      # The gems by CPU ("x86_64" => path).
      def self.by_arch
        paths = ENV.fetch("CHORIA_NATS_PLATFORM_GEMS", nil)&.split || build
        paths.to_h { |path| [Gem::Package.new(path).spec.platform.cpu, path] }
      end

      # The Ruby minors whose libraries a gem carries, from its file list.
      def self.abis(path)
        Gem::Package.new(path).contents.filter_map { |file| file[LIBRARY, 1] }.sort
      end

      def self.build
        output, status = Open3.capture2e("timeout", "3000", "rake", "native", chdir: ROOT)
        raise "rake native failed:\n#{output}" unless status.success?

        Dir[File.join(ROOT, "pkg", "choria-nats-#{ChoriaNats::VERSION}-*-linux.gem")]
      end
    end
  end
end
