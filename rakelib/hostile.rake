# frozen_string_literal: true

# `rake hostile`: hostile-broker cases against the connector (spec/hostile/run.rb,
# docs/hostile-broker.md). Without arguments it plays the fixed set bin/test
# runs; HOSTILE_ARGS passes options, for example HOSTILE_ARGS="--seed 7 --cases 0"
# to play seed 7 until Ctrl-C, or HOSTILE_ARGS="--seed 7 --case 1234" for one case.
require "shellwords"

desc "Play hostile-broker cases against the connector (HOSTILE_ARGS=\"--seed N --cases 0\" runs until Ctrl-C)"
task hostile: :compile do
  ruby File.expand_path("../spec/hostile/run.rb", __dir__), *Shellwords.split(ENV.fetch("HOSTILE_ARGS", ""))
end
