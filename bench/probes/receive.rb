# frozen_string_literal: true

# A fresh Ruby process that subscribes and receives a flood, for the receive
# scenario: its own process so that its peak RSS is the connection's, not the
# bench runner's. Prints {"ready":true} once subscribed, then one JSON line
# with the figures nats-bare receive prints.
#
#   ruby -Ilib bench/probes/receive.rb --server H:P --ca CA --cert CERT --key KEY \
#     --subject S --count N --timeout GAP

require "json"
require_relative "probe"

# The kB value of a /proc/self/status field.
def status_kb(field)
  File.read("/proc/self/status")[/^#{field}:\s+(\d+) kB/, 1]&.to_i
end

options = ChoriaNats::Bench::Probe.options(ARGV)
count = Integer(options.fetch("count"))
gap = Float(options.fetch("timeout"))
connection = ChoriaNats::Bench::Probe.connect(options, "choria-nats-bench-receive", receive_capacity: count + 1024)
connection.subscribe(options.fetch("subject"))
connection.flush(10)
GC.start
peak_reset = begin
  File.write("/proc/self/clear_refs", "5")
rescue SystemCallError
  false
end
rss = status_kb("VmRSS")
$stdout.puts('{"ready":true}')
$stdout.flush

received = 0
first = last = nil
while received < count && connection.receive(gap)
  last = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  first ||= last
  received += 1
end
elapsed = first ? last - first : 0.0
puts JSON.generate(mode: "receive", count: count, received: received, lost: count - received, elapsed: elapsed,
                   msgs_per_sec: elapsed.positive? ? received / elapsed : 0.0, rss_kb: rss,
                   peak_rss_kb: peak_reset ? status_kb("VmHWM") : nil, dropped: connection.stats["dropped"])
connection.close
