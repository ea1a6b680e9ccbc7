# frozen_string_literal: true

# Benchmarks ChoriaNats::Connection against a bare async-nats client with the
# same verified-TLS setup (bench/nats-bare), on one loopback TLS nats-server.
#
#   rake bench                      # or: ruby bench/run.rb
#   BENCH_ROUNDS=3 BENCH_COUNT=50000 ruby bench/run.rb
#
# Environment: BENCH_ROUNDS (5), BENCH_COUNT (100000), BENCH_SIZE (1024 bytes),
# BENCH_GAP (seconds without a message that end a receive, 5), NATS_BARE (a
# prebuilt nats-bare binary; otherwise it is built in release when needed).
# The table goes to stdout, the same figures to bench/results/latest.json.

ROOT = File.expand_path("..", __dir__)
$LOAD_PATH.unshift(File.join(ROOT, "lib"))

require "choria_nats"
require "fileutils"
require "json"
require "time"
require "tmpdir"
require_relative "../spec/support/pki"
require_relative "../spec/support/nats_server"
require_relative "../spec/support/nats_bare"

module ChoriaNats
  # The connector-versus-bare-client benchmark behind `rake bench`.
  module Bench
    # Where the results are written.
    RESULTS_FILE = File.join(ROOT, "bench", "results", "latest.json")
    # Seconds a nats-bare receiver may take to say it is subscribed.
    READY_TIMEOUT = 20
    # What nats-bare receive prints once subscribed.
    READY_LINE = '{"ready":true}'
    # Seconds a process gets to exit after TERM (and again after KILL).
    STOP_TIMEOUT = 5
    # Seconds between polls of a child process.
    POLL = 0.02

    # Runs child processes, remembers their PIDs and waits for them in bounded time.
    class Children
      # A fresh, empty set of children.
      def initialize
        @pids = []
      end

      # Spawns +argv+ with stdout on a pipe (returned) and stderr to +err_file+; returns [pid, reader].
      def spawn(argv, err_file)
        reader, writer = IO.pipe
        begin
          pid = Process.spawn(*argv, out: writer, err: [err_file, "w"], in: File::NULL)
        rescue SystemCallError
          reader.close
          raise
        ensure
          writer.close
        end
        @pids << pid
        [pid, reader]
      end

      # Spawns +argv+ with output to +log_file+ and waits up to +timeout+ seconds; raises unless it succeeds.
      def run(argv, log_file, timeout)
        pid = Process.spawn(*argv, %i[out err] => [log_file, "w"], in: File::NULL)
        @pids << pid
        status = wait(pid, timeout)
        return if status&.success?

        raise "#{argv.join(' ')} #{status ? "failed (#{status})" : "took over #{timeout}s"}:\n#{File.read(log_file)}"
      end

      # The exit status of +pid+, or nil (after killing it) when it has not exited within +timeout+ seconds.
      def wait(pid, timeout)
        limit = Bench.now + timeout
        loop do
          reaped = Process.wait2(pid, Process::WNOHANG)
          if reaped
            @pids.delete(pid)
            return reaped[1]
          end
          break if Bench.now >= limit

          sleep(POLL)
        end
        stop(pid)
        nil
      end

      # Stops +pid+ (TERM, then KILL), waiting a bounded time for each.
      def stop(pid)
        %w[TERM KILL].each do |signal|
          Process.kill(signal, pid)
          limit = Bench.now + STOP_TIMEOUT
          sleep(POLL) until Process.wait2(pid, Process::WNOHANG) || Bench.now >= limit
        rescue Errno::ESRCH, Errno::ECHILD
          break
        end
        @pids.delete(pid)
      end

      # Stops every child still running.
      def stop_all
        @pids.dup.each { |pid| stop(pid) }
      end
    end

    # The next line from +reader+ (chomped), or nil at end of file or after +timeout+ seconds.
    def self.read_line(reader, timeout)
      limit = now + timeout
      buffer = +""
      loop do
        left = limit - now
        return nil if left <= 0 || !reader.wait_readable(left)

        chunk = reader.read_nonblock(1, exception: false)
        return nil if chunk.nil?
        next if chunk == :wait_readable
        return buffer if chunk == "\n"

        buffer << chunk
      end
    end

    # Seconds on the monotonic clock.
    def self.now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    # The median of +values+.
    def self.median(values)
      sorted = values.sort
      middle = sorted.size / 2
      sorted.size.odd? ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2.0
    end

    # Runs the benchmark: PKI, server, nats-bare, the rounds, the report.
    class Runner
      # Reads the settings from the environment.
      def initialize(env = ENV)
        @rounds = Integer(env.fetch("BENCH_ROUNDS", "5"))
        @count = Integer(env.fetch("BENCH_COUNT", "100000"))
        @size = Integer(env.fetch("BENCH_SIZE", "1024"))
        @gap = Float(env.fetch("BENCH_GAP", "5"))
        @bare = env["NATS_BARE"]
        @children = Children.new
        @results = Hash.new { |hash, key| hash[key] = Hash.new { |h, k| h[k] = [] } }
        return if @rounds.positive? && @count.positive?

        raise ArgumentError, "BENCH_ROUNDS and BENCH_COUNT must be positive"
      end

      # Runs everything inside a temporary directory; returns the report hash.
      def run
        Dir.mktmpdir("choria-nats-bench") do |dir|
          @dir = dir
          @pki = ChoriaNats::TestSupport::PKI.new(File.join(dir, "ssl"))
          @bare ||= build_bare
          @server = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(dir, "server"), verify: true)
          @server.start
          measure
          report
        ensure
          @children.stop_all
          @server&.stop
        end
      end

      private

      # All rounds; contenders alternate which goes first.
      def measure
        puts "choria-nats bench: #{@rounds} rounds of #{@count} x #{@size} B on #{@server.address} (TLS, verify)"
        @rounds.times do |round|
          contenders = round.even? ? %i[ruby bare] : %i[bare ruby]
          %i[publish receive].each do |scenario|
            contenders.each { |who| record(scenario, who, send("#{scenario}_#{who}", round)) }
          end
        end
      end

      # Keeps one measurement and prints it.
      def record(scenario, who, result)
        @results[scenario][who] << result
        lost = result[:lost] ? " lost #{result[:lost]}" : ""
        puts format("  round %<r>d %-7<s>s %-4<w>s %12<rate>.0f msgs/s%<lost>s",
                    r: @results[scenario][who].size, s: scenario, w: who, rate: result[:msgs_per_sec], lost: lost)
      end

      # Connection options for the gem, as a client of the benchmark server.
      def connect_options
        { servers: [@server.address], ca_file: @pki.ca_file, cert_file: @pki.client_cert, key_file: @pki.client_key,
          name: "choria-nats-bench", receive_capacity: @count + 1024, logger: ->(_level, _line) {} }
      end

      # The payload every contender sends.
      def payload
        @payload ||= ("x" * @size).freeze
      end

      # Ruby publishes the messages and flushes, timed in-process.
      def publish_ruby(round)
        connection = ChoriaNats::Connection.connect(**connect_options)
        subject = "bench.publish.#{round}.ruby"
        data = payload
        started = Bench.now
        @count.times { connection.publish(subject, data) }
        connection.flush(120)
        elapsed = Bench.now - started
        { elapsed: elapsed, msgs_per_sec: @count / elapsed }
      ensure
        connection&.close
      end

      # nats-bare publishes the messages and flushes, timed by itself.
      def publish_bare(round)
        pid, out = @children.spawn(bare_args("publish", "bench.publish.#{round}.bare", "--size", @size.to_s),
                                   File.join(@dir, "publish-bare.err"))
        result = finish(pid, out, "publish-bare")
        { elapsed: result["elapsed"], msgs_per_sec: result["msgs_per_sec"] }
      ensure
        out&.close
      end

      # Ruby subscribes, nats-bare floods; timed from the first to the last message Ruby receives.
      def receive_ruby(round)
        connection = ChoriaNats::Connection.connect(**connect_options)
        subject = "bench.receive.#{round}.ruby"
        connection.subscribe(subject)
        connection.flush(10)
        flooder = flood(subject)
        received, first, last = ruby_receive_loop(connection)
        sender = finish(*flooder, "flood")
        receive_result(received, first, last, sender, connection.stats["dropped"])
      ensure
        flooder&.last&.close
        connection&.close
      end

      # Receives until @count messages or a gap of @gap seconds; returns [received, first, last].
      def ruby_receive_loop(connection)
        received = 0
        first = last = nil
        while received < @count
          break unless connection.receive(@gap)

          last = Bench.now
          first ||= last
          received += 1
        end
        [received, first, last]
      end

      # The figures of one receive run.
      def receive_result(received, first, last, sender, dropped)
        elapsed = first ? last - first : 0.0
        { received: received, lost: @count - received, dropped: dropped, elapsed: elapsed,
          msgs_per_sec: elapsed.positive? ? received / elapsed : 0.0, sender_msgs_per_sec: sender["msgs_per_sec"],
          slow_consumer_events: slow_consumer_events }
      end

      # nats-bare receives while another nats-bare floods; timed by the receiver.
      def receive_bare(round)
        subject = "bench.receive.#{round}.bare"
        pid, out = @children.spawn(bare_args("receive", subject, "--timeout", @gap.to_s),
                                   File.join(@dir, "receive-bare.err"))
        ready = Bench.read_line(out, READY_TIMEOUT)
        raise "receive-bare did not get ready: #{ready.inspect}#{stderr_of('receive-bare')}" unless ready == READY_LINE

        flooder = flood(subject)
        sender = finish(*flooder, "flood")
        result = finish(pid, out, "receive-bare")
        { received: result["received"], lost: result["lost"], elapsed: result["elapsed"],
          msgs_per_sec: result["msgs_per_sec"], sender_msgs_per_sec: sender["msgs_per_sec"],
          slow_consumer_events: slow_consumer_events }
      ensure
        out&.close
        flooder&.last&.close
      end

      # Starts a nats-bare publisher of @count messages on +subject+; returns [pid, reader].
      def flood(subject)
        @children.spawn(bare_args("publish", subject, "--size", @size.to_s), File.join(@dir, "flood.err"))
      end

      # Reads the JSON line of nats-bare process +name+ and waits for it to exit; raises on failure.
      def finish(pid, out, name)
        line = Bench.read_line(out, @gap + (@count / 1000.0) + 60)
        status = @children.wait(pid, STOP_TIMEOUT)
        raise "#{name} failed (#{status.inspect}): #{line.inspect}#{stderr_of(name)}" unless line && status&.success?

        JSON.parse(line)
      end

      # The stderr a nats-bare process left, for error messages.
      def stderr_of(name)
        file = File.join(@dir, "#{name}.err")
        File.exist?(file) ? "\n#{File.read(file)}" : ""
      end

      # Slow-consumer reports in the server log since the last call.
      def slow_consumer_events
        log = @server.log
        events = log.byteslice(@log_seen.to_i..).to_s.scan(/Slow Consumer/i).size
        @log_seen = log.bytesize
        events
      end

      # The nats-bare command line for +mode+ on +subject+.
      def bare_args(mode, subject, *extra)
        [@bare, mode, "--server", @server.address, "--ca", @pki.ca_file, "--cert", @pki.client_cert,
         "--key", @pki.client_key, "--subject", subject, "--count", @count.to_s, *extra]
      end

      # Builds nats-bare in release unless the binary is newer than its sources; returns its path.
      def build_bare
        ChoriaNats::TestSupport::NatsBare.binary
      end

      # Summarises the rounds, prints the table and writes the JSON; returns the report hash.
      def report
        summary = @results.transform_values { |by_who| summarize(by_who) }
        print_table(summary)
        document = { generated_at: Time.now.utc.iso8601, ruby: RUBY_DESCRIPTION, rounds: @rounds, count: @count,
                     size: @size, gap: @gap, server: `#{ChoriaNats::TestSupport::NatsServer.binary} --version`.strip,
                     scenarios: summary }
        FileUtils.mkdir_p(File.dirname(RESULTS_FILE))
        File.write(RESULTS_FILE, "#{JSON.pretty_generate(document)}\n")
        puts "\nWritten to #{RESULTS_FILE}"
        document
      end

      # Median, min, max and lost of each contender, and the Ruby/bare ratio of the medians.
      def summarize(by_who)
        contenders = by_who.to_h do |who, runs|
          rates = runs.map { |r| r[:msgs_per_sec] }
          lost = runs.map { |r| r[:lost] }.compact
          [who, { median: Bench.median(rates), min: rates.min, max: rates.max,
                  lost: lost.empty? ? nil : lost.sum, runs: runs }]
        end
        ratio = contenders[:ruby][:median] / contenders[:bare][:median] if contenders[:ruby] && contenders[:bare]
        { contenders: contenders, ratio_ruby_to_bare: ratio }
      end

      # Prints the summary as a table.
      def print_table(summary)
        puts
        puts format("%-9<s>s %-5<w>s %12<med>s %12<min>s %12<max>s %6<lost>s %6<ratio>s",
                    s: "scenario", w: "who", med: "median/s", min: "min/s", max: "max/s", lost: "lost", ratio: "ratio")
        summary.each do |scenario, data|
          data[:contenders].each do |who, c|
            ratio = who == :ruby && data[:ratio_ruby_to_bare] ? format("%.2f", data[:ratio_ruby_to_bare]) : ""
            puts format("%-9<s>s %-5<w>s %12<med>.0f %12<min>.0f %12<max>.0f %6<lost>s %6<ratio>s",
                        s: scenario, w: who, med: c[:median], min: c[:min], max: c[:max],
                        lost: c[:lost].nil? ? "-" : c[:lost].to_s, ratio: ratio)
          end
        end
      end
    end
  end
end

ChoriaNats::Bench::Runner.new.run if $PROGRAM_NAME == __FILE__
