# frozen_string_literal: true

require "spec_helper"
require "socket"
require "choria_nats/certificate_request"

# The first download of the Puppet CA's certificate, which TLS cannot verify:
# what is checked instead (the server's certificate must come from the CA it
# sends, for the host dialled), and the fingerprint pin that makes it a
# verified download.
RSpec.describe ChoriaNats::CAPin do
  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-ca-pin")
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "ssl"))
  end

  after(:all) { FileUtils.rm_rf(@dir) }

  let(:pki) { @pki }
  let(:ca_fingerprint) { ChoriaNats::SSLFiles.fingerprint(pki.ca_certificate.to_der) }

  # A one-request HTTPS server on 127.0.0.1 presenting +cert+/+key+ and answering
  # GET /puppet-ca/v1/certificate/ca with +ca_pem+; yields its port.
  def ca_server(cert:, key:, ca_pem:)
    tcp = TCPServer.new("127.0.0.1", 0)
    context = OpenSSL::SSL::SSLContext.new
    context.cert = OpenSSL::X509::Certificate.new(File.read(cert))
    context.key = OpenSSL::PKey.read(File.read(key))
    server = OpenSSL::SSL::SSLServer.new(tcp, context)
    thread = Thread.new do
      socket = server.accept
      nil until socket.gets.to_s.strip.empty?
      socket.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: #{ca_pem.bytesize}\r\n" \
                   "Connection: close\r\n\r\n#{ca_pem}")
      socket.close
    rescue OpenSSL::SSL::SSLError, IOError, SystemCallError
      nil # the client gave up on the handshake
    end
    yield tcp.addr[1]
  ensure
    thread&.join(5)
    thread&.kill
    server&.close
  end

  def download(port, host: "127.0.0.1")
    ChoriaNats::PuppetCA.new("#{host}:#{port}", timeout: 5).ca_certificate
  end

  describe "the first download" do
    it "takes a CA certificate that signed the server's own, for the host dialled" do
      ca_server(cert: pki.broker_cert, key: pki.broker_key, ca_pem: pki.ca_certificate.to_pem) do |port|
        expect(download(port).to_der).to eq(pki.ca_certificate.to_der)
      end
    end

    it "refuses a CA certificate that did not sign the server's, saving nothing", bounded: 30 do
      foreign = OpenSSL::X509::Certificate.new(File.read(pki.foreign_ca_file))
      ca_server(cert: pki.broker_cert, key: pki.broker_key, ca_pem: foreign.to_pem) do |port|
        expect { download(port) }.to raise_error(ChoriaNats::CertificateRequestError) { |error|
          expect(error.message).to start_with("The Puppet CA 127.0.0.1:#{port} (config) sent the CA certificate " \
                                              "#{foreign.subject.to_utf8}, which did not sign the server's own " \
                                              "certificate for 127.0.0.1 (CN=localhost: ")
          expect(error.message).to end_with("): this is not that CA's server, or something between answers for " \
                                            "it; nothing was saved")
        }
      end
    end

    it "refuses a server whose certificate from that CA is for another host", bounded: 30 do
      ca_server(cert: pki.wrong_host_broker_cert, key: pki.wrong_host_broker_key,
                ca_pem: pki.ca_certificate.to_pem) do |port|
        expect { download(port) }.to raise_error(ChoriaNats::CertificateRequestError, /is not for 127\.0\.0\.1\):/)
      end
    end
  end

  describe "the fingerprint" do
    it "reads the forms openssl and puppetserver print, colons optional" do
      hex = ca_fingerprint.delete(":")
      ["SHA256 Fingerprint=#{ca_fingerprint}", "(SHA256) #{ca_fingerprint}", hex.downcase, " #{hex} "].each do |text|
        expect(described_class.parse(text, "--ca-fingerprint")).to eq(ca_fingerprint), text
      end
    end

    it "refuses what is not one, naming where it came from" do
      expect { described_class.parse("AB:CD", "--ca-fingerprint") }
        .to raise_error(ChoriaNats::ConfigurationError,
                        '--ca-fingerprint must be a SHA256 fingerprint (64 hex digits, colons optional), not "AB:CD"')
      settings = ChoriaNats::PluginSettings.new({ "choria.puppetca_fingerprint" => "md5:00" }, env: {})
      expect { described_class.from(nil, settings) }.to raise_error(ChoriaNats::ConfigurationError,
                                                                    /\Aplugin\.choria\.puppetca_fingerprint must be/)
    end

    it "comes from --ca-fingerprint, else plugin.choria.puppetca_fingerprint, else nowhere" do
      other = "AA:#{ca_fingerprint[3..]}"
      settings = ChoriaNats::PluginSettings.new({ "choria.puppetca_fingerprint" => other.delete(":") }, env: {})
      from_option = described_class.from(ca_fingerprint, settings)
      expect([from_option.fingerprint, from_option.origin]).to eq([ca_fingerprint, "--ca-fingerprint"])
      from_setting = described_class.from(nil, settings)
      expect([from_setting.fingerprint, from_setting.origin]).to eq([other, "plugin.choria.puppetca_fingerprint"])
      expect(described_class.from(nil, ChoriaNats::PluginSettings.new({}, env: {}))).to be_nil
    end

    it "passes the CA certificate that has it and refuses another, saying both" do
      pin = described_class.new(ca_fingerprint, "--ca-fingerprint")
      expect(pin.check!(pki.ca_certificate, "The CA", "advice")).to be_nil
      foreign = OpenSSL::X509::Certificate.new(File.read(pki.foreign_ca_file))
      expect { pin.check!(foreign, "The CA certificate from x", "nothing was saved") }.to raise_error(
        ChoriaNats::CertificateRequestError,
        "The CA certificate from x has the SHA256 fingerprint #{ChoriaNats::SSLFiles.fingerprint(foreign.to_der)}, " \
        "not #{ca_fingerprint} (--ca-fingerprint): nothing was saved"
      )
    end
  end
end
