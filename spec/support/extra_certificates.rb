# frozen_string_literal: true

require "openssl"

module ChoriaNats
  module TestSupport
    # Certificates the PKI does not make, signed by its CA: client certificates
    # that expired or are not valid yet, or that lack the clientAuth usage.
    module ExtraCertificates
      module_function

      # Writes `<dir>/<name>.pem` and `<dir>/<name>.key` for CN=name, signed by the PKI's CA;
      # `validity` is [not_before, not_after] in seconds from now. Returns [cert_file, key_file].
      def issue(pki, dir, name, validity: [-3600, 365 * 86_400], usage: "clientAuth,serverAuth")
        key = PKI.cached_key(:extra_certificates)
        cert = build(pki.ca_certificate, name, key, validity)
        add_extensions(cert, pki.ca_certificate, name, usage)
        cert.sign(OpenSSL::PKey.read(File.read(pki.ca_key_file)), OpenSSL::Digest.new("SHA256"))
        files = [File.join(dir, "#{name}.pem"), File.join(dir, "#{name}.key")]
        File.write(files[0], cert.to_pem)
        File.write(files[1], key.to_pem)
        files
      end

      def build(ca_cert, name, key, validity)
        cert = OpenSSL::X509::Certificate.new
        cert.version = 2
        cert.serial = OpenSSL::BN.new(rand(1 << 62))
        cert.subject = OpenSSL::X509::Name.new([["CN", name]])
        cert.issuer = ca_cert.subject
        cert.public_key = key
        cert.not_before = Time.now + validity[0]
        cert.not_after = Time.now + validity[1]
        cert
      end

      def add_extensions(cert, ca_cert, name, usage)
        factory = OpenSSL::X509::ExtensionFactory.new
        factory.subject_certificate = cert
        factory.issuer_certificate = ca_cert
        cert.add_extension(factory.create_extension("basicConstraints", "CA:FALSE", true))
        cert.add_extension(factory.create_extension("keyUsage", "digitalSignature,keyEncipherment", true))
        cert.add_extension(factory.create_extension("extendedKeyUsage", usage, false))
        cert.add_extension(factory.create_extension("subjectAltName", "DNS:#{name}", false))
      end
    end
  end
end
