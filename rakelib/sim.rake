# frozen_string_literal: true

# `rake sim`: the fleet simulation of sim/run.rb (docs/performance.md, Reconnect storms):
# 1,000, 5,000 and 10,000 simulated nodes through a broker restart, with the
# gem's reconnect policy and with async-nats' default, then a reply fan-out;
# SIM_ARGS="--brokers 3" runs the cluster scenarios instead (The fleet on a cluster).
# Options go through SIM_ARGS, for example SIM_ARGS="--nodes 1000 --no-fanout".
require "shellwords"

desc "Simulate 1k/5k/10k nodes reconnecting after a broker restart, and a reply fan-out (SIM_ARGS=...)"
task sim: :compile do
  ruby File.expand_path("../sim/run.rb", __dir__), *Shellwords.split(ENV.fetch("SIM_ARGS", ""))
end
