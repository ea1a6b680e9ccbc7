# frozen_string_literal: true

require "spec_helper"

RSpec.describe ChoriaNats::WarningThrottle do
  it "lets one warning a second through and counts the ones held back" do
    now = 100.0
    throttle = described_class.new(interval: 1.0, clock: -> { now })
    expect(throttle.let_through).to eq(0)
    expect(Array.new(5) { throttle.let_through }).to all(be_nil)
    now += 1.5
    expect(throttle.let_through).to eq(5)
    expect(throttle.let_through).to be_nil
  end
end
