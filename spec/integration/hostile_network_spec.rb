# frozen_string_literal: true

require "spec_helper"
require "json"
require "socket"

# An attacker on the path between a node and its broker: a TCP proxy in front
# of a real TLS nats-server (verify: true) that rewrites the INFO line sent
# before TLS, or answers in the broker's place.
RSpec.describe ChoriaNats::Connection, "with an attacker on the path to its broker" do
  include_context "with a TLS broker"

  let(:logs) { ChoriaNats::TestSupport::LogCollector.new }
  let(:fast) { { reconnect_initial_delay: 0.05, reconnect_max_delay: 0.2, reconnect_spread: 0.1 } }

  def through(proxy, **options)
    connect_client(pki, server, servers: ["127.0.0.1:#{proxy.port}"], user: "nodes", password: "s3cret",
                                logger: logs, **fast, **options)
  end

  def with_proxy
    proxy = ChoriaNats::TestSupport::TcpForwarder.new(server.host, server.port).start
    yield proxy
  ensure
    proxy&.stop
  end

  # A listener that records everything anyone sends it, for as long as the example runs.
  def trap_listener
    listener = TCPServer.new("127.0.0.1", 0)
    heard = Queue.new
    thread = Thread.new do
      loop do
        socket = listener.accept
        heard << (socket.wait_readable(1) ? socket.read_nonblock(4096, exception: false).to_s : "")
        socket.close
      end
    rescue IOError, SystemCallError
      nil
    end
    [listener, heard, thread]
  end

  # Publishes on a direct connection until `connection` receives, within `seconds`.
  def receives_again(connection, subject, seconds: 20)
    sender = connect_client(pki, server)
    eventually(seconds) do
      sender.publish(subject, "probe")
      sender.flush
      connection.receive(0.2)
    end
  end

  it "never dials the cluster members a forged INFO announces, whatever their scheme", bounded: 60 do
    listener, heard, thread = trap_listener
    address = "127.0.0.1:#{listener.addr[1]}"
    announced = ["ws://#{address}", "nats://#{address}", address, "wss://#{address}"]
    trap = "//#{Regexp.escape(address)}"
    with_proxy do |proxy|
      proxy.rewrite_info do |line|
        info = JSON.parse(line.delete_prefix("INFO "))
        "INFO #{JSON.generate(info.merge('connect_urls' => announced))}\r\n"
      end
      connection = through(proxy)
      connection.subscribe("downgrade.test")
      connection.flush
      3.times do
        proxy.cut_all!
        eventually(20) do
          connection.receive(0.05)
          connection.connected?
        end
      end
      expect(receives_again(connection, "downgrade.test")).to eq(["downgrade.test", nil, "probe"])
      expect(connection.stats["servers"].map { |s| s["server"] }).to eq(["127.0.0.1:#{proxy.port}"])
    end
    sent = Array.new(heard.size) { heard.pop }
    expect(sent).to be_empty, "the connector dialled an announced member and sent: #{sent.inspect}"
    ws = logs.grep(/\AThe NATS broker 127\.0\.0\.1:\d+ \(config\) announced the cluster member "ws:#{trap}"/)
    expect(ws.size).to eq(1)
    expect(ws.first.first).to eq(:warn)
    nats = logs.grep(/announced the cluster member "nats:#{trap}" \(scheme nats\): not dialled/)
    expect(nats.map(&:first)).to eq([:info])
  ensure
    listener&.close
    thread&.join(2)
  end

  it "survives a bare -ERR where INFO belongs: at connect, and after its link drops", bounded: 90 do
    with_proxy do |proxy|
      proxy.answer_next("-ERR\r\n", "-ERR\r\n")
      connection = through(proxy, retry_initial_connect: 20)
      expect(connection).to be_connected
      connection.subscribe("panic.test")
      connection.flush

      proxy.answer_next("-ERR\r\n")
      proxy.cut_all!
      expect(receives_again(connection, "panic.test")).to eq(["panic.test", nil, "probe"])
      ended = logs.grep(/\AThe NATS client's connection task ended \(it panicked: .+\); connecting again with 1 /)
      expect(ended.map(&:first)).to eq([:error])
      expect(logs.grep(/\ARebuilt the NATS connection to 127\.0\.0\.1:\d+ \(config\): 1 of 1 subscriptions restored\z/))
        .not_to be_empty
      connection.publish("panic.test", "after")
      expect(connection.receive(5)).to eq(["panic.test", nil, "after"])
      expect(connection.stats["in_msgs"]).to be >= 2
    end
  end

  it "keeps at most receive_buffer_bytes of messages nobody received, counting the drops", bounded: 60 do
    bound = 4 * 1024 * 1024
    receiver = connect_client(pki, server, receive_buffer_bytes: bound)
    receiver.subscribe("flood.test")
    receiver.flush
    sender = connect_client(pki, server)
    payload = "x" * ((1024 * 1024) - 100)
    20.times { sender.publish("flood.test", payload) }
    sender.flush
    eventually(20) { receiver.stats["dropped"] + receiver.stats["queued"] == 20 }
    stats = receiver.stats
    expect(stats["queued_bytes"]).to be <= bound
    expect(stats["queued"]).to eq(4)
    expect(stats["dropped"]).to eq(16)
    expect(stats["receive_buffer_bytes"]).to eq(bound)
    4.times { expect(receiver.receive(1)[2].bytesize).to eq(payload.bytesize) }
    expect(receiver.stats["queued_bytes"]).to eq(0)
  end

  it "holds at most outgoing_buffer_bytes of large messages for a broker that stopped reading", bounded: 60 do
    bound = 8 * 1024 * 1024
    with_proxy do |proxy|
      connection = through(proxy, outgoing_buffer_bytes: bound, publish_timeout: 0.5)
      connection.flush
      proxy.freeze_existing!
      # Distinct payloads: equal ones would share one copy.
      payload = "y" * ((1024 * 1024) - 8)
      sent = 0
      error = nil
      begin
        64.times do
          connection.publish("stalled.test", format("%08d", sent) + payload)
          sent += 1
        end
      rescue ChoriaNats::TimeoutError => e
        error = e
      end
      expect(error&.message).to match(/\ACould not publish to stalled\.test within 0\.5s: the outgoing buffer holds /)
      expect(error.message).to include("bytes of large messages not yet sent (outgoing_buffer_bytes #{bound})")
      expect(connection.stats["outgoing_bytes"]).to be <= bound
      # What the kernel's socket buffers took, plus the bound.
      expect(sent).to be < 40
    end
  end
end
