# frozen_string_literal: true

require "spec_helper"
require "choria_nats/config_file"

RSpec.describe ChoriaNats::ConfigFile do
  around do |example|
    Dir.mktmpdir("choria-nats-config") do |dir|
      @dir = dir
      example.run
    end
  end

  def write(name, text)
    File.join(@dir, name).tap { |path| File.write(path, text) }
  end

  it "reads the identity, plugin.* settings and plugin.d files as MCollective does" do
    FileUtils.mkdir_p(File.join(@dir, "plugin.d"))
    File.write(File.join(@dir, "plugin.d", "choria.cfg"), "# comment\nsrv_domain = example.org\n")
    File.write(File.join(@dir, "plugin.d", "notes.txt"), "ignored = yes\n")
    config = described_class.new(write("client.cfg", <<~CFG))
      # a comment
      identity = node1.example.net
      connector = nats
      plugin.choria.middleware_hosts = nats1:4222, nats2:4222#{'  '}
      plugin.nats.user=mco
      connection_timeout = 7
    CFG
    expect(config.identity).to eq("node1.example.net")
    expect(config.connection_timeout).to eq(7.0)
    expect(config.pluginconf).to eq("choria.middleware_hosts" => "nats1:4222, nats2:4222", "nats.user" => "mco",
                                    "choria.srv_domain" => "example.org")
  end

  it "adds up the libdir lines in the order written, and refuses a relative one only when asked for them" do
    config = described_class.new(write("server.cfg", "# libdir = /commented\nlibdir = /opt/a:/opt/b\nlibdir=/more\n"))
    expect(config.libdirs).to eq(%w[/opt/a /opt/b /more])

    relative = described_class.new(write("client.cfg", "identity = n1\nlibdir = /opt/a:plugins\n"))
    expect(relative.identity).to eq("n1")
    expect { relative.libdirs }
      .to raise_error(ChoriaNats::ConfigurationError, "#{@dir}/client.cfg: libdir plugins is not an absolute path")
  end

  it "leaves plugin.d alone when told to" do
    FileUtils.mkdir_p(File.join(@dir, "plugin.d"))
    File.write(File.join(@dir, "plugin.d", "choria.cfg"), "srv_domain = example.org\n")
    config = described_class.new(write("server.cfg", "plugin.nats.user = mco\n"), plugin_dir: false)
    expect(config.pluginconf).to eq("nats.user" => "mco")
  end

  it "takes the host name as identity when none is set" do
    expect(described_class.new(write("server.cfg", "connector = nats\n")).identity).to eq(Socket.gethostname)
  end

  it "says which file it cannot read" do
    missing = File.join(@dir, "nope.cfg")
    expect { described_class.new(missing) }
      .to raise_error(ChoriaNats::ConfigurationError, /\ACannot read the MCollective config #{Regexp.escape(missing)}/)
  end

  describe "text that is not ASCII" do
    def us_ascii(&block)
      ChoriaNats::TestSupport::ExternalEncoding.with(Encoding::US_ASCII, &block)
    end

    it "reads UTF-8 whatever the locale, and says on which line MCollective would fail without LANG" do
      path = write("server.cfg", "identity = n1\n# Konfiguration f\u00fcr Knoten\nplugin.choria.note = gr\u00fcn\n")
      config = us_ascii { described_class.new(path) }
      expect(config.pluginconf).to eq("choria.note" => "gr\u00fcn")
      expect(config.pluginconf["choria.note"].encoding).to eq(Encoding::UTF_8)
      expect(config.locale_problem).to eq("MCollective cannot read #{path} here: line 2 is not US-ASCII, the " \
                                          "encoding this locale gives Ruby for files: make that line ASCII, or " \
                                          "run mco and mcollectived with LANG=C.UTF-8")
      expect(ChoriaNats::TestSupport::ExternalEncoding.with(Encoding::UTF_8) { described_class.new(path) }
               .locale_problem).to be_nil
    end

    it "names a plugin.d file MCollective would fail on" do
      FileUtils.mkdir_p(File.join(@dir, "plugin.d"))
      File.write(File.join(@dir, "plugin.d", "choria.cfg"), "# \u00e9t\u00e9\nsrv_domain = example.org\n")
      config = us_ascii { described_class.new(write("server.cfg", "identity = n1\n")) }
      expect(config.pluginconf).to eq("choria.srv_domain" => "example.org")
      expect(config.locale_problem).to start_with("MCollective cannot read #{@dir}/plugin.d/choria.cfg here: line 1 ")
    end

    it "says which file and line are not UTF-8, in one line" do
      path = write("server.cfg", "identity = n1\n\n# Konfiguration f\xFCr Knoten\n".b)
      [Encoding::US_ASCII, Encoding::UTF_8].each do |encoding|
        expect { ChoriaNats::TestSupport::ExternalEncoding.with(encoding) { described_class.new(path) } }
          .to raise_error(ChoriaNats::ConfigurationError,
                          "The MCollective config #{path} is not UTF-8 text: line 3 has the byte 0xFC: save the " \
                          "file as UTF-8")
      end
    end
  end

  it "leaves ~/.mcollective out without HOME, as mco does" do
    client = write("client.cfg", "identity = me\n")
    expect(described_class.default_path(uid: 1000, env: {}, client_files: [client])).to eq(client)
    nowhere = File.join(@dir, "nowhere.cfg")
    expect { described_class.default_path(uid: 1000, env: { "HOME" => "" }, client_files: [nowhere]) }
      .to raise_error(ChoriaNats::ConfigurationError, "No MCollective config found (looked for #{nowhere}): pass " \
                                                      "--config FILE (server.cfg or client.cfg)")
  end

  it "finds ~/.mcollective for a user, client.cfg for root, and says where it looked when there is none" do
    write(".mcollective", "identity = me\n")
    expect(described_class.default_path(uid: 1000, home: @dir)).to eq(File.join(@dir, ".mcollective"))
    nowhere = [File.join(@dir, "client.cfg")]
    expect(described_class.default_path(uid: 0, home: @dir, server_files: [], client_files: [write("c.cfg", "")]))
      .to eq(File.join(@dir, "c.cfg"))
    expect { described_class.default_path(uid: 1000, home: File.join(@dir, "empty"), client_files: nowhere) }
      .to raise_error(ChoriaNats::ConfigurationError, /No MCollective config found .*pass --config FILE/)
  end
end
