# frozen_string_literal: true

require "spec_helper"
require "json"
require "open3"
require "rbconfig"

# `rake bench` with tiny counts and one round: every scenario runs for every
# contender and lands in the JSON, so the full benchmark is known to work.
RSpec.describe "rake bench (bench/run.rb), smoke run with tiny counts" do
  root = File.expand_path("../..", __dir__)
  fan_in = [300, 600]
  flows = %w[bare connection connector queued floor]
  levels = %w[connection bare connector]
  expected = {
    "publish" => levels, "publish_distinct" => levels, "receive" => %w[connection bare], "request_reply" => levels,
    "fan_in_300" => flows, "fan_in_600" => flows, "intake" => flows, "decode_reply" => %w[bare connector floor],
    "decode_request" => %w[bare connector floor], "connect" => levels, "idle" => levels
  }

  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-bench-smoke")
    env = { "BENCH_ROUNDS" => "1", "BENCH_COUNT" => "2000", "BENCH_ROUND_TRIPS" => "50",
            "BENCH_FAN_IN" => fan_in.join(","), "BENCH_FAN_IN_CONNECTIONS" => "4", "BENCH_INTAKE" => "500",
            "BENCH_CONNECTS" => "2", "BENCH_IDLE_SECONDS" => "1", "BENCH_GAP" => "3", "BENCH_RESULTS" => @dir,
            "NATS_BARE" => ChoriaNats::TestSupport::NatsBare.binary }
    # coreutils' timeout TERMs the runner, whose ensure blocks stop its broker and children.
    @output, @status = Open3.capture2e(env, "timeout", "110", RbConfig.ruby, File.join(root, "bench", "run.rb"),
                                       chdir: root)
    json = File.join(@dir, "latest.json")
    @results = File.exist?(json) ? JSON.parse(File.read(json)) : {}
  end

  after(:all) { FileUtils.rm_rf(@dir) }

  it "finishes successfully within its time limit and prints the table of targets", bounded: 5 do
    expect(@status).to be_success, @output
    expect(@output).to include("Medians over 1 round(s)", "Targets", "Whole run")
  end

  it "writes every scenario with every contender to latest.json", bounded: 5 do
    expect(@results.fetch("scenarios", {}).keys).to match_array(expected.keys)
    expected.each do |scenario, contenders|
      expect(@results["scenarios"][scenario]["contenders"].keys).to match_array(contenders), scenario
    end
  end

  it "has a value for every metric of every contender (a floor loses nothing: it has no network)", bounded: 5 do
    @results.fetch("scenarios", {}).each do |scenario, data|
      data["contenders"].each do |who, contender|
        contender["metrics"].each do |metric, stats|
          next if who == "floor" && metric == "lost"

          expect(stats["value"]).to be_a(Numeric), "#{scenario} #{who} #{metric}: #{stats.inspect}"
        end
      end
    end
  end

  it "reports each target check with a verdict, the timings and a chart", bounded: 5 do
    labels = @results.fetch("checks", []).map { |check| "#{check['scenario']}: #{check['label']}" }
    expect(labels).to include("publish: connection / bare msgs/s", "publish_distinct: connection / bare msgs/s",
                              "receive: connection / bare msgs/s",
                              "request_reply: connection / bare p50 latency", "intake: connector / floor msgs/s",
                              "fan_in_600: connector / floor msgs/s", "connect: connection / bare connect time",
                              "idle: connection idle CPU, ms per 10 s",
                              "idle: connector idle CPU, ms per 10 s", "publish: connector / bare msgs/s",
                              "request_reply: connector / bare p50 latency", "connect: connector / bare connect time")
    expect(@results.dig("timings", "total")).to be > 0
    expect(File.read(File.join(@dir, "latest.svg"))).to start_with("<svg").and include("connector / floor")
  end
end
