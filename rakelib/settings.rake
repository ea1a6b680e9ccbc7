# frozen_string_literal: true

# `rake docs:settings`: writes the settings table of docs/configuration.md from the native
# settings table (ext/choria_nats/src/settings/table.rs).
namespace :docs do
  desc "Write docs/configuration.md's settings table from the native settings table"
  task settings: :compile do
    $LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
    require "choria_nats"
    require_relative "settings_doc"
    path = ChoriaNats::SettingsDoc::PATH
    File.write(path, ChoriaNats::SettingsDoc.update(File.read(path, encoding: "UTF-8")))
  end
end
