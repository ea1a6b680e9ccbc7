# frozen_string_literal: true

require "etc"
require "fileutils"
require "json"
require "open3"
require "timeout"
require "tmpdir"

$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
require "choria_nats"
%w[pki nats_server nats_cluster mcollective_config].each { |file| require_relative "../spec/support/#{file}" }

module ChoriaNats
  # The fleet simulation: `ext/choria_nats/examples/fleet_sim.rs` runs N
  # simulated nodes (the gem's own connect code and reconnect policy, or bare
  # async-nats for the baseline) against a real nats-server with TLS and
  # client certificates; this module starts both, restarts the broker, and
  # measures the storm. `sim/cluster_scenarios.rb` runs the fleet on a
  # cluster instead. `sim/run.rb` is the command line; the RSpec
  # integration specs run small fleets through the same code.
  module Sim
    ROOT = File.expand_path("..", __dir__)
    # The example's binary, built in release with the gem's workspace.
    BINARY = File.join(ROOT, "target", "release", "examples", "fleet_sim")
    # Seconds a release build of the example may take.
    BUILD_TIMEOUT = 900
    # The collective and agent the simulated nodes subscribe to.
    COLLECTIVE = "mcollective"
    AGENT = "rpcutil"
    # The client certificate every simulated node presents (one key for all:
    # generating 10,000 RSA keys would take longer than the simulation).
    NODE_CERT = "fleet-node.example.net"
    # The certname of the in-process mco client of the fan-out.
    CLIENT_CERT = "fleet-client.example.net"
    # Histogram bucket, seconds.
    BUCKET = 0.1

    module_function

    # CLOCK_MONOTONIC seconds: the clock fleet_sim stamps its events with.
    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    # The example's binary, built first when it is older than the crate's sources.
    def binary
      sources = Dir[File.join(ROOT, "ext", "choria_nats", "{src,examples}", "**", "*.rs")] +
                [File.join(ROOT, "ext", "choria_nats", "Cargo.toml"), File.join(ROOT, "Cargo.lock")]
      return BINARY if File.exist?(BINARY) && sources.all? { |file| File.mtime(file) <= File.mtime(BINARY) }

      command = ["timeout", BUILD_TIMEOUT.to_s, "cargo", "build", "--release", "--locked", "-p", "choria_nats",
                 "--example", "fleet_sim", "--manifest-path", File.join(ROOT, "Cargo.toml")]
      output, status = Open3.capture2e({ "RUBY" => RbConfig.ruby }, *command)
      raise "building fleet_sim failed:\n#{output}" unless status.success?

      BINARY
    end

    # Raises the soft limit of open files to the hard limit (children inherit
    # it) and says what the machine allows.
    def limits
      soft, hard = Process.getrlimit(:NOFILE)
      Process.setrlimit(:NOFILE, hard, hard) if soft < hard
      raised = begin
        Process.setrlimit(:NOFILE, hard * 4, hard * 4)
        true
      rescue Errno::EPERM, Errno::EINVAL
        false
      end
      sysctl = %w[net/core/somaxconn net/ipv4/tcp_max_syn_backlog net/ipv4/ip_local_port_range
                  net/ipv4/tcp_tw_reuse fs/nr_open].to_h do |key|
        [key.tr("/", "."), File.read("/proc/sys/#{key}").split.join("-")]
      rescue SystemCallError
        [key.tr("/", "."), "?"]
      end
      { nofile: Process.getrlimit(:NOFILE)[0], nofile_was: soft, nofile_hard_raisable: raised,
        cores: Etc.nprocessors, sysctl: sysctl }
    end

    # CPU seconds (user + system) a process has used, from /proc/<pid>/stat.
    def cpu_seconds(pid)
      fields = File.read("/proc/#{pid}/stat").split(") ", 2).last.split
      (Integer(fields[11]) + Integer(fields[12])).to_f / Etc.sysconf(Etc::SC_CLK_TCK)
    rescue SystemCallError, TypeError
      nil
    end

    # Busy CPU seconds of the whole machine so far, from /proc/stat: with the
    # broker's and the fleet's own, it shows what else ran during a storm.
    def machine_cpu_seconds
      fields = File.read("/proc/stat").lines.first.split.drop(1).map { |v| Integer(v) }
      (fields.sum - fields[3] - fields[4]).to_f / Etc.sysconf(Etc::SC_CLK_TCK) # less idle and iowait
    rescue SystemCallError, TypeError
      nil
    end

    # `node00000.example.net`: fleet_sim's identities.
    def identity(node)
      format("node%05d.example.net", node)
    end

    # The machine's load averages (1, 5, 15 minutes), recorded before each run.
    def load_average
      File.read("/proc/loadavg").split.first(3).map { |v| Float(v) }
    rescue SystemCallError, ArgumentError
      nil
    end

    # Sends one message to each node's own subject through the broker at
    # `address`; returns the seconds it took to send them all.
    def message_each_node(address, pki, nodes)
      checker = ChoriaNats::Connection.connect(
        servers: [address], ca_file: pki.ca_file, cert_file: pki.cert_for(CLIENT_CERT),
        key_file: pki.key_for(CLIENT_CERT), name: "fleet-checker", publish_timeout: 30
      )
      started = now
      nodes.times { |node| checker.publish("#{COLLECTIVE}.node.#{identity(node)}", "ping #{node}") }
      yield checker if block_given?
      checker.flush(60)
      now - started
    ensure
      checker&.close
    end

    # When nodes came back, as seconds from an event: the first, half, 90%
    # and the last (nil unless all `expected` came back), the busiest 100 ms,
    # and how many came back in each second.
    module Timing
      module_function

      # times:: sorted seconds from the event
      def of(times, expected)
        { first_back: times.first&.round(3), all_back: times.size >= expected ? times.last&.round(3) : nil,
          p50_back: percentile(times, 0.5), p90_back: percentile(times, 0.9),
          peak_per_100ms: histogram(times).max || 0, histogram_per_second: per_second(times) }
      end

      def percentile(sorted, fraction)
        return nil if sorted.empty?

        sorted[((sorted.size - 1) * fraction).round].round(3)
      end

      # Returns in each 100 ms after the event.
      def histogram(times)
        return [] if times.empty?

        counts = Array.new((times.last / BUCKET).floor + 1, 0)
        times.each { |t| counts[(t / BUCKET).floor.clamp(0, counts.size - 1)] += 1 }
        counts
      end

      def per_second(times)
        buckets = histogram(times).each_slice((1 / BUCKET).round).map { |slice| [slice.sum, slice.max] }
        buckets.each_with_index.map { |(sum, peak), second| { second: second, reconnects: sum, peak_100ms: peak } }
      end
    end

    # The fleet_sim process and its line protocol.
    class Fleet
      attr_reader :pid

      # servers:: the "host:port"s of each node's pool
      def initialize(binary:, servers:, pki:, nodes:, policy:, options: {}, log: nil)
        argv = [binary, "--server", servers.join(","), "--ca", pki.ca_file, "--cert", pki.cert_for(NODE_CERT),
                "--key", pki.key_for(NODE_CERT), "--nodes", nodes.to_s, "--policy", policy.to_s,
                "--collective", COLLECTIVE, "--agent", AGENT]
        options.each { |name, value| argv.push("--#{name.to_s.tr('_', '-')}", value.to_s) }
        @in, @out, @thread = Open3.popen2(*argv, err: [log || File::NULL, "a"])
        @pid = @thread.pid
        @nodes = nodes
      end

      # The "ready" line: every node connected and subscribed; the wait grows with the fleet.
      def ready
        read("ready", 120 + (@nodes / 50))
      end

      # Sends a command.
      def command(line)
        @in.puts(line)
        @in.flush
      end

      # The next JSON line whose "event" is `name`; raises after `seconds`.
      def read(name, seconds)
        Timeout.timeout(seconds) do
          loop do
            line = @out.gets or raise "fleet_sim exited (#{@thread.value.inspect})"
            event = JSON.parse(line)
            raise "fleet_sim: #{event['message']}" if event["event"] == "error"
            return event if event["event"] == name
          end
        end
      rescue Timeout::Error
        raise "fleet_sim did not report #{name} within #{seconds}s"
      end

      # Sends `line` and waits for the answer `name`.
      def ask(line, name, seconds)
        command(line)
        read(name, seconds)
      end

      # Ends the process.
      def quit
        command("quit")
        @in.close
        Timeout.timeout(10) { @thread.value }
      rescue Timeout::Error, IOError, Errno::EPIPE
        Process.kill("KILL", @pid)
        @thread.value
      end
    end

    # One broker restart under a fleet: the measurements of one table row.
    class Storm
      attr_reader :result

      # dir:: scratch directory; pki:: a TestSupport::PKI
      # policy:: :choria or :baseline; nodes:: fleet size; outage:: seconds the broker stays down
      # options:: fleet_sim flags (connect_timeout, reconnect_spread, ...)
      def initialize(dir:, pki:, policy:, nodes:, outage: 5, options: {}, log: $stderr)
        @dir = dir
        @pki = pki
        @policy = policy
        @nodes = nodes
        @outage = outage
        @options = options
        @log = log
        @result = { policy: policy.to_s, nodes: nodes, outage: outage, options: options }
      end

      # Runs the whole scenario; yields (fleet, broker) after the storm, for fan-out.
      def run
        name = "broker-#{@policy}-#{@nodes}"
        @broker = TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, name), monitor: true, name: name,
                                              extra: "max_connections: 100000")
        @broker.start
        @fleet = Fleet.new(binary: Sim.binary, servers: [@broker.address], pki: @pki, nodes: @nodes, policy: @policy,
                           options: @options, log: File.join(@dir, "#{name}.fleet.log"))
        setup
        storm
        check_subscriptions
        yield @fleet, @broker if block_given?
        @result
      ensure
        @fleet&.quit
        @broker&.stop
      end

      private

      def say(line)
        @log&.puts("  [#{@policy} #{@nodes}] #{line}")
      end

      def setup
        ready = @fleet.ready
        @result[:setup_seconds] = ready["seconds"]
        say(format("%<n>d nodes connected and subscribed in %<s>.1fs", n: ready["nodes"], s: ready["seconds"]))
        sleep 1
        @result[:varz_before] = @broker.varz.slice("connections", "total_connections")
      end

      def storm
        @fleet.ask("mark", "marked", 10)
        stopping = Sim.now
        @broker.stop
        @result[:stop_seconds] = (Sim.now - stopping).round(3)
        sleep(@outage)
        cpu = { fleet: Sim.cpu_seconds(@fleet.pid), machine: Sim.machine_cpu_seconds, broker: 0.0 }
        restart = Sim.now
        @broker.start
        pid = @broker.pid
        back = @fleet.ask("wait_back #{storm_limit}", "back", storm_limit + 30)
        measure(back, restart, pid, cpu)
      end

      # Seconds to wait for the whole fleet after the restart.
      def storm_limit
        120
      end

      def measure(back, restart, pid, cpu_before)
        times = back["times"].map { |t| t - restart }.sort
        @result.merge!(back: back["back"], disconnected: back["disconnected"], failures: back["failures"],
                       client_errors: back["client_errors"])
        @result.merge!(Timing.of(times, @nodes), cpu_used(pid, cpu_before), connections)
        say(summary)
      end

      # CPU seconds the broker, the fleet and everything else on the machine used during the storm.
      def cpu_used(pid, before)
        now = { fleet: Sim.cpu_seconds(@fleet.pid), machine: Sim.machine_cpu_seconds, broker: Sim.cpu_seconds(pid) }
        used = now.to_h { |who, seconds| [who, seconds && before[who] && (seconds - before[who]).round(2)] }
        other = used.values.all? && (used[:machine] - used[:broker] - used[:fleet]).round(2)
        { broker_cpu: used[:broker], fleet_cpu: used[:fleet], other_cpu: other }
      end

      # What the restarted broker accepted, from /varz.
      def connections
        varz = @broker.varz
        accepted = varz["total_connections"] - 1 # less nats_server.rb's readiness probe
        { accepted: accepted, accepted_per_node: (accepted.to_f / @nodes).round(3),
          varz: varz.slice("connections", "total_connections", "slow_consumers", "max_connections", "tls_timeout",
                           "write_deadline", "max_pending") }
      end

      def summary
        r = @result
        format("all back %<all>s s after the restart (first %<first>s s), peak %<peak>d reconnects/100 ms, " \
               "%<acc>.2f accepted connections per node, CPU s: broker %<cpu>s, fleet %<fleet>s, other processes " \
               "%<other>s; failed attempts %<f>s",
               all: r[:all_back] || "NOT (#{r[:back]}/#{@nodes})", first: r[:first_back], peak: r[:peak_per_100ms],
               acc: r[:accepted_per_node], cpu: r[:broker_cpu], fleet: r[:fleet_cpu], other: r[:other_cpu],
               f: r[:failures].inspect)
      end

      # A message to each node's own subject and one broadcast: every node must count both.
      def check_subscriptions
        started = Sim.now
        Sim.message_each_node(@broker.address, @pki, @nodes) do |checker|
          checker.publish("#{COLLECTIVE}.broadcast.agent.#{AGENT}", "everyone")
        end
        wait = @result[:all_back] ? 60 : 10
        counts = @fleet.ask("expect 1 1 #{wait}", "counts", wait + 30)
        @result[:subscriptions] = { direct_ok: counts["direct_complete"], broadcast_ok: counts["broadcast_complete"],
                                    seconds: (Sim.now - started).round(3) }
        say("every node's subscriptions: #{counts['direct_complete']}/#{@nodes} direct, " \
            "#{counts['broadcast_complete']}/#{@nodes} broadcast")
      end
    end

    # Replies to a broadcast from a real MCollective connector in this process.
    class FanOut
      # dir:: scratch directory for the MCollective config
      # broadcasts:: broadcasts each node received before this fan-out
      def initialize(dir:, pki:, broker:, fleet:, nodes:, broadcasts: 1, log: $stderr)
        @dir = dir
        @broadcasts = broadcasts
        @pki = pki
        @broker = broker
        @fleet = fleet
        @nodes = nodes
        @log = log
      end

      # Sends one rpcutil request per entry of `replies_per_node`; each node
      # answers it that many times. Returns a result per request.
      def run(replies_per_node)
        certname = ENV.fetch("MCOLLECTIVE_CERTNAME", nil)
        connector = connect
        replies_per_node.each_with_index.map { |k, i| burst(connector, k, @broadcasts + i + 1) }
      ensure
        connector&.disconnect
        ENV["MCOLLECTIVE_CERTNAME"] = certname
      end

      private

      def connect
        ENV["MCOLLECTIVE_CERTNAME"] = CLIENT_CERT
        @pki.cert_for(CLIENT_CERT)
        TestSupport::MCollectiveConfig.load(
          @dir, identity: CLIENT_CERT,
                settings: { "plugin.choria.middleware_hosts" => @broker.address, "plugin.choria.ssldir" => @pki.dir,
                            "plugin.choria.use_srv_records" => "false", "loglevel" => "error" }
        )
        connector = MCollective::Connector::Nats.new
        connector.connect
        connector.subscribe(AGENT, :reply, COLLECTIVE)
        connector.connection.flush(10)
        connector
      end

      def burst(connector, replies, broadcasts_so_far)
        @fleet.ask("replies #{replies}", "replies", 10)
        expected = @nodes * replies
        cpu = Sim.cpu_seconds(@broker.pid)
        sent = request(connector)
        received, first, last, senders = drain(connector, expected)
        counts = @fleet.ask("expect 0 #{broadcasts_so_far} 10", "counts", 30)
        result = { nodes: @nodes, replies_per_node: replies, expected: expected, received: received,
                   lost: expected - received, senders: senders, dropped: connector.stats["dropped"],
                   first_reply: first && (first - sent).round(3), drained: last && (last - sent).round(3),
                   replies_sent: counts["replies_sent"], broker_cpu: (Sim.cpu_seconds(@broker.pid) - cpu).round(2),
                   slow_consumers: @broker.varz["slow_consumers"] }
        @log&.puts(format("  [fan-out %<n>d x %<k>d] %<r>d/%<e>d replies, %<lost>d lost, last after %<d>ss",
                          n: @nodes, k: replies, r: received, e: expected, lost: result[:lost], d: result[:drained]))
        result
      end

      # Publishes an rpcutil request to the broadcast subject, as `mco rpc` does; returns when.
      def request(connector)
        request = MCollective::Message.new("ping", nil, agent: AGENT, type: :request, collective: COLLECTIVE)
        request.encode!
        sent = Sim.now
        connector.publish(request)
        sent
      end

      # Receives until `expected` replies came, within one deadline around the
      # loop as MCollective's client has (a Timeout per message costs a thread).
      def drain(connector, expected)
        received = 0
        first = last = nil
        senders = {}
        Timeout.timeout(30 + (expected / 1000)) do
          while received < expected
            message = connector.receive
            last = Sim.now
            first ||= last
            senders[message.headers["mc_sender"]] = true
            received += 1
          end
        end
        [received, first, last, senders.size]
      rescue Timeout::Error
        [received, first, last, senders.size]
      end
    end
  end
end
