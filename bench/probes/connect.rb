# frozen_string_literal: true

# A fresh Ruby process that loads the gem and makes one verified-TLS
# connection, for the connect scenario. Prints one JSON line: the time to
# require the gem and the time ChoriaNats::Connection.connect took.
#
#   ruby -Ilib bench/probes/connect.rb --server H:P --ca CA --cert CERT --key KEY

started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
require_relative "probe"
required = Process.clock_gettime(Process::CLOCK_MONOTONIC)
connection = ChoriaNats::Bench::Probe.connect(ChoriaNats::Bench::Probe.options(ARGV), "choria-nats-bench-connect")
connected = Process.clock_gettime(Process::CLOCK_MONOTONIC)
connection.close
puts format('{"mode":"connect","require_ms":%<require>.3f,"connect_ms":%<connect>.3f}',
            require: (required - started) * 1e3, connect: (connected - required) * 1e3)
