# frozen_string_literal: true

require "spec_helper"

RSpec.describe ChoriaNats::CertificateCheck do
  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-check")
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "ssl")).generate_all
  end

  after(:all) { FileUtils.rm_rf(@dir) }

  let(:pki) { @pki }
  let(:extra) { ChoriaNats::TestSupport::ExtraCertificates }

  def check(cert: pki.client_cert, key: pki.client_key, ca_file: pki.ca_file, certname: "client.example.net")
    described_class.run(ca_file: ca_file, cert_file: cert, key_file: key, certname: certname)
  end

  describe "a good certificate" do
    {
      "an RSA key in PKCS#1, as Puppet writes it" => [:client_cert, :client_key, "client.example.net", "RSA"],
      "an RSA key in PKCS#8" => [:pkcs8_client_cert, :pkcs8_client_key, "pkcs8-client.example.net", "RSA"],
      "an EC key" => [:ec_client_cert, :ec_client_key, "ec-client.example.net", "EC"],
      "an intermediate CA after the leaf" => [:intermediate_chain_client_cert, :intermediate_chain_client_key,
                                              "intermediate-client.example.net", "RSA"]
    }.each do |what, (cert, key, name, type)|
      it "passes every check with #{what}" do
        result = check(cert: pki.public_send(cert), key: pki.public_send(key), certname: name)
        expect(result.problems.map(&:line)).to eq([])
        expect(result).to be_ok
        expect(result.checks.map(&:name)).to eq(%i[ca certificate key chain name key_match validity])
        expect(result.key_type).to eq(type)
        expect(result.names).to eq([name])
      end
    end

    it "describes the chain, the names and the validity" do
      result = check(cert: pki.intermediate_chain_client_cert, key: pki.intermediate_chain_client_key,
                     certname: "intermediate-client.example.net")
      expect(result.subject).to eq("CN=intermediate-client.example.net")
      token = pki.ca_certificate.subject.to_a[0][1].split.last
      expect(result.chain).to eq(["CN=intermediate-client.example.net", "CN=ChoriaNats Intermediate CA #{token}",
                                  "CN=ChoriaNats Test CA #{token}"])
      expect(result[:certificate].line).to end_with(", followed by 1 intermediate CA certificate")
      # The certificate's own date: making the PKI under an emulated CPU can take longer than any margin.
      issued = OpenSSL::X509::Certificate.new(File.read(pki.intermediate_chain_client_cert))
      expect(result.not_after).to eq(issued.not_after)
      expect(result[:validity].line).to match(/\AThe certificate is valid until #{utc} \(36[45] days left\)\z/)
    end

    it "leaves the name check out without a certname" do
      result = described_class.run(ca_file: pki.ca_file, cert_file: pki.client_cert, key_file: pki.client_key)
      expect(result.checks.map(&:name)).not_to include(:name)
      expect(result).to be_ok
    end

    it "compares the certname without regard to case" do
      expect(check(certname: "Client.Example.NET")).to be_ok
    end
  end

  describe "problems, one line each, naming the file and what to do" do
    it "a missing file, pointing at mco choria request_cert" do
      missing = File.join(@dir, "nowhere", "me.pem")
      result = check(cert: missing)
      expect(result.first_problem.line).to eq("The certificate file #{missing} does not exist: `mco choria " \
                                              "request_cert` creates the certificate, key and CA files, or give " \
                                              "the right path")
      expect(result.checks.select { |c| c.status == :skipped }.map(&:name)).to eq(%i[chain name key_match validity])
    end

    it "a certificate another CA signed" do
      result = check(cert: pki.foreign_client_cert, key: pki.foreign_client_key, certname: "foreign-client.example.net")
      expect(result.first_problem.name).to eq(:chain)
      expect(result.first_problem.line).to eq(
        "The certificate #{pki.foreign_client_cert} is not signed by the CA in #{pki.ca_file}: it was issued by " \
        "CN=ChoriaNats Foreign CA #{token}; get a certificate from this CA (`mco choria request_cert`), or " \
        "configure the CA that issued it"
      )
    end

    it "a certificate for another name than the certname" do
      result = check(certname: "alice.mcollective")
      expect(result.problems.map(&:name)).to eq([:name])
      expect(result.first_problem.line).to eq(
        "The certificate #{pki.client_cert} is for client.example.net, not for the certname alice.mcollective: use " \
        "the certificate issued for alice.mcollective (`mco choria request_cert` gets one), or set " \
        "MCOLLECTIVE_CERTNAME to the name it holds"
      )
    end

    it "a key that does not belong to the certificate" do
      result = check(key: pki.mismatched_client_key)
      expect(result.problems.map(&:name)).to eq([:key_match])
      expect(result.first_problem.line).to eq("The private key #{pki.mismatched_client_key} does not belong to the " \
                                              "certificate #{pki.client_cert}: use the key the certificate was " \
                                              "issued for")
    end

    it "an expired certificate, whose chain still checks out" do
      cert, key = extra.issue(pki, @dir, "expired.example.net", validity: [-2 * 86_400, -86_400])
      result = check(cert: cert, key: key, certname: "expired.example.net")
      expect(result.problems.map(&:name)).to eq([:validity])
      expect(result[:chain]).to be_ok
      expect(result.first_problem.line).to match(
        /\AThe certificate #{Regexp.escape(cert)} expired at #{utc}: get a new one from the CA/
      )
    end

    it "a certificate not valid yet" do
      cert, key = extra.issue(pki, @dir, "future.example.net", validity: [86_400, 2 * 86_400])
      result = check(cert: cert, key: key, certname: "future.example.net")
      expect(result.problems.map(&:name)).to eq([:validity])
      expect(result.first_problem.line).to match(/is not valid before .* UTC \(it is .* UTC here\): check the clocks/)
    end

    it "a certificate not issued for TLS clients" do
      cert, key = extra.issue(pki, @dir, "server-only.example.net", usage: "serverAuth")
      result = check(cert: cert, key: key, certname: "server-only.example.net")
      expect(result.first_problem.line).to include("is not issued for TLS clients (its extended key usage lacks " \
                                                   "clientAuth)")
    end

    it "a CA file that holds no certificate" do
      empty = File.join(@dir, "empty-ca.pem")
      File.write(empty, "nothing here\n")
      expect(check(ca_file: empty).first_problem.line).to eq("The CA file #{empty} holds no PEM certificate " \
                                                             "(-----BEGIN CERTIFICATE-----)")
    end

    it "a key file that holds no key" do
      expect(check(key: pki.ca_file).first_problem.line).to eq(
        "The private key file #{pki.ca_file} holds no PEM private key (RSA PKCS#1, PKCS#8 or EC)"
      )
    end

    it "raises the first problem as a ConfigurationError" do
      expect { check(key: pki.mismatched_client_key, certname: "x.mcollective").check! }
        .to raise_error(ChoriaNats::ConfigurationError, /is for client\.example\.net, not for the certname x\.mc/)
    end
  end

  # A UTC time as the checks write it.
  def utc
    '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC'
  end

  def token
    pki.ca_certificate.subject.to_a[0][1].split.last
  end
end
