# frozen_string_literal: true

require "spec_helper"

RSpec.describe ChoriaNats::BrokerList do
  # A resolver double: records per SRV name, errors per name, and the calls it saw. Like the native
  # lookup, it gives the records of every name asked, and raises only when none has any.
  let(:calls) { [] }
  let(:records) { {} }
  let(:failures) { {} }
  let(:resolver) do
    lambda do |names, nameserver|
      calls << [names, nameserver]
      found = names.flat_map { |name| records.fetch(name, []) }
      failed = names.map { |name| failures[name] }.compact.first
      raise failed if failed && found.empty?

      found
    end
  end
  let(:domain_calls) { [] }
  let(:domain_lookup) { -> { domain_calls << :called and "example.net" } }

  def list(**options)
    described_class.new(resolver: resolver, domain_lookup: domain_lookup, **options)
  end

  describe "plugin.choria.middleware_hosts" do
    it "splits on commas, trims, and adds port 4222 where none is given" do
      brokers = list(middleware_hosts: " h1:4223, h2 ,h3:4222,")
      expect(brokers.servers).to eq([%w[h1:4223 config], %w[h2:4222 config], %w[h3:4222 config]])
      expect(brokers.source).to eq(:config)
      expect(brokers.description).to eq("NATS brokers from plugin.choria.middleware_hosts: h1:4223, h2:4222, h3:4222")
    end

    it "understands IPv6 addresses, URL schemes, empty ports and arrays" do
      brokers = list(middleware_hosts: ["[::1]:4333", "[fe80::1]", "::1", "nats://n1:5222", "tls://n2", "n3:"])
      expect(brokers.servers.map(&:first)).to eq(
        ["[::1]:4333", "[fe80::1]:4222", "[::1]:4222", "n1:5222", "n2:4222", "n3:4222"]
      )
    end

    it "leaves a bad port for the connection to reject with its own message" do
      expect(list(middleware_hosts: "h1:abc").servers).to eq([%w[h1:abc config]])
    end

    it "refuses a broker written with a user and password, without repeating the password" do
      brokers = list(middleware_hosts: "h1:4222, nats://alice:s3cr3t-p@ss@nats2.example.net:4222")
      expect { brokers.servers }.to raise_error(ChoriaNats::ConfigurationError) { |error|
        expect(error.message).to eq("plugin.choria.middleware_hosts holds credentials in " \
                                    "nats://alice:***@nats2.example.net:4222: remove them from it and set " \
                                    "plugin.nats.user and plugin.nats.pass instead")
        expect(error.message).not_to include("s3cr3t")
      }
      expect { brokers.description }.to raise_error(ChoriaNats::ConfigurationError) { |error|
        expect(error.message).not_to include("s3cr3t")
      }
      expect(calls).to be_empty
    end

    it "refuses a token in a broker without repeating it" do
      expect { list(middleware_hosts: "tls://t0ken-value@nats1:4222").servers }
        .to raise_error(ChoriaNats::ConfigurationError, "plugin.choria.middleware_hosts holds credentials in " \
                                                        "tls://***@nats1:4222: remove them from it and set " \
                                                        "plugin.nats.user and plugin.nats.pass instead")
    end

    it "wins over SRV: no DNS lookup, no facter" do
      list(middleware_hosts: "h1").servers
      expect(calls).to be_empty
      expect(domain_calls).to be_empty
    end

    it "falls through to SRV when it holds only blanks and commas" do
      records["_mcollective-server._tcp.example.net"] = [["nats1.example.net", 4222, 10, 5]]
      expect(list(middleware_hosts: " , ").servers).to eq([%w[nats1.example.net:4222 srv]])
    end
  end

  describe "SRV records" do
    it "asks both names in one lookup and uses their records together, in the order the resolver gives" do
      records["_mcollective-server._tcp.example.net"] =
        [["nats2.example.net", 4222, 1, 0], ["nats1.example.net", 4223, 2, 0]]
      records["_x-puppet-mcollective._tcp.example.net"] = [["old.example.net", 4222, 1, 0]]
      brokers = list(nameserver: "127.0.0.1:5353")
      expect(brokers.servers).to eq([%w[nats2.example.net:4222 srv], %w[nats1.example.net:4223 srv],
                                     %w[old.example.net:4222 srv]])
      expect(calls).to eq([[%w[_mcollective-server._tcp.example.net _x-puppet-mcollective._tcp.example.net],
                            "127.0.0.1:5353"]])
      expect(brokers.source).to eq(:srv)
      expect(brokers.srv_name).to eq("_mcollective-server._tcp.example.net, _x-puppet-mcollective._tcp.example.net")
      expect(brokers.srv_records.size).to eq(3)
      expect(brokers.description).to eq(
        "NATS brokers from SRV _mcollective-server._tcp.example.net, _x-puppet-mcollective._tcp.example.net: " \
        "nats2.example.net:4222, nats1.example.net:4223, old.example.net:4222"
      )
    end

    it "uses _x-puppet-mcollective._tcp alone when only it has records" do
      records["_x-puppet-mcollective._tcp.example.net"] = [["old.example.net", 61_613, 1, 0]]
      brokers = list
      expect(brokers.servers).to eq([%w[old.example.net:61613 srv]])
      expect(calls.size).to eq(1)
    end

    it "prefers plugin.choria.srv_domain over the machine's domain" do
      records["_mcollective-server._tcp.example.org"] = [["n.example.org", 4222, 0, 0]]
      expect(list(srv_domain: " .example.org. ").servers).to eq([%w[n.example.org:4222 srv]])
      expect(domain_calls).to be_empty
    end

    it "looks SRV up again on every call" do
      brokers = list
      records["_mcollective-server._tcp.example.net"] = [["a.example.net", 4222, 0, 0]]
      expect(brokers.servers).to eq([%w[a.example.net:4222 srv]])
      records["_mcollective-server._tcp.example.net"] = [["b.example.net", 4222, 0, 0]]
      expect(brokers.servers).to eq([%w[b.example.net:4222 srv]])
      expect(calls.size).to eq(2)
    end

    it "leaves out a record the connection could not use, saying why, and uses the others" do
      records["_mcollective-server._tcp.example.net"] = [["bad\\name.example.net", 4222, 0, 0],
                                                         ["good.example.net", 4222, 0, 0]]
      brokers = list
      expect(brokers.servers).to eq([%w[good.example.net:4222 srv]])
      expect(brokers.srv_ignored).to eq([ChoriaNats.server_address_problem("bad\\name.example.net:4222")])
      expect(brokers.srv_ignored.first).to include("bad\\\\name.example.net:4222")
    end

    it "falls back to the default when no record is usable, and says so" do
      records["_mcollective-server._tcp.example.net"] = [["bad\\name.example.net", 4222, 0, 0]]
      brokers = list
      expect(brokers.servers).to eq([%w[puppet:4222 default]])
      expect(brokers.srv_ignored.size).to eq(1)
      expect(brokers.description).to eq(
        "NATS brokers: none configured and no usable SRV records for example.net: using the default puppet:4222"
      )
    end

    it "asks for the machine's domain once it has one" do
      brokers = list
      3.times { brokers.servers }
      expect(domain_calls.size).to eq(1)
    end
  end

  describe "the puppet:4222 default" do
    it "is used when no SRV name has records" do
      brokers = list
      expect(brokers.servers).to eq([%w[puppet:4222 default]])
      expect(brokers.source).to eq(:default)
      expect(brokers.srv_records).to eq([])
      expect(brokers.description).to eq(
        "NATS brokers: none configured and no SRV records for example.net: using the default puppet:4222"
      )
    end

    it "is used without any lookup when SRV is off" do
      brokers = list(use_srv: false, srv_domain: "example.net")
      expect(brokers.servers).to eq([%w[puppet:4222 default]])
      expect(calls).to be_empty
      expect(brokers.description).to include("SRV lookups are off (plugin.choria.use_srv_records = false)")
    end

    it "is used when there is no domain to look up" do
      [-> {}, -> { "" }, -> { "  \n" }].each do |lookup|
        brokers = described_class.new(resolver: resolver, domain_lookup: lookup)
        expect(brokers.servers).to eq([%w[puppet:4222 default]])
        expect(brokers.description).to include("no domain for SRV lookups (set plugin.choria.srv_domain)")
      end
      expect(calls).to be_empty
    end

    it "is used when DNS cannot be reached, naming the failure; a silent server is not asked twice" do
      failures["_mcollective-server._tcp.example.net"] =
        ChoriaNats::TimeoutError.new("the DNS server 10.9.9.9:53 did not answer within 5.0s")
      brokers = list
      expect(brokers.servers).to eq([%w[puppet:4222 default]])
      expect(calls.size).to eq(1)
      expect(brokers.srv_error).to be_a(ChoriaNats::TimeoutError)
      expect(brokers.description).to eq(
        "NATS brokers: none configured and the SRV lookup for example.net failed " \
        "(the DNS server 10.9.9.9:53 did not answer within 5.0s): using the default puppet:4222"
      )
    end

    it "uses the second name's records when the server refuses the first" do
      failures["_mcollective-server._tcp.example.net"] = ChoriaNats::ConnectionError.new("answered REFUSED")
      records["_x-puppet-mcollective._tcp.example.net"] = [["old.example.net", 4222, 0, 0]]
      brokers = list
      expect(brokers.servers).to eq([%w[old.example.net:4222 srv]])
      expect(brokers.srv_error).to be_nil
    end

    it "lets a bad nameserver setting raise" do
      failures["_mcollective-server._tcp.example.net"] = ChoriaNats::ConfigurationError.new("invalid DNS nameserver")
      expect { list(nameserver: "nope").servers }.to raise_error(ChoriaNats::ConfigurationError)
    end
  end

  describe ".from_settings" do
    def from(conf)
      settings = ChoriaNats::PluginSettings.new(conf, env: {})
      described_class.from_settings(settings, resolver: resolver, domain_lookup: domain_lookup)
    end

    it "takes the brokers from plugin.choria.middleware_hosts" do
      expect(from("choria.middleware_hosts" => "h1, h2:4223").servers).to eq([%w[h1:4222 config], %w[h2:4223 config]])
    end

    it "takes the SRV domain, the nameserver and the SRV switch from their plugin.choria settings" do
      records["_mcollective-server._tcp.example.org"] = [["n.example.org", 4222, 0, 0]]
      conf = { "choria.srv_domain" => "example.org", "choria.srv_nameserver" => "127.0.0.1:5353" }
      expect(from(conf).servers).to eq([%w[n.example.org:4222 srv]])
      expect(calls).to eq([[%w[_mcollective-server._tcp.example.org _x-puppet-mcollective._tcp.example.org],
                            "127.0.0.1:5353"]])
      expect(domain_calls).to be_empty

      expect(from(conf.merge("choria.use_srv_records" => "no")).servers).to eq([%w[puppet:4222 default]])
      expect(calls.size).to eq(1)
    end
  end

  describe "#srv_names, looked up again while connecting fails" do
    it "names both SRV services of the domain when SRV gave or could give the brokers" do
      brokers = list
      brokers.servers
      expect(brokers.srv_names).to eq(%w[_mcollective-server._tcp.example.net _x-puppet-mcollective._tcp.example.net])
    end

    it "is empty for configured brokers, with SRV off, or without a domain" do
      [list(middleware_hosts: "h1"), list(use_srv: false),
       described_class.new(resolver: resolver, domain_lookup: -> {})].each do |brokers|
        brokers.servers
        expect(brokers.srv_names).to eq([])
      end
    end
  end

  describe "defaults" do
    it "resolves with ChoriaNats.srv_lookup and rejects a bad nameserver before any lookup" do
      brokers = described_class.new(srv_domain: "example.net", nameserver: "not-an-address")
      expect { brokers.servers }.to raise_error(ChoriaNats::ConfigurationError, /IP:PORT/)
    end
  end
end
