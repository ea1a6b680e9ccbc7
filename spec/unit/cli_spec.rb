# frozen_string_literal: true

require "spec_helper"
require "open3"
require "rbconfig"
require "stringio"
require "choria_nats/cli"

RSpec.describe ChoriaNats::CLI do
  let(:dir) { Dir.mktmpdir("choria-nats-cli") }
  let(:libdir) { File.join(dir, "plugins") }

  after { FileUtils.rm_rf(dir) }

  # Runs the command line; returns [exit status, stdout, stderr].
  def run(*argv)
    out = StringIO.new
    err = StringIO.new
    [described_class.new(out: out, err: err).run(argv), out.string, err.string]
  end

  def write(name, text)
    File.join(dir, name).tap { |path| File.write(path, text) }
  end

  # A usage error: exit status 2, the error line, a blank line and the usage on stderr, nothing on stdout.
  def expect_usage_error(argv, line)
    status, stdout, stderr = run(*argv)
    expect(status).to eq(2)
    expect(stdout).to be_empty
    expect(stderr).to eq("choria-nats: #{line}\n\n#{described_class::USAGE}")
  end

  describe "help and version" do
    it "prints the version with --version" do
      expect(run("--version")).to eq([0, "choria-nats #{ChoriaNats::VERSION}\n", ""])
    end

    it "prints the usage for help, -h and --help, after a command too" do
      [%w[help], %w[-h], %w[--help], %w[plugin install --help], %w[plugin uninstall -h],
       %w[doctor --help]].each do |argv|
        expect(run(*argv)).to eq([0, described_class::USAGE, ""])
      end
    end

    it "names the configs searched for a libdir in the usage" do
      ChoriaNats::PluginInstaller::CONFIG_FILES.each do |file|
        expect(described_class::USAGE).to include("\n                   #{file}\n")
      end
    end
  end

  describe "a bad command line" do
    it "needs a command" do
      expect_usage_error([], "no command given")
    end

    it "refuses an unknown command or option" do
      expect_usage_error(%w[frobnicate], "unknown command 'frobnicate'")
      expect_usage_error(%w[--frobnicate], "invalid option: --frobnicate")
    end

    it "needs install or uninstall after plugin" do
      expect_usage_error(%w[plugin], "plugin needs install or uninstall")
      expect_usage_error(%w[plugin remove], "unknown plugin command 'remove'")
    end

    it "refuses --libdir with --config, a missing value and a stray argument" do
      expect_usage_error(%w[plugin install --libdir /a --config /b.cfg], "give --libdir or --config, not both")
      expect_usage_error(%w[plugin install --libdir], "missing argument: --libdir")
      expect_usage_error(%w[plugin uninstall /a], "unexpected argument '/a'")
    end

    it "refuses what doctor does not take" do
      expect_usage_error(%w[doctor --libdir /a], "invalid option: --libdir")
      expect_usage_error(%w[doctor server.cfg], "unexpected argument 'server.cfg'")
    end
  end

  describe "plugin install and uninstall" do
    it "installs into --libdir, exits 0, and removes the same files on uninstall" do
      status, stdout, stderr = run("plugin", "install", "--libdir", libdir)
      expect([status, stderr]).to eq([0, ""])
      expect(stdout).to include("created    #{libdir}/mcollective/connector/nats.ddl\n")
      expect(File.file?(File.join(libdir, "mcollective", "connector", "nats.rb"))).to be(true)

      status, stdout, = run("plugin", "uninstall", "--libdir", libdir)
      expect(status).to eq(0)
      expect(stdout).to include("removed    #{libdir}/mcollective/connector/nats.ddl\n")
      expect(Dir.exist?(File.join(libdir, "mcollective", "connector"))).to be(false)
    end

    it "takes the first libdir of --config, saying so, and the others only to warn of files loaded instead" do
      shadow = File.join(dir, "other")
      FileUtils.mkdir_p(File.join(shadow, "mcollective", "connector"))
      File.write(File.join(shadow, "mcollective", "connector", "nats.rb"), "# not ours\n")
      config = write("server.cfg", "libdir = #{libdir}:#{shadow}\n")

      status, stdout, = run("plugin", "install", "--config", config)
      expect(status).to eq(0)
      expect(stdout.lines.first).to eq("libdir #{libdir} (from #{config})\n")
      expect(stdout).to include("warning: #{shadow}/mcollective/connector/nats.rb (another libdir) may be loaded " \
                                "instead of ours: move it away")
      expect(Dir.exist?(File.join(libdir, "mcollective"))).to be(true)
    end

    it "exits 1 when it leaves a file it did not write alone" do
      FileUtils.mkdir_p(File.join(libdir, "mcollective", "connector"))
      File.write(File.join(libdir, "mcollective", "connector", "nats.ddl"), "metadata :name => \"other\"\n")

      status, stdout, = run("plugin", "install", "--libdir", libdir)
      expect(status).to eq(1)
      expect(stdout).to include("left alone #{libdir}/mcollective/connector/nats.ddl: not written by choria-nats")
    end

    it "exits 1 with one error line when the config names no libdir, writing nothing" do
      config = write("client.cfg", "identity = n1\n")
      expect(run("plugin", "install", "--config", config))
        .to eq([1, "", "choria-nats: #{config} names no libdir: pass --libdir DIR (the libdir of your server.cfg " \
                       "and client.cfg) or --config FILE\n"])
    end

    it "exits 1 with one error line when the libdir cannot be made" do
      status, _, stderr = run("plugin", "install", "--libdir", "/dev/null/plugins")
      expect(status).to eq(1)
      expect(stderr).to start_with("choria-nats: ").and end_with("/dev/null\n")
      expect(stderr.lines.size).to eq(1)
    end
  end

  describe "doctor" do
    it "reports on the node --config names and exits 1 when its certificate is missing" do
      config = write("server.cfg", "identity = node1.example.net\nplugin.choria.ssldir = #{dir}/ssl\n" \
                                   "plugin.choria.middleware_hosts = 127.0.0.1:1\n" \
                                   "plugin.choria.use_srv_records = false\n")
      status, stdout, stderr = run("doctor", "--config", config)
      expect([status, stderr]).to eq([1, ""])
      expect(stdout).to include("Config     #{config}\n").and include("Identity   node1.example.net\n")
      expect(stdout).to include("skipped  Not connecting to 127.0.0.1:1: fix the certificate files first")
      expect(stdout.lines.last).to start_with("Result: ")
    end

    it "exits 1 with one error line when the config cannot be read" do
      missing = File.join(dir, "missing.cfg")
      status, stdout, stderr = run("doctor", "--config", missing)
      expect([status, stdout]).to eq([1, ""])
      expect(stderr).to start_with("choria-nats: Cannot read the MCollective config #{missing}: ")
      expect(stderr.lines.size).to eq(1)
    end
  end

  it "is what exe/choria-nats runs, with its exit status" do
    exe = File.expand_path("../../exe/choria-nats", __dir__)
    lib = File.expand_path("../../lib", __dir__)
    stdout, stderr, status = Open3.capture3({ "RUBYLIB" => nil }, RbConfig.ruby, "-I", lib, exe, "frobnicate")
    expect([status.exitstatus, stdout]).to eq([2, ""])
    expect(stderr).to eq("choria-nats: unknown command 'frobnicate'\n\n#{described_class::USAGE}")
  end
end
