# frozen_string_literal: true

# A fresh Ruby process that loads the gem and makes one verified-TLS
# connection, for the connect scenario. Prints one JSON line: the time to
# load (the gem; with --config also MCollective and that config) and the time
# the connect took (ChoriaNats::Connection.connect, or with --config
# MCollective::Connector::Nats#connect as mco makes it, pre-flight checks and all).
#
#   ruby -Ilib bench/probes/connect.rb --server H:P --ca CA --cert CERT --key KEY [--config SERVER_CFG]

started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
require_relative "probe"
options = ChoriaNats::Bench::Probe.options(ARGV)
ChoriaNats::Bench::Probe.mcollective(options, :client) if options.key?("config")
required = Process.clock_gettime(Process::CLOCK_MONOTONIC)
if options.key?("config")
  ChoriaNats::Bench::Probe.connector.disconnect
  connected = Process.clock_gettime(Process::CLOCK_MONOTONIC)
else
  connection = ChoriaNats::Bench::Probe.connect(options, "choria-nats-bench-connect")
  connected = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  connection.close
end
puts format('{"mode":"connect","require_ms":%<require>.3f,"connect_ms":%<connect>.3f}',
            require: (required - started) * 1e3, connect: (connected - required) * 1e3)
