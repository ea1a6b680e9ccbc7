# frozen_string_literal: true

require "spec_helper"
require "stringio"
require "choria_nats/certificate_request"

RSpec.describe ChoriaNats::CertificateRequest do
  # A Puppet CA that answers from memory: its CA certificate, the certificate it has signed (or
  # nil), no pending request; it records the requests submitted to it.
  let(:fake_ca_class) do
    Class.new do
      attr_accessor :ca_file
      attr_reader :ca_certificate, :submitted

      def initialize(ca_certificate, signed = nil)
        @ca_certificate = ca_certificate
        @signed = signed
        @submitted = []
      end

      def certificate(_certname)
        @signed
      end

      def certificate_request(_certname)
        nil
      end

      def submit(certname, csr)
        @submitted << [certname, csr]
        nil
      end

      def to_s
        "127.0.0.1:8140 (config)"
      end
    end
  end

  let(:dir) { Dir.mktmpdir("choria-nats-request") }
  let(:pki) { ChoriaNats::TestSupport::PKI.new(File.join(dir, "pki")) }
  let(:out) { StringIO.new }
  let(:certname) { "alice.mcollective" }
  let(:paths) do
    ChoriaNats::SSLPaths.new(identity: "node.example.net", ssldir: File.join(dir, "ssl"), uid: 1000,
                             env: { "MCOLLECTIVE_CERTNAME" => certname })
  end

  after { FileUtils.rm_rf(dir) }

  # Puts the PKI's key for `name` where the request looks for ours, with `mode`.
  def place_key(name, mode: 0o600)
    FileUtils.mkdir_p(File.dirname(paths.key_file))
    FileUtils.cp(pki.key_for(name), paths.key_file)
    File.chmod(mode, paths.key_file)
    OpenSSL::PKey.read(File.read(paths.key_file))
  end

  # The certificate in `file`, parsed from PEM as the CA's answer is.
  def certificate(file)
    OpenSSL::X509::Certificate.new(File.read(file))
  end

  # uid 1000: running as root is refused before anything else.
  def request(puppet_ca)
    described_class.new(paths: paths, puppet_ca: puppet_ca, out: out, wait: 0, uid: 1000, sleeper: ->(_) {})
  end

  it "refuses a certname from MCOLLECTIVE_CERTNAME that could leave the SSL dir's folders, touching nothing" do
    paths = ChoriaNats::SSLPaths.new(identity: "n", ssldir: File.join(dir, "ssl"), uid: 1000,
                                     env: { "MCOLLECTIVE_CERTNAME" => "../../escaped" })
    request = described_class.new(paths: paths, puppet_ca: fake_ca_class.new(nil), out: out, wait: 0, uid: 1000)
    message = "The certname \"../../escaped\" is not one Puppet accepts: use lower-case letters, digits, '.', '-' " \
              "and '_', starting with a letter or digit (it names files in the SSL dir); set MCOLLECTIVE_CERTNAME, " \
              "or give --certname"
    expect { request.run }.to raise_error(ChoriaNats::ConfigurationError, message)
    expect(Dir.children(dir)).to be_empty
  end

  describe "an existing private key" do
    it "is refused when others can read it (mode 0644), naming the file and the chmod to run" do
      place_key(certname, mode: 0o644)
      ca = fake_ca_class.new(pki.ca_certificate)

      expect { request(ca).run }.to raise_error(ChoriaNats::ConfigurationError) { |error|
        expect(error.message).to start_with("The private key file #{paths.key_file} is open to other users (mode " \
                                            "0644): run `chmod 600 #{paths.key_file}`")
        expect(error.message).not_to include("\n")
      }
      expect(ca.submitted).to be_empty
      expect(File.exist?(paths.csr_file)).to be(false)
      expect(File.stat(paths.key_file).mode & 0o7777).to eq(0o644)
    end

    it "is refused when it is a symbolic link" do
      FileUtils.mkdir_p(File.dirname(paths.key_file))
      File.symlink(pki.key_for(certname), paths.key_file)

      expect { request(fake_ca_class.new(pki.ca_certificate)).run }
        .to raise_error(ChoriaNats::ConfigurationError, /\AThe private key file #{paths.key_file} is a symbolic link: /)
    end
  end

  describe "the signed certificate" do
    it "is checked, then saved with mode 0644, and the checks are shown" do
      place_key(certname)
      check = request(fake_ca_class.new(pki.ca_certificate, certificate(pki.cert_for(certname)))).run

      expect(check).to be_ok
      expect(certificate(paths.cert_file).to_der).to eq(certificate(pki.cert_for(certname)).to_der)
      expect(File.stat(paths.cert_file).mode & 0o7777).to eq(0o644)
      expect(out.string).to include("Saved the signed certificate #{paths.cert_file}\n")
      expect(out.string).to include("  ok: The certificate is for #{certname}, the certname\n")
      expect(out.string).to include("Done: mco can now use #{paths.cert_file}\n")
      expect(Dir.children(File.dirname(paths.cert_file)).sort).to eq(%W[#{certname}.pem ca.pem])
    end

    context "when it fails the checks (signed by another CA than ours)" do
      let(:certname) { "foreign-client.example.net" }

      it "is never saved, and the error says which check failed" do
        place_key(certname)
        signed = certificate(pki.foreign_client_cert)

        expect { request(fake_ca_class.new(pki.ca_certificate, signed)).run }.to raise_error(ChoriaNats::Error) { |e|
          expect(Dir.children(File.dirname(paths.cert_file))).to eq(%w[ca.pem])
          expect(e).to be_a(ChoriaNats::CertificateRequestError)
          expect(e.message).to start_with("The certificate signed for #{certname} fails a check, so it was not " \
                                          "saved: The certificate #{paths.cert_file} is not signed by the CA in " \
                                          "#{paths.ca_file}: it was issued by CN=")
        }
        expect(out.string).not_to include("Saved the signed certificate")
      end
    end
  end

  it "writes the CSR without following a link planted at a temporary name another user could predict" do
    key = place_key(certname)
    victim = File.join(dir, "victim")
    File.write(victim, "a file the user never meant to write\n")
    File.chmod(0o600, victim)
    FileUtils.mkdir_p(File.dirname(paths.csr_file))
    File.symlink(victim, "#{paths.csr_file}.#{Process.pid}.tmp")
    ca = fake_ca_class.new(pki.ca_certificate)

    expect { request(ca).run }.to raise_error(ChoriaNats::CertificateRequestError, /has not signed the request/)

    expect(File.read(victim)).to eq("a file the user never meant to write\n")
    expect(File.stat(victim).mode & 0o7777).to eq(0o600)
    expect(File.symlink?(paths.csr_file)).to be(false)
    csr = OpenSSL::X509::Request.new(File.read(paths.csr_file))
    expect(csr.public_key.to_der).to eq(key.public_key.to_der)
    expect(ca.submitted.map { |name, submitted| [name, submitted.to_der] }).to eq([[certname, csr.to_der]])
    expect(File.stat(paths.csr_file).mode & 0o7777).to eq(0o644)
  end
end
