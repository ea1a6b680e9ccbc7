# frozen_string_literal: true

require "spec_helper"
require "json"
require "net/http"

RSpec.describe "MCollective with connector = nats (real mcollectived and mco)" do
  # The broker requires a user and password: node1 gets them from the environment, the rest from plugin.nats.*.
  def self.password
    "s3cret-nats-pw"
  end

  def config_credentials
    { "plugin.nats.user" => "mco", "plugin.nats.pass" => self.class.password }
  end

  def env_credentials
    { "MCOLLECTIVE_NATS_USERNAME" => "mco", "MCOLLECTIVE_NATS_PASSWORD" => self.class.password }
  end

  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-mco")
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "ssl"))
    @broker = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "broker"), monitor: true,
                                                      user: "mco", password: self.class.password).start
    @nodes = {
      "node1.example.net" => %w[mcollective sub],
      "node2.example.net" => %w[mcollective]
    }.map do |identity, collectives|
      @pki.cert_for(identity)
      daemon(identity, collectives: collectives, ssldir: @pki.dir)
    end
    @foreign = daemon("foreign.example.net", ssldir: foreign_ssldir)
    (@nodes + [@foreign]).each(&:start)
    @nodes.each { |node| node.wait_for_log(/Connected to NATS #{Regexp.escape(@broker.address)} \(config\)/) }
    @client_cfg = client_config
  end

  after(:all) do
    (Array(@nodes) + [@foreign]).compact.each(&:stop)
    @broker&.stop
    FileUtils.rm_rf(@dir)
  end

  def self.settings_for(broker, ssldir, extra = {})
    { "plugin.choria.middleware_hosts" => broker.address, "plugin.choria.ssldir" => ssldir,
      "plugin.choria.use_srv_records" => "false" }.merge(extra)
  end

  def daemon(identity, ssldir:, collectives: %w[mcollective], broker: @broker, extra: {})
    facts = File.join(@dir, "#{identity}.facts.yaml")
    File.write(facts, "role: test\n")
    settings = self.class.settings_for(broker, ssldir, { "plugin.yaml" => facts, "loglevel" => "info",
                                                         "classesfile" => File.join(@dir, "classes.txt") }.merge(extra))
    env = { "MCOLLECTIVE_CERTNAME" => identity }
    identity.start_with?("node1") ? env.update(env_credentials) : settings.update(config_credentials)
    config = ChoriaNats::TestSupport::MCollectiveConfig.text(identity: identity, collectives: collectives,
                                                             settings: settings)
    ChoriaNats::TestSupport::Mcollectived.new(dir: File.join(@dir, "daemons"), name: identity, config: config, env: env)
  end

  # An SSL dir whose certificate another CA signed (the broker refuses it).
  def foreign_ssldir
    dir = File.join(@dir, "foreign-ssl")
    FileUtils.mkdir_p([File.join(dir, "certs"), File.join(dir, "private_keys")])
    FileUtils.cp(@pki.ca_file, File.join(dir, "certs", "ca.pem"))
    FileUtils.cp(@pki.foreign_client_cert, File.join(dir, "certs", "foreign.example.net.pem"))
    FileUtils.cp(@pki.foreign_client_key, File.join(dir, "private_keys", "foreign.example.net.pem"))
    dir
  end

  def client_config(extra = {}, name: "client")
    @pki.cert_for("rspec.mcollective")
    settings = self.class.settings_for(@broker, @pki.dir, "connection_timeout" => "5")
                   .merge(config_credentials).merge(extra)
    ChoriaNats::TestSupport::MCollectiveConfig.write(File.join(@dir, "#{name}.cfg"),
                                                     identity: "rspec-client.example.net",
                                                     collectives: %w[mcollective sub],
                                                     settings: settings)
  end

  def mco(*args, config: @client_cfg)
    ChoriaNats::TestSupport::Mcollectived.mco(config, *args, env: { "MCOLLECTIVE_CERTNAME" => "rspec.mcollective" })
  end

  def rpc_senders(*args, config: @client_cfg)
    output, status = mco("rpc", "rpcutil", "ping", "--json", *args, config: config)
    expect(status).to be_success, output
    JSON.parse(output[output.index("[")..]).map { |reply| reply["sender"] }.sort
  end

  # Messages the broker delivered per subscription subject (its /subsz monitor).
  def delivered
    uri = URI("http://127.0.0.1:#{@broker.monitor_port}/subsz?subs=1&limit=1000")
    JSON.parse(Net::HTTP.get(uri)).fetch("subscriptions_list", []).each_with_object(Hash.new(0)) do |sub, counts|
      counts[sub["subject"]] += sub["msgs"].to_i
    end
  end

  it "lets mco ping see both nodes through the TLS broker", bounded: 120 do
    output, status = mco("ping")
    expect(status).to be_success, output
    expect(output).to match(/^node1\.example\.net\s+time=/).and match(/^node2\.example\.net\s+time=/)
    expect(output).to match(/2 replies/)
    expect(output).not_to include("foreign.example.net")
  end

  it "runs an RPC request with direct addressing, once per discovered node", bounded: 120 do
    before = delivered
    expect(rpc_senders).to eq(%w[node1.example.net node2.example.net])
    after = delivered
    %w[node1.example.net node2.example.net].each do |node|
      expect(after["mcollective.node.#{node}"] - before["mcollective.node.#{node}"]).to eq(1)
    end
    expect(after["mcollective.broadcast.agent.rpcutil"]).to eq(before["mcollective.broadcast.agent.rpcutil"])
  end

  it "runs the same request as a broadcast with direct_addressing_threshold = 0", bounded: 120 do
    config = client_config({ "direct_addressing_threshold" => "0" }, name: "broadcast-client")
    before = delivered
    expect(rpc_senders(config: config)).to eq(%w[node1.example.net node2.example.net])
    after = delivered
    expect(after["mcollective.broadcast.agent.rpcutil"] - before["mcollective.broadcast.agent.rpcutil"]).to eq(2)
    expect(after["mcollective.node.node1.example.net"]).to eq(before["mcollective.node.node1.example.net"])
  end

  it "reaches exactly one node with -I", bounded: 120 do
    expect(rpc_senders("-I", "node2.example.net")).to eq(%w[node2.example.net])
  end

  it "reaches only the members of a sub-collective", bounded: 120 do
    output, status = mco("ping", "-T", "sub")
    expect(status).to be_success, output
    expect(output).to match(/^node1\.example\.net\s+time=/)
    expect(output).not_to include("node2.example.net")
  end

  it "leaves a node whose certificate another CA signed out, and its log says why", bounded: 120 do
    # The pre-flight check stops it before it dials.
    @foreign.wait_for_log(/foreign\.example\.net\.pem is not signed by the CA in .*foreign-ssl/)
    expect(@foreign.log).not_to match(/Connected to NATS/)
  end

  it "authenticates with plugin.nats.* and the environment, and logs no password", bounded: 120 do
    logs = @nodes.map(&:log).join
    expect(logs.scan("Connected to NATS").size).to eq(2)
    expect(logs).not_to include(self.class.password)
    config = client_config({ "plugin.nats.pass" => "wrong-nats-pw" }, name: "wrong-password-client")
    output, status = mco("ping", config: config)
    expect(status).not_to be_success
    expect(output).to include("The NATS broker #{@broker.address} (config) refused our credentials")
    expect(output).not_to include("wrong-nats-pw")
  end

  it "keeps a daemon trying until its broker appears, then serves requests", bounded: 120 do
    late = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "late-broker"), user: "mco",
                                                   password: self.class.password)
    @pki.cert_for("node3.example.net")
    node = daemon("node3.example.net", ssldir: @pki.dir, broker: late).start
    begin
      node.wait_for_log(/refused the connection.*; retrying in .*\n(.*\n)*.*refused the connection.*; retrying in/)
      late.start
      node.wait_for_log(/Connected to NATS #{Regexp.escape(late.address)} \(config\)/, 60)
      output, status = mco("ping", config: client_config({ "plugin.choria.middleware_hosts" => late.address },
                                                         name: "late-client"))
      expect(status).to be_success, output
      expect(output).to match(/^node3\.example\.net\s+time=/)
    ensure
      node.stop
      late.stop
    end
  end

  it "reaches a broker with a legacy certificate only with plugin.security.support_legacy_certificates",
     bounded: 120 do
    files = @pki.broker_files(:legacy_broker) # no subjectAltName, CN 127.0.0.1
    legacy = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "legacy-broker"), user: "mco",
                                                     password: self.class.password, cert: files[:cert_file],
                                                     key: files[:key_file]).start
    hosts = { "plugin.choria.middleware_hosts" => legacy.address }
    allow = hosts.merge("plugin.security.support_legacy_certificates" => "true")
    @pki.cert_for("node4.example.net")
    node = daemon("node4.example.net", ssldir: @pki.dir, extra: allow).start
    begin
      node.wait_for_log(/Connected to NATS #{Regexp.escape(legacy.address)} \(config\)/)
      output, status = mco("ping", config: client_config(hosts, name: "legacy-refusing-client"))
      expect(status).not_to be_success
      expect(output).to include("it holds no subjectAltName").and include("support_legacy_certificates = true")
      output, status = mco("ping", config: client_config(allow, name: "legacy-client"))
      expect(status).to be_success, output
      expect(output).to match(/^node4\.example\.net\s+time=/)
    ensure
      node.stop
      legacy.stop
    end
  end

  it "makes mco give up with one clear line when no broker answers", bounded: 120 do
    port = ChoriaNats::TestSupport::NatsServer.free_port
    config = client_config({ "plugin.choria.middleware_hosts" => "127.0.0.1:#{port}", "connection_timeout" => "2" },
                           name: "unreachable-client")
    output, status = mco("ping", config: config)
    expect(status).not_to be_success
    expect(output).to include("The NATS broker 127.0.0.1:#{port} (config) refused the connection")
  end

  it "reads go-choria's durations for plugin.choria.network.* seconds, and refuses others in one line",
     bounded: 120 do
    durations = { "plugin.choria.network.connect_timeout" => "2s", "plugin.choria.network.reconnect_spread" => "1m" }
    output, status = mco("ping", config: client_config(durations, name: "durations-client"))
    expect(status).to be_success, output
    expect(output).to match(/^node1\.example\.net\s+time=/)
    parsecs = { "plugin.choria.network.connect_timeout" => "2 parsecs" }
    output, status = mco("ping", config: client_config(parsecs, name: "parsecs-client"))
    expect(status).not_to be_success
    expect(output).to include("plugin.choria.network.connect_timeout must be a number of seconds above 0 and at " \
                              'most 120, or a duration such as 2s, 500ms, 1m30s or 1h, not "2 parsecs"')
  end
end
