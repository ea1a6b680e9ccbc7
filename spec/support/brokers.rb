# frozen_string_literal: true

require "fileutils"

module ChoriaNats
  module TestSupport
    # Brokers of the kinds the refusal specs need, each started once on first
    # use and stopped together: :good, :expired (certificate), :wrong_host,
    # :plaintext (no TLS), :auth (user "mco", password PASSWORD), and one for
    # each of PKI#broker_files' legacy certificates (:legacy_broker, ...).
    class Brokers
      # The :auth broker's password.
      PASSWORD = "s3cret-pw"

      def initialize(pki, dir)
        @pki = pki
        @dir = dir
        @servers = {}
      end

      # The broker of `kind`, started.
      def [](kind)
        @servers[kind] ||= NatsServer.new(pki: @pki, dir: File.join(@dir, kind.to_s), name: kind.to_s,
                                          **options(kind)).start
      end

      # Stops every broker started here.
      def stop_all
        @servers.each_value(&:stop)
        @servers.clear
      end

      private

      def options(kind)
        case kind
        when :good then {}
        when :expired then { cert: @pki.expired_broker_cert, key: @pki.expired_broker_key }
        when :wrong_host then { cert: @pki.wrong_host_broker_cert, key: @pki.wrong_host_broker_key }
        when :plaintext then { tls: false }
        when :auth then { user: "mco", password: PASSWORD }
        when :foreign_clients then { ca: @pki.foreign_ca_file } # refuses clients of the PKI's own CA
        when /\Alegacy_/ then @pki.broker_files(kind).then { |f| { cert: f[:cert_file], key: f[:key_file] } }
        else raise ArgumentError, "no broker kind #{kind.inspect}"
        end
      end
    end
  end
end
