# frozen_string_literal: true

require "open3"

module ChoriaNats
  module TestSupport
    # The bare async-nats client in bench/nats-bare: the benchmark's baseline
    # and the specs' load generator. Built in release when its binary is older
    # than its sources.
    module NatsBare
      # The crate.
      CRATE_DIR = File.expand_path("../../bench/nats-bare", __dir__)
      # Cargo's output for it, under the (ignored) root target directory.
      TARGET_DIR = File.expand_path("../../target/nats-bare", __dir__)
      # Seconds a release build may take.
      BUILD_TIMEOUT = 900

      # The path of an up-to-date binary; builds it first when needed.
      def self.binary
        binary = File.join(TARGET_DIR, "release", "nats-bare")
        return binary if fresh?(binary)

        output, status = Open3.capture2e("timeout", BUILD_TIMEOUT.to_s, "cargo", "build", "--release", "--locked",
                                         "--manifest-path", File.join(CRATE_DIR, "Cargo.toml"),
                                         "--target-dir", TARGET_DIR)
        raise "building nats-bare failed:\n#{output}" unless status.success?

        binary
      end

      def self.fresh?(binary)
        sources = Dir[File.join(CRATE_DIR, "src", "**", "*.rs")] +
                  %w[Cargo.toml Cargo.lock].map { |file| File.join(CRATE_DIR, file) }
        File.exist?(binary) && sources.all? { |file| File.mtime(file) <= File.mtime(binary) }
      end
      private_class_method :fresh?
    end
  end
end
