# frozen_string_literal: true

# The connector under test, in a process of its own so that a crash or a
# memory blow-up takes only this process down. HostileRun starts it with one
# argument, a JSON object of settings, then writes one line per case on its
# standard input, "probe INDEX", and reads one JSON line back: whether a
# message published after the case came back within the deadline, which calls
# overran their timeouts, and the server pool. It exits when its standard
# input ends, so it never outlives the run.
require "json"

settings = JSON.parse(ARGV.fetch(0))
$LOAD_PATH.unshift(settings.fetch("lib"))
require "choria_nats"

# Publishes, flushes and receives on one connection, timing every call.
class HostileProbe
  # Seconds each attempt receives before it publishes again. A message
  # published while the link is down may be lost, so attempts are frequent:
  # a case's time is then mostly the reconnect it forces.
  ATTEMPT_WINDOW = 0.01
  # Seconds a receive waits for the probe message.
  RECEIVE_WAIT = 0.01
  # Seconds a flush waits.
  FLUSH_WAIT = 0.01
  # Seconds of each publish's buffer wait (the connection's publish_timeout).
  PUBLISH_TIMEOUT = 1.0
  # Seconds a call may overrun its timeout before it counts as a hang: room
  # for a machine whose cores other processes keep busy.
  CALL_MARGIN = 1.0
  # Log lines kept for the report of a failed case.
  LOG_LINES = 12

  # @param settings [Hash] lib, port, ca_file, cert_file, key_file, subject, name, deadline
  def initialize(settings)
    @settings = settings
    @subject = settings.fetch("subject")
    @log = []
  end

  # @return [void] connects through the hostile broker (which forwards it) and subscribes
  def connect
    @connection = ChoriaNats::Connection.connect(**options)
    @connection.subscribe(@subject)
    @connection.flush(5)
  end

  # @return [Hash] the outcome of the probe after case +index+
  def probe(index)
    started = monotonic
    @slow = []
    @errors = []
    attempts = 0
    ok = false
    while !ok && monotonic < started + @settings.fetch("deadline")
      attempts += 1
      ok = attempt(index, attempts)
    end
    report(index, ok ? :ok : :failed, attempts, monotonic - started)
  end

  private

  def options
    { servers: ["127.0.0.1:#{@settings.fetch('port')}"], ca_file: @settings.fetch("ca_file"),
      cert_file: @settings.fetch("cert_file"), key_file: @settings.fetch("key_file"),
      name: @settings.fetch("name"), randomize: false, connect_timeout: 1, retry_initial_connect: 10,
      reconnect_initial_delay: 0.01, reconnect_max_delay: 0.05, reconnect_spread: 0.02,
      publish_timeout: PUBLISH_TIMEOUT, logger: method(:log) }
  end

  def log(level, line)
    @log << "#{level}: #{line}"
    @log.shift while @log.size > LOG_LINES
  end

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # One publish, a flush, and receives until the attempt's message or another of this case comes back.
  def attempt(index, number)
    call("publish", PUBLISH_TIMEOUT) { @connection.publish(@subject, "#{index}:#{number}") }
    call("flush(#{FLUSH_WAIT})", FLUSH_WAIT) { @connection.flush(FLUSH_WAIT) }
    until_time = monotonic + ATTEMPT_WINDOW
    while monotonic < until_time
      message = call("receive(#{RECEIVE_WAIT})", RECEIVE_WAIT) { @connection.receive(RECEIVE_WAIT) }
      return true if message && message[0] == @subject && message[2].start_with?("#{index}:")
    end
    false
  end

  # The block's value, or nil when it raised one of the gem's errors; notes calls that overran.
  def call(name, timeout)
    started = monotonic
    yield
  rescue ChoriaNats::Error => e
    @errors << "#{name}: #{e.class}: #{e.message}" unless @errors.size > 5
    nil
  ensure
    took = monotonic - started
    @slow << format("%<name>s returned after %<took>.2fs", name: name, took: took) if took > timeout + CALL_MARGIN
  end

  def report(index, outcome, attempts, seconds)
    ok = outcome == :ok
    servers = @connection.stats["servers"].map { |server| "#{server['server']} (#{server['source']})" }
    { "index" => index, "ok" => ok, "attempts" => attempts, "seconds" => seconds.round(3), "slow" => @slow,
      "errors" => @errors.uniq.first(3), "servers" => servers, "connected" => @connection.connected?,
      "log" => ok ? [] : @log.dup }
  end
end

$stdout.sync = true
probe = HostileProbe.new(settings)
begin
  probe.connect
rescue ChoriaNats::Error => e
  puts JSON.generate("ready" => false, "error" => "#{e.class}: #{e.message}")
  exit!(1)
end
puts JSON.generate("ready" => true, "pid" => Process.pid)
while (line = $stdin.gets)
  command, index = line.split
  break unless command == "probe"

  puts JSON.generate(probe.probe(Integer(index)))
end
# Straight out: the run has what it needs, and closing could wait on a hostile link.
exit!(0)
