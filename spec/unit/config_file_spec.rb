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

  it "takes the host name as identity when none is set" do
    expect(described_class.new(write("server.cfg", "connector = nats\n")).identity).to eq(Socket.gethostname)
  end

  it "says which file it cannot read" do
    missing = File.join(@dir, "nope.cfg")
    expect { described_class.new(missing) }
      .to raise_error(ChoriaNats::ConfigurationError, /\ACannot read the MCollective config #{Regexp.escape(missing)}/)
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
