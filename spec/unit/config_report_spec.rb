# frozen_string_literal: true

require "spec_helper"
require "stringio"
require "choria_nats/config_report"

RSpec.describe ChoriaNats::ConfigReport do
  let(:out) { StringIO.new }
  let(:records) { {} }
  let(:resolver) { ->(names, _nameserver) { records.fetch(names.first, []) } }
  let(:facts) do
    described_class::Facts.new(version: "2.12.5", config_file: "/etc/mcollective/client.cfg",
                               plugin_dir: "/etc/mcollective/plugin.d", identity: "node1.example.net",
                               collectives: %w[mcollective eu], main_collective: "mcollective",
                               securityprovider: "Choria", libdirs: ["/usr/share/mcollective/plugins"])
  end

  def report(pluginconf = {}, env: {}, domain: "example.net", home: "/home/rip")
    paths = -> { ChoriaNats::SSLPaths.new(identity: facts.identity, uid: 1000, home: home, env: { "USER" => "rip" }) }
    described_class.new(mcollective: facts, pluginconf: pluginconf, out: out, env: env, ssl_paths: paths,
                        domain_lookup: -> { domain }, resolver: resolver)
  end

  it "shows MCollective's version, files and collectives, and the gem's version" do
    report.mcollective_section
    expect(out.string).to eq(<<~TEXT)

      MCollective
        MCollective         2.12.5
        choria-nats         #{ChoriaNats::VERSION} (#{ChoriaNats::NATS_CLIENT}, rustls)
        Config file         /etc/mcollective/client.cfg
        Plugin config dir   /etc/mcollective/plugin.d
        libdir              /usr/share/mcollective/plugins
        Collectives         mcollective, eu (main: mcollective)
    TEXT
  end

  it "shows the Puppet server, CA and PuppetDB with where each came from, and the facter domain" do
    records["_x-puppet._tcp.example.net"] = [["puppet1.example.net", 8140, 10, 0]]
    report({ "choria.puppetca_host" => "ca.example.net", "choria.puppetdb_port" => "8085" }).puppet_section
    expect(out.string).to eq(<<~TEXT)

      Puppet
        Facter domain       example.net
        SRV domain          example.net (facter)
        Puppet server from SRV _x-puppet._tcp.example.net: puppet1.example.net:8140
        Puppet CA from plugin.choria.puppetca_host: ca.example.net:8140
        PuppetDB from SRV _x-puppet._tcp.example.net: puppet1.example.net:8085
    TEXT
  end

  it "takes PuppetDB's own SRV records first, and says when SRV is off" do
    records["_x-puppet-db._tcp.example.net"] = [["db.example.net", 8081, 10, 0]]
    report.puppet_section
    expect(out.string).to include("  PuppetDB from SRV _x-puppet-db._tcp.example.net: db.example.net:8081\n")

    out.string = +""
    report({ "choria.use_srv_records" => "false" }, domain: nil).puppet_section
    expect(out.string).to include("  Facter domain       (none: facter is missing, failed or gave no " \
                                  "networking.domain)")
      .and include("  SRV domain          (SRV lookups are off: plugin.choria.use_srv_records = false)")
      .and include("  Puppet server: none configured and SRV lookups are off (plugin.choria.use_srv_records = " \
                   "false): using the default puppet:8140")
  end

  it "shows the security plugin, the security provider and the CSR path" do
    report({ "security.provider" => "file" }).security_section
    expect(out.string).to eq(<<~TEXT)

      Security
        securityprovider    Choria (MCollective's security plugin)
        Security provider   file (plugin.security.provider)
        CSR path            /home/rip/.puppetlabs/etc/puppet/ssl/certificate_requests/rip.mcollective.pem (absent)
    TEXT
    out.string = +""
    report.security_section
    expect(out.string).to include("  Security provider   puppet (the default)\n")
  end

  it "lists every plugin.choria.* setting of the table with its value and origin, then the keys it does not read" do
    report({ "choria.srv_domain" => "example.org", "choria.network.connect_timeout" => "zz",
             "choria.discovery_host" => "puppetdb.example.net",
             "choria.puppetdb_port" => "8085" }).choria_settings_section
    lines = out.string.lines.map(&:rstrip)
    keys = ChoriaNats::SETTINGS.map { |row| row[:key].to_s }.grep(/\Aplugin\.choria\./)
    expect(lines[0..1]).to eq(["", "plugin.choria.* settings"])
    expect(lines[2..].map { |line| line.split.first }).to eq(keys.sort + ["plugin.choria.discovery_host"])
    width = keys.map(&:size).max
    row = ->(key, value) { "  #{key.ljust(width)} = #{value}" }
    expect(lines).to include(row.call("plugin.choria.srv_domain", "example.org (config)"),
                             row.call("plugin.choria.puppetdb_port", "8085 (config)"),
                             row.call("plugin.choria.puppetca_port", "8140 (default)"),
                             row.call("plugin.choria.randomize_middleware_hosts", "true (default)"),
                             row.call("plugin.choria.puppetca_host", "(default: SRV `_x-puppet-ca._tcp`, " \
                                                                     "`_x-puppet._tcp`, then `puppet`)"),
                             row.call("plugin.choria.network.connect_timeout",
                                      "zz (config; refused: plugin.choria.network.connect_timeout must be a number " \
                                      "of seconds above 0 and at most 120, or a duration such as 2s, 500ms, " \
                                      "1m30s or 1h, not \"zz\")"),
                             row.call("plugin.choria.discovery_host",
                                      "puppetdb.example.net (config; not read by choria-nats)"))
  end

  it "tells a value from the config, from its environment variable and the default apart" do
    settings = ->(conf, env) { ChoriaNats::PluginSettings.new(conf, env: env) }
    expect(settings.call({ "nats.user" => "a" }, { "MCOLLECTIVE_NATS_USERNAME" => "b" }).origin("user"))
      .to eq([:config, "a", "plugin.nats.user"])
    expect(settings.call({ "nats.user" => " " }, { "MCOLLECTIVE_NATS_USERNAME" => "b" }).origin("user"))
      .to eq([:env, "b", "MCOLLECTIVE_NATS_USERNAME"])
    expect(settings.call({}, {}).origin("user")).to eq([:default, nil, nil])
  end
end
