# frozen_string_literal: true

# The gem's exception classes, declared once; the native library raises them.
module ChoriaNats
  # Every error this gem raises.
  class Error < StandardError; end

  # Bad options, or certificate, key or CA files that are missing or unusable.
  class ConfigurationError < Error; end

  # The broker cannot be reached, the link failed, or the connection is closed.
  class ConnectionError < Error; end

  # The TLS handshake or the verification of a peer failed.
  class TLSError < ConnectionError; end

  # The broker refused our user name and password.
  class AuthenticationError < ConnectionError; end

  # A deadline passed: connect, flush, or a publish waiting for buffer room.
  class TimeoutError < ConnectionError; end

  # A message could not be published: too large for the broker, or a bad subject.
  class PublishError < Error; end

  # `mco choria request_cert` could not get a certificate: the Puppet CA could not be reached,
  # refused the request, or did not sign it in time.
  class CertificateRequestError < Error; end

  # The native library is missing or was built for another Ruby.
  class LoadError < Error; end
end
