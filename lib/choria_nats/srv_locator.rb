# frozen_string_literal: true

require_relative "bounded_command"
require_relative "errors"

module ChoriaNats
  # Finds the servers of a service the way Choria does: the addresses the configuration names, else
  # the DNS SRV records of the domain (plugin.choria.srv_domain, else facter's networking.domain),
  # else a default. The service's own words come from its subclass (BrokerList, PuppetCA::Location):
  # SRV_SERVICES, the SRV names looked up under the domain, in order; MERGE_SRV, true when the records of
  # all those names are used together (the native lookup merges them), false when the first name that
  # has records is used; DESCRIPTIONS, the format of #description for each source; and the private
  # methods `configured_addresses` and `default_addresses`, each returning `["host:port", ...]`.
  class SrvLocator
    # The first SRV name with records is used unless a subclass merges them.
    MERGE_SRV = false
    # Seconds `facter networking.domain` may take.
    FACTER_TIMEOUT = 10
    # Where facter lives when it is not on the PATH (Puppet's AIO packages).
    AIO_FACTER = "/opt/puppetlabs/bin/facter"

    # :config, :srv or :default, after #servers.
    attr_reader :source
    # What SRV returned, `[[host, port, priority, weight], ...]`, after #servers.
    attr_reader :srv_records
    # The SRV name whose records are used (the names, comma-separated, when they are merged), or nil.
    attr_reader :srv_name
    # The SRV lookup failure (a ChoriaNats::ConnectionError), or nil.
    attr_reader :srv_error
    # Why each SRV record left out was not a usable address, one line each, after #servers.
    attr_reader :srv_ignored

    # The SRV keywords of #initialize that a ChoriaNats::PluginSettings gives.
    def self.srv_options(settings)
      { srv_domain: settings.srv_domain, use_srv: settings.use_srv?, nameserver: settings.srv_nameserver }
    end

    # srv_domain:: plugin.choria.srv_domain, or nil to ask `domain_lookup`; use_srv::
    # plugin.choria.use_srv_records; nameserver:: plugin.choria.srv_nameserver ("IP:PORT"), or nil for
    # the system's. domain_lookup (returns the domain or nil) and resolver (ChoriaNats.srv_lookup's
    # signature) are injectable for specs.
    def initialize(srv_domain: nil, use_srv: true, nameserver: nil,
                   domain_lookup: -> { SrvLocator.facter_domain }, resolver: ChoriaNats.method(:srv_lookup))
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
      @srv_ignored = []
      @domain = nil
      configured = configured_addresses
      return located(:config, configured) unless configured.empty?

      from_srv = lookup_srv
      return located(:srv, from_srv) unless from_srv.empty?

      located(:default, default_addresses)
    end

    # The SRV names to look up again while connecting fails; [] when the
    # servers are configured, SRV is off, or there is no domain. Call after #servers.
    def srv_names
      return [] if @source == :config || !@use_srv || @domain.nil?

      self.class::SRV_SERVICES.map { |service| "#{service}.#{@domain}" }
    end

    # One line: the servers and where they came from.
    def description
      servers unless @source
      format(self.class::DESCRIPTIONS.fetch(@source), list: @addresses.join(", "), srv_name: @srv_name,
                                                      reason: default_reason)
    end

    # The domain from `facter networking.domain`, or nil when facter is missing, fails or says nothing.
    def self.facter_domain(timeout: FACTER_TIMEOUT)
      facter = File.executable?(AIO_FACTER) ? AIO_FACTER : "facter"
      output = BoundedCommand.output([facter, "networking.domain"], timeout)
      output&.strip&.then { |domain| domain.empty? ? nil : domain }
    end

    private

    def located(source, addresses)
      @source = source
      @addresses = addresses
      addresses.map { |address| [address, source.to_s] }
    end

    # The addresses of the SRV records (see MERGE_SRV); [] when SRV is off, no domain, none, or DNS failed.
    def lookup_srv
      return [] unless @use_srv

      @domain = @srv_domain || (@looked_up_domain ||= normalize_domain(@domain_lookup&.call))
      return [] unless @domain

      lookups.each do |asked|
        records = usable(ask(asked))
        next if records.empty?

        @srv_name = asked.join(", ")
        @srv_records = records
        return records.map { |host, port, _priority, _weight| "#{host}:#{port}" }
      end
      []
    end

    # The SRV names under the domain, grouped as they are asked: all at once when merged, else one by one.
    def lookups
      names = self.class::SRV_SERVICES.map { |service| "#{service}.#{@domain}" }
      self.class::MERGE_SRV ? [names] : names.map { |name| [name] }
    end

    # SRV names asked at once; a DNS server that does not answer ends the lookup, one that refuses a name does not.
    def ask(names)
      return [] if @srv_error.is_a?(ChoriaNats::TimeoutError)

      Array(@resolver.call(names, @nameserver))
    rescue ChoriaNats::ConnectionError => e
      @srv_error = e if @srv_error.nil? || e.is_a?(ChoriaNats::TimeoutError)
      []
    end

    # The records whose address the service can use; the others' reasons go to #srv_ignored, so that
    # one bad record does not stop the rest from being tried.
    def usable(records)
      records.reject do |host, port, _priority, _weight|
        problem = record_problem(host, port)
        @srv_ignored << problem if problem
        problem
      end
    end

    # Why a record's target is not a usable address, or nil; a subclass that checks its addresses
    # overrides it.
    def record_problem(_host, _port)
      nil
    end

    def default_reason
      return "SRV lookups are off (plugin.choria.use_srv_records = false)" unless @use_srv
      return "no domain for SRV lookups (set plugin.choria.srv_domain)" unless @domain
      return "the SRV lookup for #{@domain} failed (#{@srv_error.message})" if @srv_error
      return "no usable SRV records for #{@domain}" unless @srv_ignored.empty?

      "no SRV records for #{@domain}"
    end

    def normalize_domain(domain)
      domain = domain.to_s.strip.delete_prefix(".").delete_suffix(".")
      domain.empty? ? nil : domain
    end
  end
end
