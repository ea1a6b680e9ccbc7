# frozen_string_literal: true

require "spec_helper"

RSpec.describe ChoriaNats::SrvLocator do
  # A service of its own words, as BrokerList and PuppetCA::Location are.
  let(:service) do
    Class.new(described_class) do
      const_set(:SRV_SERVICES, %w[_first._tcp _second._tcp].freeze)
      const_set(:DESCRIPTIONS, { config: "Svc from plugin.svc.host: %<list>s",
                                 srv: "Svc from SRV %<srv_name>s: %<list>s",
                                 default: "Svc: none configured and %<reason>s: using the default %<list>s" }.freeze)

      def initialize(host: nil, **options)
        super(**options)
        @host = host
      end

      private

      def configured_addresses
        @host ? ["#{@host}:1"] : []
      end

      def default_addresses
        ["fallback:2"]
      end
    end
  end
  let(:records) { {} }
  let(:asked) { [] }
  let(:resolver) do
    lambda do |names, _nameserver|
      asked << names.first
      records.fetch(names.first, [])
    end
  end

  def locator(**options)
    service.new(resolver: resolver, domain_lookup: -> { "example.net" }, **options)
  end

  it "takes the configured addresses first, in the subclass's words, without DNS" do
    svc = locator(host: "h")
    expect(svc.servers).to eq([%w[h:1 config]])
    expect(svc.description).to eq("Svc from plugin.svc.host: h:1")
    expect(svc.srv_names).to eq([])
    expect(asked).to be_empty
  end

  it "then the records of the subclass's SRV names, in order" do
    records["_second._tcp.example.net"] = [["s.example.net", 3, 1, 0]]
    svc = locator
    expect(svc.servers).to eq([%w[s.example.net:3 srv]])
    expect(asked).to eq(%w[_first._tcp.example.net _second._tcp.example.net])
    expect(svc.description).to eq("Svc from SRV _second._tcp.example.net: s.example.net:3")
    expect(svc.srv_names).to eq(%w[_first._tcp.example.net _second._tcp.example.net])
  end

  it "then the subclass's default, saying why" do
    svc = locator
    expect(svc.servers).to eq([%w[fallback:2 default]])
    expect(svc.description)
      .to eq("Svc: none configured and no SRV records for example.net: using the default fallback:2")
    expect(locator(use_srv: false).description).to eq("Svc: none configured and SRV lookups are off " \
                                                      "(plugin.choria.use_srv_records = false): using the default " \
                                                      "fallback:2")
  end

  it "takes its SRV keywords from PluginSettings" do
    settings = ChoriaNats::PluginSettings.new({ "choria.srv_domain" => "example.org", "choria.use_srv_records" => "no",
                                                "choria.srv_nameserver" => "127.0.0.1:53" }, env: {})
    expect(described_class.srv_options(settings))
      .to eq(srv_domain: "example.org", use_srv: false, nameserver: "127.0.0.1:53")
  end

  describe "the machine's domain" do
    it "turns facter's empty answer into nil", bounded: 30 do
      domain = described_class.facter_domain
      expect(domain).to be_nil.or(match(/\A[^\s]+\z/))
    end
  end
end
