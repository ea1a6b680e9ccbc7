# frozen_string_literal: true

require_relative "../choria_nats"

module ChoriaNats
  # Why a node can or cannot talk to its brokers, for
  # `choria-nats doctor` and `mco choria show_config`: the certname, the security provider and
  # its files, each pre-flight check of the certificate files, the broker list and
  # where it came from, and a real TLS connection to each broker, one at a time.
  #
  #   status = ChoriaNats::Doctor.new(identity: "node1", pluginconf: conf, config_file: cfg).run  # 0 when all is well
  class Doctor
    # Column of the text after a status word.
    WIDTH = 9
    # The longest a broker connection attempt may take here, in seconds.
    MAX_CONNECT_TIMEOUT = 10

    # identity, pluginconf:: from the MCollective config (Config#identity, Config#pluginconf);
    # config_file:: its path, for the report; config_problem:: a line saying why MCollective cannot read it
    # (ConfigFile#locale_problem), or nil; uid, env, home:: the process' identity (as for SSLPaths and FilePaths);
    # connector:: makes a connection, `call(**options)` (ChoriaNats::Connection.connect)
    def initialize(identity:, pluginconf:, config_file: nil, config_problem: nil, out: $stdout, uid: Process.uid,
                   env: ENV, home: nil, connector: ChoriaNats::Connection.method(:connect), ssl_paths: nil,
                   broker_list: nil)
      @identity = identity
      @config_file = config_file
      @config_problem = config_problem
      @out = out
      @settings = PluginSettings.new(pluginconf, env: env)
      @paths = ssl_paths || SecurityProvider.paths(@settings, identity: identity, uid: uid, env: env, home: home)
      @brokers = broker_list || BrokerList.from_settings(@settings)
      @connector = connector
      @problems = []
    end

    # Prints the report; returns the exit status: 0 when all is well, 1 otherwise.
    def run
      header
      certificates = certificate_section
      broker_section(certificates)
      result
    end

    private

    def header
      @out.puts("choria-nats #{VERSION} doctor (#{ChoriaNats::NATS_CLIENT}, rustls)")
      field("Config", @config_file || "(none)")
      if @config_problem
        status(:problem, @config_problem)
        @problems << @config_problem
      end
      field("Identity", @identity)
      field("Certname", "#{@paths.certname} (#{@paths.certname_reason})")
      reason = @settings.source("security_provider") || "the default"
      field("Security", "#{@paths.provider} (#{reason})")
      @paths.locations.each { |label, text| field(label, text) }
    end

    def certificate_section
      @out.puts("", "Certificate")
      check = CertificateCheck.for_paths(@paths)
      check.checks.each do |item|
        status(item.status, item.line)
        @problems << item.line if item.problem?
      end
      details(check)
      check
    end

    def details(check)
      field("  chain", check.chain.join(", issued by ")) unless check.chain.empty?
      field("  names", check.names.join(", ")) unless check.names.empty?
      return unless check.not_before && check.not_after

      field("  valid", "#{utc(check.not_before)} to #{utc(check.not_after)}")
    end

    def broker_section(certificates)
      @out.puts("", "Brokers")
      servers = @brokers.servers
      @out.puts("  #{@brokers.description}")
      srv_lines
      if blocks_every_broker?(certificates)
        status(:skipped, "Not connecting to #{servers.map(&:first).join(', ')}: fix the certificate files first")
        return
      end
      servers.each { |address, source| try_broker(address, source) }
    end

    def srv_lines
      unless @brokers.srv_records.to_a.empty?
        records = @brokers.srv_records.map do |host, port, priority, weight|
          "#{host}:#{port} (priority #{priority}, weight #{weight})"
        end
        @out.puts("  SRV records seen for #{@brokers.srv_name}: #{records.join(', ')}")
      end
      @out.puts("  SRV lookup failed: #{@brokers.srv_error.message}") if @brokers.srv_error
    end

    # Whether a problem other than the certname stops every connection.
    def blocks_every_broker?(check)
      check.problems.any? { |item| item.name != :name }
    end

    def try_broker(address, source)
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      connection = @connector.call(**connect_options(address, source))
      took = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
      status(:ok, "#{address} (#{source}): connected over verified TLS in #{format('%.2f', took)}s")
    rescue ChoriaNats::Error => e
      status(:problem, e.message)
      @problems << e.message
    ensure
      connection&.close
    end

    def connect_options(address, source)
      { servers: [[address, source]], ca_file: @paths.ca_file, cert_file: @paths.cert_file,
        key_file: @paths.key_file, name: @identity, user: @settings.user, password: @settings.password,
        credentials: @settings.credentials,
        connect_timeout: [@settings.connect_timeout, MAX_CONNECT_TIMEOUT].min, randomize: false,
        retry_initial_connect: false, legacy_certificates: @settings.legacy_certificates?,
        logger: ->(_level, _line) {} }
    end

    def result
      @out.puts("")
      if @problems.empty?
        @out.puts("Result: all is well: this node can reach its NATS brokers over verified TLS")
        return 0
      end
      count = @problems.size == 1 ? "1 problem" : "#{@problems.size} problems"
      @out.puts("Result: #{count}; the first: #{@problems.first}")
      1
    end

    def status(state, line)
      word = { ok: "ok", problem: "PROBLEM", skipped: "skipped" }.fetch(state)
      @out.puts("  #{word.ljust(WIDTH)}#{line}")
    end

    def field(name, value)
      @out.puts("#{name.ljust(WIDTH + 2)}#{value}")
    end

    def utc(time)
      time.strftime("%Y-%m-%d %H:%M:%S UTC")
    end
  end
end
