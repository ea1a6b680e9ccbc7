# frozen_string_literal: true

require_relative "errors"
require_relative "ssl_files"

module ChoriaNats
  # The SHA256 fingerprint the Puppet CA's certificate must have, for
  # `mco choria request_cert`: from --ca-fingerprint, else
  # plugin.choria.puppetca_fingerprint. With it, the first download of the CA
  # certificate is checked; without it, the fingerprint can only be shown.
  class CAPin
    # The fingerprint, as SSLFiles.fingerprint writes them; and where it came from.
    attr_reader :fingerprint, :origin

    # The pin from --ca-fingerprint's value (or nil), else from a PluginSettings; nil when neither gives one.
    def self.from(option, settings)
      return new(parse(option, "--ca-fingerprint"), "--ca-fingerprint") if option

      configured = settings.puppetca_fingerprint
      configured && new(parse(configured, "plugin.choria.puppetca_fingerprint"), "plugin.choria.puppetca_fingerprint")
    end

    # A SHA-256 fingerprint a user typed, in the form SSLFiles.fingerprint gives: 64 hex
    # digits, colons optional, and what `openssl x509 -fingerprint -sha256` or
    # `puppetserver ca list` print before it allowed. `origin` names where it came from.
    def self.parse(text, origin)
      hex = text.to_s.strip.sub(/\A(sha-?256)?\s*(fingerprint)?\s*[=:]?\s*(\(sha-?256\))?\s*/i, "").delete(":")
      return hex.upcase.scan(/../).join(":") if hex.match?(/\A\h{64}\z/)

      raise ConfigurationError, "#{origin} must be a SHA256 fingerprint (64 hex digits, colons optional), " \
                                "not #{text.to_s[0, 120].inspect}"
    end

    # What to tell the user about a downloaded CA certificate, with `pin` (a CAPin) or without (nil).
    def self.trust_line(pin)
      return "This is the fingerprint #{pin.origin} gives" if pin

      "This first download cannot be verified: compare the fingerprint with the CA's own, for example " \
        "`openssl x509 -noout -fingerprint -sha256 -in ca_crt.pem` in its CA dir, or give it with " \
        "--ca-fingerprint or plugin.choria.puppetca_fingerprint to have it checked"
    end

    # fingerprint:: as SSLFiles.fingerprint writes them; origin:: where it came from, for messages
    def initialize(fingerprint, origin)
      @fingerprint = fingerprint
      @origin = origin
    end

    # Raises CertificateRequestError unless `certificate` has the fingerprint: `holder` begins
    # the message ("The CA file ..."), `advice` ends it.
    def check!(certificate, holder, advice)
      actual = SSLFiles.fingerprint(certificate.to_der)
      return if actual == @fingerprint

      raise CertificateRequestError, "#{holder} has the SHA256 fingerprint #{actual}, not #{@fingerprint} " \
                                     "(#{@origin}): #{advice}"
    end
  end
end
