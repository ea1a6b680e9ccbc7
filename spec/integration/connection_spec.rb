# frozen_string_literal: true

require "spec_helper"
require "open3"

RSpec.describe ChoriaNats::Connection, "against a TLS nats-server with verify: true" do
  include_context "with a TLS broker"

  def subscribed_pair(subject)
    receiver = connect_client(pki, server)
    receiver.subscribe(subject)
    receiver.flush
    [receiver, connect_client(pki, server)]
  end

  it "connects, says where, and logs the server with its source" do
    logs = ChoriaNats::TestSupport::LogCollector.new
    connection = connect_client(pki, server, logger: logs)
    expect(connection).to be_connected
    expect(connection.connected_server).to eq(server.address)
    expect(logs.grep(/\AConnected to NATS #{Regexp.escape(server.address)} \(config\)\z/).size).to eq(1)
    expect(connection.inspect).to include("connected to #{server.address}")
  end

  it "carries binary payloads and reply subjects unchanged", bounded: 30 do
    receiver, sender = subscribed_pair("binary.test")
    payloads = [(0..255).map(&:chr).join.b, "".b, "\xFF\xFE\x00".b * 100_000, "plain text".b]
    payloads.each { |payload| sender.publish("binary.test", payload, "reply.to.me") }
    sender.flush
    got = payloads.map { receiver.receive(5) }
    expect(got.map(&:first)).to all(eq("binary.test"))
    expect(got.map { |m| m[1] }).to all(eq("reply.to.me"))
    expect(got.map(&:last)).to eq(payloads)
    expect(got.map(&:last).map(&:encoding)).to all(eq(Encoding::BINARY))
    sender.publish("binary.test", "no reply")
    sender.flush
    expect(receiver.receive(5)).to eq(["binary.test", nil, "no reply"])
  end

  it "sends a string changed in place after a publish with its new bytes", bounded: 30 do
    # Publish shares the copy of bytes equal to the previous publish's; this
    # is the case where the same object no longer holds the same bytes.
    receiver, sender = subscribed_pair("reuse.test")
    body = +"a" * 600
    sender.publish("reuse.test", body)
    sender.publish("reuse.test", body)
    body.setbyte(599, "b".ord)
    sender.publish("reuse.test", body)
    body.replace("c" * 600)
    sender.publish("reuse.test", body)
    sender.publish("reuse.test", "c" * 600, "reply.one")
    sender.publish("reuse.test", "c" * 600, "reply.two")
    sender.flush
    got = Array.new(6) { receiver.receive(5) }
    expect(got.map(&:last)).to eq(["a" * 600, "a" * 600, "#{'a' * 599}b", "c" * 600, "c" * 600, "c" * 600])
    expect(got.map { |m| m[1] }).to eq([nil, nil, nil, nil, "reply.one", "reply.two"])
  end

  it "publishes and receives 100,000 messages, none lost", bounded: 120 do
    receiver, sender = subscribed_pair("bulk.test")
    count = 100_000
    received = Thread.new do
      seen = []
      while seen.size < count && (message = receiver.receive(10))
        seen << message[2].unpack1("N")
      end
      seen
    end
    payload_tail = "x" * 96
    count.times { |i| sender.publish("bulk.test", [i].pack("N") + payload_tail) }
    sender.flush(30)
    seen = received.value
    expect(seen.size).to eq(count)
    expect(seen).to eq((0...count).to_a)
    expect(receiver.stats).to include("in_msgs" => count, "dropped" => 0, "queued" => 0)
    expect(sender.stats["out_msgs"]).to eq(count)
    expect(sender.stats["out_bytes"]).to be >= count * 100
  end

  it "receives from every subscription, and subscribe/unsubscribe are idempotent", bounded: 30 do
    receiver = connect_client(pki, server)
    expect(receiver.subscribe("multi.a")).to be(true)
    expect(receiver.subscribe("multi.a")).to be(false)
    expect(receiver.subscribe("multi.b")).to be(true)
    receiver.flush
    sender = connect_client(pki, server)
    sender.publish("multi.a", "1")
    sender.publish("multi.b", "2")
    sender.flush
    expect([receiver.receive(5), receiver.receive(5)].map(&:first).sort).to eq(%w[multi.a multi.b])
    expect(receiver.unsubscribe("multi.a")).to be(true)
    expect(receiver.unsubscribe("multi.a")).to be(false)
    receiver.flush
    sender.publish("multi.a", "gone")
    sender.publish("multi.b", "here")
    sender.flush
    expect(receiver.receive(5)).to eq(["multi.b", nil, "here"])
    expect(receiver.receive(0.3)).to be_nil
  end

  it "returns nil when a receive times out, and at once for a timeout of 0" do
    connection = connect_client(pki, server)
    expect(connection.receive(0)).to be_nil
    expect(connection.receive(0.2)).to be_nil
  end

  describe "a blocked receive" do
    it "ends with Timeout.timeout's error", bounded: 30 do
      connection = connect_client(pki, server)
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      expect { Timeout.timeout(0.3) { connection.receive(20) } }.to raise_error(Timeout::Error)
      expect(Process.clock_gettime(Process::CLOCK_MONOTONIC) - started).to be < 10
      expect(connection).to be_connected
    end

    it "ends when its thread is killed", bounded: 30 do
      connection = connect_client(pki, server)
      thread = Thread.new { connection.receive(20) }
      sleep 0.2
      thread.kill
      expect(thread.join(10)).to be(thread)
      expect(thread).not_to be_alive
    end

    it "ends with the exception raised into its thread", bounded: 30 do
      connection = connect_client(pki, server)
      thread = Thread.new do
        connection.receive(20)
      rescue ArgumentError => e
        e
      end
      sleep 0.2
      thread.raise(ArgumentError, "stop receiving")
      expect(thread.join(10)).to be(thread)
      expect(thread.value.message).to eq("stop receiving")
    end

    it "lets other Ruby threads run while it waits", bounded: 30 do
      connection = connect_client(pki, server)
      counter = 0
      running = true
      counting = Thread.new { counter += 1 while running }
      sleep 0.05
      before = counter
      expect(connection.receive(1)).to be_nil
      during = counter - before
      running = false
      counting.join
      # Holding the GVL would leave the other thread almost no turns in 1 s.
      expect(during).to be > 100_000
    end

    it "ends the process on Ctrl-C (SIGINT)", bounded: 60 do
      script = <<~RUBY
        require "choria_nats"
        c = ChoriaNats::Connection.connect(servers: [#{server.address.inspect}], ca_file: #{pki.ca_file.inspect},
                                           cert_file: #{pki.client_cert.inspect}, key_file: #{pki.client_key.inspect})
        puts "ready"
        $stdout.flush
        c.receive(60)
        puts "receive returned"
      RUBY
      lib = File.expand_path("../../lib", __dir__)
      Open3.popen3(RbConfig.ruby, "-I", lib, "-e", script) do |stdin, stdout, stderr, waiter|
        stdin.close
        expect(stdout.gets&.chomp).to eq("ready")
        Process.kill("INT", waiter.pid)
        expect(waiter.join(10)).not_to be_nil
        expect(waiter.value).not_to be_success
        expect(stdout.read).not_to include("receive returned")
        expect(stderr.read).to include("Interrupt")
      end
    end
  end

  it "counts and logs messages dropped when the receive queue is full", bounded: 30 do
    logs = ChoriaNats::TestSupport::LogCollector.new
    receiver = connect_client(pki, server, receive_capacity: 10, logger: logs)
    receiver.subscribe("drops.test")
    receiver.flush
    sender = connect_client(pki, server)
    100.times { |i| sender.publish("drops.test", i.to_s) }
    sender.flush
    eventually { receiver.stats["in_msgs"] == 100 }
    eventually { receiver.stats["dropped"] == 90 }
    expect(receiver.stats["queued"]).to eq(10)
    received = Array.new(10) { receiver.receive(1)[2] }
    expect(received).to eq((0..9).map(&:to_s))
    expect(receiver.receive(0.2)).to be_nil
    full = /\AThe receive queue is full \(receive_capacity 10, receive_buffer_bytes \d+, holding \d+ bytes\): /
    expect(logs.grep(/#{full}dropped \d+ messages, the latest on drops\.test/)).not_to be_empty
  end

  it "refuses a message over the broker's max_payload and stays connected", bounded: 30 do
    connection = connect_client(pki, server)
    expect { connection.publish("big.test", "x" * (1_048_576 + 1)) }
      .to raise_error(ChoriaNats::PublishError, /1048577 bytes, over the broker's max_payload of 1048576 bytes/)
    expect(connection).to be_connected
    connection.subscribe("big.test")
    connection.flush
    connection.publish("big.test", "fits")
    expect(connection.receive(5)).to eq(["big.test", nil, "fits"])
  end

  it "refuses subjects that are not UTF-8 or not valid NATS subjects, and stays connected", bounded: 30 do
    connection = connect_client(pki, server)
    expect { connection.publish("bad.\xFF".b, "x") }
      .to raise_error(ChoriaNats::PublishError, "Cannot publish: the subject is not valid UTF-8")
    expect { connection.publish("ok", "x", "bad.\xFE".b) }
      .to raise_error(ChoriaNats::PublishError, "Cannot publish: the reply subject is not valid UTF-8")
    expect { connection.publish("has space", "x") }
      .to raise_error(ChoriaNats::PublishError, /invalid NATS subject "has space"/)
    connection.subscribe("after.bad")
    connection.flush
    connection.publish("after.bad", "fine")
    expect(connection.receive(5)).to eq(["after.bad", nil, "fine"])
  end

  it "closes idempotently and then refuses to work" do
    connection = connect_client(pki, server)
    connection.close
    connection.close
    expect(connection).to be_closed
    expect(connection).not_to be_connected
    expect { connection.publish("x", "y") }.to raise_error(ChoriaNats::ConnectionError, /closed/)
    expect { connection.receive(0) }.to raise_error(ChoriaNats::ConnectionError, /closed/)
  end

  it "ends a receive that another thread closes", bounded: 30 do
    connection = connect_client(pki, server)
    thread = Thread.new do
      connection.receive(20)
    rescue ChoriaNats::ConnectionError => e
      e
    end
    sleep 0.2
    connection.close
    expect(thread.join(10)&.value).to be_a(ChoriaNats::ConnectionError)
  end

  it "does not crash a forked child, which must connect again; the parent keeps working", bounded: 60 do
    parent = connect_client(pki, server)
    parent.subscribe("fork.test")
    parent.flush
    output, status = in_forked_child do
      outcome = begin
        parent.publish("fork.test", "from child")
        "published"
      rescue ChoriaNats::ConnectionError => e
        e.message
      end
      parent.close
      child = ChoriaNats::Connection.connect(**client_options(pki, server))
      child.publish("fork.test", "from a new child connection")
      child.flush
      child.close
      outcome
    end
    expect(status).to be_success, output
    expect(output).to include("before a fork: connect again in this process")
    expect(parent.receive(5)).to eq(["fork.test", nil, "from a new child connection"])
    expect(parent).to be_connected
  end

  it "survives GC.stress while publishing and receiving", bounded: 120 do
    receiver, sender = subscribed_pair("gc.test")
    GC.stress = true
    begin
      3.times { |i| sender.publish("gc.test", "payload #{i}", "reply.#{i}") }
      sender.flush
      got = Array.new(3) { receiver.receive(5) }
      stats = receiver.stats
    ensure
      GC.stress = false
    end
    expect(got).to eq(Array.new(3) { |i| ["gc.test", "reply.#{i}", "payload #{i}"] })
    expect(stats["in_msgs"]).to eq(3)
  end
end
