# frozen_string_literal: true

require "spec_helper"
require "socket"

# ChoriaNats.srv_lookup and BrokerList against a real DNS server: Debian's dnsmasq
# (package dnsmasq-base), run on 127.0.0.1 with a free high port.
#
# Zones: dnsmasq answers NXDOMAIN (or no data) for names under a --local domain it
# has no record for, and REFUSED for any other name, since --no-resolv leaves it
# no upstream to forward to.
RSpec.describe "SRV lookups against dnsmasq" do
  srv_hosts = [
    # example.net: three brokers, two priorities.
    "_mcollective-server._tcp.example.net,nats1.example.net,4222,10,60",
    "_mcollective-server._tcp.example.net,nats2.example.net,4223,20,0",
    "_mcollective-server._tcp.example.net,nats3.example.net,4224,10,40",
    # example.com: only the old name; the new one is NXDOMAIN.
    "_x-puppet-mcollective._tcp.example.com,old.example.com,61613,0,0",
    # example.biz: only the old name, outside any --local domain: the new one is REFUSED.
    "_x-puppet-mcollective._tcp.example.biz,old.example.biz,4222,0,0",
    # example.edu: a record with no target ("."): the service is decidedly not there.
    "_mcollective-server._tcp.example.edu",
    # example.io: brokers under both names, one of them under both.
    "_mcollective-server._tcp.example.io,new.example.io,4222,10,0",
    "_mcollective-server._tcp.example.io,both.example.io,4222,10,0",
    "_x-puppet-mcollective._tcp.example.io,old.example.io,4222,10,0",
    "_x-puppet-mcollective._tcp.example.io,both.example.io,4222,20,0"
  ] + Array.new(ChoriaNats::SRV_MAX_RECORDS + 8) do |i|
    # example.tv: more records than a lookup takes.
    "_mcollective-server._tcp.example.tv,n#{i}.example.tv,4222,#{i},0"
  end
  local_domains = %w[example.net example.com example.org example.edu example.io example.tv]

  before(:all) do
    skip "dnsmasq is not installed (Debian package dnsmasq-base)" unless ChoriaNats::TestSupport::Dnsmasq.binary

    @dir = Dir.mktmpdir("choria-nats-dnsmasq")
    @dnsmasq = ChoriaNats::TestSupport::Dnsmasq.new(dir: @dir, srv_hosts: srv_hosts, local_domains: local_domains).start
    @nameserver = @dnsmasq.nameserver
  end

  after(:all) do
    @dnsmasq&.stop
    FileUtils.rm_rf(@dir) if @dir
  end

  def lookup(domain, timeout = 5.0)
    ChoriaNats.srv_lookup(["_mcollective-server._tcp.#{domain}", "_x-puppet-mcollective._tcp.#{domain}"],
                          @nameserver, timeout)
  end

  # A port on 127.0.0.1 where nothing listens.
  def silent_nameserver
    port = TCPServer.new("127.0.0.1", 0).then { |server| server.addr[1].tap { server.close } }
    "127.0.0.1:#{port}"
  end

  def elapsed
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    yield
    Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
  end

  describe "ChoriaNats.srv_lookup", bounded: 60 do
    it "returns [host, port, priority, weight] in priority order, without trailing dots" do
      records = lookup("example.net")
      expect(records).to contain_exactly(["nats1.example.net", 4222, 10, 60], ["nats2.example.net", 4223, 20, 0],
                                         ["nats3.example.net", 4224, 10, 40])
      expect(records.map { |record| record[2] }).to eq([10, 10, 20])
      expect(records.map(&:first)).to all(satisfy { |host| !host.end_with?(".") })
    end

    it "orders equal priorities by weighted chance, not always the same way" do
      firsts = Array.new(100) { lookup("example.net").first.first }.tally
      expect(firsts.keys).to contain_exactly("nats1.example.net", "nats3.example.net")
    end

    it "merges the records of both names, a broker under both kept once at its best priority" do
      records = lookup("example.io")
      expect(records).to contain_exactly(["new.example.io", 4222, 10, 0], ["both.example.io", 4222, 10, 0],
                                         ["old.example.io", 4222, 10, 0])
      firsts = Array.new(60) { lookup("example.io").first.first }.uniq
      expect(firsts).to contain_exactly("new.example.io", "both.example.io", "old.example.io")
    end

    it "takes at most SRV_MAX_RECORDS records, the first in priority order" do
      records = lookup("example.tv")
      expect(records.size).to eq(ChoriaNats::SRV_MAX_RECORDS)
      expect(records.map { |record| record[2] }).to eq((0...ChoriaNats::SRV_MAX_RECORDS).to_a)
    end

    it "falls back to _x-puppet-mcollective._tcp when the first name is NXDOMAIN" do
      expect(lookup("example.com")).to eq([["old.example.com", 61_613, 0, 0]])
    end

    it "falls back to _x-puppet-mcollective._tcp when the first name is REFUSED" do
      expect(lookup("example.biz")).to eq([["old.example.biz", 4222, 0, 0]])
    end

    it "returns [] for a domain with no records (NXDOMAIN) and for a '.' target" do
      expect(lookup("example.org")).to eq([])
      expect(lookup("example.edu")).to eq([])
    end

    it "raises ConnectionError when the server REFUSES every name, naming the name and the server" do
      expect { lookup("example.info") }.to raise_error(ChoriaNats::ConnectionError) { |error|
        expect(error).not_to be_a(ChoriaNats::TimeoutError)
        expect(error.message).to include("REFUSED", "_mcollective-server._tcp.example.info", @nameserver)
      }
    end

    it "raises ConnectionError naming the name and the server when nothing listens, within the timeout" do
      nameserver = silent_nameserver
      took = elapsed do
        expect { ChoriaNats.srv_lookup(["_mcollective-server._tcp.example.net"], nameserver, 1.0) }
          .to raise_error(ChoriaNats::ConnectionError) { |error|
            expect(error.message).to include("_mcollective-server._tcp.example.net", nameserver)
            expect(error.message.lines.size).to eq(1)
          }
      end
      expect(took).to be < 2.5
    end

    it "releases the GVL and can be interrupted while it waits" do
      nameserver = silent_nameserver
      ticks = 0
      ticker = Thread.new { loop { ticks += 1 and sleep 0.01 } }
      took = elapsed do
        expect { Timeout.timeout(0.3) { ChoriaNats.srv_lookup(["_a._tcp.example.net"], nameserver, 30) } }
          .to raise_error(Timeout::Error)
      end
      ticker.kill
      expect(took).to be < 2
      expect(ticks).to be > 5
    end

    it "rejects a bad nameserver or timeout with ConfigurationError" do
      expect { ChoriaNats.srv_lookup(["_a._tcp.example.net"], "localhost:53") }
        .to raise_error(ChoriaNats::ConfigurationError, /IP:PORT/)
      expect { ChoriaNats.srv_lookup(["_a._tcp.example.net"], @nameserver, 0) }
        .to raise_error(ChoriaNats::ConfigurationError, /timeout/)
    end
  end

  describe ChoriaNats::BrokerList, bounded: 60 do
    def brokers(domain)
      described_class.new(srv_domain: domain, nameserver: @nameserver, domain_lookup: -> { raise "not asked" })
    end

    it "takes the brokers from SRV, in priority order" do
      list = brokers("example.net")
      servers = list.servers
      expect(servers.map(&:last)).to all(eq("srv"))
      expect(servers.last).to eq(%w[nats2.example.net:4223 srv])
      expect(servers.map(&:first)).to contain_exactly("nats1.example.net:4222", "nats2.example.net:4223",
                                                      "nats3.example.net:4224")
      expect(list.srv_records.size).to eq(3)
      names = "_mcollective-server._tcp.example.net, _x-puppet-mcollective._tcp.example.net"
      expect(list.description).to match(/\ANATS brokers from SRV #{Regexp.escape(names)}: nats[13]\.example\.net:/)
    end

    it "uses the brokers of both names together" do
      list = brokers("example.io")
      expect(list.servers.map(&:first)).to contain_exactly("new.example.io:4222", "both.example.io:4222",
                                                           "old.example.io:4222")
    end

    it "uses _x-puppet-mcollective._tcp when that is all there is" do
      list = brokers("example.com")
      expect(list.servers).to eq([%w[old.example.com:61613 srv]])
      expect(list.description).to eq(
        "NATS brokers from SRV _mcollective-server._tcp.example.com, _x-puppet-mcollective._tcp.example.com: " \
        "old.example.com:61613"
      )
    end

    it "falls back to puppet:4222 when the domain has no records" do
      list = brokers("example.org")
      expect(list.servers).to eq([%w[puppet:4222 default]])
      expect(list.description).to eq(
        "NATS brokers: none configured and no SRV records for example.org: using the default puppet:4222"
      )
    end

    it "falls back to puppet:4222 and says why when the server refuses" do
      list = brokers("example.info")
      expect(list.servers).to eq([%w[puppet:4222 default]])
      expect(list.srv_error).to be_a(ChoriaNats::ConnectionError)
      expect(list.description).to start_with("NATS brokers: none configured and the SRV lookup for example.info failed")
        .and include("REFUSED")
    end

    it "never asks DNS when middleware_hosts is set" do
      list = described_class.new(middleware_hosts: "nats.example.net", srv_domain: "example.net",
                                 nameserver: silent_nameserver)
      expect(list.servers).to eq([%w[nats.example.net:4222 config]])
    end
  end
end
