# frozen_string_literal: true

require "spec_helper"
require_relative "../../rakelib/settings_doc"

RSpec.describe ChoriaNats::SettingsDoc do
  let(:document) { File.read(described_class::PATH, encoding: "UTF-8") }

  it "finds docs/configuration.md's settings table as the native table gives it (else run rake docs:settings)" do
    expect(document).to eq(described_class.update(document))
  end

  it "lists every setting of the native table, by its MCollective key or its option" do
    ChoriaNats::SETTINGS.each do |row|
      expect(described_class.table).to include("| `#{row[:key] || row[:name]}`")
    end
  end

  it "shows Choria's other spellings next to the key" do
    expect(described_class.table).to include(
      "| `plugin.choria.use_srv_records` (or go-choria's `plugin.choria.use_srv`) |",
      "| `plugin.choria.srv_domain` (Choria's `CHORIA_SRV_DOMAIN` overrides it) |",
      "| `plugin.choria.federation.collectives` (Choria's `CHORIA_FED_COLLECTIVE` overrides it) |"
    )
  end

  it "shows defaults in their units and the environment fall-backs" do
    table = described_class.table
    expect(table).to include("| `plugin.choria.network.connect_timeout` | `connect_timeout` | seconds | 2 s | " \
                             "a number of seconds above 0 and at most 120 |")
    expect(table).to include("| bytes | 64 MiB |", "| messages | 250,000 |", "| port | 8140 |")
    expect(table).to include("| `MCOLLECTIVE_NATS_USERNAME`, else none |")
  end

  it "replaces only what lies between the begin and end lines" do
    stale = "# T\n\n#{described_class::BEGIN_LINE}\n| old |\n#{described_class::END_LINE}\n\nafter\n"
    expect(described_class.update(stale))
      .to eq("# T\n\n#{described_class::BEGIN_LINE}\n#{described_class.table}#{described_class::END_LINE}\n\nafter\n")
    expect { described_class.update("# T\n") }.to raise_error(ArgumentError, /no line/)
  end
end
