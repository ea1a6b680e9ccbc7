# frozen_string_literal: true

require "io/wait"

module ChoriaNats
  # The ordered NATS broker list and where it came from: plugin.choria.middleware_hosts,
  # else DNS SRV records for the domain, else puppet:4222.
  class BrokerList
    # The SRV services looked up under the domain, in order.
    SRV_SERVICES = %w[_mcollective-server._tcp _x-puppet-mcollective._tcp].freeze
    # The NATS port when an address names none.
    DEFAULT_PORT = 4222
    # The broker used when nothing else names one.
    DEFAULT_BROKER = "puppet:4222"
    # Seconds `facter networking.domain` may take.
    FACTER_TIMEOUT = 10
    # Where facter lives when it is not on the PATH (Puppet's AIO packages).
    AIO_FACTER = "/opt/puppetlabs/bin/facter"

    # :config, :srv or :default, after #servers.
    attr_reader :source
    # What SRV returned, `[[host, port, priority, weight], ...]`, after #servers.
    attr_reader :srv_records
    # The SRV name whose records are used, or nil.
    attr_reader :srv_name
    # The SRV lookup failure (a ChoriaNats::ConnectionError), or nil.
    attr_reader :srv_error

    # Keywords as in the README; resolver and domain_lookup are injectable for specs.
    def initialize(middleware_hosts: nil, srv_domain: nil, use_srv: true, nameserver: nil,
                   domain_lookup: -> { BrokerList.facter_domain }, resolver: ChoriaNats.method(:srv_lookup))
      @middleware_hosts = middleware_hosts
      @srv_domain = normalize_domain(srv_domain)
      @use_srv = use_srv
      @nameserver = nameserver
      @domain_lookup = domain_lookup
      @resolver = resolver
    end

    # `[["host:port", "config"|"srv"|"default"], ...]`, looking SRV up again on each call.
    def servers
      @srv_records = []
      @srv_name = nil
      @srv_error = nil
      @domain = nil
      configured = parse_hosts(@middleware_hosts)
      return found(:config, configured) unless configured.empty?

      from_srv = lookup_srv
      return found(:srv, from_srv) unless from_srv.empty?

      found(:default, [self.class::DEFAULT_BROKER])
    end

    # The SRV names to look up again while connecting fails; [] when the
    # brokers are configured, SRV is off, or there is no domain. Call after #servers.
    def srv_names
      return [] if @source == :config || !@use_srv || @domain.nil?

      self.class::SRV_SERVICES.map { |service| "#{service}.#{@domain}" }
    end

    # One log line: the brokers and where they came from.
    def description
      servers unless @source
      list = @hosts.join(", ")
      case @source
      when :config then "NATS brokers from plugin.choria.middleware_hosts: #{list}"
      when :srv then "NATS brokers from SRV #{@srv_name}: #{list}"
      else "NATS brokers: none configured and #{default_reason}: using the default #{list}"
      end
    end

    # The domain from `facter networking.domain`, or nil when facter is missing, fails or says nothing.
    def self.facter_domain(timeout: FACTER_TIMEOUT)
      facter = File.executable?(AIO_FACTER) ? AIO_FACTER : "facter"
      output = run_bounded([facter, "networking.domain"], timeout)
      output&.strip&.then { |domain| domain.empty? ? nil : domain }
    end

    # The standard output of `command`, or nil when it fails or outlives `timeout` seconds (then it is killed).
    def self.run_bounded(command, timeout)
      reader, writer = IO.pipe
      pid = Process.spawn(*command, in: File::NULL, out: writer, err: File::NULL)
      writer.close
      output = read_until(reader, Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout)
      Process.kill("KILL", pid) unless output
      status = Process.wait2(pid).last
      output if status.success?
    rescue SystemCallError
      nil
    ensure
      [reader, writer].each { |io| io.close unless io.nil? || io.closed? }
    end

    # Everything `reader` gives until end of file, or nil when `deadline` passes first.
    def self.read_until(reader, deadline)
      output = +""
      loop do
        remaining = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
        return nil if remaining <= 0 || reader.wait_readable(remaining).nil?

        chunk = reader.read_nonblock(4096, exception: false)
        return output if chunk.nil?

        output << chunk if chunk.is_a?(String)
      end
    end
    private_class_method :read_until

    private

    def found(source, hosts)
      @source = source
      @hosts = hosts
      hosts.map { |host| [host, source.to_s] }
    end

    def parse_hosts(hosts)
      Array(hosts).join(",").split(",").map(&:strip).reject(&:empty?).map { |host| with_port(host) }
    end

    # `host:port` with the default port when none is given; bare IPv6 addresses get brackets; an entry
    # with credentials is refused (the native `ChoriaNats.broker_address`, which the connection shares).
    def with_port(host)
      ChoriaNats.broker_address(host, self.class::DEFAULT_PORT, "plugin.choria.middleware_hosts")
    end

    # A password in the broker list would be repeated in every message and log line that names the
    # broker, so it is refused; the message shows the entry with its secret masked.
    def refuse_credentials(entry)
      credentials, address = entry.rpartition("@").values_at(0, 2)
      scheme = credentials[%r{\A[a-z]+://}i].to_s
      user, colon, = credentials.delete_prefix(scheme).partition(":")
      masked = colon.empty? ? "#{scheme}***@#{address}" : "#{scheme}#{user}:***@#{address}"
      raise ConfigurationError, "plugin.choria.middleware_hosts holds credentials in #{masked}: remove them from " \
                                "it and set plugin.nats.user and plugin.nats.pass instead"
    end

    # The hosts of the first SRV name that has records; [] when SRV is off, no domain, none, or DNS failed.
    def lookup_srv
      return [] unless @use_srv

      @domain = @srv_domain || (@looked_up_domain ||= normalize_domain(@domain_lookup&.call))
      return [] unless @domain

      self.class::SRV_SERVICES.each do |service|
        name = "#{service}.#{@domain}"
        records = ask(name)
        next if records.empty?

        @srv_name = name
        @srv_records = records
        return records.map { |host, port, _priority, _weight| "#{host}:#{port}" }
      end
      []
    end

    # One SRV name; a DNS server that does not answer ends the lookup, one that refuses a name does not.
    def ask(name)
      return [] if @srv_error.is_a?(ChoriaNats::TimeoutError)

      Array(@resolver.call([name], @nameserver))
    rescue ChoriaNats::ConnectionError => e
      @srv_error = e if @srv_error.nil? || e.is_a?(ChoriaNats::TimeoutError)
      []
    end

    def default_reason
      return "SRV lookups are off (plugin.choria.use_srv_records = false)" unless @use_srv
      return "no domain for SRV lookups (set plugin.choria.srv_domain)" unless @domain
      return "the SRV lookup for #{@domain} failed (#{@srv_error.message})" if @srv_error

      "no SRV records for #{@domain}"
    end

    def normalize_domain(domain)
      domain = domain.to_s.strip.delete_prefix(".").delete_suffix(".")
      domain.empty? ? nil : domain
    end
  end
end
