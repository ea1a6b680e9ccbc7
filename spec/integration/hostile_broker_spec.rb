# frozen_string_literal: true

require "spec_helper"
require "socket"

RSpec.describe "ChoriaNats::Connection against a hostile broker (docs/hostile-broker.md)" do
  run = ChoriaNats::TestSupport::HostileRun
  cases = ChoriaNats::TestSupport::HostileCases
  broker_class = ChoriaNats::TestSupport::HostileBroker

  # Seconds after which the fixed set starts no new case: on code that fails
  # many cases (each waits PROBE_DEADLINE) the run stops with a report instead
  # of taking an hour.
  time_budget = 240
  # Failing cases after which the fixed set stops: enough to show every family that fails.
  max_failures = 100

  describe "the harness itself" do
    it "builds the same case from the same seed and index, and goes round every family" do
      first = cases.build(7, 123, port: 4222)
      again = cases.build(7, 123, port: 4222)
      expect(again.chunks.map(&:data)).to eq(first.chunks.map(&:data))
      expect(again.label).to eq(first.label)
      expect(cases.build(8, 123, port: 4222).chunks.map(&:data)).not_to eq(first.chunks.map(&:data))
      expect(Array.new(cases::FAMILIES.size) { |i| cases.build(7, i, port: 4222).family }).to eq(cases::FAMILIES.keys)
    end

    it "records plain text where TLS belongs, on a case's connection and on a forwarded one", bounded: 30 do
      Dir.mktmpdir("choria-nats-spec") do |dir|
        upstream = TCPServer.new("127.0.0.1", 0)
        broker = broker_class.new(ChoriaNats::TestSupport::PKI.new(dir), ["127.0.0.1", upstream.addr[1]]).start
        begin
          kase = cases.build(7, 0, port: broker.port)
          broker.arm(kase)
          TCPSocket.open("127.0.0.1", broker.port) do |socket|
            socket.write("CONNECT {}\r\nPING\r\n")
            socket.read
          end
          expect(broker.take_played(kase.index, broker_class::CASE_LIMIT + 1)).not_to be_nil
          ["\x16\x03\x01 a ClientHello".b, "CONNECT {}\r\n"].each do |bytes|
            TCPSocket.open("127.0.0.1", broker.port) { |socket| socket.write(bytes) }
          end
          seen = []
          eventually(10) { (seen += broker.take_violations).size >= 2 }
          sleep(0.2)
          texts = (seen + broker.take_violations).map(&:text)
          expect(texts).to contain_exactly(start_with("case 0 (plain_info): the client sent \"CONNECT {}"),
                                           start_with("a forwarded connection: the client sent \"CONNECT {}"))
        ensure
          broker.stop
          upstream.close
        end
      end
    end
  end

  it "survives the #{run::FIXED_CASES} cases of seed #{run::FIXED_SEED}: no crash, hang, plain text, pool growth " \
     "or memory blow-up, and the probe message through the real broker after each", bounded: time_budget + 90 do
    result = run.new(max_failures: max_failures, time_budget: time_budget).run
    puts "\n#{result.summary}"
    expect(result.failures).to be_empty, result.report
    expect(result.ran).to eq(run::FIXED_CASES), result.report
  end
end
