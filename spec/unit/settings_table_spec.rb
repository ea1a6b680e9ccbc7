# frozen_string_literal: true

require "spec_helper"

RSpec.describe "ChoriaNats::SETTINGS and ChoriaNats.setting_value" do
  it "gives the native settings table as frozen rows with unique names" do
    expect(ChoriaNats::SETTINGS).to be_frozen
    expect(ChoriaNats::SETTINGS).to all(be_frozen)
    expect(ChoriaNats::SETTINGS.map { |row| row[:name] }.uniq.size).to eq(ChoriaNats::SETTINGS.size)
    expect(ChoriaNats::SETTINGS.find { |row| row[:name] == "connect_timeout" })
      .to include(type: "seconds", unit: "seconds", default: 2.0, key: "plugin.choria.network.connect_timeout",
                  role: :option, limits: "a number of seconds above 0 and at most 120")
  end

  it "reads configuration text as a value of the setting's type" do
    expect(ChoriaNats.setting_value("reconnect_spread", "90")).to eq(90.0)
    expect(ChoriaNats.setting_value("receive_buffer_bytes", "8388608")).to eq(8_388_608)
    expect(ChoriaNats.setting_value("puppetca_port", "8141")).to eq(8141)
    expect(ChoriaNats.setting_value("use_srv_records", "No")).to be(false)
    expect(ChoriaNats.setting_value("srv_domain", "example.net")).to eq("example.net")
  end

  it "refuses a value that is not what the setting takes, naming its key" do
    expect { ChoriaNats.setting_value("receive_buffer_bytes", "-1") }
      .to raise_error(ChoriaNats::ConfigurationError,
                      'plugin.choria.network.receive_buffer_bytes must be a whole number of bytes above 0, not "-1"')
    expect { ChoriaNats.setting_value("srv_names", "a") }
      .to raise_error(ChoriaNats::ConfigurationError, "The option srv_names cannot be set in a configuration file")
    expect { ChoriaNats.setting_value("verify_peer", "false") }.to raise_error(ArgumentError, /no setting/)
  end
end
