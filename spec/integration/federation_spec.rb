# frozen_string_literal: true

require "spec_helper"
require "json"
require "net/http"

# A mixed fleet behind the real Choria Federation Broker (mcollective-choria 0.7.0): this gem's
# nodes and a node running the reference connector (mcollective-choria 0.16.1) on collective
# broker B; clients on federation broker A, which reach B only through the federation broker.
RSpec.describe "Federation through the real Choria Federation Broker" do
  peers = File.expand_path("../../../shared/peers", __dir__)
  fed_broker = File.join(peers, "federation-broker")
  reference = File.join(peers, "mcollective-choria-0.16.1", "lib")
  nats_pure = File.join(peers, "nats-pure-0.5.0", "lib")
  network = "dev1"
  subject = "choria.federation.#{network}.federation"
  gem_nodes = %w[node1.example.net node2.example.net]
  reference_node = "ref1.example.net"
  all_nodes = (gem_nodes + [reference_node]).sort

  before(:all) do
    @dir = Dir.mktmpdir("h-fed-federation")
    File.chmod(0o755, @dir) # the reference client runs as an ordinary user
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "ssl"))
    @a = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "a"), monitor: true, name: "a").start
    @b = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "b"), monitor: true, name: "b").start
    @tap = start_tap(subject)
    start_federation_broker(fed_broker, network)
    @nodes = gem_nodes.map { |identity| node(identity) } + [node(reference_node, libdir: reference, rubylib: nats_pure)]
    @nodes.each(&:start)
    wait_until("every node subscribed on B") do
      subscriptions(@b).then { |subs| all_nodes.all? { |n| subs.include?("mcollective.node.#{n}") } }
    end
  end

  after(:all) do
    Array(@nodes).each(&:stop)
    stop_pid(@tap)
    system(File.join(fed_broker, "stop.sh"), File.join(@dir, "broker", "broker.pid"), %i[out err] => File::NULL) if @dir
    @b&.stop
    @a&.stop
    FileUtils.rm_rf(@dir) if @dir
  end

  def start_tap(subject)
    @pki.cert_for("wiretap")
    @tap_file = File.join(@dir, "tap.jsonl")
    out = File.join(@dir, "tap.out")
    pid = Process.spawn("ruby", File.join(fed_broker_dir, "tools", "nats-tap.rb"), "--host", "127.0.0.1",
                        "--port", @a.port.to_s, "--ca", @pki.ca_file, "--cert", @pki.cert_for("wiretap"),
                        "--key", @pki.key_for("wiretap"), "--subject", subject, "--seconds", "300",
                        "--max", "5000", "--out", @tap_file, %i[out err] => [out, "w"])
    wait_until("the wire tap on A") { File.read(out).include?("READY") }
    pid
  end

  def fed_broker_dir
    File.expand_path("../../../shared/peers/federation-broker", __dir__)
  end

  def start_federation_broker(dir, network)
    cert = "fedbroker-#{network}.example.net"
    output, status = Open3.capture2e(
      File.join(dir, "start.sh"), "--cluster", network, "--federation", @a.address, "--collective", @b.address,
      "--ca", @pki.ca_file, "--cert", @pki.cert_for(cert), "--key", @pki.key_for(cert),
      "--rundir", File.join(@dir, "broker"), "--wait", "30",
      "--federation-monitor", "http://127.0.0.1:#{@a.monitor_port}",
      "--collective-monitor", "http://127.0.0.1:#{@b.monitor_port}"
    )
    raise "the federation broker did not start:\n#{output}" unless status.success?
  end

  # A node on B: this gem's connector, or the reference's (`libdir`, with nats-pure on `rubylib`).
  def node(identity, libdir: ChoriaNats::TestSupport::MCollectiveConfig::LIB, rubylib: nil)
    @pki.cert_for(identity)
    facts = File.join(@dir, "#{identity}.facts.yaml")
    File.write(facts, "role: test\n")
    settings = base_settings(@b).merge("plugin.yaml" => facts, "loglevel" => "info",
                                       "classesfile" => File.join(@dir, "classes.txt"), "registerinterval" => "0")
    config = ChoriaNats::TestSupport::MCollectiveConfig.text(identity: identity, libdir: libdir, settings: settings)
    env = { "MCOLLECTIVE_CERTNAME" => identity }
    env["RUBYLIB"] = rubylib if rubylib
    ChoriaNats::TestSupport::Mcollectived.new(dir: File.join(@dir, "nodes"), name: identity, config: config, env: env)
  end

  def base_settings(broker)
    { "plugin.choria.middleware_hosts" => broker.address, "plugin.choria.ssldir" => @pki.dir,
      "plugin.choria.use_srv_records" => "false", "plugin.choria.randomize_middleware_hosts" => "false",
      "connection_timeout" => "5" }
  end

  # This gem's client config: only A is named, so everything it reaches goes through the federation broker.
  def gem_client(name, extra = {})
    @pki.cert_for("rspec.mcollective")
    settings = base_settings(@a).merge("plugin.choria.federation_middleware_hosts" => @a.address,
                                       "logger_type" => "file", "loglevel" => "info",
                                       "logfile" => File.join(@dir, "#{name}.log")).merge(extra)
    ChoriaNats::TestSupport::MCollectiveConfig.write(File.join(@dir, "#{name}.cfg"), identity: "rspec.example.net",
                                                                                     settings: settings)
  end

  def gem_mco(config, *args, env: {})
    ChoriaNats::TestSupport::Mcollectived.mco(config, *args, env: { "MCOLLECTIVE_CERTNAME" => "rspec.mcollective" }
                                                                 .merge(env))
  end

  # The reference's mco (0.16.1 connector), as an ordinary user (it refuses root), federated by CHORIA_FED_COLLECTIVE.
  def reference_mco(*args, reference:, nats_pure:, network:, extra: {})
    user = ChoriaNats::TestSupport::UnprivilegedUser.shared
    home = user.directory(File.join(@dir, "ref-home"))
    ssldir = reference_ssldir(user, "refclient.mcollective")
    settings = base_settings(@a).merge("plugin.choria.federation_middleware_hosts" => @a.address,
                                       "plugin.choria.ssldir" => ssldir).merge(extra)
    config = ChoriaNats::TestSupport::MCollectiveConfig.write(File.join(home, "client#{extra.size}.cfg"),
                                                              identity: "refclient.example.net", libdir: reference,
                                                              settings: settings)
    File.chmod(0o644, config)
    user.run("mco", *args, "--config", config, home: home,
                                               env: { "RUBYLIB" => nats_pure, "CHORIA_FED_COLLECTIVE" => network,
                                                      "MCOLLECTIVE_CERTNAME" => "refclient.mcollective" })
  end

  def reference_ssldir(user, certname)
    dir = File.join(@dir, "ref-ssl")
    return dir if File.directory?(dir)

    %w[certs private_keys].each { |sub| user.directory(File.join(dir, sub)) }
    user.directory(dir)
    { @pki.ca_file => "certs/ca.pem", @pki.cert_for(certname) => "certs/#{certname}.pem",
      @pki.key_for(certname) => "private_keys/#{certname}.pem" }.each do |from, to|
      FileUtils.cp(from, File.join(dir, to))
      File.chown(user.uid, user.gid, File.join(dir, to)) if Process.uid.zero?
    end
    dir
  end

  def subscriptions(server)
    http = Net::HTTP.new(server.host, server.monitor_port)
    http.open_timeout = http.read_timeout = 2
    JSON.parse(http.get("/connz?subs=1").body).fetch("connections", []).flat_map { |c| c["subscriptions_list"] || [] }
  rescue StandardError
    []
  end

  def wait_until(what, seconds: 30)
    (seconds * 10).times do
      return if yield

      sleep 0.1
    end
    raise "timed out waiting for #{what}"
  end

  def stop_pid(pid)
    return unless pid

    Process.kill("TERM", pid)
    Timeout.timeout(5) { Process.wait(pid) }
  rescue Errno::ESRCH, Errno::ECHILD, Timeout::Error
    nil
  end

  def pinged(output)
    output.lines.grep(/time=/).map { |line| line.split.first }.sort
  end

  def rpc_senders(output)
    JSON.parse(output[output.index("[")..]).select { |r| r["statuscode"].zero? }.map { |r| r["sender"] }.sort
  end

  # The requests the tap saw on A, as [NATS reply subject, headers].
  def tapped
    File.readlines(@tap_file).map do |line|
      message = JSON.parse(line)
      [message["reply"], JSON.parse(message["payload"])["headers"]]
    end
  end

  describe "this gem's mco" do
    before(:all) { @client = gem_client("client", "plugin.choria.federation.collectives" => network) }

    it "pings this gem's nodes and the reference node through the federation broker, and says it is federated" do
      output, status = gem_mco(@client, "ping")
      expect(status).to be_success, output
      expect(pinged(output)).to eq(all_nodes), output
      expect(File.read(File.join(@dir, "client.log")))
        .to include("Federated client: requests go to the networks #{network} through the federation brokers " \
                    "from plugin.choria.federation_middleware_hosts: #{@a.address}")
    end

    it "shows the networks and the federation brokers in mco choria show_config, and checks those brokers" do
      output, status = gem_mco(@client, "choria", "show_config")
      expect(status).to be_success, output
      expect(output).to include("ok       #{@a.address} (config): connected over verified TLS")
      expect(output).to include(<<~SECTION)
        Federation
          networks   #{network} (from plugin.choria.federation.collectives)
          subjects   #{subject}
          brokers    federation brokers from plugin.choria.federation_middleware_hosts: #{@a.address}
      SECTION
    end

    it "sends a broadcast RPC request through the federation broker and gets every reply" do
      config = gem_client("broadcast", "plugin.choria.federation.collectives" => network,
                                       "direct_addressing_threshold" => "0")
      before = File.readlines(@tap_file).size
      output, status = gem_mco(config, "rpc", "rpcutil", "ping", "--json")
      expect(status).to be_success, output
      expect(rpc_senders(output)).to eq(all_nodes)
      wait_until("the tap saw the discovery and the request") { tapped.size >= before + 2 }
      requests = tapped.drop(before).map(&:last).select do |h|
        h["federation"]["target"] == ["mcollective.broadcast.agent.rpcutil"]
      end
      expect(requests.size).to eq(1), tapped.inspect
      expect(requests.first["federation"]["req"]).to match(/\A\h{32}\z/)
      expect(tapped.drop(before).map { |reply, headers| reply == headers["reply-to"] }).to all(be(true))
    end

    it "sends a direct RPC request through the federation broker to the nodes named" do
      output, status = gem_mco(@client, "rpc", "rpcutil", "ping", "--json", "-I", "node2.example.net",
                               "-I", reference_node)
      expect(status).to be_success, output
      expect(rpc_senders(output)).to eq(["node2.example.net", reference_node])
    end

    it "is federated by CHORIA_FED_COLLECTIVE alone, which overrides the configuration" do
      config = gem_client("env", "plugin.choria.federation.collectives" => "nowhere")
      output, status = gem_mco(config, "ping", env: { "CHORIA_FED_COLLECTIVE" => network })
      expect(status).to be_success, output
      expect(pinged(output)).to eq(all_nodes), output
    end

    it "finds the federation brokers in SRV records (served by dnsmasq), not the collective's brokers" do
      dnsmasq = ChoriaNats::TestSupport::Dnsmasq.new(
        dir: File.join(@dir, "dns"), local_domains: ["fed.test"],
        srv_hosts: ["_x-puppet-mcollective_federation._tcp.fed.test,127.0.0.1,#{@a.port},0,0"]
      ).start
      # B, the collective's broker, is configured too: a federated client that fell back to it would get no
      # reply (no federation broker listens there), and an unfederated one would connect there.
      config = gem_client("srv", "plugin.choria.federation.collectives" => network,
                                 "plugin.choria.federation_middleware_hosts" => "",
                                 "plugin.choria.middleware_hosts" => @b.address,
                                 "plugin.choria.use_srv_records" => "true", "plugin.choria.srv_domain" => "fed.test",
                                 "plugin.choria.srv_nameserver" => dnsmasq.nameserver)
      output, status = gem_mco(config, "ping")
      expect(status).to be_success, output
      expect(pinged(output)).to eq(all_nodes), output
      log = File.read(File.join(@dir, "srv.log"))
      expect(log).to include("Connected to NATS #{@a.address} (srv)")
      expect(log).to include("through the federation brokers from SRV _mcollective-federation_server._tcp.fed.test, " \
                             "_x-puppet-mcollective_federation._tcp.fed.test: 127.0.0.1:#{@a.port}")
    ensure
      dnsmasq&.stop
    end

    it "stops with one line naming CHORIA_FED_COLLECTIVE when it is not a list of network names" do
      output, status = gem_mco(@client, "ping", env: { "CHORIA_FED_COLLECTIVE" => "dev1.>" })
      expect(status).not_to be_success
      expect(output).to include("CHORIA_FED_COLLECTIVE (which overrides plugin.choria.federation.collectives) " \
                                "must be a comma-separated list of network names")
    end

    it "sends a direct request to 450 nodes as 3 messages of 200, 200 and 50 targets, and the real nodes reply" do
      nodes = all_nodes + (1..447).map { |n| "absent#{n}.example.net" }
      list = File.join(@dir, "nodes.txt")
      File.write(list, nodes.join("\n") << "\n")
      before = File.readlines(@tap_file).size
      output, = gem_mco(@client, "rpc", "rpcutil", "ping", "--json", "--nodes", list, "-t", "2")
      expect(rpc_senders(output)).to eq(all_nodes)
      wait_until("the tap saw 3 messages") { tapped.size >= before + 3 }
      batches = tapped.drop(before).map { |_, headers| headers["federation"]["target"] }
      expect(batches.map(&:size)).to eq([200, 200, 50])
      expect(batches.flatten).to match_array(nodes.map { |n| "mcollective.node.#{n}" })
    end
  end

  describe "the reference's mco (mcollective-choria 0.16.1)" do
    it "pings this gem's nodes and the reference node through the federation broker" do
      output, status = reference_mco("ping", reference: reference, nats_pure: nats_pure, network: network)
      expect(status).to be_success, output
      expect(pinged(output)).to eq(all_nodes), output
    end

    it "calls this gem's nodes with a direct RPC after its discovery broadcast, and with -I" do
      output, status = reference_mco("rpc", "rpcutil", "ping", "--json", reference: reference, nats_pure: nats_pure,
                                                                         network: network)
      expect(status).to be_success, output
      expect(rpc_senders(output)).to eq(all_nodes)
      output, status = reference_mco("rpc", "rpcutil", "ping", "--json", "-I", "node1.example.net",
                                     reference: reference, nats_pure: nats_pure, network: network)
      expect(status).to be_success, output
      expect(rpc_senders(output)).to eq(["node1.example.net"])
    end

    it "calls this gem's nodes with a broadcast RPC" do
      before = tapped.size
      output, status = reference_mco("rpc", "rpcutil", "ping", "--json",
                                     reference: reference, nats_pure: nats_pure, network: network,
                                     extra: { "direct_addressing_threshold" => "0" })
      expect(status).to be_success, output
      expect(rpc_senders(output)).to eq(all_nodes)
      wait_until("the tap saw the discovery and the request") { tapped.size >= before + 2 }
      expect(tapped.drop(before).map { |_, headers| headers["federation"]["target"] })
        .to include(["mcollective.broadcast.agent.rpcutil"])
    end
  end
end
