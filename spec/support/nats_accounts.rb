# frozen_string_literal: true

require "fileutils"
require "json"
require "openssl"
require "securerandom"

module ChoriaNats
  module TestSupport
    # NATS decentralised authentication made by the tests, apart from the code under test: nkeys
    # (ed25519 keys in base32 with a type prefix and a CRC16), JWTs signed with them, an operator,
    # accounts, users and their `.creds` files, and the nats-server configuration of a broker in
    # operator mode with the accounts preloaded (resolver MEMORY).
    class NatsAccounts
      # nkey type prefixes (the first base32 letter: O, A, U; S for a seed).
      PREFIX = { operator: 14 << 3, account: 0, user: 20 << 3 }.freeze
      # The first byte of an encoded seed.
      SEED_PREFIX = 18 << 3
      # DER of a PKCS#8 ed25519 private key, before its 32-byte seed.
      PKCS8_ED25519 = ["302e020100300506032b657004220420"].pack("H*").freeze
      # RFC 4648 base32 alphabet.
      BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
      # No limit, in JWT limits.
      UNLIMITED = -1

      # An ed25519 key of an nkey type.
      class NKey
        # @return [Symbol] :operator, :account or :user
        attr_reader :type

        def initialize(type, seed = SecureRandom.bytes(32))
          @type = type
          @raw_seed = seed
          @key = OpenSSL::PKey.read(PKCS8_ED25519 + seed)
        end

        # @return [String] the public key, e.g. "UABC..."
        def public_key
          NatsAccounts.encode([PREFIX.fetch(type)].pack("C") + @key.public_to_der[-32, 32])
        end

        # @return [String] the seed, e.g. "SUABC..."
        def seed
          prefix = PREFIX.fetch(type)
          NatsAccounts.encode([SEED_PREFIX | (prefix >> 5), (prefix & 31) << 3].pack("CC") + @raw_seed)
        end

        # @return [String] the ed25519 signature of +data+
        def sign(data)
          @key.sign(nil, data)
        end
      end

      # @return [String] base32 (no padding) of +bytes+ followed by their CRC16, as nkeys writes them
      def self.encode(bytes)
        data = bytes + [crc16(bytes)].pack("v")
        data.unpack1("B*").scan(/.{1,5}/).map { |bits| BASE32[bits.ljust(5, "0").to_i(2)] }.join
      end

      # @return [Integer] CRC-16/XMODEM of +bytes+
      def self.crc16(bytes)
        bytes.each_byte.reduce(0) do |crc, byte|
          crc ^= byte << 8
          8.times { crc = crc.nobits?(0x8000) ? (crc << 1) : ((crc << 1) ^ 0x1021) }
          crc & 0xffff
        end
      end

      # @return [String] base64url without padding
      def self.b64(data)
        [data].pack("m0").tr("+/", "-_").delete("=")
      end

      # @return [String] a JWT of +claims+ (plus jti and iat) for +subject+, signed by +issuer+ (NKey)
      def self.jwt(issuer, subject, nats, name:, expires: nil)
        claims = { jti: SecureRandom.alphanumeric(52).upcase, iat: Time.now.to_i - 60, iss: issuer.public_key,
                   name: name, sub: subject, nats: nats.merge(version: 2) }
        claims[:exp] = expires.to_i if expires
        signed = "#{b64(JSON.generate(typ: 'JWT', alg: 'ed25519-nkey'))}.#{b64(JSON.generate(claims))}"
        "#{signed}.#{b64(issuer.sign(signed))}"
      end

      # @return [String] the text of a `.creds` file, as nsc writes it
      def self.creds_text(jwt, seed)
        <<~CREDS
          -----BEGIN NATS USER JWT-----
          #{jwt}
          ------END NATS USER JWT------

          ************************* IMPORTANT *************************
          NKEY Seed printed below can be used to sign and prove identity.
          NKEYs are sensitive and should be treated as secrets.

          -----BEGIN USER NKEY SEED-----
          #{seed}
          ------END USER NKEY SEED------

          *************************************************************
        CREDS
      end

      # @return [NKey] the operator
      attr_reader :operator
      # @return [NKey] the account the broker trusts
      attr_reader :account
      # @return [NKey] an account the broker does not know
      attr_reader :stranger

      # dir:: where the JWTs and creds files are written
      def initialize(dir)
        @dir = dir
        FileUtils.mkdir_p(dir)
        @operator = NKey.new(:operator)
        @account = NKey.new(:account)
        @stranger = NKey.new(:account)
      end

      # @return [String] nats-server configuration for operator mode with the trusted account preloaded
      def server_config
        operator_jwt = self.class.jwt(operator, operator.public_key, { type: "operator" }, name: "test-operator")
        limits = %i[subs data payload imports exports conn leaf].to_h { |k| [k, UNLIMITED] }.merge(wildcards: true)
        account_jwt = self.class.jwt(operator, account.public_key, { type: "account", limits: limits },
                                     name: "test-account")
        <<~CONF
          operator: #{operator_jwt}
          resolver: MEMORY
          resolver_preload: {
            #{account.public_key}: #{account_jwt}
          }
        CONF
      end

      # Writes a `.creds` file for a new user and returns its path.
      # name:: file name (without .creds)
      # issuer:: the account NKey that signs the user (default: the trusted one)
      # expires:: a Time for the JWT's exp
      # seed_of:: another user's NKey whose seed goes into the file instead of the user's own
      # mode:: file mode
      def creds(name, issuer: account, expires: nil, seed_of: nil, mode: 0o600)
        user = NKey.new(:user)
        nats = { type: "user", pub: {}, sub: {}, subs: UNLIMITED, data: UNLIMITED, payload: UNLIMITED }
        jwt = self.class.jwt(issuer, user.public_key, nats, name: name, expires: expires)
        write("#{name}.creds", self.class.creds_text(jwt, (seed_of || user).seed), mode)
      end

      # Writes +text+ into the directory with +mode+ and returns its path.
      def write(name, text, mode = 0o600)
        path = File.join(@dir, name)
        File.write(path, text)
        File.chmod(mode, path)
        path
      end
    end
  end
end
