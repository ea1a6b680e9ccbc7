# frozen_string_literal: true

# A Ruby process holding one connection with N subscriptions and waiting in
# #receive, as mcollectived does between requests, for the idle scenario: the
# connection class, or with --config MCollective::Connector::Nats as
# mcollectived makes it, subscribed to N agents' broadcast subjects.
# Prints {"ready":true} once subscribed; runs until it is signalled.
#
#   ruby -Ilib bench/probes/idle.rb --server H:P --ca CA --cert CERT --key KEY --subject PREFIX --count N \
#     [--config SERVER_CFG]

require_relative "probe"

options = ChoriaNats::Bench::Probe.options(ARGV)
count = Integer(options.fetch("count"))
if options.key?("config")
  ChoriaNats::Bench::Probe.mcollective(options, :server)
  connector = ChoriaNats::Bench::Probe.connector
  count.times { |n| connector.subscribe("#{options.fetch('subject').tr('.', '_')}_#{n}", :broadcast, "mcollective") }
  connector.connection.flush(10)
  wait = -> { connector.receive }
else
  connection = ChoriaNats::Bench::Probe.connect(options, "choria-nats-bench-idle")
  count.times { |n| connection.subscribe("#{options.fetch('subject')}.#{n}") }
  connection.flush(10)
  wait = -> { connection.receive(60) }
end
$stdout.puts('{"ready":true}')
$stdout.flush
loop { wait.call }
