# frozen_string_literal: true

require "spec_helper"
require "open3"
require "rbconfig"
require "stringio"

RSpec.describe ChoriaNats::PluginInstaller do
  # A plugin tree like the gem's, with a connector, its DDL and an application in a subfolder.
  def fake_plugin_tree(root)
    dir = File.join(root, "gem", "lib", "mcollective")
    FileUtils.mkdir_p(File.join(dir, "connector"))
    FileUtils.mkdir_p(File.join(dir, "application"))
    File.write(File.join(dir, "connector", "fake.rb"), "$loaded_plugin = __FILE__\n")
    File.write(File.join(dir, "connector", "fake.ddl"), "metadata :name => \"fake\"\n")
    File.write(File.join(dir, "application", "fake.rb"), "$loaded_application = __FILE__\n")
    dir
  end

  let(:root) { Dir.mktmpdir("choria-nats-installer") }
  let(:plugin_dir) { fake_plugin_tree(root) }
  let(:libdir) { File.join(root, "plugins") }
  let(:out) { StringIO.new }
  let(:installer) { described_class.new(libdir: libdir, out: out, plugin_dir: plugin_dir) }

  after { FileUtils.rm_rf(root) }

  def installed(relative)
    File.join(libdir, "mcollective", relative)
  end

  def statuses(result)
    result.actions.to_h { |action| [action.path.delete_prefix("#{libdir}/mcollective/"), action.status] }
  end

  it "finds the plugin files the gem carries: its connector and the connector's DDL" do
    expect(ChoriaNats::PLUGIN_DIR).to eq(File.expand_path("../../lib/mcollective", __dir__))
    expect(described_class.new(libdir: libdir).plugin_files).to include("connector/nats.ddl")
    expect(installer.plugin_files).to eq(%w[application/fake.rb connector/fake.ddl connector/fake.rb])
  end

  it "carries DDLs in ASCII: MCollective evaluates them in the locale's encoding, US-ASCII without LANG" do
    ddls = Dir.glob("**/*.ddl", base: ChoriaNats::PLUGIN_DIR)
    expect(ddls).not_to be_empty
    ddls.each do |ddl|
      expect(File.binread(File.join(ChoriaNats::PLUGIN_DIR, ddl))).to match(/\A[\x00-\x7F]*\z/n), "#{ddl} is not ASCII"
    end
  end

  it "writes a loader for each Ruby file and a marked copy of each DDL, creating the folders" do
    result = installer.install

    expect(result).to be_success
    expect(result.exit_status).to eq(0)
    expect(statuses(result)).to eq("application/fake.rb" => :created, "connector/fake.ddl" => :created,
                                   "connector/fake.rb" => :created)
    expect(File.read(installed("connector/fake.rb")))
      .to start_with("# Written by `choria-nats plugin install` (choria-nats #{ChoriaNats::VERSION})")
      .and include('load File.join(ChoriaNats::PLUGIN_DIR, "connector", "fake.rb")')
      .and include('gem "choria-nats"')
    expect(File.read(installed("application/fake.rb")))
      .to include('load File.join(ChoriaNats::PLUGIN_DIR, "application", "fake.rb")')
    expect(File.read(installed("connector/fake.ddl")).lines)
      .to match([start_with("# Written by `choria-nats plugin install`"), start_with("#"),
                 "metadata :name => \"fake\"\n"])
    expect(File.stat(installed("connector/fake.rb")).mode & 0o777).to eq(0o644)
    expect(Dir.children(File.join(libdir, "mcollective", "connector")).sort).to eq(%w[fake.ddl fake.rb])
    expect(out.string.lines.first).to eq("created    #{installed('application/fake.rb')}\n")
    expect(out.string.lines.last)
      .to match(/set `connector = nats` in server.cfg and client.cfg and restart mcollectived/)
  end

  it "leaves identical files alone when run again" do
    installer.install
    before = Dir[File.join(libdir, "**", "*")].to_h { |path| [path, File.mtime(path)] }
    out.string = +""

    result = installer.install

    expect(result).to be_success
    expect(statuses(result).values).to all(eq(:unchanged))
    expect(out.string.lines.grep(/^unchanged /).size).to eq(3)
    expect(Dir[File.join(libdir, "**", "*")].to_h { |path| [path, File.mtime(path)] }).to eq(before)
  end

  it "rewrites files an older version wrote" do
    FileUtils.mkdir_p(File.dirname(installed("connector/fake.rb")))
    File.write(installed("connector/fake.rb"),
               "# Written by `choria-nats plugin install` (choria-nats 0.0.1). Old.\nrequire \"old\"\n")

    result = installer.install

    expect(result).to be_success
    expect(statuses(result)["connector/fake.rb"]).to eq(:updated)
    expect(File.read(installed("connector/fake.rb"))).to eq(installer.loader("connector/fake.rb"))
    expect(out.string).to include("updated    #{installed('connector/fake.rb')}\n")
  end

  it "never overwrites a file it did not write, and fails after installing the rest" do
    FileUtils.mkdir_p(File.dirname(installed("connector/fake.rb")))
    File.write(installed("connector/fake.rb"), "# the old Ruby NATS connector\n")
    File.write(installed("connector/fake.ddl"),
               "metadata :name => 'x' # Written by `choria-nats plugin install`: not at the start\n")

    result = installer.install

    expect(result).not_to be_success
    expect(result.exit_status).to eq(1)
    expect(statuses(result)).to eq("application/fake.rb" => :created, "connector/fake.ddl" => :foreign,
                                   "connector/fake.rb" => :foreign)
    expect(File.read(installed("connector/fake.rb"))).to eq("# the old Ruby NATS connector\n")
    expect(out.string).to include("left alone #{installed('connector/fake.rb')}: not written by choria-nats")
    expect(out.string.lines.last).to match(/2 file\(s\) left alone, so the plugin is not fully installed/)
  end

  it "treats a symbolic link as not its own, even to a file it wrote" do
    installer.install
    FileUtils.mv(installed("connector/fake.rb"), File.join(root, "elsewhere.rb"))
    File.symlink(File.join(root, "elsewhere.rb"), installed("connector/fake.rb"))

    expect(statuses(installer.install)["connector/fake.rb"]).to eq(:foreign)
    expect(File.symlink?(installed("connector/fake.rb"))).to be(true)
  end

  it "never writes through a link planted where another user could predict its temporary file" do
    victim = File.join(root, "victim")
    File.write(victim, "root's own file\n")
    File.chmod(0o600, victim)
    FileUtils.mkdir_p(File.dirname(installed("connector/fake.rb")))
    planted = "#{installed('connector/fake.rb')}.choria-nats-#{Process.pid}.tmp"
    File.symlink(victim, planted)

    expect(installer.install).to be_success

    expect(File.read(victim)).to eq("root's own file\n")
    expect(File.stat(victim).mode & 0o7777).to eq(0o600)
    expect(File.symlink?(installed("connector/fake.rb"))).to be(false)
    expect(File.read(installed("connector/fake.rb"))).to eq(installer.loader("connector/fake.rb"))
    expect(Dir.children(File.dirname(planted)).sort).to eq(["fake.ddl", "fake.rb", File.basename(planted)])
  end

  it "uninstalls only files carrying its marker, also ones the gem no longer carries" do
    installer.install
    FileUtils.mkdir_p(File.dirname(installed("agent/theirs.rb")))
    File.write(installed("agent/theirs.rb"), "# someone else's agent\n")
    FileUtils.mkdir_p(File.dirname(installed("util/dropped.rb")))
    File.write(installed("util/dropped.rb"), "# Written by `choria-nats plugin install` (choria-nats 0.0.1).\n")
    File.write(installed("application/theirs.ddl"), "metadata :name => \"theirs\"\n")

    result = installer.uninstall

    expect(result).to be_success
    expect(statuses(result)).to eq("application/fake.rb" => :removed, "connector/fake.ddl" => :removed,
                                   "connector/fake.rb" => :removed, "util/dropped.rb" => :removed)
    expect(Dir.glob("**/*", base: File.join(libdir, "mcollective")).sort)
      .to eq(%w[agent agent/theirs.rb application application/theirs.ddl])
    expect(out.string.lines.last).to match(/Set `connector` back/)
  end

  it "reports, and keeps, a file at its plugin's place it did not write on uninstall" do
    FileUtils.mkdir_p(File.dirname(installed("connector/fake.rb")))
    File.write(installed("connector/fake.rb"), "# theirs\n")

    result = installer.uninstall

    expect(statuses(result)).to eq("connector/fake.rb" => :foreign)
    expect(File.read(installed("connector/fake.rb"))).to eq("# theirs\n")
    expect(out.string).to include("nothing to remove: no file written by choria-nats")
  end

  it "warns about files in the config's other libdirs that MCollective could load instead" do
    other = File.join(root, "other")
    FileUtils.mkdir_p(File.join(other, "mcollective", "connector"))
    File.write(File.join(other, "mcollective", "connector", "fake.rb"), "# theirs\n")

    described_class.new(libdir: libdir, out: out, plugin_dir: plugin_dir, other_libdirs: [other, libdir]).install

    expect(out.string).to include("warning: #{other}/mcollective/connector/fake.rb (another libdir) may be loaded")
  end

  describe "the loader" do
    # A stand-in for the gem's lib/choria_nats.rb, pointing PLUGIN_DIR at the fake plugin tree.
    def fake_gem_lib
      dir = File.join(root, "fake_lib")
      FileUtils.mkdir_p(dir)
      File.write(File.join(dir, "choria_nats.rb"), "module ChoriaNats; PLUGIN_DIR = #{plugin_dir.inspect}; end\n")
      dir
    end

    # Loads a plugin as MCollective does: `load "mcollective/<type>/<name>.rb"` over $LOAD_PATH, the libdir first.
    def load_like_mcollective(relative, *ruby_flags)
      script = "$LOAD_PATH.unshift(#{libdir.inspect}); load #{"mcollective/#{relative}".inspect}; " \
               "puts $loaded_plugin || $loaded_application"
      Open3.capture3(RbConfig.ruby, *ruby_flags, "-I", fake_gem_lib, "-e", script)
    end

    it "loads the gem's copy of the plugin by its absolute path" do
      installer.install

      stdout, stderr, status = load_like_mcollective("connector/fake.rb")
      expect(status).to be_success, stderr
      expect(stdout).to eq("#{plugin_dir}/connector/fake.rb\n")
      expect(load_like_mcollective("application/fake.rb").first).to eq("#{plugin_dir}/application/fake.rb\n")
    end

    it "works without RubyGems too" do
      installer.install

      stdout, stderr, status = load_like_mcollective("connector/fake.rb", "--disable-gems")
      expect(status).to be_success, stderr
      expect(stdout).to eq("#{plugin_dir}/connector/fake.rb\n")
    end

    it "points at the real connector in the real gem" do
      loader = described_class.new(libdir: libdir).loader("connector/nats.rb")

      expect(loader)
        .to include(%(require "choria_nats"\nload File.join(ChoriaNats::PLUGIN_DIR, "connector", "nats.rb")))
      expect(loader.lines.first).to include(ChoriaNats::PluginInstaller::MARKER)
    end
  end

  describe ".from_config" do
    # [the libdir the installer writes into, the config it says that libdir came from]
    def default_libdir(config_files:)
      said = StringIO.new
      installer = described_class.from_config(config_files: config_files, out: said)
      [installer.libdir, said.string[/\Alibdir #{Regexp.escape(installer.libdir)} \(from (.*)\)\n\z/, 1]]
    end

    def config(name, text)
      path = File.join(root, "etc", name)
      FileUtils.mkdir_p(File.dirname(path))
      File.write(path, text)
      path
    end

    it "takes the first entry of the first libdir line of the first readable config" do
      server = config("server.cfg", "# libdir = /commented\nidentity = x\nlibdir = /opt/plugins:/usr/share/x\n" \
                                    "libdir=/more\n")
      client = config("client.cfg", "libdir = /client\n")

      expect(default_libdir(config_files: [File.join(root, "missing.cfg"), server, client]))
        .to eq(["/opt/plugins", server])
      expect(ChoriaNats::ConfigFile.naming_libdir([server]).libdirs).to eq(["/opt/plugins", "/usr/share/x", "/more"])
    end

    it "falls back to the client config when the server config names no libdir" do
      server = config("server.cfg", "identity = x\n")
      client = config("client.cfg", "libdir   =   /client/plugins   \n")

      expect(default_libdir(config_files: [server, client])).to eq(["/client/plugins", client])
    end

    it "says what it looked for when there is no config" do
      expect { default_libdir(config_files: ["/nonexistent/server.cfg"]) }
        .to raise_error(ChoriaNats::ConfigurationError,
                        %r{no MCollective config found \(looked for /nonexistent/server.cfg\): pass --libdir DIR})
    end

    it "says which configs name no libdir, and which it could not read" do
      server = config("server.cfg", "identity = x\n")
      unreadable = File.join(root, "etc", "client.cfg")
      FileUtils.mkdir_p(unreadable) # a folder: exists, cannot be read as a config (also as root)

      expect { default_libdir(config_files: [server, unreadable]) }
        .to raise_error(ChoriaNats::ConfigurationError, /#{server} names no libdir; cannot read #{unreadable}/)
      expect { default_libdir(config_files: [unreadable]) }
        .to raise_error(ChoriaNats::ConfigurationError, /cannot read #{unreadable} \(run as root\?\)/)
    end

    it "reads a config with UTF-8 comments without LANG, and names the line that is not UTF-8" do
      server = config("server.cfg", "# Konfiguration f\u00fcr Knoten\nlibdir = /opt/plugins\n")
      latin1 = config("client.cfg", "libdir = /opt/plugins\n# f\xFCr Knoten\n".b)

      ChoriaNats::TestSupport::ExternalEncoding.with(Encoding::US_ASCII) do
        expect(default_libdir(config_files: [server])).to eq(["/opt/plugins", server])
        expect { default_libdir(config_files: [latin1]) }
          .to raise_error(ChoriaNats::ConfigurationError,
                          /\AThe MCollective config #{latin1} is not UTF-8 text: line 2 /)
      end
    end

    it "reads the config itself, not the plugin.d folder beside it" do
      server = config("server.cfg", "libdir = /opt/plugins\n")
      config("plugin.d/choria.cfg", "# f\xFCr Knoten\n".b)

      expect(default_libdir(config_files: [server])).to eq(["/opt/plugins", server])
    end

    it "refuses a relative libdir, as MCollective does" do
      server = config("server.cfg", "libdir = plugins\n")

      expect { default_libdir(config_files: [server]) }
        .to raise_error(ChoriaNats::ConfigurationError, /libdir plugins is not an absolute path/)
    end
  end
end
