# frozen_string_literal: true

require "spec_helper"
require "base64"
require "json"

RSpec.describe "MCollective::Connector::Nats under faults and hostile input (in-process, real brokers)" do
  include_context "with a TLS broker"
  include_context "with a certname", "faults.example.net"

  before(:all) { @brokers = ChoriaNats::TestSupport::Brokers.new(@pki, @dir) }
  after(:all) { @brokers.stop_all }

  # Loads a config for this process with the connector pointed at `broker`.
  def configure(broker, ssldir: @pki.dir, **settings)
    base = { "plugin.choria.middleware_hosts" => broker.address, "plugin.choria.ssldir" => ssldir,
             "plugin.choria.use_srv_records" => "false", "connection_timeout" => "3" }
    ChoriaNats::TestSupport::MCollectiveConfig.load(@dir, identity: "faults.example.net",
                                                          settings: base.merge(settings))
  end

  def connector_for(broker, **settings)
    configure(broker, **settings)
    MCollective::Connector::Nats.new.tap(&:connect)
  end

  # An SSL dir like the PKI's, with some files swapped.
  def ssldir(name, ca_file: @pki.ca_file, cert: @pki.cert_for("faults.example.net"),
             key: @pki.key_for("faults.example.net"))
    dir = File.join(@dir, name)
    FileUtils.mkdir_p([File.join(dir, "certs"), File.join(dir, "private_keys")])
    FileUtils.cp(ca_file, File.join(dir, "certs", "ca.pem"))
    FileUtils.cp(cert, File.join(dir, "certs", "faults.example.net.pem")) if cert
    FileUtils.cp(key, File.join(dir, "private_keys", "faults.example.net.pem"))
    dir
  end

  describe "hostile input" do
    bad_shapes = {
      "not JSON" => ->(i) { "garbage #{i} {" },
      "JSON of the wrong types" => lambda { |i|
                                     [[i], "text", { "data" => i },
                                      { "data" => "eA==", "headers" => [i] }][i % 4].to_json
                                   },
      "missing data" => ->(i) { { "protocol" => "choria:transport:1", "headers" => { "n" => i } }.to_json },
      "bad base64" => ->(i) { { "data" => "!!not base64 #{i}!!", "headers" => {} }.to_json },
      "huge strings" => ->(i) { { "data" => 7, "junk" => "A" * 65_536, "i" => i }.to_json },
      "invalid UTF-8" => ->(i) { "{\"data\": \"\xFF\xFE#{i}\"}".b },
      "deeply nested JSON" => ->(_) { "#{'[' * 5000}#{']' * 5000}" }
    }

    it "skips #{bad_shapes.size} x 1,000 bad messages with rate-limited warnings and returns the valid one",
       bounded: 180 do
      # The flood is about 80 MB and is all queued before the first receive: room for all of it.
      connector = connector_for(@brokers[:good], "plugin.choria.network.receive_buffer_bytes" => (256 << 20).to_s)
      begin
        connector.subscribe("rpcutil", :broadcast, "mcollective")
        connector.connection.flush
        sender = connect_client(@pki, @brokers[:good])
        subject = connector.make_target("rpcutil", :broadcast, "mcollective")
        bad_shapes.each_value { |shape| 1000.times { |i| sender.publish(subject, shape.call(i)) } }
        valid = ChoriaNats::Envelope.encode(Base64.encode64("the valid one"), "mc_sender" => "sender.example.net")
        sender.publish(subject, valid)
        sender.flush(30)

        warnings = []
        allow(MCollective::Log).to receive(:warn) { |line| warnings << line }
        started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
        message = Timeout.timeout(120) { connector.receive }
        seconds = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started

        expect(message.payload).to eq("the valid one")
        expect(message.headers).to eq("mc_sender" => "sender.example.net")
        expect(connector).to be_connected
        expect(connector.stats["in_msgs"]).to eq((bad_shapes.size * 1000) + 1)
        expect(connector.stats["dropped"]).to eq(0)
        # One warning a second at most, the first at once.
        expect(warnings.size).to be_between(1, seconds.ceil + 1)
        expect(warnings.first)
          .to start_with("Skipped a message on #{subject} that is not a choria:transport:1 envelope")
        puts format("\n  %<n>d bad messages skipped in %<s>.2fs with %<w>d warning lines",
                    n: bad_shapes.size * 1000, s: seconds, w: warnings.size)
      ensure
        connector.disconnect
      end
    end
  end

  describe "secrets" do
    it "keeps the password out of debug logs, errors and inspect", bounded: 120 do
      log_file = File.join(@dir, "debug.log")
      password = ChoriaNats::TestSupport::Brokers::PASSWORD
      settings = { "plugin.nats.user" => "mco", "plugin.nats.pass" => password, "loglevel" => "debug",
                   "logger_type" => "file", "logfile" => log_file }
      connector = connector_for(@brokers[:auth], **settings)
      texts = [connector.inspect, connector.connection.inspect,
               ChoriaNats::PluginSettings.new(MCollective::Config.instance.pluginconf).inspect]
      connector.disconnect

      configure(@brokers[:auth], **settings, "plugin.nats.pass" => "#{password}-wrong")
      wrong = MCollective::Connector::Nats.new
      error = begin
        wrong.connect
      rescue ChoriaNats::Error => e
        e
      end
      expect(error).to be_a(ChoriaNats::AuthenticationError)
      texts += [error.message, error.inspect, error.full_message, wrong.inspect]
      MCollective::Log.instance.reopen if MCollective::Log.instance.respond_to?(:reopen)
      log = File.read(log_file)

      expect(log).to include("Connected to NATS #{@brokers[:auth].address}")
      expect(log).to match(/debug/i)
      expect([log, *texts]).to all(satisfy { |text| !text.include?(password) })
    ensure
      ChoriaNats::TestSupport::MCollectiveConfig.load(@dir, identity: "faults.example.net")
    end
  end

  describe "the TLS refusal matrix through the connector" do
    it "gives each refusal its own message", bounded: 180 do
      cases = {
        "foreign CA" => [:good, ssldir("foreign-ca", ca_file: @pki.foreign_ca_file),
                         /not signed by the CA in .*foreign-ca/],
        "expired broker certificate" => [:expired, @pki.dir, /its certificate expired at/],
        "wrong host name" => [:wrong_host, @pki.dir, /not valid for the name 127\.0\.0\.1 .*wrong\.example\.net/],
        "plain-text broker" => [:plaintext, @pki.dir, /plain-text NATS server/],
        "no client certificate" => [:good, ssldir("no-cert", cert: nil),
                                    %r{no-cert/certs/faults\.example\.net\.pem does not exist}],
        "key not matching the certificate" => [:good, ssldir("mismatch", key: @pki.mismatched_client_key),
                                               /does not belong to the certificate/]
      }
      messages = cases.map do |what, (kind, dir, pattern)|
        configure(@brokers[kind], ssldir: dir)
        connector = MCollective::Connector::Nats.new
        expect { connector.connect }.to raise_error(ChoriaNats::Error, pattern), what
        begin
          connector.connect
        rescue ChoriaNats::Error => e
          e.message
        end
      end
      expect(messages.uniq.size).to eq(cases.size)
    end
  end

  describe "fork" do
    it "lets a forked child connect on its own while the parent keeps working", bounded: 120 do
      connector = connector_for(@brokers[:good])
      begin
        connector.subscribe("rpcutil", :broadcast, "mcollective")
        connector.connection.flush
        subject = connector.make_target("rpcutil", :broadcast, "mcollective")
        output, status = in_forked_child do
          refused = begin
            connector.connection.publish(subject, "x")
            "the parent's connection worked in the child"
          rescue ChoriaNats::ConnectionError => e
            e.message
          end
          child = MCollective::Connector::Nats.new
          child.connect
          child.connection.publish(subject, ChoriaNats::Envelope.encode(Base64.encode64("from the child"), {}))
          child.connection.flush
          child.disconnect
          refused
        end
        expect(status).to be_success, output
        expect(output).to include("before a fork")
        message = Timeout.timeout(20) { connector.receive }
        expect(message.payload).to eq("from the child")
        expect(connector).to be_connected
      ensure
        connector.disconnect
      end
    end
  end
end
