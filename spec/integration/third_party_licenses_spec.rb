# frozen_string_literal: true

require "spec_helper"
require "open3"

RSpec.describe "THIRD-PARTY-LICENSES" do
  root = File.expand_path("../..", __dir__)

  it "lists exactly the crates the native library links, at their locked versions (rake licenses)", bounded: 300 do
    tree, errors, status = Open3.capture3("cargo", "tree", "--locked", "-p", "choria_nats", "-e", "normal",
                                          "--target", "x86_64-unknown-linux-gnu", "--prefix", "none",
                                          "--format", "{p}", chdir: root)
    expect(status).to be_success, errors
    linked = tree.scan(/^(\S+) v(\S+)/).map { |name, version| "#{name} #{version}" }.uniq
    linked -= linked.grep(/\Achoria_nats /)
    # UTF-8 whatever the locale: the license texts are not all ASCII.
    listed = File.read(File.join(root, "THIRD-PARTY-LICENSES"), encoding: Encoding::UTF_8)
                 .scan(/^  (\S+) (\d\S*)$/).map { |name, version| "#{name} #{version}" }.uniq
    expect(linked.size).to be > 100
    expect(listed.sort).to eq(linked.sort), "THIRD-PARTY-LICENSES is out of date with Cargo.lock: run rake licenses"
    expect(File.read(File.join(root, "LICENSE"), encoding: Encoding::UTF_8))
      .to include("Apache License", "Version 2.0, January 2004")
  end
end
