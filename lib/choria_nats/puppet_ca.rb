# frozen_string_literal: true

require "ipaddr"
require "net/http"
require "openssl"
require_relative "errors"
require_relative "plugin_settings"
require_relative "srv_locator"
require_relative "ssl_paths"

module ChoriaNats
  # A client of the Puppet CA's HTTP API (`/puppet-ca/v1`), for `mco choria request_cert`.
  #
  # Without a CA file the CA's certificate cannot be verified while it is
  # fetched (nothing can be trusted yet): the TLS session is not verified, and
  # its result is checked instead (the server's certificate must come from the
  # CA certificate it sent and name the host dialled; the caller compares the
  # fingerprint with the one configured, or shows it). With a CA file, every
  # request verifies the CA server's certificate against it and the host name.
  # Every failure is a ChoriaNats::CertificateRequestError naming the CA's
  # `host:port`, where that came from, and the HTTP status and body.
  class PuppetCA
    # The API's path prefix.
    PREFIX = "/puppet-ca/v1"
    # Seconds for connecting and for each read.
    TIMEOUT = 10
    # How much of a response body goes into an error message.
    BODY_EXCERPT = 300
    # OpenSSL's X509_V_FLAG_PARTIAL_CHAIN, which the openssl gem of Ruby 2.7 (2.1) does not name.
    PARTIAL_CHAIN = OpenSSL::X509.const_defined?(:V_FLAG_PARTIAL_CHAIN) ? OpenSSL::X509::V_FLAG_PARTIAL_CHAIN : 0x80000

    # Where the CA is: plugin.choria.puppetca_host (and _port), else the SRV
    # records `_x-puppet-ca._tcp` then `_x-puppet._tcp` of the domain (as for
    # the brokers: plugin.choria.srv_domain or facter), else `puppet:8140`.
    class Location < SrvLocator
      # The SRV services looked up under the domain, in order.
      SRV_SERVICES = %w[_x-puppet-ca._tcp _x-puppet._tcp].freeze
      # Puppet's port, from the settings table.
      DEFAULT_PORT = SettingsTable.default("puppetca_port")
      # The CA's host when nothing else names one.
      DEFAULT_HOST = "puppet"
      # The line #description gives, by source.
      DESCRIPTIONS = {
        config: "Puppet CA from plugin.choria.puppetca_host: %<list>s",
        srv: "Puppet CA from SRV %<srv_name>s: %<list>s",
        default: "Puppet CA: none configured and %<reason>s: using the default %<list>s"
      }.freeze

      # The location a ChoriaNats::PluginSettings describes, unless `ca_option` (`--ca HOST[:PORT]`) names
      # the CA: then that host, with its port or plugin.choria.puppetca_port. `options` as for SrvLocator
      # (resolver, domain_lookup). Raises ChoriaNats::ConfigurationError for a `ca_option` that is not HOST[:PORT].
      def self.from_settings(settings, ca_option: nil, **options)
        if ca_option
          host, port = parse_option(ca_option)
          return new(host: host, port: port || settings.puppetca_port, given_by: "--ca", **options)
        end

        new(host: settings.puppetca_host, port: settings.puppetca_port, **srv_options(settings), **options)
      end

      # `[host, port or nil]` of `--ca HOST[:PORT]` (an IPv6 address bare or in brackets, `[v6]:PORT`).
      def self.parse_option(text)
        text = text.to_s.strip
        host, port = split_option(text)
        port &&= Integer(port, 10)
        return [host, port] if host && (port.nil? || port.between?(1, 65_535))

        raise ConfigurationError, "--ca must be HOST or HOST:PORT (an IPv6 address in brackets with a port), " \
                                  "with a port from 1 to 65535, not #{text.inspect}"
      end

      # Why `text` is not a `--ca HOST[:PORT]`, or nil when it is one.
      def self.option_problem(text)
        parse_option(text)
        nil
      rescue ConfigurationError => e
        e.message
      end

      # Host and port text of `--ca`, nil for a host that is neither a name nor an address.
      def self.split_option(text)
        if (bracketed = text.match(/\A\[(?<host>[^\[\]]+)\](?::(?<port>\d{1,5}))?\z/))
          [ipv6?(bracketed[:host]) ? bracketed[:host] : nil, bracketed[:port]]
        elsif text.count(":") > 1
          [ipv6?(text) ? text : nil, nil]
        elsif (named = text.match(/\A(?<host>[A-Za-z0-9._-]+)(?::(?<port>\d{1,5}))?\z/))
          [named[:host], named[:port]]
        else
          [nil, nil]
        end
      end

      def self.ipv6?(text)
        IPAddr.new(text).ipv6?
      rescue IPAddr::InvalidAddressError
        false
      end
      private_class_method :split_option, :ipv6?

      # host:: plugin.choria.puppetca_host, or nil; port:: plugin.choria.puppetca_port, used with the
      # default host too, or nil for DEFAULT_PORT; given_by:: the command-line option that named `host`,
      # which then is the only server; the other keywords as for SrvLocator.
      def initialize(host: nil, port: nil, given_by: nil, **options)
        super(**options)
        @host = host
        @port = port || DEFAULT_PORT
        @given_by = given_by
      end

      # As SrvLocator#servers; the source is the option when one named the CA.
      def servers
        found = super
        @given_by ? found.map { |address, _| [address, @given_by] } : found
      end

      # As SrvLocator#description, naming the option when one named the CA.
      def description
        return "Puppet CA from #{@given_by}: #{address(@host)}" if @given_by

        super
      end

      private

      def configured_addresses
        @host ? [address(@host)] : []
      end

      def default_addresses
        [address(DEFAULT_HOST)]
      end

      # `host:port`, an IPv6 address in brackets.
      def address(host)
        host.include?(":") && !host.start_with?("[") ? "[#{host}]:#{@port}" : "#{host}:#{@port}"
      end
    end

    # The CA's host and port, and where they came from.
    attr_reader :host, :port, :source
    # The CA file that verifies the CA server, or nil.
    attr_accessor :ca_file

    # address:: "host:port" ("[v6]:port" for IPv6); source:: config, srv or default
    def initialize(address, source: "config", ca_file: nil, timeout: TIMEOUT)
      match = address.to_s.match(/\A\[?(?<host>[^\[\]]+?)\]?:(?<port>\d+)\z/)
      raise ConfigurationError, "The Puppet CA address must be host:port, not #{address.inspect}" unless match

      @host = match[:host]
      @port = Integer(match[:port], 10)
      @source = source
      @ca_file = ca_file
      @timeout = timeout
    end

    # `host:port (source)`, as errors and progress lines name the CA.
    def to_s
      "#{@host.include?(':') ? "[#{@host}]" : @host}:#{@port} (#{@source})"
    end

    # The CA's certificate (GET /certificate/ca). Without a CA file, checked to
    # have signed the certificate of the server that sent it (see the class).
    def ca_certificate
      response = request(:get, "#{PREFIX}/certificate/ca")
      expect_ok(response, :get, "#{PREFIX}/certificate/ca")
      ca = certificate_from(response.body, "#{PREFIX}/certificate/ca")
      check_served_by(ca) unless @ca_file
      ca
    end

    # The signed certificate for `certname`, or nil while there is none (404).
    def certificate(certname)
      path = "#{PREFIX}/certificate/#{escape(certname)}"
      body = body_unless_missing(path)
      body && certificate_from(body, path)
    end

    # The pending request for `certname` (an OpenSSL::X509::Request), or nil (404).
    def certificate_request(certname)
      path = "#{PREFIX}/certificate_request/#{escape(certname)}"
      body = body_unless_missing(path)
      body && OpenSSL::X509::Request.new(body)
    rescue OpenSSL::X509::RequestError
      raise CertificateRequestError, "The Puppet CA #{self} answered GET #{path} with something that is not a PEM " \
                                     "certificate request: #{excerpt(body)}"
    end

    # Submits `csr` (an OpenSSL::X509::Request) for `certname` (PUT /certificate_request/<certname>).
    def submit(certname, csr)
      path = "#{PREFIX}/certificate_request/#{escape(certname)}"
      response = request(:put, path, csr.to_pem)
      expect_ok(response, :put, path)
      nil
    end

    private

    # The body of GET `path`, or nil when the CA answers 404 (nothing there yet).
    def body_unless_missing(path)
      response = request(:get, path)
      return nil if response.code == "404"

      expect_ok(response, :get, path)
      response.body
    end

    def escape(certname)
      problem = Certname.problem(certname, advice: "set MCOLLECTIVE_CERTNAME, or give --certname")
      raise ConfigurationError, problem if problem

      certname
    end

    def request(method, path, body = nil)
      http = Net::HTTP.new(@host, @port)
      configure_tls(http)
      http.start do |session|
        message = method == :put ? Net::HTTP::Put.new(path) : Net::HTTP::Get.new(path)
        message["Accept"] = "text/plain"
        if body
          message["Content-Type"] = "text/plain"
          message.body = body
        end
        response = session.request(message)
        @served_by = session.peer_cert
        response
      end
    rescue OpenSSL::SSL::SSLError => e
      raise CertificateRequestError, tls_failure(e)
    rescue Net::OpenTimeout, Net::ReadTimeout, Net::WriteTimeout
      raise CertificateRequestError, "The Puppet CA #{self} did not answer #{method.upcase} #{path} within " \
                                     "#{@timeout}s: check that puppetserver runs there and that a firewall lets " \
                                     "the port through"
    rescue SocketError, SystemCallError, IOError => e
      raise CertificateRequestError, "Cannot reach the Puppet CA #{self}: #{e.message}: #{unreachable_advice}"
    end

    def unreachable_advice
      return "check the HOST[:PORT] given to --ca" if @source == "--ca"

      "check plugin.choria.puppetca_host and plugin.choria.puppetca_port, or the SRV records _x-puppet-ca._tcp " \
        "and _x-puppet._tcp"
    end

    def configure_tls(http)
      http.use_ssl = true
      http.min_version = OpenSSL::SSL::TLS1_2_VERSION
      http.open_timeout = @timeout
      http.read_timeout = @timeout
      http.write_timeout = @timeout if http.respond_to?(:write_timeout=)
      if @ca_file
        http.verify_mode = OpenSSL::SSL::VERIFY_PEER
        http.ca_file = @ca_file
        http.cert_store = OpenSSL::X509::Store.new # the CA file only: never the system roots
        http.verify_hostname = true
      else
        # The first download: nothing to verify against yet. The caller shows the fingerprint.
        http.verify_mode = OpenSSL::SSL::VERIFY_NONE
      end
    end

    # The server that sent `ca_certificate` must hold a certificate it signed, for the host dialled.
    def check_served_by(ca_certificate)
      store = OpenSSL::X509::Store.new
      store.flags = PARTIAL_CHAIN # the anchor even if an intermediate
      store.add_cert(ca_certificate)
      problem = if @served_by.nil? then "it showed none"
                elsif !store.verify(@served_by) then "#{@served_by.subject.to_utf8}: #{store.error_string}"
                elsif !OpenSSL::SSL.verify_certificate_identity(@served_by, @host)
                  "#{@served_by.subject.to_utf8} is not for #{@host}"
                end
      return unless problem

      raise CertificateRequestError, "The Puppet CA #{self} sent the CA certificate " \
                                     "#{ca_certificate.subject.to_utf8}, which did not sign the server's own " \
                                     "certificate for #{@host} (#{problem}): this is not that CA's server, or " \
                                     "something between answers for it; nothing was saved"
    end

    def tls_failure(error)
      return "TLS with the Puppet CA #{self} failed: #{error.message}" unless @ca_file

      "The Puppet CA #{self} presented a certificate that does not verify against the CA file #{@ca_file} " \
        "(#{error.message.sub(/\A.*state=error: /, '')}): dial the CA by a name its certificate holds, or, if " \
        "the CA was rebuilt, move #{@ca_file} away and run again"
    end

    def expect_ok(response, method, path)
      return if response.is_a?(Net::HTTPSuccess)

      raise CertificateRequestError, "The Puppet CA #{self} answered #{response.code} #{response.message} to " \
                                     "#{method.upcase} #{path}: #{excerpt(response.body)}"
    end

    def certificate_from(body, path)
      OpenSSL::X509::Certificate.new(body)
    rescue OpenSSL::X509::CertificateError
      raise CertificateRequestError, "The Puppet CA #{self} answered GET #{path} with something that is not a PEM " \
                                     "certificate: #{excerpt(body)}"
    end

    def excerpt(body)
      text = body.to_s.encode("UTF-8", invalid: :replace, undef: :replace).gsub(/\s+/, " ").strip
      text = "(empty body)" if text.empty?
      text.length > BODY_EXCERPT ? "#{text[0, BODY_EXCERPT]}..." : text
    end
  end
end
