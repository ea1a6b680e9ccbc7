# frozen_string_literal: true

require "fileutils"
require "net/http"
require "open3"
require "openssl"
require "tmpdir"

module ChoriaNats
  module TestSupport
    # A real Puppet CA: Debian's `puppetserver` (7.9, Java 17), run on 127.0.0.1
    # with its own confdir, ssldir, cadir, var, log and run dirs and a free port,
    # all in a temporary directory: nothing under /etc/puppet or /var is written.
    #
    # It takes a minute or more to start, so one instance serves the whole run
    # (PuppetServer.shared, started on first use and stopped by PID when RSpec
    # ends). `puppetserver ca` is pointed at it with `--config`.
    class PuppetServer
      # The server and its CLI, from the Debian package.
      JAR = "/usr/share/puppetserver/puppetserver.jar"
      CLI = "/usr/bin/puppetserver"
      # Read only: copied and adapted into the temporary config.
      PACKAGE_CONF = "/etc/puppet/puppetserver"
      # Heap: the package's 1g is more than a CA needs.
      HEAP = "512m"
      # Seconds to wait for the CA API to answer (60-160 s seen on 2 busy cores).
      START_TIMEOUT = 420
      # Seconds to wait for the JVM to exit after TERM, and again after KILL.
      STOP_TIMEOUT = 30
      # Certnames starting with this get 403 from the CA (a rule in its auth.conf).
      DENIED_PREFIX = "denied-"

      # Whether the package is installed.
      def self.available?
        File.file?(JAR) && File.executable?(CLI) && File.directory?(PACKAGE_CONF)
      end

      # The run's instance, started on first use.
      def self.shared
        @shared ||= new(dir: Dir.mktmpdir("choria-nats-puppetserver")).start
      end

      # Stops the run's instance, if one was started.
      def self.stop_shared
        @shared&.stop
        FileUtils.rm_rf(@shared.dir) if @shared
        @shared = nil
      end

      # The temporary directory, the listening port, and how long the start took (seconds).
      attr_reader :dir, :port, :started_in, :pid

      def initialize(dir:, port: NatsServer.free_port)
        @dir = File.expand_path(dir)
        @port = port
        @owner = Process.pid
      end

      # "127.0.0.1:port".
      def address
        "127.0.0.1:#{port}"
      end

      # The CA's own certificate file.
      def ca_file
        path("ca", "ca_crt.pem")
      end

      # The puppet.conf `puppetserver ca` reads.
      def puppet_conf
        path("confdir", "puppet.conf")
      end

      # The server's log.
      def log
        file = path("log", "puppetserver.log")
        File.exist?(file) ? File.read(file) : ""
      end

      # Writes the configuration, starts the JVM and waits until the CA serves its certificate.
      def start
        write_config
        started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
        @pid = Process.spawn(*command, chdir: @dir, %i[out err] => [path("log", "stdout.log"), "w"],
                                       in: File::NULL, pgroup: true)
        wait_until_ready
        @started_in = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
        self
      rescue StandardError
        stop
        raise
      end

      # Stops the JVM by its PID: TERM, then KILL.
      def stop
        return self unless @pid && Process.pid == @owner

        %w[TERM KILL].each do |signal|
          Process.kill(signal, @pid)
          break if reaped?(STOP_TIMEOUT)
        rescue Errno::ESRCH
          reaped?(0)
          break
        end
        @pid = nil
        self
      end

      # Whether a request for `certname` waits for signing.
      def requested?(certname)
        File.exist?(path("ca", "requests", "#{certname}.pem"))
      end

      # Signs the pending request for `certname` with `puppetserver ca sign`; returns its output.
      def sign(certname)
        run_cli("sign", "--certname", certname)
      end

      # Issues a certificate and key for `certname` (`puppetserver ca generate`), with `alt_names`
      # such as "localhost,IP:127.0.0.1"; returns [certificate file, key file].
      def generate(certname, alt_names:)
        run_cli("generate", "--certname", certname, "--subject-alt-names", alt_names)
        [path("ssl", "certs", "#{certname}.pem"), path("ssl", "private_keys", "#{certname}.pem")]
      end

      # Removes everything the CA holds for `certname` (`puppetserver ca clean`); returns its output.
      def clean(certname)
        run_cli("clean", "--certname", certname)
      end

      private

      def path(*parts)
        File.join(@dir, *parts)
      end

      def command
        ["/usr/bin/java", "-Xms#{HEAP}", "-Xmx#{HEAP}", "-XX:TieredStopAtLevel=1", "-XX:+CrashOnOutOfMemoryError",
         "-XX:ErrorFile=#{path('log', 'hs_err_%p.log')}", "-Djruby.lib=/usr/share/jruby/lib",
         "-Djruby.logger.class=com.puppetlabs.jruby_utils.jruby.Slf4jLogger",
         "-jar", JAR, "--config", path("conf.d"), "--bootstrap-config", path("services.d")]
      end

      def run_cli(*args)
        output, status = Open3.capture2e(CLI, "ca", *args, "--config", puppet_conf)
        raise "puppetserver ca #{args.join(' ')} failed (#{status.exitstatus}): #{output}" unless status.success?

        output
      end

      def write_config
        %w[conf.d services.d confdir code var run log ssl ca gems].each { |d| FileUtils.mkdir_p(path(d)) }
        File.write(path("confdir", "puppet.conf"), puppet_conf_text)
        File.write(path("logback.xml"), logback_text)
        write_conf_d
        # No analytics service: it would try to reach Puppet's update server.
        bootstrap = File.read(File.join(PACKAGE_CONF, "services.d", "bootstrap.cfg"))
        File.write(path("services.d", "bootstrap.cfg"), bootstrap.lines.grep_v(/analytics/).join)
        FileUtils.cp(File.join(PACKAGE_CONF, "services.d", "ca.cfg"), path("services.d", "ca.cfg"))
      end

      def write_conf_d
        File.write(path("conf.d", "global.conf"), "global: { logging-config: \"#{path('logback.xml')}\" }\n")
        File.write(path("conf.d", "webserver.conf"),
                   "webserver: {\n  client-auth: want\n  ssl-host: 127.0.0.1\n  ssl-port: #{port}\n}\n")
        File.write(path("conf.d", "puppetserver.conf"), puppetserver_conf_text)
        File.write(path("conf.d", "auth.conf"), auth_conf_text)
        # Alternative names allowed, so that a broker certificate can name 127.0.0.1.
        File.write(path("conf.d", "ca.conf"), "certificate-authority: {\n  allow-subject-alt-names: true\n}\n")
        %w[metrics.conf web-routes.conf].each do |file|
          FileUtils.cp(File.join(PACKAGE_CONF, "conf.d", file), path("conf.d", file))
        end
      end

      def puppet_conf_text
        <<~CONF
          [main]
          vardir = #{path('var')}
          ssldir = #{path('ssl')}
          codedir = #{path('code')}
          logdir = #{path('log')}
          rundir = #{path('run')}
          certname = localhost
          server = localhost
          serverport = #{port}
          dns_alt_names = localhost,IP:127.0.0.1
          [server]
          cadir = #{path('ca')}
        CONF
      end

      def puppetserver_conf_text
        <<~CONF
          jruby-puppet: {
            ruby-load-path: [/usr/lib/puppetserver/ruby/vendor_ruby]
            gem-home: "#{path('gems')}"
            gem-path: ["#{path('gems')}", "/usr/lib/puppetserver/vendored-jruby-gems"]
            server-conf-dir: "#{path('confdir')}"
            server-code-dir: "#{path('code')}"
            server-var-dir: "#{path('var')}"
            server-run-dir: "#{path('run')}"
            server-log-dir: "#{path('log')}"
            max-active-instances: 1
          }
          http-client: {}
          profiler: {}
          product: { check-for-updates: false }
        CONF
      end

      def logback_text
        <<~XML
          <configuration>
            <appender name="F1" class="ch.qos.logback.core.FileAppender">
              <file>#{path('log', 'puppetserver.log')}</file>
              <encoder><pattern>%d %-5p [%c{2}] %m%n</pattern></encoder>
            </appender>
            <logger name="org.eclipse.jetty" level="WARN"/>
            <root level="info"><appender-ref ref="F1"/></root>
          </configuration>
        XML
      end

      # The package's auth.conf with one more rule first: requests for `denied-*` are forbidden.
      def auth_conf_text
        rule = <<~RULE
          {
              match-request: {
                  path: "^/puppet-ca/v1/certificate_request/#{DENIED_PREFIX}"
                  type: regex
                  method: put
              }
              deny: "*"
              sort-order: 400
              name: "choria-nats specs: no certificates for #{DENIED_PREFIX}*"
          },
        RULE
        File.read(File.join(PACKAGE_CONF, "conf.d", "auth.conf")).sub("rules: [\n", "rules: [\n#{rule}")
      end

      def wait_until_ready
        deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + START_TIMEOUT
        until ca_answers?
          raise "puppetserver exited while starting:\n#{tail}" if exited?
          raise "puppetserver did not answer within #{START_TIMEOUT}s:\n#{tail}" if
            Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

          sleep 1
        end
      end

      def ca_answers?
        http = Net::HTTP.new("127.0.0.1", port)
        http.use_ssl = true
        http.verify_mode = OpenSSL::SSL::VERIFY_NONE # only a readiness probe
        http.open_timeout = 2
        http.read_timeout = 5
        response = http.get("/puppet-ca/v1/certificate/ca")
        response.code == "200" && response.body.include?("BEGIN CERTIFICATE")
      rescue SystemCallError, IOError, OpenSSL::SSL::SSLError, Net::OpenTimeout, Net::ReadTimeout
        false
      end

      def exited?
        !Process.wait(@pid, Process::WNOHANG).nil?
      rescue Errno::ECHILD
        true
      end

      def reaped?(seconds)
        deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
        loop do
          return true if Process.wait(@pid, Process::WNOHANG)
          return false if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

          sleep 0.1
        end
      rescue Errno::ECHILD
        true
      end

      def tail
        stdout = path("log", "stdout.log")
        (log.lines.last(30) + (File.exist?(stdout) ? File.readlines(stdout).last(20) : [])).join
      end
    end
  end
end

RSpec.configure do |config|
  config.after(:suite) { ChoriaNats::TestSupport::PuppetServer.stop_shared }
end
