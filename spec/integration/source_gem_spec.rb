# frozen_string_literal: true

require "spec_helper"
require "open3"
require "rbconfig"
require "rubygems/package"

RSpec.describe "The source gem" do
  root = File.expand_path("../..", __dir__)

  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-gem")
    @gem = File.join(@dir, "choria-nats-#{ChoriaNats::VERSION}.gem")
    output, status = Open3.capture2e("gem", "build", "choria-nats.gemspec", "--output", @gem, chdir: root)
    raise "gem build failed:\n#{output}" unless status.success?

    # Reuse the checkout's cargo cache; the gem's own default is a target dir it deletes after install.
    @installed = ChoriaNats::TestSupport::InstalledGem.new(
      @dir, env: { "CARGO_TARGET_DIR" => File.join(root, "target", "source-gem") }
    )
    @gem_home = @installed.gem_home
    @install_output, @install_status = @installed.install(@gem, timeout: 900)
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "pki"))
    @server = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "nats")).start
  end

  after(:all) do
    @server&.stop
    FileUtils.rm_rf(@dir)
  end

  it "carries the crate, the lock file, the plugin files and the licenses, and no build output" do
    files = Gem::Package.new(@gem).contents
    expect(files).to include("Cargo.toml", "Cargo.lock", "ext/choria_nats/extconf.rb", "ext/choria_nats/src/lib.rs",
                             "lib/mcollective/connector/nats.rb", "lib/mcollective/connector/nats.ddl",
                             "lib/choria_nats/data/mcollective_choria_files.tsv", "exe/choria-nats", "LICENSE",
                             "THIRD-PARTY-LICENSES")
    expect(files.grep(%r{\.so\z|\Atarget/})).to be_empty
  end

  it "compiles with cargo on gem install and loads from the installed gem", bounded: 960 do
    expect(@install_status).to be_success, @install_output
    output, status = @installed.ruby('require "choria_nats"; puts $LOADED_FEATURES.grep(/choria_nats\.so/)')
    expect(status).to be_success, output
    expect(output.strip).to start_with(@gem_home)
  end

  it "does a verified-TLS publish and receive from the installed gem", bounded: 60 do
    output, status = @installed.round_trip(@pki, @server)
    expect(status).to be_success, output
    expect(output).to include("library: #{@gem_home}/")
    expect(output).to include(ChoriaNats::TestSupport::InstalledGem::RECEIVED)
  end

  it "installs the choria-nats command", bounded: 60 do
    output, status = @installed.run(File.join(@gem_home, "bin", "choria-nats"), "--version", timeout: 60)
    expect(status).to be_success, output
    expect(output).to include("choria-nats #{ChoriaNats::VERSION}")
  end
end
