# frozen_string_literal: true

require "spec_helper"
require "json"
require "stringio"
require "choria_nats/cli"

RSpec.describe "choria-nats status --check" do
  let(:dir) { Dir.mktmpdir("choria-nats-status") }
  let(:file) { File.join(dir, "status.json") }
  let(:now) { Time.now }

  after { FileUtils.rm_rf(dir) }

  def status(**changes)
    { "identity" => "node1.example.net", "connected" => true, "connected_server" => "nats1:4222",
      "connected_since" => "2026-12-01T10:00:00Z", "updated" => now.utc.iso8601,
      "certificate_expires" => (now + (400 * 86_400)).utc.iso8601, "certificate_days_left" => 400,
      "stats" => { "reconnects" => 2, "dropped" => 0, "skipped" => 0 },
      "recent" => { "seconds" => 900, "reconnects" => 0, "dropped" => 0 } }.merge(changes)
  end

  def write(content, age: 0)
    File.write(file, content.is_a?(String) ? content : JSON.generate(content))
    File.utime(now - age, now - age, file)
  end

  # [exit status, stdout] of the command line.
  def check(*options)
    out = StringIO.new
    [ChoriaNats::CLI.new(out: out, err: StringIO.new).run(["status", "--check", file, *options]), out.string]
  end

  it "is OK, exit 0, when connected, fresh, and the certificate has long to go" do
    write(status)
    code, line = check
    expect(code).to eq(0)
    expect(line).to start_with("OK: node1.example.net: connected to nats1:4222 since 2026-12-01T10:00:00Z, " \
                               "certificate valid for 400 more days | age=0s reconnects=2c")
    expect(line.lines.size).to eq(1)
  end

  it "warns, exit 1, of a certificate expiring within --cert-days and of recent reconnects or drops" do
    write(status("certificate_expires" => (now + (10 * 86_400)).utc.iso8601))
    expect(check).to match([1, /\AWARNING: node1.example.net: the certificate expires at \S+, within 14 days/])
    expect(check("--cert-days", "5").first).to eq(0)
    write(status("recent" => { "seconds" => 900, "reconnects" => 1, "dropped" => 3 }))
    expect(check).to match([1, /1 reconnects in the last 900s; 3 messages dropped in the last 900s/])
  end

  it "judges a file stale after ten writes at the interval the file says it is written at" do
    write(status("update_interval" => 120.0), age: 1199)
    expect(check.first).to eq(0)
    write(status("update_interval" => 120.0), age: 1201)
    expect(check).to match([2, /the status file is 1201s old, over 1200s/])
    write(status("update_interval" => 0.5), age: 6)
    expect(check).to match([2, /the status file is 6s old, over 5s/])
    write(status("update_interval" => "junk"), age: 299)
    expect(check.first).to eq(0)
    expect(check("--max-age", "100")).to match([2, /over 100s/])
  end

  it "is CRITICAL, exit 2, when the file is missing or stale, not connected, or the certificate expired" do
    expect(check).to match([2, /\ACRITICAL: #{Regexp.escape(file)} does not exist/])
    write(status, age: 301)
    expect(check).to match([2, /the status file is 301s old, over 300s/])
    expect(check("--max-age", "600").first).to eq(0)
    write(status("connected" => false, "connected_server" => ""))
    expect(check).to match([2, /\ACRITICAL: node1.example.net: not connected to NATS/])
    write(status("certificate_expires" => (now - 60).utc.iso8601, "recent" => { "reconnects" => 1 }))
    expect(check).to match([2, /the certificate expired at .*; 1 reconnects/])
  end

  it "is UNKNOWN, exit 3, for a file it cannot read as a status file and for a bad command line" do
    write("not json\n")
    expect(check).to match([3, /\AUNKNOWN: #{Regexp.escape(file)} is not a status file: /])
    write("[1]")
    expect(check).to match([3, /it is not a JSON object/])
    write({ "identity" => "x" })
    expect(check).to match([3, /it has no connected, updated/])
    write("#{' ' * (70 * 1024)}{}")
    expect(check).to match([3, /is over 65536 bytes/])
    expect(check("--max-age", "-1")).to match([3, /\AUNKNOWN: .*--max-age must be a number above 0, not -1.0/])
    out = StringIO.new
    expect(ChoriaNats::CLI.new(out: out, err: StringIO.new).run(%w[status])).to eq(3)
    expect(out.string).to start_with("UNKNOWN: choria-nats status: --check FILE is required")
  end

  it "keeps the line one line whatever the file holds" do
    write(status("identity" => "evil\nOK: | x=1"))
    code, line = check
    expect(code).to eq(0)
    expect(line.count("\n")).to eq(1)
    expect(line.count("|")).to eq(1)
  end
end
