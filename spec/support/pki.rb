# frozen_string_literal: true

require "fileutils"
require "monitor"
require "openssl"

module ChoriaNats
  module TestSupport
    # A throw-away PKI laid out like Puppet's ssldir, for TLS specs.
    #
    # Leaf certificates live in +certs/<name>.pem+ and their keys in
    # +private_keys/<name>.pem+ (RSA keys written as PKCS#1, like Puppet).
    # CA material lives in +ca/+, and the trusted CA bundle in +certs/ca.pem+.
    # Everything except the CAs is generated on first use and then cached.
    #
    # Private keys are cached for the whole process (per role), so creating
    # many PKIs is cheap; each PKI still gets its own CA certificates, whose
    # subjects carry a random token, so certificates never verify across PKIs.
    class PKI
      # Name (CN and file name) of the broker certificate.
      BROKER_NAME = "localhost"
      # Name (CN and file name) of the default client certificate.
      CLIENT_NAME = "client.example.net"
      # Subject alternative names every broker certificate carries.
      BROKER_SANS = ["DNS:localhost", "IP:127.0.0.1", "IP:::1"].freeze
      # File names that leaf certificates may not use.
      RESERVED_NAMES = %w[ca foreign_ca intermediate_ca mismatched].freeze

      # Seconds in an hour.
      HOUR = 3600
      # Seconds in a (non-leap) year.
      YEAR = 365 * 24 * HOUR

      @key_cache = {}
      @key_mutex = Mutex.new

      class << self
        # @return [OpenSSL::PKey::PKey] a process-wide cached key for a role
        def cached_key(role, type = :rsa)
          @key_mutex.synchronize do
            @key_cache[[role, type]] ||= generate_key(type)
          end
        end

        # @return [void] forget all cached keys
        def clear_key_cache!
          @key_mutex.synchronize { @key_cache.clear }
        end

        private

        def generate_key(type)
          case type
          when :rsa then OpenSSL::PKey::RSA.new(2048)
          when :ec then OpenSSL::PKey::EC.generate("prime256v1")
          else raise ArgumentError, "unknown key type #{type.inspect}"
          end
        end
      end

      # @return [String] the ssldir this PKI was written to
      attr_reader :dir

      # @param dir [String] directory to write the ssldir into (created if missing)
      def initialize(dir)
        @dir = File.expand_path(dir)
        @token = OpenSSL::Random.random_bytes(4).unpack1("H*")
        @serial = 0
        @leaves = {}
        @extras = {}
        @mutex = Monitor.new
        %w[certs private_keys ca].each { |d| FileUtils.mkdir_p(File.join(@dir, d)) }
        @ca = build_ca(:ca, "ChoriaNats Test CA #{@token}")
        File.write(ca_file, @ca[:cert].to_pem)
      end

      # @return [String] path of the trusted CA certificate (certs/ca.pem)
      def ca_file
        path("certs", "ca.pem")
      end

      # @return [String] path of the CA's private key (ca/ca_key.pem)
      def ca_key_file
        path("ca", "ca_key.pem")
      end

      # @return [OpenSSL::X509::Certificate] the root CA certificate
      def ca_certificate
        @ca[:cert]
      end

      # @return [String] path of a certificate for +name+ signed by the CA
      def cert_for(name)
        leaf(name)[:cert_file]
      end

      # @return [String] path of the PKCS#1 RSA private key for +name+
      def key_for(name)
        leaf(name)[:key_file]
      end

      # @return [OpenSSL::X509::Certificate] the certificate object for +name+
      def certificate_for(name)
        leaf(name)[:cert]
      end

      # @return [String] path of the broker certificate (CN=localhost, IP SANs)
      def broker_cert
        cert_for(BROKER_NAME)
      end

      # @return [String] path of the broker private key
      def broker_key
        key_for(BROKER_NAME)
      end

      # @return [String] path of the default client certificate
      def client_cert
        cert_for(CLIENT_NAME)
      end

      # @return [String] path of the default client private key
      def client_key
        key_for(CLIENT_NAME)
      end

      # @return [String] path of a client certificate whose key is PKCS#8
      def pkcs8_client_cert
        special(:pkcs8_client)[:cert_file]
      end

      # @return [String] path of a PKCS#8 (BEGIN PRIVATE KEY) client key
      def pkcs8_client_key
        special(:pkcs8_client)[:key_file]
      end

      # @return [String] path of a client certificate with an EC P-256 key
      def ec_client_cert
        special(:ec_client)[:cert_file]
      end

      # @return [String] path of an EC P-256 (BEGIN EC PRIVATE KEY) client key
      def ec_client_key
        special(:ec_client)[:key_file]
      end

      # @return [String] path of an unrelated second CA certificate
      def foreign_ca_file
        foreign_ca
        path("certs", "foreign_ca.pem")
      end

      # @return [String] path of a client certificate signed by the foreign CA
      def foreign_client_cert
        special(:foreign_client)[:cert_file]
      end

      # @return [String] path of the foreign client's private key
      def foreign_client_key
        special(:foreign_client)[:key_file]
      end

      # @return [String] path of a broker certificate signed by the foreign CA
      def foreign_broker_cert
        special(:foreign_broker)[:cert_file]
      end

      # @return [String] path of the foreign broker's private key
      def foreign_broker_key
        special(:foreign_broker)[:key_file]
      end

      # @return [String] path of a broker certificate that expired a year ago
      def expired_broker_cert
        special(:expired_broker)[:cert_file]
      end

      # @return [String] path of the expired broker's private key
      def expired_broker_key
        special(:expired_broker)[:key_file]
      end

      # @return [String] path of a broker certificate for wrong.example.net only
      def wrong_host_broker_cert
        special(:wrong_host_broker)[:cert_file]
      end

      # @return [String] path of the wrong-host broker's private key
      def wrong_host_broker_key
        special(:wrong_host_broker)[:key_file]
      end

      # @return [Hash] :cert_file and :key_file of a broker certificate of +kind+: :legacy_broker (no
      #   subjectAltName, CN 127.0.0.1, the address the brokers listen on, so that no name resolution is
      #   needed), :legacy_other_name_broker (no subjectAltName, CN other.example.net), :legacy_foreign_broker
      #   (as :legacy_broker, from the foreign CA), :legacy_san_broker (CN 127.0.0.1, subjectAltName
      #   other.example.net only), :legacy_expired_broker (as :legacy_broker, expired a year ago)
      def broker_files(kind)
        raise ArgumentError, "no broker certificate #{kind.inspect}" unless kind.to_s.end_with?("_broker")

        special(kind).slice(:cert_file, :key_file)
      end

      # @return [Hash] :cert_file and :key_file of a broker certificate for the IP address +host+ only (CN and
      #   subjectAltName), as each member of a cluster on its own loopback address presents on its client and
      #   route ports
      def broker_files_for(host)
        raise ArgumentError, "not an IP address: #{host.inspect}" unless host.to_s.match?(/\A[0-9.]+\z/)

        file = validate_name("broker-#{host}")
        @mutex.synchronize do
          @leaves[file] ||= issue(file: file, common_name: host, sans: ["IP:#{host}"], role: :broker)
        end.slice(:cert_file, :key_file)
      end

      # @return [String] path of a valid RSA key that does not match client_cert
      def mismatched_client_key
        @mutex.synchronize do
          file = path("private_keys", "mismatched.pem")
          write_key(file, self.class.cached_key(:mismatched).to_pem) unless File.exist?(file)
          file
        end
      end

      # @return [String] path of the intermediate CA certificate
      def intermediate_ca_file
        intermediate_ca
        path("certs", "intermediate_ca.pem")
      end

      # @return [String] path of a client cert issued by the intermediate CA, followed by the intermediate
      def intermediate_chain_client_cert
        special(:intermediate_client)[:cert_file]
      end

      # @return [String] path of the intermediate-issued client's private key
      def intermediate_chain_client_key
        special(:intermediate_client)[:key_file]
      end

      # @return [PKI] self, after generating every certificate and key
      def generate_all
        broker_cert
        client_cert
        mismatched_client_key
        foreign_ca_file
        intermediate_ca_file
        SPECIALS.each_key { |kind| special(kind) }
        self
      end

      private

      # Specifications of the named non-default certificates.
      SPECIALS = {
        pkcs8_client: { file: "pkcs8-client.example.net", key_format: :pkcs8 },
        ec_client: { file: "ec-client.example.net", key_type: :ec },
        foreign_client: { file: "foreign-client.example.net", issuer: :foreign_ca },
        foreign_broker: { file: "foreign-broker", common_name: BROKER_NAME, sans: BROKER_SANS, issuer: :foreign_ca },
        expired_broker: { file: "expired-broker", common_name: BROKER_NAME, sans: BROKER_SANS,
                          not_before: -2 * YEAR, not_after: -YEAR },
        wrong_host_broker: { file: "wrong.example.net" },
        intermediate_client: { file: "intermediate-client.example.net", issuer: :intermediate_ca, chain: true },
        legacy_broker: { file: "legacy-broker", common_name: "127.0.0.1", sans: [] },
        legacy_other_name_broker: { file: "legacy-other-name-broker", common_name: "other.example.net", sans: [] },
        legacy_foreign_broker: { file: "legacy-foreign-broker", common_name: "127.0.0.1", sans: [],
                                 issuer: :foreign_ca },
        legacy_san_broker: { file: "legacy-san-broker", common_name: "127.0.0.1", sans: ["DNS:other.example.net"] },
        legacy_expired_broker: { file: "legacy-expired-broker", common_name: "127.0.0.1", sans: [],
                                 not_before: -2 * YEAR, not_after: -YEAR }
      }.freeze
      private_constant :SPECIALS

      def path(*parts)
        File.join(@dir, *parts)
      end

      def next_serial
        @serial += 1
      end

      def leaf(name)
        name = validate_name(name)
        special_kind = SPECIALS.find { |_, spec| spec[:file] == name }&.first
        return special(special_kind) if special_kind

        @mutex.synchronize do
          @leaves[name] ||= issue(file: name, sans: name == BROKER_NAME ? BROKER_SANS : nil, role: "leaf:#{name}")
        end
      end

      def validate_name(name)
        name = name.to_s
        return name if name.match?(/\A[A-Za-z0-9][A-Za-z0-9._-]*\z/) && !RESERVED_NAMES.include?(name)

        raise ArgumentError, "invalid certificate name #{name.inspect}"
      end

      def special(kind)
        @mutex.synchronize do
          @extras[kind] ||= begin
            spec = SPECIALS.fetch(kind)
            issue(**spec, role: kind)
          end
        end
      end

      def foreign_ca
        @mutex.synchronize do
          @foreign_ca ||= build_ca(:foreign_ca, "ChoriaNats Foreign CA #{@token}").tap do |ca|
            File.write(path("certs", "foreign_ca.pem"), ca[:cert].to_pem)
          end
        end
      end

      def intermediate_ca
        @mutex.synchronize do
          @intermediate_ca ||=
            build_ca(:intermediate_ca, "ChoriaNats Intermediate CA #{@token}", parent: @ca).tap do |ca|
              File.write(path("certs", "intermediate_ca.pem"), ca[:cert].to_pem)
            end
        end
      end

      def issuer_for(sym)
        case sym
        when :ca then @ca
        when :foreign_ca then foreign_ca
        when :intermediate_ca then intermediate_ca
        else raise ArgumentError, "unknown issuer #{sym.inspect}"
        end
      end

      def build_ca(role, common_name, parent: nil)
        key = self.class.cached_key(role)
        extensions = [["basicConstraints", parent ? "CA:TRUE,pathlen:0" : "CA:TRUE", true],
                      ["keyUsage", "keyCertSign,cRLSign", true],
                      ["subjectKeyIdentifier", "hash", false]]
        extensions << ["authorityKeyIdentifier", "keyid:always", false] if parent
        cert = sign(common_name, key, parent, [-3 * YEAR, 10 * YEAR], extensions)
        write_key(path("ca", "#{role}_key.pem"), key.to_pem)
        File.write(path("ca", "#{role}_crt.pem"), cert.to_pem)
        { cert: cert, key: key }
      end

      def issue(file:, role:, common_name: file, sans: nil, issuer: :ca, key_type: :rsa, key_format: :pkcs1,
                not_before: -HOUR, not_after: YEAR, chain: false)
        ca = issuer_for(issuer)
        key = self.class.cached_key(role, key_type)
        extensions = leaf_extensions(sans || ["DNS:#{common_name}"], key_type)
        cert = sign(common_name, key, ca, [not_before, not_after], extensions)
        files = { cert_file: path("certs", "#{file}.pem"), key_file: path("private_keys", "#{file}.pem") }
        File.write(files[:cert_file], chain ? cert.to_pem + ca[:cert].to_pem : cert.to_pem)
        write_key(files[:key_file], key_format == :pkcs8 ? pkcs8(key) : key.to_pem)
        { cert: cert, key: key, **files }
      end

      # Builds and signs a certificate; +issuer+ nil means self-signed.
      def sign(common_name, key, issuer, validity, extensions)
        now = Time.now
        cert = OpenSSL::X509::Certificate.new
        cert.version = 2
        cert.serial = OpenSSL::BN.new(next_serial)
        cert.subject = OpenSSL::X509::Name.new([["CN", common_name]])
        cert.issuer = issuer ? issuer[:cert].subject : cert.subject
        cert.public_key = key
        cert.not_before = now + validity[0]
        cert.not_after = now + validity[1]
        factory = extension_factory(cert, issuer ? issuer[:cert] : cert)
        extensions.each { |args| cert.add_extension(factory.create_extension(*args)) }
        cert.sign(issuer ? issuer[:key] : key, OpenSSL::Digest.new("SHA256"))
      end

      def leaf_extensions(sans, key_type)
        [["basicConstraints", "CA:FALSE", true],
         ["keyUsage", key_type == :ec ? "digitalSignature" : "digitalSignature,keyEncipherment", true],
         ["extendedKeyUsage", "serverAuth,clientAuth", false],
         (["subjectAltName", sans.join(","), false] unless sans.empty?),
         ["subjectKeyIdentifier", "hash", false],
         ["authorityKeyIdentifier", "keyid:always", false]].compact
      end

      def extension_factory(subject_cert, issuer_cert)
        ef = OpenSSL::X509::ExtensionFactory.new
        ef.subject_certificate = subject_cert
        ef.issuer_certificate = issuer_cert
        ef
      end

      # The key in PKCS#8. Ruby 2.7's openssl gem (2.1) writes an RSA key in PKCS#1 only, so there
      # it is wrapped in PKCS#8's PrivateKeyInfo here.
      def pkcs8(key)
        return key.private_to_pem if key.respond_to?(:private_to_pem)

        algorithm = OpenSSL::ASN1::Sequence([OpenSSL::ASN1::ObjectId("rsaEncryption"), OpenSSL::ASN1::Null(nil)])
        info = OpenSSL::ASN1::Sequence([OpenSSL::ASN1::Integer(0), algorithm, OpenSSL::ASN1::OctetString(key.to_der)])
        "-----BEGIN PRIVATE KEY-----\n#{[info.to_der].pack('m')}-----END PRIVATE KEY-----\n"
      end

      def write_key(file, pem)
        File.open(file, File::WRONLY | File::CREAT | File::TRUNC, 0o600) { |f| f.write(pem) }
        File.chmod(0o600, file)
      end
    end
  end
end
