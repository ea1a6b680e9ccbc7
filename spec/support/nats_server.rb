# frozen_string_literal: true

require "fileutils"
require "socket"

module ChoriaNats
  module TestSupport
    # Runs a real +nats-server+ on loopback for integration specs.
    #
    # Only the process this object spawned is ever signalled, and every wait
    # is bounded in time. Files (config, PID, log) are written into +dir+.
    class NatsServer
      # Executable name; $NATS_SERVER overrides, and Debian installs it in /usr/sbin.
      BINARY = "nats-server"
      # Fallback directories searched when +nats-server+ is not on PATH.
      FALLBACK_DIRS = %w[/usr/sbin /usr/local/sbin /usr/local/bin].freeze
      # Seconds to wait for the server to accept connections.
      START_TIMEOUT = 10
      # Seconds to wait for the server to exit after TERM (and again after KILL).
      STOP_TIMEOUT = 5
      # Seconds between readiness / exit polls.
      POLL_INTERVAL = 0.05
      # Number of log lines included in start failures.
      LOG_TAIL_LINES = 40

      # @return [Integer] a currently free TCP port on +host+ (racy by nature)
      def self.free_port(host = "127.0.0.1")
        server = TCPServer.new(host, 0)
        server.addr[1]
      ensure
        server&.close
      end

      # @return [String] path of the nats-server executable to run
      def self.binary
        return ENV["NATS_SERVER"] if ENV["NATS_SERVER"] && !ENV["NATS_SERVER"].empty?

        dirs = ENV.fetch("PATH", "").split(File::PATH_SEPARATOR) + FALLBACK_DIRS
        found = dirs.map { |d| File.join(d, BINARY) }.find { |f| File.file?(f) && File.executable?(f) }
        found || raise("#{BINARY} not found in PATH or #{FALLBACK_DIRS.join(', ')}")
      end

      # @return [String] host the server listens on
      attr_reader :host
      # @return [Integer] client port
      attr_reader :port
      # @return [Integer, nil] HTTP monitoring port, when started with +monitor: true+
      attr_reader :monitor_port
      # @return [String] directory holding the config, PID and log files
      attr_reader :dir
      # @return [String] path of the generated config file
      attr_reader :config_file
      # @return [String] path of the server log file
      attr_reader :log_file
      # @return [String] path of the PID file the server writes
      attr_reader :pid_file
      # @return [Integer, nil] PID of the running server process
      attr_reader :pid
      # @return [Process::Status, nil] exit status of the last process reaped
      attr_reader :last_status
      # @return [Integer, nil] route port, when started with +cluster:+
      attr_reader :route_port

      # @param pki [PKI, nil] PKI supplying default cert, key and CA paths
      # @param cluster [Hash, nil] a cluster member's +route_port:+ and +routes:+ (the peers' "host:port" route
      #   addresses); the route port has the client port's TLS settings, +verify+ included
      # rubocop:disable Naming/MethodParameterName
      def initialize(dir:, pki: nil, tls: true, verify: true, cert: pki&.broker_cert, key: pki&.broker_key,
                     ca: pki&.ca_file, user: nil, password: nil, port: nil, host: "127.0.0.1", extra: "",
                     monitor: false, max_payload: 1_048_576, name: "nats-server", cluster: nil)
        # rubocop:enable Naming/MethodParameterName
        @dir = File.expand_path(dir)
        @host = host
        @name = name
        @port = port || self.class.free_port(host)
        @monitor_port = monitor ? self.class.free_port(host) : nil
        @tls = tls ? { cert: cert, key: key, ca: ca, verify: verify } : nil
        @route_port = cluster && (cluster[:route_port] || self.class.free_port(host))
        @routes = cluster&.fetch(:routes, [])
        @auth = user || password ? { user: user, password: password } : nil
        @extra = extra.to_s
        @max_payload = max_payload
        @config_file = File.join(@dir, "#{name}.conf")
        @log_file = File.join(@dir, "#{name}.log")
        @pid_file = File.join(@dir, "#{name}.pid")
        @pid = nil
        @owner = Process.pid
        validate_tls!
        FileUtils.mkdir_p(@dir)
        write_config
      end

      # @return [String] the "host:port" address clients connect to
      def address
        host.include?(":") ? "[#{host}]:#{port}" : "#{host}:#{port}"
      end

      # @return [String] the "nats://host:port" URL of the server
      def url
        "nats://#{address}"
      end

      # @return [Boolean] whether TLS is configured
      def tls?
        !@tls.nil?
      end

      # @return [String] the contents of the server log ("" when there is none)
      def log
        File.exist?(log_file) ? File.read(log_file) : ""
      end

      # @return [String] the generated configuration text
      def config
        File.read(config_file)
      end

      # @return [NatsServer] self, once the server accepts TCP connections
      #
      # The readiness probe is a bare TCP connect, so a TLS server logs one
      # "TLS handshake error: EOF" (or "connection reset by peer") per start.
      def start
        raise "nats-server already running (pid #{@pid})" if running?
        raise "port #{address} is already in use by another process" if port_open?(port)

        @log_offset = File.exist?(log_file) ? File.size(log_file) : 0
        @pid = Process.spawn(self.class.binary, "-c", config_file, %i[out err] => [log_file, "a"], :in => File::NULL)
        register_at_exit
        wait_until_ready
        self
      end

      # @return [NatsServer] self, after the spawned process has exited
      def stop
        return self unless @pid
        return self unless Process.pid == @owner

        signal("TERM")
        reap(STOP_TIMEOUT) || (signal("KILL") && reap(STOP_TIMEOUT))
        @pid = nil
        self
      end

      # @return [NatsServer] self, after SIGKILL and the process reaped: a broker that dies without closing anything
      def kill
        return self unless @pid && Process.pid == @owner

        signal("KILL")
        reap(STOP_TIMEOUT)
        @pid = nil
        self
      end

      # @return [String] the "host:port" address of the route port, when started with +cluster:+
      def route_address
        "#{host}:#{route_port}"
      end

      # @return [NatsServer] self, after stopping, sleeping +pause+ seconds and starting on the same port
      def restart(pause: 0)
        stop
        sleep(pause) if pause.positive?
        start
      end

      # @return [Boolean] whether the spawned process is still alive
      def running?
        return false unless @pid

        reaped = Process.wait2(@pid, Process::WNOHANG)
        return true unless reaped

        @last_status = reaped[1]
        @pid = nil
        false
      rescue Errno::ECHILD
        @pid = nil
        false
      end

      # @return [Hash] the parsed JSON of the monitoring endpoint /varz
      def varz
        monitoring("/varz")
      end

      # @return [Hash] the parsed JSON of the monitoring endpoint /routez: the cluster routes up now
      def routez
        monitoring("/routez")
      end

      # @return [String] the last +lines+ lines of the log
      def log_tail(lines = LOG_TAIL_LINES)
        log.lines.last(lines).join
      end

      private

      def monitoring(path)
        raise "monitoring is not enabled (pass monitor: true)" unless monitor_port

        require "json"
        require "net/http"
        http = Net::HTTP.new(host, monitor_port)
        http.open_timeout = 2
        http.read_timeout = 2
        response = http.get(path)
        raise "GET #{path} failed: #{response.code}" unless response.is_a?(Net::HTTPSuccess)

        JSON.parse(response.body)
      end

      def validate_tls!
        raise ArgumentError, "cluster: needs tls: true, routes are verified as clients are" if route_port && !@tls
        return unless @tls
        return if @tls[:cert] && @tls[:key]

        raise ArgumentError, "tls: true needs cert: and key: (or pki:)"
      end

      def write_config
        File.write(config_file, config_text)
      end

      def config_text
        lines = ["# generated by ChoriaNats::TestSupport::NatsServer",
                 "port: #{Integer(port)}",
                 "host: #{quote(host)}",
                 "pid_file: #{quote(pid_file)}",
                 "log_file: #{quote(log_file)}",
                 "max_payload: #{Integer(@max_payload)}"]
        lines << "http_port: #{Integer(monitor_port)}" if monitor_port
        lines.concat(tls_block) if @tls
        lines.concat(cluster_block) if route_port
        lines.concat(auth_block) if @auth
        lines << @extra unless @extra.empty?
        "#{lines.join("\n")}\n"
      end

      def tls_block
        block = ["tls {", "  cert_file: #{quote(@tls[:cert])}", "  key_file: #{quote(@tls[:key])}"]
        block << "  ca_file: #{quote(@tls[:ca])}" if @tls[:ca]
        block << "  verify: #{@tls[:verify] ? 'true' : 'false'}"
        block << "  timeout: 2"
        block << "}"
      end

      # A member's name, its route port with the client port's TLS, and its peers' route addresses.
      def cluster_block
        ["server_name: #{quote(@name)}", "cluster {", "  name: \"choria-nats-test\"", "  host: #{quote(host)}",
         "  port: #{Integer(route_port)}", *tls_block.map { |line| "  #{line}" }, "  routes = [",
         *@routes.map { |address| "    #{quote("nats-route://#{address}")}" }, "  ]", "}"]
      end

      def auth_block
        block = ["authorization {"]
        block << "  user: #{quote(@auth[:user])}" if @auth[:user]
        block << "  password: #{quote(@auth[:password])}" if @auth[:password]
        block << "}"
      end

      def quote(value)
        value = value.to_s
        raise ArgumentError, "cannot quote #{value.inspect} for nats-server config" if value.match?(/["\\\n\r]/)

        "\"#{value}\""
      end

      def deadline(seconds)
        Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
      end

      def before?(limit)
        Process.clock_gettime(Process::CLOCK_MONOTONIC) < limit
      end

      def wait_until_ready
        limit = deadline(START_TIMEOUT)
        (START_TIMEOUT / POLL_INTERVAL).ceil.times do
          fail_start("exited during startup (#{last_status.inspect})") unless running?
          return if port_open?(port) && (monitor_port.nil? || port_open?(monitor_port)) && running?
          break unless before?(limit)

          sleep(POLL_INTERVAL)
        end
        stop
        fail_start("did not accept connections on #{address} within #{START_TIMEOUT}s")
      end

      def fail_start(reason)
        recent = log.byteslice(@log_offset.to_i..).to_s.lines.last(LOG_TAIL_LINES).join
        raise "nats-server #{reason}; log tail:\n#{recent}"
      end

      def port_open?(number)
        Socket.tcp(host, number, connect_timeout: 0.25) { nil }
        true
      rescue SystemCallError, IOError, SocketError
        false
      end

      def signal(name)
        Process.kill(name, @pid)
        true
      rescue Errno::ESRCH
        false
      end

      def reap(seconds)
        limit = deadline(seconds)
        (seconds / POLL_INTERVAL).ceil.times do
          if (reaped = Process.wait2(@pid, Process::WNOHANG))
            @last_status = reaped[1]
            return true
          end
          break unless before?(limit)

          sleep(POLL_INTERVAL)
        end
        false
      rescue Errno::ECHILD
        true
      end

      def register_at_exit
        return if @at_exit_registered

        @at_exit_registered = true
        at_exit { stop }
      end
    end
  end
end
