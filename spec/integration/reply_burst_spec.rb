# frozen_string_literal: true

require "spec_helper"
require "json"
require "open3"

RSpec.describe "A burst of replies from a simulated fleet" do
  include_context "with a TLS broker"
  include_context "with a certname", "burst-client.example.net"

  before(:all) do
    @bare = ChoriaNats::TestSupport::NatsBare.binary
    ChoriaNats::TestSupport::MCollectiveConfig.load(
      @dir, identity: "burst-client.example.net",
            settings: { "plugin.choria.middleware_hosts" => @server.address, "plugin.choria.ssldir" => @pki.dir,
                        "plugin.choria.use_srv_records" => "false" }
    )
  end

  # Starts `count` simulated nodes replying to `subject` at once; returns [pid, stdout].
  def fleet(subject, count)
    argv = [@bare, "replies", "--server", @server.address, "--ca", @pki.ca_file, "--cert", @pki.client_cert,
            "--key", @pki.client_key, "--subject", subject, "--count", count.to_s, "--connections", "16"]
    stdin, stdout, waiter = Open3.popen2(*argv)
    stdin.close
    [waiter, stdout]
  end

  # Receives until `count` arrive or none comes for 10 s; returns [received, seconds first to last].
  def drain(count)
    received = 0
    first = last = nil
    while received < count && (message = yield)
      last = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      first ||= last
      received += 1 if message
    end
    [received, first ? last - first : 0.0]
  end

  def report(what, count, received, seconds, dropped)
    puts format("\n  %<what>s: %<count>d replies, %<received>d received, %<lost>d lost, %<dropped>d dropped, " \
                "drained in %<seconds>.3fs (%<rate>d/s)",
                what: what, count: count, received: received, lost: count - received, dropped: dropped,
                seconds: seconds, rate: seconds.positive? ? received / seconds : 0)
  end

  [10_000, 50_000].each do |count|
    it "delivers all #{count} replies to ChoriaNats::Connection#receive with default settings", bounded: 300 do
      connection = connect_client(pki, server)
      subject = "mcollective.reply.burst.#{count}"
      connection.subscribe(subject)
      connection.flush
      waiter, out = fleet(subject, count)
      received, seconds = drain(count) { connection.receive(10) }
      expect(waiter.value).to be_success
      out.close
      report("raw receive", count, received, seconds, connection.stats["dropped"])
      expect(received).to eq(count)
      expect(connection.stats).to include("dropped" => 0, "queued" => 0)
    end

    it "delivers all #{count} replies as MCollective::Message objects through the connector", bounded: 300 do
      connector = MCollective::Connector::Nats.new
      connector.connect
      begin
        connector.subscribe("rpcutil", :reply, "mcollective")
        subject = connector.make_target("rpcutil", :reply, "mcollective")
        connector.connection.flush
        waiter, out = fleet(subject, count)
        senders = {}
        # One deadline around the loop, as MCollective's client has: a Timeout per message costs a thread.
        received, seconds = Timeout.timeout(120) do
          drain(count) do
            message = connector.receive
            senders[message.headers["mc_sender"]] = message.payload
          end
        end
        expect(waiter.value).to be_success
        out.close
        report("connector receive (Message objects)", count, received, seconds, connector.stats["dropped"])
        expect(received).to eq(count)
        expect(senders.size).to eq(count)
        expect(JSON.parse(senders["node7.example.net"])).to include("data" => { "pong" => 7 })
        expect(connector.stats["dropped"]).to eq(0)
      ensure
        connector.disconnect
      end
    end
  end
end
