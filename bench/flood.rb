# frozen_string_literal: true

# The memory a subscriber holds when a flood of large messages arrives and it
# does not receive them: the receive queue's byte bound at work. A TLS
# nats-server on loopback, a subscriber in a process of its own (so that its
# peak RSS is its own), and a publisher that sends MESSAGES messages of SIZE
# bytes. Prints one JSON line: the subscriber's peak RSS before and after, and
# how many messages it queued and dropped.
#
#   ruby bench/flood.rb [--messages 1536] [--size 1048576] [--lib DIR] [--bytes N]
#
# --lib loads the gem from another checkout (to compare builds); --bytes sets
# receive_buffer_bytes.

require "json"
require "optparse"
require "rbconfig"
require "tmpdir"

ROOT = File.expand_path("..", __dir__)
options = { messages: 1536, size: 1024 * 1024, lib: File.join(ROOT, "lib"), bytes: nil }
OptionParser.new do |o|
  o.on("--messages N", Integer) { |v| options[:messages] = v }
  o.on("--size BYTES", Integer) { |v| options[:size] = v }
  o.on("--lib DIR") { |v| options[:lib] = File.expand_path(v) }
  o.on("--bytes N", Integer) { |v| options[:bytes] = v }
end.parse!

# The subscriber: subscribes, says so, then waits (never receiving) until every message is queued or
# dropped, or 60 s pass, and prints its figures.
SUBSCRIBER = <<~RUBY
  require "choria_nats"
  require "json"
  kb = ->(field) { File.read("/proc/self/status")[/^\#{field}:\\s+(\\d+) kB/, 1].to_i }
  servers, ca, cert, key, count, bytes = ARGV
  extra = bytes.empty? ? {} : { receive_buffer_bytes: Integer(bytes) }
  c = ChoriaNats::Connection.connect(servers: [servers], ca_file: ca, cert_file: cert, key_file: key, **extra)
  c.subscribe("bench.flood")
  c.flush(10)
  GC.start
  before = kb.call("VmHWM")
  $stdout.puts("ready")
  $stdout.flush
  deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 60
  loop do
    s = c.stats
    break if s["queued"] + s["dropped"] >= Integer(count)
    break if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
    sleep 0.1
  end
  s = c.stats
  puts JSON.generate(peak_before_mib: before / 1024.0, peak_after_mib: kb.call("VmHWM") / 1024.0,
                     queued: s["queued"], dropped: s["dropped"], queued_bytes: s["queued_bytes"])
RUBY

$LOAD_PATH.unshift(File.join(ROOT, "lib"))
require "choria_nats"
%w[pki nats_server].each { |f| require File.join(ROOT, "spec", "support", f) }

Dir.mktmpdir("choria-nats-flood") do |dir|
  pki = ChoriaNats::TestSupport::PKI.new(File.join(dir, "ssl"))
  server = ChoriaNats::TestSupport::NatsServer.new(pki: pki, dir: File.join(dir, "broker")).start
  begin
    args = [server.address, pki.ca_file, pki.client_cert, pki.client_key, options[:messages].to_s, options[:bytes].to_s]
    IO.popen([RbConfig.ruby, "-I", options[:lib], "-e", SUBSCRIBER, *args], "r") do |child|
      raise "the subscriber did not start" unless child.gets&.strip == "ready"

      publisher = ChoriaNats::Connection.connect(servers: [server.address], ca_file: pki.ca_file,
                                                 cert_file: pki.client_cert, key_file: pki.client_key)
      payload = "f" * options[:size]
      options[:messages].times { publisher.publish("bench.flood", payload) }
      publisher.flush(60)
      publisher.close
      figures = JSON.parse(child.gets || "{}")
      puts JSON.generate(figures.merge("messages" => options[:messages], "size" => options[:size],
                                       "lib" => options[:lib], "receive_buffer_bytes" => options[:bytes]))
    end
  ensure
    server.stop
  end
end
