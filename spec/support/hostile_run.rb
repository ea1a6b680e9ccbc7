# frozen_string_literal: true

require "fileutils"
require "json"
require "rbconfig"
require "tmpdir"

module ChoriaNats
  module TestSupport
    # Plays HostileCases against ChoriaNats::Connection: a real TLS nats-server
    # (verify: true), and lanes that each pair a HostileBroker with a child
    # process (spec/hostile/child.rb) whose one connection has the hostile
    # broker as its only server. For each case the lane arms the broker, cuts
    # the child's forwarded link so that it reconnects into the case, and asks
    # the child to publish and receive a probe message, which it can only do
    # once it has left the case and reconnected through to the real broker.
    #
    # A case fails when the child died or hung, a call overran its timeout,
    # the probe did not come back, the server pool grew, the client sent plain
    # text where TLS belongs, or the child's peak RSS passed RSS_LIMIT. Panics
    # the connection survived are counted, not failed. A failing lane's child
    # is replaced, and the run goes on.
    class HostileRun
      # The seed of the fixed set bin/test runs.
      FIXED_SEED = 20_251_202
      # Cases in the fixed set: about a minute with LANES lanes on two busy cores.
      FIXED_CASES = 3000
      # Peak resident memory (VmHWM) a child may reach: over three times the
      # ~150 MiB the fixed set peaks at (10 MiB lines, INFOs of 4 MiB), and far
      # below what would hurt the machine.
      RSS_LIMIT = 512 * 1024 * 1024
      # Address space a child may map, so that a runaway allocation ends the
      # child rather than taking the machine's memory.
      ADDRESS_SPACE_LIMIT = 4 * 1024 * 1024 * 1024
      # Seconds a child has after a case to get its probe message back: passing
      # cases take 0.07 s on average and under 2.1 s at worst on two cores with
      # other builds running.
      PROBE_DEADLINE = 5.0
      # Seconds past the deadline after which a child that has not answered is hung.
      REPLY_MARGIN = 5.0
      # Seconds a new child has to connect and subscribe.
      START_TIMEOUT = 20.0
      # Lanes played at once: the cases spend most of their time waiting on
      # back-off timers and loopback round trips, not on CPU (on two cores, 2,400
      # cases took 76 s with 3 lanes and 50 s with 4).
      LANES = 4
      # Cases between progress lines.
      PROGRESS_EVERY = 500
      # The child script.
      CHILD = File.expand_path("../hostile/child.rb", __dir__)
      # Why a run stopped when #stop! stopped it.
      INTERRUPTED = "interrupted"
      # The library directory the child loads by default: this checkout's.
      DEFAULT_LIB = File.expand_path("../../lib", __dir__)

      # A failing case and why.
      Failure = Struct.new(:seed, :index, :label, :bytes_sent, :reasons, :details, :lib, keyword_init: true) do
        # @return [String] the command that plays this case alone
        def reproduction
          lib = self.lib == DEFAULT_LIB ? "" : " --lib #{self.lib}"
          "ruby spec/hostile/run.rb --seed #{seed} --case #{index}#{lib}"
        end

        # @return [String] the case, its reasons and its reproduction, on a few lines
        def to_s
          lines = ["case #{index} #{label}, #{bytes_sent} bytes sent: #{reasons.join('; ')}",
                   "    reproduce: #{reproduction}"]
          lines.concat(details.map { |line| "    | #{line}" })
          lines.join("\n")
        end
      end

      # What a run found.
      Result = Struct.new(:seed, :planned, :ran, :seconds, :lanes, :failures, :families, :peak_rss, :panics,
                          :passed_seconds, :stopped, keyword_init: true) do
        # @return [String] the summary, then every failing case
        def report
          lines = [summary]
          lines << "#{failures.size} failing case(s):" unless failures.empty?
          lines.concat(failures.sort_by(&:index).map { |failure| "  #{failure}" })
          lines.join("\n")
        end

        # @return [String] the headline, the times of passing cases, the cases and failures by family, and
        #   the panics the connection survived
        def summary
          lines = [headline]
          lines << passing_times unless passed_seconds.empty?
          lines << format("  %-12<family>s %7<cases>s %8<failing>s", family: "family", cases: "cases",
                                                                     failing: "failing")
          families.each do |family, (count, failing)|
            lines << format("  %-12<family>s %7<cases>d %8<failing>d", family: family, cases: count, failing: failing)
          end
          panics.each { |panic, count| lines << "  survived #{count} time(s): #{panic}" }
          lines.join("\n")
        end

        # @return [String] the seed, the cases run, the time and the peak RSS, on one line
        def headline
          format("hostile broker: seed %<seed>d, %<ran>d of %<planned>s cases in %<s>.1fs (%<lanes>d lanes), " \
                 "peak child RSS %<rss>d MiB%<stopped>s",
                 seed: seed, ran: ran, planned: planned.zero? ? "unbounded" : planned, s: seconds,
                 lanes: lanes, rss: peak_rss / 1_048_576, stopped: stopped ? " (stopped: #{stopped})" : "")
        end

        # @return [String] how long the passing cases took, each in its lane
        def passing_times
          times = passed_seconds.sort
          format("  passing cases took %<mean>.3fs on average, %<p99>.3fs at the 99th percentile, %<max>.3fs at most",
                 mean: times.sum / times.size, p99: times[(times.size * 0.99).floor.clamp(0, times.size - 1)],
                 max: times.last)
        end
      end

      # @param seed [Integer] the seed of every case
      # @param cases [Integer] how many cases to play; 0 plays until #stop!
      # @param first [Integer] the index of the first case
      # @param max_failures [Integer, nil] stop after this many failing cases
      # @param time_budget [Numeric, nil] seconds after which no new case starts
      def initialize(seed: FIXED_SEED, cases: FIXED_CASES, first: 0, lanes: LANES, lib: DEFAULT_LIB, out: $stdout,
                     max_failures: nil, time_budget: nil, verbose: false)
        @seed = seed
        @cases = cases
        @first = first
        @lanes = cases.positive? ? [lanes, cases].min : lanes
        @lib = File.expand_path(lib)
        @out = out
        @max_failures = max_failures
        @time_budget = time_budget
        @verbose = verbose
        @mutex = Mutex.new
        @next = first
        @failures = []
        @families = HostileCases::FAMILIES.keys.to_h { |family| [family, [0, 0]] }
        @peak_rss = 0
        @panics = Hash.new(0)
        @passed_seconds = []
        @errors = []
        @uncounted = 0
        @stopped = nil
      end

      # @return [void] lets the cases under way finish and starts no more (safe from a signal handler)
      def stop!
        @stopped ||= INTERRUPTED
        nil
      end

      # @return [Result] what the run found, once its cases are played and everything it started has stopped
      def run
        @started = monotonic
        Dir.mktmpdir("choria-nats-hostile") do |dir|
          pki = PKI.new(File.join(dir, "ssl"))
          server = NatsServer.new(pki: pki, dir: File.join(dir, "broker")).start
          lanes = Array.new(@lanes) { |number| Lane.new(number, pki, server, @lib) }
          lanes.map { |lane| Thread.new { drive(lane) } }.each(&:join)
        ensure
          lanes&.each(&:stop)
          server&.stop
        end
        raise @errors.first unless @errors.empty?

        result
      end

      private

      def monotonic
        Process.clock_gettime(Process::CLOCK_MONOTONIC)
      end

      def drive(lane)
        while (index = next_index)
          kase = HostileCases.build(@seed, index, port: lane.port)
          started = monotonic
          reasons, details, played, panics = lane.play(kase)
          tally(kase, reasons, details, played, lane.peak_rss)
          note(panics, reasons.empty? ? monotonic - started : nil)
        end
      rescue StandardError => e
        # The other lanes finish their cases first, so that everything started is stopped in order.
        @mutex.synchronize do
          @errors << e
          @stopped ||= "harness error"
        end
      end

      def next_index
        @mutex.synchronize do
          @stopped ||= "time budget of #{@time_budget}s spent" if @time_budget && monotonic - @started > @time_budget
          @stopped ||= "#{@failures.size} failing cases" if @max_failures && @failures.size >= @max_failures
          return nil if @stopped
          return nil if @cases.positive? && @next >= @first + @cases

          (@next += 1) - 1
        end
      end

      def tally(kase, reasons, details, played, rss)
        @mutex.synchronize do
          # Ctrl-C reaches the real broker too (it shares the terminal's process group): a case under way
          # then fails for that reason alone, and is not counted.
          return @uncounted += 1 if @stopped == INTERRUPTED && !reasons.empty?

          @peak_rss = [@peak_rss, rss].max
          counts = @families[kase.family]
          counts[0] += 1
          unless reasons.empty?
            counts[1] += 1
            failure = Failure.new(seed: @seed, index: kase.index, label: kase.label, reasons: reasons, lib: @lib,
                                  details: details, bytes_sent: played&.bytes_sent || kase.bytesize)
            @failures << failure
            @out.puts("FAIL #{failure}") if @verbose
          end
          progress
        end
      end

      def note(panics, seconds)
        @mutex.synchronize do
          panics.each { |panic| @panics[panic] += 1 }
          @passed_seconds << seconds if seconds
        end
      end

      def progress
        ran = @families.values.sum(&:first)
        return unless (ran % PROGRESS_EVERY).zero?

        @out.puts(format("hostile broker: %<ran>d cases, %<failing>d failing, %<s>.1fs",
                         ran: ran, failing: @failures.size, s: monotonic - @started))
      end

      def result
        @stopped += ", #{@uncounted} failing case(s) under way not counted" if @uncounted.positive?
        Result.new(seed: @seed, planned: @cases, ran: @families.values.sum(&:first), seconds: monotonic - @started,
                   lanes: @lanes, failures: @failures.dup, families: @families.dup, peak_rss: @peak_rss,
                   panics: @panics.dup, passed_seconds: @passed_seconds.dup, stopped: @stopped)
      end

      # A HostileBroker and the child whose connection goes through it.
      class Lane
        # @return [Integer] the highest peak RSS, in bytes, of this lane's children
        attr_reader :peak_rss

        # @param number [Integer] the lane's number, which names its subject
        def initialize(number, pki, server, lib)
          @number = number
          @pki = pki
          @lib = lib
          @broker = HostileBroker.new(pki, [server.host, server.port]).start
          @child = nil
          @peak_rss = 0
        end

        # @return [Integer] the hostile broker's port
        def port
          @broker.port
        end

        # @return [Array(Array<String>, Array<String>, HostileBroker::Played, Array<String>)] reasons the case
        #   failed (none when it passed), details for the report, what the broker saw, and panics survived
        def play(kase)
          child = ensure_child
          @broker.arm(kase)
          @broker.drop_forwarded!
          reply = child.probe(kase.index, PROBE_DEADLINE + REPLY_MARGIN)
          played = @broker.take_played(kase.index, reply ? HostileBroker::CASE_LIMIT + 1 : 0.5)
          @broker.disarm
          reasons, details, panics = Check.new(kase, child, reply, played, @broker.take_violations).verdict
          @peak_rss = [@peak_rss, child.peak_rss].max
          replace_child unless reasons.empty?
          [reasons, details, played, panics]
        end

        # @return [void] stops the child and the broker
        def stop
          replace_child
          @broker.stop
        end

        private

        def ensure_child
          return @child if @child

          @broker.disarm
          @child = Child.new(settings)
          @child.wait_ready(START_TIMEOUT)
          @broker.take_violations
          @child
        end

        def replace_child
          @child&.stop
          @child = nil
        end

        def settings
          { "lib" => @lib, "port" => port, "ca_file" => @pki.ca_file, "cert_file" => @pki.client_cert,
            "key_file" => @pki.client_key, "subject" => "hostile.probe.#{@number}", "name" => "hostile-#{@number}",
            "deadline" => PROBE_DEADLINE }
        end
      end

      # The checks after one case, from the child's answer, its state and what the broker saw.
      class Check
        # Lines of the child's standard error that mean the connector broke.
        BROKEN = /panicked at|memory allocation of|SIGSEGV|SIGABRT|\[BUG\]|stack overflow/.freeze

        def initialize(kase, child, reply, played, violations)
          @kase = kase
          @child = child
          @reply = reply
          @played = played
          @violations = violations
          @reasons = []
          @details = []
        end

        # @return [Array(Array<String>, Array<String>, Array<String>)] why the case failed, details for the
        #   report, and the panics the connection survived
        def verdict
          process
          probe if @reply
          @violations.each { |violation| @reasons << violation.text }
          @reasons << @played.outcome if @played&.outcome&.start_with?(HostileBroker::HARNESS_ERROR)
          memory
          panics = stderr
          return [[], [], panics] if @reasons.empty?

          @details << "broker: #{@played ? "#{@played.outcome} after #{@played.seconds.round(3)}s" : 'never played'}"
          [@reasons + panics, @details, []]
        end

        private

        def process
          status = @child.exit_status
          if status
            @reasons << "the connector process died (#{Child.describe(status)})"
          elsif @reply.nil?
            @reasons << "the child did not answer within #{PROBE_DEADLINE + REPLY_MARGIN}s: a call hung"
          end
        end

        def probe
          @reply["slow"].each { |slow| @reasons << "a call overran its timeout: #{slow}" }
          unless @reply["ok"]
            @reasons << "no probe message came back within #{PROBE_DEADLINE}s after the case " \
                        "(#{@reply['attempts']} attempts, connected: #{@reply['connected']})"
            @details.concat(@reply["errors"].map { |error| "error: #{error}" })
            @details.concat(@reply["log"].map { |line| "log: #{line}" })
          end
          @reasons << "the server pool grew: #{@reply['servers'].join(', ')}" if @reply["servers"].size > 1
          @reasons << "the probe came back but the case was never dialled" if @reply["ok"] && @played.nil?
        end

        def memory
          peak = @child.peak_rss
          return if peak <= RSS_LIMIT

          @reasons << "peak RSS #{peak / 1_048_576} MiB, over the limit of #{RSS_LIMIT / 1_048_576} MiB"
        end

        # The panics the child printed. One the connection recovered from is no failure (async-nats
        # has parser panics the connector must survive) but is counted; one with a failure is among its reasons.
        def stderr
          lines = @child.take_stderr.lines.map(&:chomp).reject { |line| line.empty? || line.start_with?("note:") }
          @details.concat(lines.first(10).map { |line| "stderr: #{line}" })
          lines.each_index.select { |i| lines[i].match?(BROKEN) }.map do |i|
            text = lines[i].end_with?(":") ? "#{lines[i]} #{lines[i + 1]}" : lines[i]
            text.sub(/\Athread '[^']*' (\(\d+\) )?/, "").sub(%r{/\S*/(?=[^/\s]+/src/)}, "")
          end
        end
      end

      # A child process running spec/hostile/child.rb, spoken to through pipes.
      class Child
        # Seconds the child has to leave after its input ends, and again after TERM.
        STOP_TIMEOUT = 2
        # Bytes read from a pipe at a time.
        READ_SIZE = 65_536

        # @return [String] how a process ended, for reports
        def self.describe(status)
          if status.signaled?
            "killed by SIG#{Signal.signame(status.termsig)}"
          else
            "exit status #{status.exitstatus}"
          end
        end

        # @return [Integer] the child's PID
        attr_reader :pid

        # @param settings [Hash] what spec/hostile/child.rb reads from its argument
        def initialize(settings)
          stdin, @input = IO.pipe
          @output, stdout = IO.pipe
          @errors, stderr = IO.pipe
          @pid = Process.spawn({ "RUST_BACKTRACE" => "0" }, RbConfig.ruby, CHILD, JSON.generate(settings),
                               in: stdin, out: stdout, err: stderr, rlimit_as: ADDRESS_SPACE_LIMIT,
                               pgroup: true)
          [stdin, stdout, stderr].each(&:close)
          @buffer = +""
          @stderr = +""
          @open = [@output, @errors]
          @status = nil
        end

        # @return [void] once the child has connected and subscribed; raises when it cannot
        def wait_ready(timeout)
          reply = read_reply(timeout)
          return if reply && reply["ready"]

          why = reply ? reply["error"] : "no answer within #{timeout}s (#{status_words})"
          stop
          raise "the connector could not connect through the hostile broker: #{why}\n#{take_stderr}"
        end

        # @return [String] "running", or how the child ended
        def status_words
          status = exit_status
          status ? self.class.describe(status) : "running"
        end

        # @return [Hash, nil] the child's answer to the probe after case +index+; nil when none came in time
        def probe(index, timeout)
          @input.puts("probe #{index}")
          read_reply(timeout)
        rescue IOError, SystemCallError
          nil
        end

        # @return [Process::Status, nil] how the child ended, or nil while it runs
        def exit_status
          return @status if @status

          reaped = Process.wait2(@pid, Process::WNOHANG)
          @status = reaped&.last
        rescue Errno::ECHILD
          nil
        end

        # @return [Integer] the child's peak resident memory in bytes (0 once it has gone)
        def peak_rss
          status = File.read("/proc/#{@pid}/status")
          status[/^VmHWM:\s+(\d+) kB/, 1].to_i * 1024
        rescue SystemCallError
          0
        end

        # @return [String] what the child wrote to its standard error since the last call
        def take_stderr
          drain(0)
          @stderr.slice!(0..)
        end

        # @return [void] ends the child: its input closed, then TERM, then KILL, each wait bounded
        def stop
          @input.close unless @input.closed?
          [nil, "TERM", "KILL"].each do |signal|
            signal_child(signal) if signal
            break if reap(STOP_TIMEOUT)
          end
          [@output, @errors].each { |io| io.close unless io.closed? }
        end

        private

        def monotonic
          Process.clock_gettime(Process::CLOCK_MONOTONIC)
        end

        def read_reply(timeout)
          limit = monotonic + timeout
          loop do
            if (newline = @buffer.index("\n"))
              return JSON.parse(@buffer.slice!(0..newline))
            end
            return nil if !@open.include?(@output) || monotonic >= limit

            drain(limit - monotonic)
          end
        end

        # Reads what the pipes hold, waiting up to +timeout+ seconds for something.
        def drain(timeout)
          return if @open.empty?

          readable, = IO.select(@open, nil, nil, timeout)
          Array(readable).each do |io|
            data = io.read_nonblock(READ_SIZE, exception: false)
            case data
            when String then (io == @output ? @buffer : @stderr) << data
            when nil then @open.delete(io)
            end
          end
        end

        def signal_child(signal)
          Process.kill(signal, @pid)
        rescue Errno::ESRCH
          nil
        end

        def reap(seconds)
          limit = monotonic + seconds
          while monotonic < limit
            return true if exit_status

            sleep(0.02)
          end
          false
        end
      end
    end
  end
end
