# frozen_string_literal: true

require_relative "lib/choria_nats/version"

Gem::Specification.new do |spec|
  spec.name = "choria-nats"
  spec.version = ChoriaNats::VERSION
  spec.summary = "A verified-TLS NATS connector for MCollective and Choria, with a Rust core"
  spec.description = <<~DESC
    An MCollective connector (connector = nats) that only speaks verified TLS,
    finds brokers by configuration or DNS SRV, uses Puppet-style certificates
    and needs no EventMachine: its NATS client is Rust (async-nats, rustls).
  DESC
  spec.authors = ["choria-nats developers"]
  spec.license = "Apache-2.0"
  spec.required_ruby_version = ">= 2.7"
  spec.files = Dir["lib/**/*.rb", "lib/choria_nats/data/*.tsv", "lib/mcollective/**/*.{rb,ddl}", "exe/*",
                   "ext/choria_nats/extconf.rb", "ext/choria_nats/Cargo.toml", "ext/choria_nats/src/**/*.rs",
                   "Cargo.toml", "Cargo.lock", "README.md", "CHANGELOG.md", "CONTRIBUTING.md", "docs/*.md", "LICENSE",
                   "THIRD-PARTY-LICENSES"]
  spec.bindir = "exe"
  spec.executables = ["choria-nats"]
  spec.require_paths = ["lib"]
  spec.extensions = ["ext/choria_nats/extconf.rb"]
  spec.metadata["rubygems_mfa_required"] = "true"
end
