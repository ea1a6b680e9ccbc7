# frozen_string_literal: true

# A Ruby process holding one connection with N subscriptions and waiting in
# #receive, as mcollectived does between requests, for the idle scenario.
# Prints {"ready":true} once subscribed; runs until it is signalled.
#
#   ruby -Ilib bench/probes/idle.rb --server H:P --ca CA --cert CERT --key KEY --subject PREFIX --count N

require_relative "probe"

options = ChoriaNats::Bench::Probe.options(ARGV)
connection = ChoriaNats::Bench::Probe.connect(options, "choria-nats-bench-idle")
Integer(options.fetch("count")).times { |n| connection.subscribe("#{options.fetch('subject')}.#{n}") }
connection.flush(10)
$stdout.puts('{"ready":true}')
$stdout.flush
loop { connection.receive(60) }
