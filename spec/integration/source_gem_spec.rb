# frozen_string_literal: true

require "spec_helper"
require "open3"
require "rbconfig"
require "rubygems/package"

RSpec.describe "The source gem" do
  root = File.expand_path("../..", __dir__)

  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-gem")
    @gem_home = File.join(@dir, "gems")
    @gem = File.join(@dir, "choria-nats-#{ChoriaNats::VERSION}.gem")
    output, status = Open3.capture2e("gem", "build", "choria-nats.gemspec", "--output", @gem, chdir: root)
    raise "gem build failed:\n#{output}" unless status.success?

    # Reuse the checkout's cargo cache; the gem's own default is a target dir it deletes after install.
    env = { "CARGO_TARGET_DIR" => File.join(root, "target", "source-gem"), "GEM_HOME" => @gem_home }
    @install_output, @install_status = Open3.capture2e(env, "timeout", "900", "gem", "install", "--local",
                                                       "--no-document", "--install-dir", @gem_home, @gem)
  end

  after(:all) { FileUtils.rm_rf(@dir) }

  def installed_ruby(code)
    env = { "GEM_HOME" => @gem_home, "GEM_PATH" => @gem_home, "RUBYLIB" => nil, "RUBYOPT" => nil }
    Open3.capture2e(env, RbConfig.ruby, "-e", code, chdir: @dir)
  end

  it "carries the crate, the lock file and the plugin files, and no build output" do
    files = Gem::Package.new(@gem).contents
    expect(files).to include("Cargo.toml", "Cargo.lock", "ext/choria_nats/extconf.rb", "ext/choria_nats/src/lib.rs",
                             "lib/mcollective/connector/nats.rb", "lib/mcollective/connector/nats.ddl",
                             "exe/choria-nats")
    expect(files.grep(%r{\.so\z|\Atarget/})).to be_empty
  end

  it "compiles with cargo on gem install and loads from the installed gem", bounded: 960 do
    expect(@install_status).to be_success, @install_output
    output, status = installed_ruby('require "choria_nats"; puts $LOADED_FEATURES.grep(/choria_nats\.so/)')
    expect(status).to be_success, output
    expect(output.strip).to start_with(@gem_home)
  end

  it "installs the choria-nats command", bounded: 60 do
    output, status = Open3.capture2e({ "GEM_HOME" => @gem_home, "GEM_PATH" => @gem_home },
                                     File.join(@gem_home, "bin", "choria-nats"), "--version")
    expect(status).to be_success, output
    expect(output).to include("choria-nats #{ChoriaNats::VERSION}")
  end
end
