# frozen_string_literal: true

require "spec_helper"
require "stringio"
require "choria_nats/certificate_request"

RSpec.describe ChoriaNats::PuppetCA do
  describe ChoriaNats::PuppetCA::Location do
    let(:records) { {} }
    let(:looked_up) { [] }
    let(:resolver) do
      lambda do |names, _nameserver|
        looked_up << names.first
        records.fetch(names.first, [])
      end
    end

    def location(conf = {})
      settings = ChoriaNats::PluginSettings.new(conf, env: {})
      described_class.from_settings(settings, resolver: resolver, domain_lookup: -> { "example.net" })
    end

    it "uses plugin.choria.puppetca_host and _port, without DNS" do
      ca = location("choria.puppetca_host" => "ca.example.net", "choria.puppetca_port" => "8141")
      expect(ca.servers).to eq([%w[ca.example.net:8141 config]])
      expect(ca.description).to eq("Puppet CA from plugin.choria.puppetca_host: ca.example.net:8141")
      expect(looked_up).to be_empty
    end

    it "takes --ca HOST[:PORT] over the settings and SRV, a bare host with plugin.choria.puppetca_port" do
      settings = ChoriaNats::PluginSettings.new({ "choria.puppetca_host" => "ca.example.net",
                                                  "choria.puppetca_port" => "8141" }, env: {})
      given = ->(text) { described_class.from_settings(settings, ca_option: text, resolver: resolver) }
      expect(given.call("other.example.net:9140").servers).to eq([["other.example.net:9140", "--ca"]])
      expect(given.call("other.example.net").servers).to eq([["other.example.net:8141", "--ca"]])
      expect(given.call("[::1]:9140").servers).to eq([["[::1]:9140", "--ca"]])
      expect(given.call("::1").description).to eq("Puppet CA from --ca: [::1]:8141")
      expect(looked_up).to be_empty
    end

    it "refuses a --ca that is not HOST[:PORT], in one line" do
      ["", "ca:0", "ca:65536", "user@ca", "a:b", "[nothost]:1", "http://ca"].each do |text|
        expect(described_class.option_problem(text))
          .to eq("--ca must be HOST or HOST:PORT (an IPv6 address in brackets with a port), with a port from 1 " \
                 "to 65535, not #{text.inspect}"), text
      end
      expect(described_class.option_problem("ca.example.net:8140")).to be_nil
    end

    it "defaults the port to 8140" do
      expect(location("choria.puppetca_host" => "ca.example.net").servers).to eq([%w[ca.example.net:8140 config]])
    end

    it "asks SRV _x-puppet-ca._tcp first, then _x-puppet._tcp, in the brokers' domain" do
      records["_x-puppet._tcp.example.net"] = [["puppet1.example.net", 8140, 10, 0]]
      ca = location
      expect(ca.servers).to eq([%w[puppet1.example.net:8140 srv]])
      expect(looked_up).to eq(%w[_x-puppet-ca._tcp.example.net _x-puppet._tcp.example.net])
      expect(ca.description).to eq("Puppet CA from SRV _x-puppet._tcp.example.net: puppet1.example.net:8140")

      records["_x-puppet-ca._tcp.example.net"] = [["ca1.example.net", 8141, 10, 0]]
      expect(location.servers.first).to eq(%w[ca1.example.net:8141 srv])
    end

    it "uses plugin.choria.srv_domain for the lookups" do
      records["_x-puppet-ca._tcp.example.org"] = [["ca.example.org", 8140, 1, 1]]
      expect(location("choria.srv_domain" => "example.org").servers).to eq([%w[ca.example.org:8140 srv]])
    end

    it "falls back to puppet:8140, or puppet on the configured port" do
      expect(location.servers).to eq([%w[puppet:8140 default]])
      expect(location.description).to eq("Puppet CA: none configured and no SRV records for example.net: " \
                                         "using the default puppet:8140")
      expect(location("choria.puppetca_port" => "18140").servers).to eq([%w[puppet:18140 default]])
      expect(location("choria.use_srv_records" => "false").servers).to eq([%w[puppet:8140 default]])
    end

    it "puts an IPv6 address in brackets" do
      expect(location("choria.puppetca_host" => "fd00::1").servers).to eq([%w[[fd00::1]:8140 config]])
      expect(location("choria.puppetca_host" => "[fd00::1]", "choria.puppetca_port" => "8141").servers)
        .to eq([%w[[fd00::1]:8141 config]])
    end

    it "is a locator of its own, not a broker list" do
      expect(described_class.ancestors).to include(ChoriaNats::SrvLocator)
      expect(described_class.ancestors).not_to include(ChoriaNats::BrokerList)
      expect(described_class.new(host: "ca.example.net", port: 8141, resolver: resolver).servers)
        .to eq([%w[ca.example.net:8141 config]])
    end

    it "refuses a port that is not one" do
      expect { location("choria.puppetca_port" => "http").servers }
        .to raise_error(ChoriaNats::ConfigurationError, 'plugin.choria.puppetca_port must be a port number, not "http"')
    end
  end

  it "names itself host:port (source), IPv6 in brackets" do
    expect(described_class.new("ca.example.net:8140", source: "srv").to_s).to eq("ca.example.net:8140 (srv)")
    expect(described_class.new("[::1]:8140").to_s).to eq("[::1]:8140 (config)")
    expect { described_class.new("ca.example.net") }.to raise_error(ChoriaNats::ConfigurationError, /host:port/)
  end

  it "refuses a certname Puppet would not accept, before any request" do
    expect { described_class.new("127.0.0.1:1").certificate("Bad Name") }
      .to raise_error(ChoriaNats::ConfigurationError, /"Bad Name" is not one Puppet accepts/)
  end

  describe ChoriaNats::CertificateRequest do
    it "refuses to run as root, touching nothing" do
      dir = Dir.mktmpdir("choria-nats-root")
      paths = ChoriaNats::SSLPaths.new(identity: "node1.example.net", ssldir: File.join(dir, "ssl"), uid: 0, env: {})
      request = described_class.new(paths: paths, puppet_ca: ChoriaNats::PuppetCA.new("127.0.0.1:1"),
                                    out: StringIO.new, uid: 0)
      expect { request.run }.to raise_error(ChoriaNats::ConfigurationError, /\Arefusing to run as root: root's/)
      expect(Dir.children(dir)).to be_empty
    ensure
      FileUtils.rm_rf(dir)
    end
  end
end
