# frozen_string_literal: true

require "spec_helper"
require "open3"
require "rubygems/package"

RSpec.describe "The x86_64-linux platform gem" do
  root = File.expand_path("../..", __dir__)
  abi = ChoriaNats::Native.abi
  library_path = "lib/choria_nats/#{abi}/choria_nats.so"

  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-platform-gem")
    # bin/test builds it once with `rake native` and says where; alone, this spec builds it.
    @gem = ENV.fetch("CHORIA_NATS_PLATFORM_GEM") do
      output, status = Open3.capture2e("timeout", "1500", "rake", "native", chdir: root)
      raise "rake native failed:\n#{output}" unless status.success?

      File.join(root, "pkg", "choria-nats-#{ChoriaNats::VERSION}-x86_64-linux.gem")
    end
    @path = ChoriaNats::TestSupport::InstalledGem.ruby_only_path(File.join(@dir, "bin"))
    @installed = ChoriaNats::TestSupport::InstalledGem.new(@dir, path: @path, env: { "HOME" => @dir })
    @install_output, @install_status = @installed.install(@gem, timeout: 120)
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "pki"))
    @server = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "nats")).start
  end

  after(:all) do
    @server&.stop
    FileUtils.rm_rf(@dir)
  end

  let(:installed_library) { File.join(@installed.gem_dir, library_path) }

  def elf(*command)
    output, status = Open3.capture2e(*command, installed_library)
    expect(status).to be_success, output
    output
  end

  it "carries this Ruby's precompiled library and the licenses, and nothing to build" do
    package = Gem::Package.new(@gem)
    expect(package.spec.platform.to_s).to eq("x86_64-linux")
    expect(package.spec.extensions).to be_empty
    expect(package.contents).to include(library_path, "lib/choria_nats.rb", "lib/mcollective/connector/nats.rb",
                                        "exe/choria-nats", "LICENSE", "THIRD-PARTY-LICENSES")
    expect(package.contents.grep(%r{\Aext/|Cargo|\Atarget/|Makefile})).to be_empty
    expect(package.contents.grep(/\.so\z/)).to all(match(%r{\Alib/choria_nats/\d+\.\d+/choria_nats\.so\z}))
    expect(package.spec.required_ruby_version).to be_satisfied_by(Gem::Version.new(RUBY_VERSION))
    expect(package.spec.required_ruby_version).not_to be_satisfied_by(Gem::Version.new("9.9.0"))
  end

  it "installs with only ruby and gem on PATH: no cargo, rustc or C toolchain", bounded: 150 do
    %w[cargo rustc cc gcc make ld].each do |tool|
      expect(ChoriaNats::TestSupport::InstalledGem.on_path?(@path, tool)).to be(false), tool
    end
    expect(@install_status).to be_success, @install_output
    expect(@install_output).not_to match(/Building native extensions/)
  end

  it "links only glibc, needs no glibc newer than 2.17, and is stripped", bounded: 60 do
    needed = elf("readelf", "-d").scan(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/).flatten
    expect(needed).to include("libc.so.6")
    expect(needed - %w[libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 ld-linux-x86-64.so.2]).to be_empty
    expect(elf("ldd")).not_to match(/not found|libssl|libcrypto|libstdc\+\+|libruby|libgcc_s/)
    glibc = elf("objdump", "-T").scan(/GLIBC_([\d.]+)/).flatten.map { |v| Gem::Version.new(v) }.max
    expect(glibc).to be <= Gem::Version.new("2.17")
    expect(elf("readelf", "-S", "-W")).not_to include(".symtab")
  end

  it "loads from the installed gem and does a verified-TLS publish and receive", bounded: 60 do
    output, status = @installed.round_trip(@pki, @server)
    expect(status).to be_success, output
    expect(output).to include("library: #{installed_library}\n")
    expect(output).to include(ChoriaNats::TestSupport::InstalledGem::RECEIVED)
  end

  it "tells a Ruby it carries no library for which Rubies it carries and how to build from source", bounded: 60 do
    output, status = @installed.ruby(<<~RUBY)
      gem "choria-nats"
      require "choria_nats/version"
      require "choria_nats/errors"
      require "choria_nats/native"
      lib = File.join(Gem.loaded_specs["choria-nats"].full_gem_path, "lib", "choria_nats")
      ChoriaNats::Native.load!(ruby_version: "9.9.0", dir: lib)
    RUBY
    expect(status.exitstatus).to eq(1), output
    expect(output).to include("ChoriaNats::LoadError")
    expect(output).to include("choria-nats has precompiled libraries for Ruby #{abi}, and none built from source " \
                              "for Ruby 9.9")
    expect(output).to include("gem install choria-nats --platform ruby")

    # The real `require` on a Ruby the gem does not carry (as if this one were 0.1).
    carried = File.join(@installed.gem_dir, "lib", "choria_nats", abi)
    File.rename(carried, "#{File.dirname(carried)}/0.1")
    begin
      output, status = @installed.ruby('require "choria_nats"')
    ensure
      File.rename("#{File.dirname(carried)}/0.1", carried)
    end
    expect(status.exitstatus).to eq(1), output
    expect(output).to include("choria-nats has precompiled libraries for Ruby 0.1, and none built from source " \
                              "for Ruby #{abi}")
    expect(output).not_to match(/\[BUG\]|Segmentation/)
  end
end
