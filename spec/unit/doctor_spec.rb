# frozen_string_literal: true

require "spec_helper"
require "stringio"
require "choria_nats/doctor"

RSpec.describe ChoriaNats::Doctor do
  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-doctor-unit")
    @pki = ChoriaNats::TestSupport::PKI.new(@dir)
    @pki.client_cert
  end

  after(:all) { FileUtils.rm_rf(@dir) }

  let(:dialled) { [] }
  # A connector double: records the options, refuses every broker.
  let(:connector) do
    lambda do |**options|
      dialled << options
      address, source = options[:servers].first
      raise ChoriaNats::ConnectionError, "Cannot resolve the NATS broker #{address} (#{source}): check the host name"
    end
  end

  def doctor(pluginconf, records: {}, config_problem: nil)
    out = StringIO.new
    conf = { "choria.ssldir" => @dir }.merge(pluginconf)
    brokers = ChoriaNats::BrokerList.from_settings(
      ChoriaNats::PluginSettings.new(conf, env: {}),
      resolver: ->(names, _ns) { records.fetch(names.first, []) }, domain_lookup: -> { "example.net" }
    )
    env = { "MCOLLECTIVE_CERTNAME" => "client.example.net" }
    status = described_class.new(identity: "node1.example.net", pluginconf: conf, out: out, env: env,
                                 connector: connector, broker_list: brokers, config_file: "/etc/server.cfg",
                                 config_problem: config_problem).run
    [out.string, status]
  end

  it "shows the SRV records it saw, dials each broker once with a short timeout and no retries" do
    records = { "_mcollective-server._tcp.example.net" => [["nats1.example.net", 4222, 10, 60],
                                                           ["nats2.example.net", 4223, 20, 0]] }
    output, status = doctor({}, records: records)
    expect(status).to eq(1)
    names = "_mcollective-server._tcp.example.net, _x-puppet-mcollective._tcp.example.net"
    expect(output).to include("  NATS brokers from SRV #{names}: nats1.example.net:4222, nats2.example.net:4223")
    expect(output).to include("  SRV records seen for #{names}: nats1.example.net:4222 " \
                              "(priority 10, weight 60), nats2.example.net:4223 (priority 20, weight 0)")
    expect(dialled.map { |o| o[:servers] }).to eq([[%w[nats1.example.net:4222 srv]], [%w[nats2.example.net:4223 srv]]])
    expect(dialled.map { |o| [o[:retry_initial_connect], o[:randomize], o[:connect_timeout]] }.uniq)
      .to eq([[false, false, 2.0]])
    expect(output).to include("  PROBLEM  Cannot resolve the NATS broker nats2.example.net:4223 (srv)")
    expect(output).to include("Result: 2 problems; the first: Cannot resolve the NATS broker nats1.example.net:4222")
  end

  it "reports a config MCollective cannot read as a problem under the Config line, and goes on" do
    problem = "MCollective cannot read /etc/server.cfg here: line 2 is not US-ASCII"
    output, status = doctor({ "choria.use_srv_records" => "false" }, config_problem: problem)
    expect(status).to eq(1)
    expect(output).to include("Config     /etc/server.cfg\n  PROBLEM  #{problem}\nIdentity   node1.example.net\n")
    expect(output).to include("Result: 2 problems; the first: #{problem}\n")
    expect(dialled.size).to eq(1)
  end

  it "says when it falls back to puppet:4222 and why" do
    output, = doctor({ "choria.use_srv_records" => "false" })
    expect(output).to include("  NATS brokers: none configured and SRV lookups are off " \
                              "(plugin.choria.use_srv_records = false): using the default puppet:4222")
    expect(dialled.map { |o| o[:servers] }).to eq([[%w[puppet:4222 default]]])
  end

  it "never prints the NATS password" do
    output, = doctor({ "choria.middleware_hosts" => "nats1:4222", "nats.user" => "mco",
                       "nats.pass" => "s3cret-doctor" })
    expect(dialled.first[:password]).to eq("s3cret-doctor")
    expect(output).not_to include("s3cret-doctor")
  end
end
