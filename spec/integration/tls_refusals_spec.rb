# frozen_string_literal: true

require "spec_helper"

RSpec.describe ChoriaNats::Connection, "TLS and credentials" do
  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-tls")
    @pki = ChoriaNats::TestSupport::PKI.new(@dir)
    @brokers = ChoriaNats::TestSupport::Brokers.new(@pki, @dir)
  end

  after(:all) do
    @brokers.stop_all
    FileUtils.rm_rf(@dir)
  end

  after { close_clients }

  let(:pki) { @pki }

  def broker(kind = :good)
    @brokers[kind]
  end

  def refusal(server, **overrides)
    ChoriaNats::Connection.connect(**client_options(pki, server, **overrides))
    raise "connected, but a refusal was expected"
  rescue ChoriaNats::Error => e
    e
  end

  describe "accepted client keys" do
    {
      "an RSA key in PKCS#1, as Puppet writes it" => %i[client_cert client_key],
      "an RSA key in PKCS#8" => %i[pkcs8_client_cert pkcs8_client_key],
      "an EC key" => %i[ec_client_cert ec_client_key],
      "a certificate file with an intermediate CA after the leaf" => %i[intermediate_chain_client_cert
                                                                        intermediate_chain_client_key]
    }.each do |what, (cert, key)|
      it "connects with #{what}" do
        connection = connect_client(pki, broker, cert_file: pki.public_send(cert), key_file: pki.public_send(key))
        connection.subscribe("keys.test")
        connection.publish("keys.test", what)
        expect(connection.receive(5)).to eq(["keys.test", nil, what])
      end
    end
  end

  describe "refusals, each with the server and the reason in words" do
    it "refuses a broker whose certificate another CA signed" do
      # Our own certificate is from that CA too, so the pre-flight checks pass and the broker's fails.
      error = refusal(broker, ca_file: pki.foreign_ca_file, cert_file: pki.foreign_client_cert,
                              key_file: pki.foreign_client_key)
      expect(error).to be_a(ChoriaNats::TLSError)
      expect(error.message).to include(
        "broker #{broker.address} (config) failed: its certificate is not signed by the CA in " \
        "#{pki.foreign_ca_file} (unknown issuer)"
      )
    end

    it "refuses a broker with an expired certificate" do
      error = refusal(broker(:expired))
      expect(error).to be_a(ChoriaNats::TLSError)
      expect(error.message).to include("#{broker(:expired).address} (config) failed: its certificate expired at ")
      expect(error.message).to match(/expired at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: renew/)
    end

    it "refuses a broker whose certificate is for another name, and names the names it holds" do
      error = refusal(broker(:wrong_host))
      expect(error).to be_a(ChoriaNats::TLSError)
      expect(error.message).to include(
        "not valid for the name 127.0.0.1 that was dialled; it holds wrong.example.net: dial one of those names"
      )
    end

    it "refuses a plain-text broker" do
      error = refusal(broker(:plaintext))
      expect(error).to be_a(ChoriaNats::TLSError)
      expect(error.message).to include(broker(:plaintext).address).and include("plain-text")
    end

    it "explains that the broker rejected our client certificate" do
      # A broker that trusts another CA than the one that signed our (pre-flight checked) certificate.
      error = refusal(broker(:foreign_clients))
      expect(error).to be_a(ChoriaNats::TLSError)
      expect(error.message).to include("refused our client certificate #{pki.client_cert}")
    end

    it "names a missing file and how to get it, before dialling" do
      missing = File.join(@dir, "certs", "nobody.pem")
      error = refusal(broker, cert_file: missing)
      expect(error).to be_a(ChoriaNats::ConfigurationError)
      expect(error.message).to eq("The certificate file #{missing} does not exist: `mco choria request_cert` " \
                                  "creates the certificate, key and CA files, or give the right path")
    end

    it "names a key that does not belong to the certificate" do
      error = refusal(broker, key_file: pki.mismatched_client_key)
      expect(error).to be_a(ChoriaNats::ConfigurationError)
      expect(error.message).to eq("The private key #{pki.mismatched_client_key} does not belong to the certificate " \
                                  "#{pki.client_cert}: use the key the certificate was issued for")
    end

    it "names a port where nothing listens" do
      port = ChoriaNats::TestSupport::NatsServer.free_port
      error = ChoriaNats::Connection.connect(**client_options(pki, broker, servers: ["127.0.0.1:#{port}"]))
    rescue ChoriaNats::Error => e
      expect(e).to be_a(ChoriaNats::ConnectionError)
      expect(e.message).to eq("The NATS broker 127.0.0.1:#{port} (config) refused the connection: " \
                              "is nats-server running and listening on that port?")
    else
      raise "connected to #{error.inspect}"
    end

    it "lists every server that failed when none answers" do
      ports = Array.new(2) { ChoriaNats::TestSupport::NatsServer.free_port }
      servers = ports.map { |port| ["127.0.0.1:#{port}", "srv"] }
      error = refusal(broker, servers: servers, randomize: false)
      expect(error.message).to start_with("Could not connect to any of 2 NATS brokers: ")
      ports.each { |port| expect(error.message).to include("127.0.0.1:#{port} (srv) refused the connection") }
    end

    it "keeps retrying until the deadline when asked, logging each failure" do
      logs = ChoriaNats::TestSupport::LogCollector.new
      port = ChoriaNats::TestSupport::NatsServer.free_port
      error = refusal(broker, servers: ["127.0.0.1:#{port}"], retry_initial_connect: 1.5,
                              reconnect_initial_delay: 0.1, logger: logs)
      expect(error.message).to end_with("(gave up after 1.5s)")
      retries = logs.lines.select { |(_, line)| line.match?(/refused the connection.*; retrying in \d+\.\ds\z/) }
      expect(retries.size).to be >= 2
      expect(retries.map(&:first).uniq).to eq([:debug])
    end

    it "retries for ever as a daemon, warning of each failure, until its thread is killed", bounded: 60 do
      logs = ChoriaNats::TestSupport::LogCollector.new
      port = ChoriaNats::TestSupport::NatsServer.free_port
      options = client_options(pki, broker, servers: ["127.0.0.1:#{port}"], retry_initial_connect: true,
                                            reconnect_initial_delay: 0.1, reconnect_max_delay: 0.2, logger: logs)
      thread = Thread.new { ChoriaNats::Connection.connect(**options) }
      eventually(20) { logs.grep(/refused the connection.*; retrying in/).size >= 3 }
      thread.kill
      expect(thread.join(10)).to be(thread)
      expect(logs.lines.map(&:first).uniq).to eq([:warn])
    end
  end

  describe "user and password" do
    it "connects with the right ones" do
      connection = connect_client(pki, broker(:auth), user: "mco", password: ChoriaNats::TestSupport::Brokers::PASSWORD)
      expect(connection).to be_connected
      expect(connection.inspect).not_to include(ChoriaNats::TestSupport::Brokers::PASSWORD)
    end

    it "raises an authentication error for wrong ones, without the password" do
      error = refusal(broker(:auth), user: "mco", password: "wrong-pw")
      expect(error).to be_a(ChoriaNats::AuthenticationError)
      expect(error.message).to include(broker(:auth).address).and include("refused our credentials")
      expect(error.message).not_to include("wrong-pw")
    end
  end

  describe "legacy broker certificates (no subjectAltName), plugin.security.support_legacy_certificates" do
    # Dialled as 127.0.0.1, which the legacy certificates' common name holds (no name resolution needed).
    def by_name(kind)
      [broker(kind).address]
    end

    it "refuses one by default, and says which setting accepts it" do
      error = refusal(broker(:legacy_broker), servers: by_name(:legacy_broker))
      expect(error).to be_a(ChoriaNats::TLSError)
      expect(error.message).to include(
        "not valid for the name 127.0.0.1 that was dialled; it holds no subjectAltName, as old Puppet " \
        "certificates do: reissue it with one, or set plugin.security.support_legacy_certificates = true"
      )
    end

    it "accepts one whose common name is the host dialled when asked to, and carries messages" do
      connection = connect_client(pki, broker(:legacy_broker), servers: by_name(:legacy_broker),
                                                               legacy_certificates: true)
      connection.subscribe("legacy.test")
      connection.publish("legacy.test", "hello")
      expect(connection.receive(5)).to eq(["legacy.test", nil, "hello"])
    end

    it "still refuses an expired one: only the name check gets a second chance" do
      expired = refusal(broker(:legacy_expired_broker), servers: by_name(:legacy_expired_broker),
                                                        legacy_certificates: true)
      expect(expired).to be_a(ChoriaNats::TLSError)
      expect(expired.message).to include("failed: its certificate expired at ")
    end

    it "still refuses another common name, another CA, or a certificate with subjectAltNames" do
      other = refusal(broker(:legacy_other_name_broker), servers: by_name(:legacy_other_name_broker),
                                                         legacy_certificates: true)
      expect(other.message).to include("not valid for the name 127.0.0.1 that was dialled; it holds no subjectAltName")
      foreign = refusal(broker(:legacy_foreign_broker), servers: by_name(:legacy_foreign_broker),
                                                        legacy_certificates: true)
      expect(foreign.message).to include("its certificate is not signed by the CA in #{pki.ca_file} (unknown issuer)")
      san = refusal(broker(:legacy_san_broker), servers: by_name(:legacy_san_broker), legacy_certificates: true)
      expect(san.message).to include("not valid for the name 127.0.0.1 that was dialled; it holds other.example.net")
      expect([other, foreign, san]).to all(be_a(ChoriaNats::TLSError))
    end

    it "accepts a current certificate as before with the setting on" do
      connection = connect_client(pki, broker, legacy_certificates: true)
      expect(connection).to be_connected
      expect(refusal(broker(:wrong_host), legacy_certificates: true).message).to include("it holds wrong.example.net")
    end
  end

  describe "verification cannot be turned off" do
    %i[verify tls insecure ssl_verify_mode tls_client_config].each do |option|
      it "refuses the option #{option}" do
        expect { ChoriaNats::Connection.connect(**client_options(pki, broker), option => false) }
          .to raise_error(ChoriaNats::ConfigurationError, /Unknown connection option #{option}/)
      end
    end
  end
end
