# frozen_string_literal: true

require_relative "fleet_sim"

module ChoriaNats
  module Sim
    # The fleet on a NATS cluster (TestSupport::NatsCluster): every node has
    # every broker in its pool, shuffled; a scenario takes brokers away and
    # measures where their nodes go, how fast, at what cost to the brokers
    # that take them, and that a broadcast still reaches every node.
    class ClusterScenario
      # Seconds to wait for the nodes of one broker to be back elsewhere, by default.
      MOVE_LIMIT = 120
      # What a broker logs for a TLS handshake that failed or ran out of time.
      HANDSHAKE_FAILED = /TLS handshake (error|timeout)/.freeze

      attr_reader :result

      # dir:: scratch directory; pki:: a TestSupport::PKI; nodes:: fleet size
      # brokers:: cluster members; options:: fleet_sim flags (reconnect_spread, ...)
      # settle:: seconds a broker that came back is given before anything is measured on it
      # move_limit:: seconds the nodes of a broker have to be back elsewhere
      def initialize(dir:, pki:, nodes:, brokers: 3, options: {}, settle: 5, move_limit: MOVE_LIMIT, log: $stderr)
        @dir = dir
        @pki = pki
        @nodes = nodes
        @brokers = brokers
        @options = options
        @settle = settle
        @move_limit = move_limit
        @log = log
        @direct = 0
        @broadcasts = 0
        @result = { scenario: name, nodes: nodes, brokers: brokers, options: options, settle: settle,
                    load_average: Sim.load_average }
      end

      # Runs the scenario on a fresh cluster and fleet; returns its result.
      def run
        @cluster = TestSupport::NatsCluster.new(pki: @pki, dir: File.join(@dir, "#{name}-#{@nodes}"), size: @brokers,
                                                extra: "max_connections: 100000").start
        @fleet = Fleet.new(binary: Sim.binary, servers: @cluster.addresses, pki: @pki, nodes: @nodes,
                           policy: :choria, options: @options, log: File.join(@dir, "#{name}-#{@nodes}.fleet.log"))
        setup
        scenario
        @result
      ensure
        @fleet&.quit
        @cluster&.stop
      end

      private

      def say(line)
        @log&.puts("  [#{name} #{@nodes}] #{line}")
      end

      def setup
        ready = @fleet.ready
        @result[:setup_seconds] = ready["seconds"]
        @result[:per_broker_before] = where["brokers"]
        say(format("%<n>d nodes connected and subscribed in %<s>.1fs, spread %<b>s",
                   n: ready["nodes"], s: ready["seconds"], b: @result[:per_broker_before].values.inspect))
      end

      # Where the connected nodes are: "brokers" and "moved" (back since the
      # last mark), each with every member, 0 for a member nobody is on.
      def where
        answer = @fleet.ask("where", "where", 30)
        %w[brokers moved].each do |key|
          answer[key] = @cluster.addresses.to_h { |address| [address, answer[key].fetch(address, 0)] }
        end
        answer
      end

      # Takes `broker` away (`how`: :kill or :stop) and measures the move of
      # its nodes to the brokers still running.
      def move(broker, how)
        moving = where["brokers"].fetch(broker.address)
        receivers = (@cluster.running - [broker]).to_h { |member| [member, receiver_counters(member)] }
        @fleet.ask("mark", "marked", 10)
        gone = Sim.now
        how == :kill ? broker.kill : broker.stop
        back = @fleet.ask("wait_back #{@move_limit} #{moving}", "back", @move_limit + 30)
        step = { broker: broker.address, moved: moving, back: back["back"],
                 **Timing.of(back["times"].map { |t| t - gone }.sort, moving),
                 **received(receivers, moving), failures: back["failures"], client_errors: back["client_errors"] }
        say(summary(step))
        step
      end

      # What a broker that takes nodes counts before they come.
      def receiver_counters(member)
        { accepted: member.varz["total_connections"], cpu: Sim.cpu_seconds(member.pid),
          log_offset: File.size(member.log_file) }
      end

      # What the receivers took: connections accepted, handshakes failed, CPU, and where the nodes are now.
      def received(receivers, moving)
        accepted = receivers.sum { |member, before| member.varz["total_connections"] - before[:accepted] }
        now = where
        { accepted: accepted, accepted_per_node: moving.zero? ? nil : (accepted.to_f / moving).round(3),
          handshakes_failed: receivers.sum { |member, before| handshake_failures(member, before[:log_offset]) },
          receivers_cpu: receivers.to_h do |member, before|
            [member.address, (Sim.cpu_seconds(member.pid) - before[:cpu]).round(2)]
          end,
          moved_to: now["moved"].slice(*receivers.keys.map(&:address)), connected: now["connected"],
          per_broker: now["brokers"] }
      end

      def summary(step)
        format("%<n>d nodes of %<b>s back in %<all>ss on %<to>s, %<acc>s accepted per node, failures %<f>s, " \
               "broker handshakes failed %<h>d",
               n: step[:moved], b: step[:broker], all: step[:all_back] || "NOT ALL", to: step[:moved_to].inspect,
               acc: step[:accepted_per_node], f: step[:failures].inspect, h: step[:handshakes_failed])
      end

      # Lines of `member`'s log since `offset` that say a TLS handshake failed.
      def handshake_failures(member, offset)
        File.open(member.log_file) do |file|
          file.seek(offset)
          file.each_line.count { |line| line.match?(HANDSHAKE_FAILED) }
        end
      end

      # A message to each node's own subject and an rpcutil request from an
      # MCollective connector, both through `broker`: every node must receive
      # both, and every reply must come back.
      def verify(broker)
        Sim.message_each_node(broker.address, @pki, @nodes)
        @direct += 1
        fanout = FanOut.new(dir: @dir, pki: @pki, broker: broker, fleet: @fleet, nodes: @nodes,
                            broadcasts: @broadcasts, log: @log).run([1]).first
        @broadcasts += 1
        counts = @fleet.ask("expect #{@direct} #{@broadcasts} 30", "counts", 60)
        { through: broker.address, expected: fanout[:expected], received: fanout[:received], lost: fanout[:lost],
          drained: fanout[:drained], direct_ok: counts["direct_complete"], broadcast_ok: counts["broadcast_complete"] }
      end

      # Starts `broker` again, waits for its routes, and gives it `settle` seconds.
      def bring_back(broker)
        broker.start
        @cluster.wait_for_routes
        sleep @settle
      end
    end

    # One broker is killed (SIGKILL) and stays down: its nodes move to the
    # others. At the end it comes back, to see whether anyone returns to it.
    class KillOne < ClusterScenario
      # "kill-one"
      def name
        "kill-one"
      end

      private

      def scenario
        victim = @cluster.members.first
        step = move(victim, :kill)
        @result.merge!(step.reject { |key, _| %i[broker per_broker].include?(key) }, killed: victim.address)
        @result[:broadcast] = verify(@cluster.running.first)
        @result[:per_broker] = where["brokers"]
        bring_back(victim)
        @result[:after_return] = where["brokers"]
        say("after #{victim.address} came back (#{@settle}s): #{@result[:after_return].inspect}")
      end
    end

    # Each broker in turn is stopped (SIGTERM), started again and given time
    # to settle; after each step a broadcast goes through the broker that
    # came back, so through the routes to every node.
    class RollingRestart < ClusterScenario
      # "rolling-restart"
      def name
        "rolling-restart"
      end

      private

      def scenario
        started = Sim.now
        @result[:steps] = @cluster.members.map do |member|
          step_started = Sim.now
          step = move(member, :stop)
          bring_back(member)
          step[:broadcast] = verify(member)
          step[:seconds] = (Sim.now - step_started).round(3)
          step
        end
        @result[:total_seconds] = (Sim.now - started).round(3)
        summarize(@result[:steps])
      end

      # The scenario's figures from its steps': the slowest step's all_back,
      # sums of the counts, and the spread at the end.
      def summarize(steps)
        sum = ->(key) { steps.sum { |step| step[key] } }
        all_back = steps.map { |step| step[:all_back] }
        @result.merge!(
          moved: sum[:moved], all_back: all_back.all? ? all_back.max : nil, accepted: sum[:accepted],
          accepted_per_node: (sum[:accepted].to_f / sum[:moved]).round(3), handshakes_failed: sum[:handshakes_failed],
          step_seconds: steps.map { |step| step[:seconds] }, per_broker: where["brokers"], **totals(steps)
        )
      end

      # The fleet's failed attempts and the broadcasts' replies, added up over the steps.
      def totals(steps)
        { failures: steps.map { |step| step[:failures] }.reduce { |a, b| a.merge(b) { |_, x, y| x + y } },
          broadcast: %i[expected received lost].to_h { |key| [key, steps.sum { |step| step[:broadcast][key] }] } }
      end
    end

    # The scenarios by their command-line name.
    CLUSTER_SCENARIOS = { "kill-one" => KillOne, "rolling-restart" => RollingRestart }.freeze
  end
end
