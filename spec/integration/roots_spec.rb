# frozen_string_literal: true

require "spec_helper"
require_relative "../../rakelib/roots"

# Every library of both platform gems, in its own Ruby on its own CPU: each row of Roots::MATRIX
# installs its CPU's gem into a GEM_HOME with that Ruby's own gem command inside a Debian root
# that has no compiler (aarch64 under qemu-user), then loads the library from the installed gem.
# The root sees the host's /tmp, where the scratch files live, and its loopback, where the broker
# listens.
RSpec.describe "Each library of the platform gems, in its own Ruby on its own CPU (Debian roots)" do
  # Executables a build would need; none may be on the root's PATH.
  compilers = %w[cc gcc clang make ld cargo rustc]

  include_context "with a TLS broker"

  before(:all) { @gems = ChoriaNats::TestSupport::PlatformGems.by_arch }

  it "ships a library only for the rows tested below: one per Ruby of its CPU, and nothing else" do
    carried = @gems.transform_values { |gem| ChoriaNats::TestSupport::PlatformGems.abis(gem) }
    tested = Roots::MATRIX.group_by { |row| row[:arch] }.transform_values { |rows| rows.map { |r| r[:abi] }.sort }
    expect(carried).to eq(tested), @gems.values.join(" ")
  end

  Roots::MATRIX.each do |row|
    describe Roots.label(row) do
      before(:all) do
        @ruby = Roots.ruby(row[:arch], row[:abi])
        @home = Dir.mktmpdir("#{row[:arch]}-#{row[:abi]}-", @dir)
        path = ChoriaNats::TestSupport::InstalledGem.other_ruby_path(File.join(@home, "bin"), @ruby)
        @installed = ChoriaNats::TestSupport::InstalledGem.new(@home, path: path, env: { "HOME" => @home })
        # The root sees the host's /tmp, not pkg/: the gem is installed from a copy beside the scratch files.
        gem = File.join(@home, File.basename(@gems.fetch(row[:arch])))
        FileUtils.cp(@gems.fetch(row[:arch]), gem)
        @install_output, @install_status = @installed.install(gem, timeout: 300)
      end

      let(:library) { File.join(@installed.gem_dir, "lib", "choria_nats", row[:abi], "choria_nats.so") }

      it "installs the #{row[:arch]}-linux gem with its own gem command and no compiler on the PATH",
         bounded: 360 do
        output, status = @installed.ruby(<<~'RUBY', *compilers)
          found = ARGV.select { |tool| ENV["PATH"].split(":").any? { |dir| File.executable?(File.join(dir, tool)) } }
          puts "ruby #{RUBY_VERSION} #{RUBY_PLATFORM}; on PATH: #{found.join(' ')}"
        RUBY
        expect(status).to be_success, output
        expect(output).to start_with("ruby #{row[:abi]}.").and include("#{row[:arch]}-linux")
        expect(output).to end_with("on PATH: \n")
        expect(@install_status).to be_success, @install_output
        expect(@install_output).not_to match(/Building native extensions/)
      end

      it "loads its library from the installed gem and subscribes, publishes and receives over verified TLS",
         bounded: 180 do
        output, status = @installed.round_trip(@pki, @server)
        expect(status).to be_success, output
        expect(output).to include("library: #{library}\n")
        expect(output).to include(ChoriaNats::TestSupport::InstalledGem::RECEIVED)
      end

      next unless row[:mcollective]

      it "runs Debian's mcollectived with connector = nats from the installed gem and answers mco ping",
         bounded: 300 do
        identity = "#{row[:arch]}-#{row[:abi]}.example.net"
        @pki.cert_for(identity)
        @pki.cert_for("rspec.mcollective")
        facts = File.join(@home, "facts.yaml")
        File.write(facts, "role: test\n")
        settings = { "plugin.choria.middleware_hosts" => @server.address, "plugin.choria.ssldir" => @pki.dir,
                     "plugin.choria.use_srv_records" => "false", "plugin.yaml" => facts, "loglevel" => "info",
                     "connection_timeout" => "20" }
        libdir = File.join(@installed.gem_dir, "lib")
        config = ChoriaNats::TestSupport::MCollectiveConfig.text(identity: identity, libdir: libdir,
                                                                 settings: settings)
        env = { "MCOLLECTIVE_CERTNAME" => identity, "GEM_HOME" => @installed.gem_home,
                "GEM_PATH" => @installed.gem_home, "RUBYLIB" => nil, "RUBYOPT" => nil }
        node = ChoriaNats::TestSupport::Mcollectived.new(dir: File.join(@home, "daemon"), name: identity,
                                                         config: config, env: env,
                                                         command: [@ruby, "-S", "mcollectived"])
        begin
          node.start
          node.wait_for_log(/Connected to NATS #{Regexp.escape(@server.address)} \(config\)/, 120)
          expect(node.log).to include("choria-nats #{ChoriaNats::VERSION} NATS connector")
          client = ChoriaNats::TestSupport::MCollectiveConfig.write(
            File.join(@home, "client.cfg"), identity: "rspec-client.example.net", libdir: libdir, settings: settings
          )
          output, status = ChoriaNats::TestSupport::Mcollectived.mco(
            client, "ping", env: env.merge("MCOLLECTIVE_CERTNAME" => "rspec.mcollective"), timeout: 120,
                            command: [@ruby, "-S", "mco"]
          )
          expect(status).to be_success, output
          expect(output).to match(/^#{Regexp.escape(identity)}\s+time=/).and match(/1 replies/)
        ensure
          node.stop
        end
      end
    end
  end
end
