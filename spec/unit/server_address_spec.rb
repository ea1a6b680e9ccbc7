# frozen_string_literal: true

require "spec_helper"

RSpec.describe ChoriaNats::ServerAddress do
  it "is the host:port String, with the scheme, host and port of a URI" do
    address = described_class.new("nats1.example.net:4222")
    expect([address.to_s, address.scheme, address.host, address.port])
      .to eq(["nats1.example.net:4222", "nats", "nats1.example.net", 4222])
    expect(address).to eq("nats1.example.net:4222")
    expect("#{address}").to eq("nats1.example.net:4222") # rubocop:disable Style/RedundantInterpolation
  end

  it "gives an IPv6 host without its brackets" do
    address = described_class.new("[::1]:4223")
    expect([address.host, address.port, address.to_s]).to eq(["::1", 4223, "[::1]:4223"])
  end
end
