# frozen_string_literal: true

require "spec_helper"
require "json"
require "net/http"
require "open3"
require "socket"
require "time"

RSpec.describe "Monitoring: the status file, choria-nats status --check and the Prometheus metrics" do
  include ChoriaNats::TestSupport::Connections

  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-monitor")
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "ssl"))
    @broker = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "broker")).start
    @identity = "node1.example.net"
    @pki.cert_for(@identity)
    @status_file = File.join(@dir, "run", "status.json")
    FileUtils.mkdir_p(File.dirname(@status_file))
    @stats_port = ChoriaNats::TestSupport::NatsServer.free_port
    @node = daemon(@identity, "plugin.choria.status_file_path" => @status_file,
                              "plugin.choria.status_update_interval" => "1",
                              "plugin.choria.stats_port" => @stats_port.to_s)
    @node.start
    @node.wait_for_log(/Connected to NATS #{Regexp.escape(@broker.address)} \(config\)/)
    @pki.cert_for("rspec.mcollective")
    @client_cfg = ChoriaNats::TestSupport::MCollectiveConfig.write(
      File.join(@dir, "client.cfg"), identity: "rspec-client.example.net",
                                     settings: settings("connection_timeout" => "5",
                                                        "plugin.choria.status_file_path" => client_status_file,
                                                        "plugin.choria.stats_port" => @stats_port.to_s)
    )
  end

  after(:all) do
    @node&.stop
    @broker&.stop
    FileUtils.rm_rf(@dir)
  end

  def settings(extra = {})
    { "plugin.choria.middleware_hosts" => @broker.address, "plugin.choria.ssldir" => @pki.dir,
      "plugin.choria.use_srv_records" => "false", "plugin.choria.network.reconnect_spread" => "1",
      "plugin.choria.network.reconnect_max_delay" => "2",
      "plugin.choria.network.reconnect_initial_delay" => "0.2" }.merge(extra)
  end

  def client_status_file
    File.join(@dir, "run", "client-status.json")
  end

  def daemon(identity, extra)
    facts = File.join(@dir, "#{identity}.facts.yaml")
    File.write(facts, "role: test\n")
    config = ChoriaNats::TestSupport::MCollectiveConfig.text(
      identity: identity, settings: settings({ "plugin.yaml" => facts, "loglevel" => "info" }.merge(extra))
    )
    ChoriaNats::TestSupport::Mcollectived.new(dir: File.join(@dir, "daemons"), name: identity, config: config,
                                              env: { "MCOLLECTIVE_CERTNAME" => identity })
  end

  def status
    JSON.parse(File.read(@status_file))
  rescue Errno::ENOENT, JSON::ParserError
    nil
  end

  # Waits (bounded) until the status file satisfies the block; returns it.
  def status_when(seconds = 30, &block)
    eventually(seconds) { (current = status) && block.call(current) && current }
  end

  def http(request, port: @stats_port)
    Net::HTTP.start("127.0.0.1", port, open_timeout: 5, read_timeout: 10) { |h| h.request(request) }
  end

  # The status code of a metrics request to `port`, or nil while nothing listens.
  def answer(port)
    http(Net::HTTP::Get.new("/choria/metrics"), port: port).code
  rescue Errno::ECONNREFUSED
    nil
  end

  # The body of a metrics request to `port`, or nil while nothing listens.
  def answer_body(port)
    http(Net::HTTP::Get.new("/choria/metrics"), port: port).body
  rescue Errno::ECONNREFUSED
    nil
  end

  def metrics
    response = http(Net::HTTP::Get.new("/choria/metrics"))
    expect(response.code).to eq("200")
    response.body
  end

  # The value of one sample, by the start of its line.
  def sample(text, name)
    line = text.lines.find { |l| l.start_with?("#{name}{") } || raise("no #{name} in\n#{text}")
    Float(line.split.last)
  end

  # The real command line of `choria-nats` from this checkout.
  def command
    [RbConfig.ruby, "-I", File.expand_path("../../lib", __dir__), File.expand_path("../../exe/choria-nats", __dir__)]
  end

  def check(*options)
    out, status = Open3.capture2e(*command, "status", "--check", @status_file, *options)
    [status.exitstatus, out]
  end

  # TERM, then KILL after a bounded wait, for a process this spec started.
  def stop_process(pid)
    %w[TERM KILL].find do |signal|
      Process.kill(signal, pid)
      eventually(20) { Process.wait(pid, Process::WNOHANG) }
    rescue RuntimeError
      false
    rescue Errno::ESRCH, Errno::ECHILD
      true
    end
  end

  def ping
    ChoriaNats::TestSupport::Mcollectived.mco(@client_cfg, "ping", "--timeout", "5",
                                              env: { "MCOLLECTIVE_CERTNAME" => "rspec.mcollective" })
  end

  it "writes the status file as go-choria names its facts, with mode 0644, and the check says OK" do
    current = status_when { |s| s["connected"] }
    expect(File.stat(@status_file).mode & 0o777).to eq(0o644)
    expect(current).to include("identity" => @identity, "connected" => true,
                               "connected_server" => @broker.address, "server_source" => "config",
                               "update_interval" => 1.0, "version" => ChoriaNats::VERSION,
                               "nats_client" => ChoriaNats::NATS_CLIENT)
    expires = @pki.certificate_for(@identity).not_after.utc
    expect(current["certificate_expires"]).to eq(expires.strftime("%Y-%m-%dT%H:%M:%SZ"))
    expect(current["stats"].keys).to include("in_msgs", "out_msgs", "reconnects", "dropped", "skipped")
    expect(Time.iso8601(current["updated"])).to be_within(120).of(Time.now)
    expect(Dir.children(File.dirname(@status_file))).to eq(["status.json"])
    code, line = check
    expect([code, line]).to match([0, /\AOK: #{Regexp.escape(@identity)}: connected to #{@broker.address}/])
  end

  it "gives the settings to mcollectived only: mco writes no status file and opens no port" do
    out, result = ping
    expect(result).to be_success, out
    expect(out).to match(/#{Regexp.escape(@identity)}/)
    expect(File.exist?(client_status_file)).to be(false)
    expect(status_when { |s| s["last_message"].positive? && s["stats"]["in_msgs"].positive? }).to be_truthy
  end

  it "serves metrics with the identity and broker that promtool accepts" do
    text = metrics
    labels = "identity=\"#{@identity}\",broker=\"#{@broker.address}\""
    expect(text).to include("choria_nats_connected{#{labels}} 1")
    expect(text).to include("choria_nats_server_pool_size{#{labels}} 1")
    expires = @pki.certificate_for(@identity).not_after.to_i
    expect(text).to include("choria_nats_certificate_expiry_timestamp_seconds{#{labels}} #{expires}")
    %w[messages_received messages_sent received_bytes sent_bytes reconnects dropped_messages skipped_messages
       connection_attempts].each do |name|
      expect(text).to match(/^choria_nats_#{name}_total\{#{Regexp.escape(labels)}\} \d+$/)
    end
    expect(text).to match(/^choria_nats_connection_failures_total\{#{Regexp.escape(labels)},kind="refused"\} \d+$/)
    out, result = Open3.capture2e("promtool", "check", "metrics", stdin_data: text)
    expect(result).to be_success, "promtool: #{out}\n#{text}"
  end

  it "is scraped by a real Prometheus, whose up is 1 for it" do
    home = File.join(@dir, "prometheus")
    FileUtils.mkdir_p(home)
    File.write(File.join(home, "prometheus.yml"), <<~YAML)
      global:
        scrape_interval: 1s
      scrape_configs:
        - job_name: choria-nats
          metrics_path: /choria/metrics
          static_configs:
            - targets: ["127.0.0.1:#{@stats_port}"]
    YAML
    port = ChoriaNats::TestSupport::NatsServer.free_port
    pid = Process.spawn("prometheus", "--config.file=#{File.join(home, 'prometheus.yml')}",
                        "--storage.tsdb.path=#{File.join(home, 'data')}", "--web.listen-address=127.0.0.1:#{port}",
                        %i[out err] => [File.join(home, "log"), "w"], :in => File::NULL)
    query = URI("http://127.0.0.1:#{port}/api/v1/query?query=#{URI.encode_www_form_component('up{job="choria-nats"}')}")
    result = eventually(90) do
      JSON.parse(Net::HTTP.get(query)).dig("data", "result", 0, "value", 1)
    rescue SystemCallError, JSON::ParserError, EOFError
      nil
    end
    expect(result).to eq("1")
    connected = URI("http://127.0.0.1:#{port}/api/v1/query?query=choria_nats_connected")
    expect(JSON.parse(Net::HTTP.get(connected)).dig("data", "result", 0, "metric", "identity")).to eq(@identity)
  ensure
    stop_process(pid) if pid
  end

  it "answers bad requests with 404 or 405, drops slow and oversized ones, and the connector carries on" do
    expect(http(Net::HTTP::Get.new("/")).code).to eq("404")
    expect(http(Net::HTTP::Get.new("/choria/metrics/x")).code).to eq("404")
    post = http(Net::HTTP::Post.new("/choria/metrics"))
    expect([post.code, post["allow"]]).to eq(["405", "GET, HEAD"])
    huge = Net::HTTP::Get.new("/choria/metrics")
    huge["x-filler"] = "a" * 20_000
    expect(begin
      http(huge).code
    rescue EOFError, Errno::ECONNRESET, Errno::EPIPE
      "closed"
    end).to match(/\A(431|closed)\z/)
    # A client that never finishes its request head is cut off by the server: it allows 5 s for
    # the head and 15 s for a connection, well within this bound, and hyper's own default (30 s) beyond it.
    slow = TCPSocket.new("127.0.0.1", @stats_port)
    slow.write("GET /choria/metrics HTTP/1.1\r\nHost: x\r\n")
    expect(slow.wait_readable(25)).to be_truthy
    cut = slow.read_nonblock(1024, exception: false)
    expect(cut.nil? || cut.start_with?("HTTP/1.1 408")).to be(true), cut.inspect
    slow.close
    out, result = ping
    expect(result).to be_success, out
    expect(metrics).to include("choria_nats_connected{")
  end

  it "shows a broker restart in the file, the reconnect counter and the check's exit status" do
    before = status_when { |s| s["connected"] }
    reconnects = sample(metrics, "choria_nats_reconnects_total")
    @broker.stop
    down = status_when { |s| !s["connected"] }
    expect(down["connected_server"]).to eq("")
    expect(sample(metrics, "choria_nats_connected")).to eq(0)
    expect(check).to match([2, /\ACRITICAL: #{Regexp.escape(@identity)}: not connected to NATS/])
    @broker.start
    back = status_when { |s| s["connected"] && s["stats"]["reconnects"] > before["stats"]["reconnects"] }
    expect(back["stats"]["reconnects"]).to eq(before["stats"]["reconnects"] + 1)
    expect(back["recent"]["reconnects"]).to be >= 1
    expect(sample(metrics, "choria_nats_reconnects_total")).to eq(reconnects + 1)
    expect(sample(metrics, "choria_nats_connection_failures_total")).to be >= 0
    expect(check).to match([1, /\AWARNING: #{Regexp.escape(@identity)}: 1 reconnects in the last \d+s/])
    garbage = File.join(@dir, "garbage.json")
    File.write(garbage, "{")
    out, result = Open3.capture2e(*command, "status", "--check", garbage)
    expect([result.exitstatus, out]).to match([3, /\AUNKNOWN: /])
  end

  describe "in a connection of its own" do
    after { close_clients }

    it "writes the file and serves metrics from the start of a first connect that waits for its broker" do
      late = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "late"))
      file = File.join(@dir, "run", "late.json")
      port = ChoriaNats::TestSupport::NatsServer.free_port
      options = client_options(@pki, late, status_file_path: file, status_update_interval: 1, stats_port: port,
                                           retry_initial_connect: true, reconnect_spread: 1, reconnect_max_delay: 1)
      connecting = Thread.new { ChoriaNats::Connection.connect(**options) }
      waiting = eventually(30) do
        doc = File.exist?(file) && JSON.parse(File.read(file))
        doc if doc && !doc["connected"]
      end
      expect(waiting).to include("connected" => false, "connected_server" => "", "identity" => "rspec")
      text = eventually(30) { (body = answer_body(port)) && body.match?(/kind="refused"\} [1-9]/) && body }
      expect(text).to include("choria_nats_connected{identity=\"rspec\",broker=\"#{late.address}\"} 0")
      late.start
      connection = connecting.join(60)&.value
      expect(connection).to be_connected
      expect(eventually(30) { JSON.parse(File.read(file))["connected"] }).to be(true)
      connection.close
    ensure
      connecting&.kill
      late&.stop
    end

    it "logs one line when the port is taken, carries on, and closes its port when it closes" do
      taken = client_options(@pki, @broker, stats_port: @stats_port)
      connection = connect_client(@pki, @broker, **taken)
      eventually { taken[:logger].grep(/Cannot serve Prometheus metrics/).any? }
      line = taken[:logger].grep(/Cannot serve Prometheus metrics/).first.last
      expect(line).to start_with("Cannot serve Prometheus metrics on 127.0.0.1:#{@stats_port}: ")
      expect(line).to end_with("carrying on without them: free the port or set another plugin.choria.stats_port")
      connection.subscribe("monitor.test")
      connection.publish("monitor.test", "hello")
      expect(connection.receive(5)&.last).to eq("hello")

      port = ChoriaNats::TestSupport::NatsServer.free_port
      own = connect_client(@pki, @broker, stats_port: port)
      expect(eventually { answer(port) }).to eq("200")
      own.close
      expect(eventually do
        TCPSocket.new("127.0.0.1", port).close
        false
      rescue Errno::ECONNREFUSED
        true
      end).to be(true)
    end
  end
end
