# frozen_string_literal: true

# Plays hostile-broker cases against ChoriaNats::Connection (see
# docs/hostile-broker.md). Exits 0 when every case passed, 1 when one failed.
#
#   ruby spec/hostile/run.rb                         # the fixed set bin/test runs
#   ruby spec/hostile/run.rb --seed 7 --cases 0      # seed 7, until Ctrl-C
#   ruby spec/hostile/run.rb --seed 7 --case 1234    # case 1234 of seed 7 alone
require "optparse"

%w[pki nats_server hostile_cases hostile_broker hostile_run].each do |name|
  require File.expand_path("../support/#{name}", __dir__)
end

run = ChoriaNats::TestSupport::HostileRun
options = { seed: run::FIXED_SEED, cases: run::FIXED_CASES, first: 0, lanes: run::LANES, lib: run::DEFAULT_LIB }
OptionParser.new do |parser|
  parser.banner = "Usage: ruby spec/hostile/run.rb [options]"
  parser.on("--seed N", Integer, "seed of the cases (#{run::FIXED_SEED})") { |n| options[:seed] = n }
  parser.on("--cases N", Integer, "cases to play, 0 for until Ctrl-C (#{run::FIXED_CASES})") { |n| options[:cases] = n }
  parser.on("--first N", Integer, "index of the first case (0)") { |n| options[:first] = n }
  parser.on("--case N", Integer, "play case N alone") do |n|
    options[:first] = n
    options[:cases] = 1
  end
  parser.on("--lanes N", Integer, "cases played at once, each with its own child (#{run::LANES})") do |n|
    options[:lanes] = n
  end
  parser.on("--lib DIR", "the lib directory the child loads choria_nats from (this checkout's)") do |dir|
    options[:lib] = dir
  end
  parser.on("--max-failures N", Integer, "stop after N failing cases") { |n| options[:max_failures] = n }
  parser.on("--time-budget SECONDS", Float, "start no case after this many seconds") { |s| options[:time_budget] = s }
  parser.on("-v", "--verbose", "print each failing case as it is found") { options[:verbose] = true }
end.parse!

hostile = run.new(**options)
trap("INT") { hostile.stop! }
result = hostile.run
puts result.report
exit(result.failures.empty? && !result.stopped.to_s.start_with?("time budget") ? 0 : 1)
