# frozen_string_literal: true

require "spec_helper"

RSpec.describe ChoriaNats::BoundedCommand do
  it "gives the standard output of a command that succeeds" do
    expect(described_class.output(["sh", "-c", "echo example.net; echo noise >&2"], 5)).to eq("example.net\n")
  end

  it "gives nil for a command that fails or is missing" do
    expect(described_class.output(["sh", "-c", "echo partial; exit 3"], 5)).to be_nil
    expect(described_class.output(["/nonexistent/facter"], 5)).to be_nil
  end

  it "kills a command that outlives the time it is given, and gives nil", bounded: 10 do
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    expect(described_class.output(%w[sleep 30], 0.3)).to be_nil
    expect(Process.clock_gettime(Process::CLOCK_MONOTONIC) - started).to be < 5
  end
end
