# frozen_string_literal: true

require "spec_helper"

RSpec.describe ChoriaNats::Connection, ".native_options and .new (no broker)" do
  let(:files) { { ca_file: "/ssl/certs/ca.pem", cert_file: "/ssl/certs/n.pem", key_file: "/ssl/private_keys/n.pem" } }

  def native(**options)
    described_class.native_options(servers: ["nats1:4222"], **files, **options)
  end

  it "gives plain addresses the source config and keeps given sources" do
    options = described_class.native_options(servers: ["a:4222", ["b:4223", "srv"]], **files)
    expect(options[:servers]).to eq([["a:4222", "config"], ["b:4223", "srv"]])
  end

  it "turns retry_initial_connect into seconds, infinity for ever, nothing for one round" do
    expect(native(retry_initial_connect: true)[:retry_initial_connect]).to eq(Float::INFINITY)
    expect(native(retry_initial_connect: 30)[:retry_initial_connect]).to eq(30.0)
    expect(native(retry_initial_connect: false)).not_to have_key(:retry_initial_connect)
  end

  it "refuses unknown options, so nothing can switch verification off" do
    expect { native(verify_peer: false) }
      .to raise_error(ChoriaNats::ConfigurationError, "Unknown connection option verify_peer")
  end

  it "takes every option of the settings table and turns those in seconds into Floats" do
    options = ChoriaNats::SETTINGS.select { |row| row[:role] == :option }.map { |row| row[:name].to_sym }
    expect(described_class::OPTIONAL).to match_array(options)
    expect(native(connect_timeout: 3, publish_timeout: 1)).to include(connect_timeout: 3.0, publish_timeout: 1.0)
    expect(native(receive_capacity: 10)[:receive_capacity]).to eq(10)
  end

  it "refuses a server that is not a string" do
    expect { described_class.native_options(servers: [4222], **files) }
      .to raise_error(ChoriaNats::ConfigurationError, /must be "host:port", not 4222/)
  end

  {
    { servers: [] } => /no NATS servers given/,
    { servers: ["nats1:99999"] } => /invalid NATS server address "nats1:99999": the port is not a number/,
    { connect_timeout: 0 } => /connect_timeout must be a number of seconds above 0 and at most 120/,
    { connect_timeout: 121 } => /at most 120/,
    { password: "pw" } => /password was given without a user name/,
    { reconnect_initial_delay: 30, reconnect_max_delay: 20 } => /must not be above reconnect_max_delay/,
    { receive_capacity: 0 } => /receive_capacity must be a whole number of messages above 0, not 0/,
    { outgoing_buffer_bytes: 0 } => /outgoing_buffer_bytes must be a whole number of bytes above 0, not 0/,
    { reconnect_spread: -1 } => /reconnect_spread must be a number of seconds above 0 and at most 3600/,
    { stats_port: 9100, stats_address: "metrics.example.net" } =>
      /plugin.choria.stats_address \(the option stats_address\) must be an IP address such as 127.0.0.1 or ::1/,
    { stats_port: 0 } => /stats_port must be a port number, not 0/,
    { status_update_interval: 0 } => /status_update_interval must be a number of seconds above 0/
  }.each do |bad, message|
    it "refuses #{bad.inspect} with a clear message" do
      options = described_class.native_options(servers: ["nats1:4222"], **files, **bad)
      expect { described_class.new(options) }.to raise_error(ChoriaNats::ConfigurationError, message)
    end
  end

  it "checks the files when connecting, before dialling anything" do
    connection = described_class.new(native)
    expect(connection).not_to be_connected
    expect(connection.connected_server).to be_nil
    expect(connection.stats).to include("in_msgs" => 0, "reconnects" => 0, "skipped" => 0, "connected" => false)
    expect { connection.connect }.to raise_error(ChoriaNats::ConfigurationError, %r{/ssl/certs/ca.pem does not exist})
  end

  it "refuses to work before connect with a clear message" do
    connection = described_class.new(native)
    expect { connection.publish("a", "b") }.to raise_error(ChoriaNats::ConnectionError, /Not connected to NATS/)
  end
end
