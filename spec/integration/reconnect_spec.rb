# frozen_string_literal: true

require "spec_helper"

RSpec.describe ChoriaNats::Connection, "when the broker restarts" do
  include_context "with a TLS broker"

  it "reconnects with back-off, restores the subscription, and logs both ends", bounded: 60 do
    logs = ChoriaNats::TestSupport::LogCollector.new
    fast = { reconnect_initial_delay: 0.1, reconnect_max_delay: 1 }
    receiver = connect_client(pki, server, logger: logs, **fast)
    receiver.subscribe("restart.test")
    receiver.flush
    sender = connect_client(pki, server, **fast)

    server.restart(pause: 1)
    back = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    eventually(20) { receiver.connected? && sender.connected? }
    puts format("\n  both clients reconnected %<s>.2fs after the broker came back (1 s outage)",
                s: Process.clock_gettime(Process::CLOCK_MONOTONIC) - back)
    sender.publish("restart.test", "after the restart")
    sender.flush

    expect(receiver.receive(10)).to eq(["restart.test", nil, "after the restart"])
    expect(receiver.stats["reconnects"]).to be >= 1
    expect(receiver.connected_server).to eq(server.address)
    address = Regexp.escape(server.address)
    expect(logs.grep(/\ADisconnected from NATS: #{address} \(config\); reconnecting with back-off\z/)).not_to be_empty
    reconnected = /\AReconnected after connection failure: #{address} \(config\); server pool: #{address} \(config\)\z/
    expect(logs.grep(reconnected)).not_to be_empty
  end

  it "logs each failed attempt while the broker is down", bounded: 60 do
    logs = ChoriaNats::TestSupport::LogCollector.new
    connection = connect_client(pki, server, logger: logs, reconnect_initial_delay: 0.1, reconnect_max_delay: 0.5)
    server.stop
    eventually(10) { !connection.connected? }
    # Log lines reach Ruby when the connection is used: receive delivers them while it waits.
    connection.receive(2)
    server.start
    eventually(20) do
      connection.receive(0.1)
      connection.connected?
    end
    expect(logs.grep(/\ACould not reconnect to NATS #{Regexp.escape(server.address)} \(config\): /)).not_to be_empty
  end

  it "buffers a bounded number of messages while disconnected, then raises; the buffered ones reach the broker",
     bounded: 120 do
    broker = ChoriaNats::TestSupport::NatsServer.new(pki: pki, dir: File.join(@dir, "offline"), monitor: true).start
    begin
      publisher = connect_client(pki, broker, publish_timeout: 0.5, reconnect_initial_delay: 0.1,
                                              reconnect_max_delay: 0.5)
      broker.stop
      eventually(10) { !publisher.connected? }
      accepted = 0
      error = nil
      begin
        10_000.times do |i|
          publisher.publish("offline.test", "message #{i}")
          accepted += 1
        end
      rescue ChoriaNats::TimeoutError => e
        error = e
      end
      expect(error&.message).to eq("Could not publish to offline.test within 0.5s: the outgoing buffer of 2048 " \
                                   "messages is full (disconnected from NATS, reconnecting); the message was not sent")
      expect(accepted).to be_between(1, 2048 + 64)
      puts "\n  buffered #{accepted} messages while disconnected, then: #{error.message}"

      broker.start
      eventually(20) { publisher.connected? }
      publisher.flush(10)
      expect(broker.varz["in_msgs"]).to eq(accepted)
    ensure
      broker.stop
    end
  end
end
