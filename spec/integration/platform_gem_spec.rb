# frozen_string_literal: true

require "spec_helper"
require "fileutils"
require "open3"
require "rubygems/package"
require_relative "../../rakelib/native_gem/elf"
require_relative "../../rakelib/native_gem/package"

RSpec.describe "The platform gems" do
  before(:all) do
    @gems = ChoriaNats::TestSupport::PlatformGems.by_arch
    @dir = Dir.mktmpdir("choria-nats-platform-gems")
  end

  after(:all) { FileUtils.rm_rf(@dir) }

  # The gem of `arch` among those under test, and its files unpacked into a scratch directory.
  def platform_gem(arch)
    @gems.fetch(arch) { raise "no #{arch} gem among #{@gems.values.join(' ')}" }
  end

  def unpacked(arch)
    dir = File.join(@dir, "unpacked-#{arch}")
    Gem::Package.new(platform_gem(arch)).extract_files(dir) unless File.directory?(dir)
    dir
  end

  NativeGem.arches.each do |arch|
    abis = NativeGem.abis(arch)

    describe "for #{arch}" do
      it "is the #{NativeGem.platform(arch)[:gem]} gem with a library for Ruby #{abis.join(', ')}, " \
         "the licenses, and nothing to build" do
        package = Gem::Package.new(platform_gem(arch))
        expect(package.spec.platform.to_s).to eq(NativeGem.platform(arch)[:gem])
        expect(package.spec.extensions).to be_empty
        expect(package.contents.grep(/\.so\z/)).to match_array(abis.map { |abi| NativeGem::Package.library_path(abi) })
        expect(package.contents).to include("lib/choria_nats.rb", "lib/mcollective/connector/nats.rb",
                                            "exe/choria-nats", "LICENSE", "THIRD-PARTY-LICENSES")
        expect(package.contents.grep(%r{\Aext/|Cargo|\Atarget/|Makefile})).to be_empty
      end

      it "asks for a Ruby from #{abis.first} to #{abis.last}" do
        requirement = Gem::Package.new(platform_gem(arch)).spec.required_ruby_version
        abis.each do |abi|
          expect(requirement).to be_satisfied_by(Gem::Version.new("#{abi}.0")), abi
          expect(requirement).to be_satisfied_by(Gem::Version.new("#{abi}.99")), abi
        end
        lowest = Gem::Version.new(abis.first).segments
        highest = Gem::Version.new(abis.last).segments
        expect(requirement).not_to be_satisfied_by(Gem::Version.new("#{lowest[0]}.#{lowest[1] - 1}.99"))
        expect(requirement).not_to be_satisfied_by(Gem::Version.new("#{highest[0]}.#{highest[1] + 1}.0"))
        expect(requirement).not_to be_satisfied_by(Gem::Version.new("#{highest[0] + 1}.0.0"))
      end

      abis.each do |abi|
        it "Ruby #{abi}'s library is for #{arch}, links only glibc, needs no glibc newer than " \
           "#{NativeGem::GLIBC}, and is stripped" do
          elf = NativeGem::Elf.read(File.join(unpacked(arch), NativeGem::Package.library_path(abi)))
          expect(elf.machine).to eq(NativeGem.platform(arch)[:machine])
          expect(elf.needed).to include("libc.so.6")
          expect(elf.needed - NativeGem.allowed_libraries(arch)).to be_empty
          expect(elf.glibc).to be <= Gem::Version.new(NativeGem::GLIBC)
          expect(elf).to be_stripped
        end
      end
    end
  end

  # This Ruby runs x86_64 libraries only, so the installed-gem examples take that gem.
  describe "installed into this Ruby" do
    abi = ChoriaNats::Native.abi
    library_path = NativeGem::Package.library_path(abi)
    carried = NativeGem.abis("x86_64")

    before(:all) do
      skip "this Ruby (#{abi}, #{RbConfig::CONFIG['host_cpu']}) is not one the x86_64 gem carries" unless
        RbConfig::CONFIG["host_cpu"] == "x86_64" && carried.include?(abi)

      @path = ChoriaNats::TestSupport::InstalledGem.ruby_only_path(File.join(@dir, "bin"))
      @installed = ChoriaNats::TestSupport::InstalledGem.new(@dir, path: @path, env: { "HOME" => @dir })
      @install_output, @install_status = @installed.install(platform_gem("x86_64"), timeout: 120)
      @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "pki"))
      @server = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "nats")).start
    end

    after(:all) { @server&.stop }

    let(:installed_library) { File.join(@installed.gem_dir, library_path) }

    it "installs with only ruby and gem on PATH: no cargo, rustc or C toolchain", bounded: 150 do
      %w[cargo rustc cc gcc make ld].each do |tool|
        expect(ChoriaNats::TestSupport::InstalledGem.on_path?(@path, tool)).to be(false), tool
      end
      expect(@install_status).to be_success, @install_output
      expect(@install_output).not_to match(/Building native extensions/)
    end

    it "finds no library missing or beyond glibc when the dynamic linker resolves it", bounded: 60 do
      output, status = Open3.capture2e("ldd", installed_library)
      expect(status).to be_success, output
      expect(output).not_to match(/not found|libssl|libcrypto|libstdc\+\+|libruby|libgcc_s/)
    end

    it "loads from the installed gem and does a verified-TLS publish and receive", bounded: 60 do
      output, status = @installed.round_trip(@pki, @server)
      expect(status).to be_success, output
      expect(output).to include("library: #{installed_library}\n")
      expect(output).to include(ChoriaNats::TestSupport::InstalledGem::RECEIVED)
    end

    it "tells Ruby 3.2, inside the gem's range but not carried, which Rubies it carries and how to build " \
       "from source", bounded: 60 do
      output, status = @installed.ruby(<<~RUBY)
        gem "choria-nats"
        require "choria_nats/version"
        require "choria_nats/errors"
        require "choria_nats/native"
        lib = File.join(Gem.loaded_specs["choria-nats"].full_gem_path, "lib", "choria_nats")
        ChoriaNats::Native.load!(ruby_version: "3.2.9", dir: lib)
      RUBY
      expect(status.exitstatus).to eq(1), output
      expect(output).to include("ChoriaNats::LoadError")
      expect(output).to include("choria-nats has precompiled libraries for Ruby #{carried.join(', ')}, and none " \
                                "built from source for Ruby 3.2")
      expect(output).to include("gem uninstall --all --executables choria-nats, then " \
                                "gem install choria-nats --platform ruby")
    end

    it "gives the same message, not a crash, on a real require by a Ruby it carries no library for", bounded: 60 do
      # As if this Ruby's library were one for Ruby 0.1.
      own = File.join(@installed.gem_dir, "lib", "choria_nats", abi)
      File.rename(own, "#{File.dirname(own)}/0.1")
      begin
        output, status = @installed.ruby('require "choria_nats"')
      ensure
        File.rename("#{File.dirname(own)}/0.1", own)
      end
      expect(status.exitstatus).to eq(1), output
      expect(output).to include("choria-nats has precompiled libraries for Ruby 0.1, " \
                                "#{(carried - [abi]).join(', ')}, and none built from source for Ruby #{abi}")
      expect(output).not_to match(/\[BUG\]|Segmentation/)
    end
  end
end
