# frozen_string_literal: true

require "spec_helper"

RSpec.describe ChoriaNats::PluginSettings do
  def settings(conf = {}, env = {})
    described_class.new(conf, env: env)
  end

  it "has the settings table's defaults" do
    s = settings
    expect([s.middleware_hosts, s.srv_domain, s.ssldir, s.user, s.password]).to all(be_nil)
    expect(s.use_srv?).to be(true)
    expect(s.randomize?).to be(true)
    expect(s.connect_timeout).to eq(2.0)
    expect(s.legacy_certificates?).to be(false)
    expect(s.connection_options).to eq(user: nil, password: nil, connect_timeout: 2.0, randomize: true,
                                       srv_nameserver: nil, legacy_certificates: false,
                                       reconnect_initial_delay: 0.5, reconnect_max_delay: 60.0, reconnect_spread: 25.0,
                                       receive_buffer_bytes: nil, outgoing_buffer_bytes: nil, credentials: nil)
  end

  %w[receive_buffer_bytes outgoing_buffer_bytes].each do |name|
    it "reads plugin.choria.network.#{name} as a whole number of bytes" do
      expect(settings("choria.network.#{name}" => "8388608").connection_options).to include(name.to_sym => 8_388_608)
      ["0", "-1", "lots", "1.5"].each do |bad|
        expect { settings("choria.network.#{name}" => bad).public_send(name) }
          .to raise_error(ChoriaNats::ConfigurationError,
                          "plugin.choria.network.#{name} must be a whole number of bytes above 0, not #{bad.inspect}")
      end
    end
  end

  it "reads plugin.security.support_legacy_certificates into the connection options" do
    s = settings("security.support_legacy_certificates" => "true")
    expect(s.connection_options).to include(legacy_certificates: true)
    expect { settings("security.support_legacy_certificates" => "sometimes").legacy_certificates? }
      .to raise_error(ChoriaNats::ConfigurationError,
                      'plugin.security.support_legacy_certificates must be true or false, not "sometimes"')
  end

  it "reads plugin.nats.user and plugin.nats.pass before the environment" do
    env = { "MCOLLECTIVE_NATS_USERNAME" => "envuser", "MCOLLECTIVE_NATS_PASSWORD" => "envpw" }
    expect(settings({}, env).user).to eq("envuser")
    expect(settings({}, env).password).to eq("envpw")
    expect(settings({ "nats.user" => "cfguser", "nats.pass" => "cfgpw" }, env).user).to eq("cfguser")
    expect(settings({ "nats.user" => "cfguser", "nats.pass" => "cfgpw" }, env).password).to eq("cfgpw")
  end

  it "reads plugin.nats.credentials before MCOLLECTIVE_NATS_CREDENTIALS, into the connection options" do
    env = { "MCOLLECTIVE_NATS_CREDENTIALS" => "/env/user.creds" }
    expect(settings({}, env).connection_options).to include(credentials: "/env/user.creds")
    expect(settings({ "nats.credentials" => "/etc/nats/user.creds" }, env).credentials).to eq("/etc/nats/user.creds")
  end

  it "refuses plugin.nats.ngs = true, saying what to set instead" do
    expect(settings("nats.ngs" => "false").connection_options).to include(credentials: nil)
    expect { settings("nats.ngs" => "yes").connection_options }
      .to raise_error(ChoriaNats::ConfigurationError,
                      /\Aplugin\.nats\.ngs = true is not supported: .* set plugin\.nats\.credentials/)
  end

  it "never shows the password in inspect" do
    expect(settings("nats.user" => "u", "nats.pass" => "hunter2").inspect).not_to include("hunter2")
  end

  it "parses booleans the way MCollective does and refuses others" do
    expect(settings("choria.use_srv_records" => "no").use_srv?).to be(false)
    expect(settings("choria.randomize_middleware_hosts" => "false").randomize?).to be(false)
    expect { settings("choria.use_srv_records" => "maybe").use_srv? }
      .to raise_error(ChoriaNats::ConfigurationError,
                      'plugin.choria.use_srv_records must be true or false, not "maybe"')
  end

  it "bounds the connect timeout" do
    expect(settings("choria.network.connect_timeout" => "5").connect_timeout).to eq(5.0)
    expect { settings("choria.network.connect_timeout" => "121").connect_timeout }
      .to raise_error(ChoriaNats::ConfigurationError, /at most 120, or a duration .*, not "121"/)
  end

  it "reads the reconnect back-off from plugin.choria.network.* and bounds it" do
    s = settings("choria.network.reconnect_spread" => "90", "choria.network.reconnect_max_delay" => "180",
                 "choria.network.reconnect_initial_delay" => "0.2")
    expect(s.connection_options).to include(reconnect_initial_delay: 0.2, reconnect_max_delay: 180.0,
                                            reconnect_spread: 90.0)
    expect { settings("choria.network.reconnect_spread" => "0").reconnect_spread }
      .to raise_error(ChoriaNats::ConfigurationError,
                      "plugin.choria.network.reconnect_spread must be a number of seconds above 0 and at most 3600, " \
                      'or a duration such as 2s, 500ms, 1m30s or 1h, not "0"')
    expect { settings("choria.network.reconnect_max_delay" => "soon").reconnect_max_delay }
      .to raise_error(ChoriaNats::ConfigurationError, /reconnect_max_delay must be a number of seconds/)
  end

  it "gives every Connection option an MCollective key sets, read from that key" do
    rows = ChoriaNats::SETTINGS.select { |row| row[:role] == :option && row[:key] }
    expect(settings.connection_options(daemon: true).keys).to match_array(rows.map { |row| row[:name].to_sym })
    conf = { "choria.network.connect_timeout" => "7", "choria.randomize_middleware_hosts" => "no",
             "choria.srv_nameserver" => "127.0.0.1:5353", "nats.user" => "u", "nats.pass" => "p" }
    expect(settings(conf).connection_options)
      .to include(connect_timeout: 7.0, randomize: false, srv_nameserver: "127.0.0.1:5353", user: "u", password: "p")
  end

  it "gives the status file and the metrics port to the daemon only" do
    conf = { "choria.status_file_path" => "/var/run/choria-nats.json", "choria.stats_port" => "9100",
             "choria.stats_address" => "::1" }
    monitoring = { status_file_path: "/var/run/choria-nats.json", status_update_interval: 30.0,
                   stats_port: 9100, stats_address: "::1" }
    expect(settings(conf).connection_options(daemon: true)).to include(monitoring)
    expect(settings(conf).connection_options.keys & monitoring.keys).to be_empty
    expect { settings("choria.stats_port" => "0").stats_port }
      .to raise_error(ChoriaNats::ConfigurationError, 'plugin.choria.stats_port must be a port number, not "0"')
  end

  it "says what a bad value must be in the native table's one wording" do
    expect { settings("choria.network.connect_timeout" => "soon").connect_timeout }
      .to raise_error(ChoriaNats::ConfigurationError,
                      "plugin.choria.network.connect_timeout must be a number of seconds above 0 and at most 120, " \
                      'or a duration such as 2s, 500ms, 1m30s or 1h, not "soon"')
  end

  it "reads seconds written as go-choria's durations, and names the accepted forms when it cannot" do
    expect(settings("choria.network.connect_timeout" => "2s").connect_timeout).to eq(2.0)
    s = settings("choria.network.reconnect_spread" => "1m30s", "choria.network.reconnect_initial_delay" => "500ms",
                 "choria.network.reconnect_max_delay" => "1h")
    expect(s.connection_options).to include(reconnect_spread: 90.0, reconnect_initial_delay: 0.5,
                                            reconnect_max_delay: 3600.0)
    expect { settings("choria.network.connect_timeout" => "2 parsecs").connect_timeout }
      .to raise_error(ChoriaNats::ConfigurationError,
                      "plugin.choria.network.connect_timeout must be a number of seconds above 0 and at most 120, " \
                      'or a duration such as 2s, 500ms, 1m30s or 1h, not "2 parsecs"')
  end

  describe "go-choria's spellings" do
    it "reads plugin.choria.use_srv when plugin.choria.use_srv_records is not set" do
      expect(settings("choria.use_srv" => "false").use_srv?).to be(false)
      expect(settings("choria.use_srv" => "false").warnings).to eq([])
    end

    it "uses plugin.choria.use_srv_records when both are set, and says so once when they disagree" do
      s = settings("choria.use_srv" => "false", "choria.use_srv_records" => "yes")
      2.times { expect(s.use_srv?).to be(true) }
      expect(s.warnings).to eq(["plugin.choria.use_srv_records = true and plugin.choria.use_srv = false disagree: " \
                                "using plugin.choria.use_srv_records"])
      expect(settings("choria.use_srv" => "no", "choria.use_srv_records" => "false").warnings(all: true)).to eq([])
    end

    it "lets CHORIA_SRV_DOMAIN override plugin.choria.srv_domain, as go-choria does, warning when they differ" do
      expect(settings({}, "CHORIA_SRV_DOMAIN" => "env.example.net").srv_domain).to eq("env.example.net")
      s = settings({ "choria.srv_domain" => "file.example.net" }, "CHORIA_SRV_DOMAIN" => "env.example.net")
      expect(s.srv_domain).to eq("env.example.net")
      expect(s.warnings).to eq(['CHORIA_SRV_DOMAIN = "env.example.net" and plugin.choria.srv_domain = ' \
                                '"file.example.net" disagree: using CHORIA_SRV_DOMAIN, which overrides the file ' \
                                "as in Choria"])
    end

    it "shows the other spellings in the settings table" do
      rows = ChoriaNats::SETTINGS.to_h { |row| [row[:name], row] }
      expect(rows["use_srv_records"][:also_keys]).to eq(["plugin.choria.use_srv"])
      expect(rows["srv_domain"][:override_env]).to eq("CHORIA_SRV_DOMAIN")
    end
  end

  it "gives mco MCollective's connection_timeout default from the table" do
    expect(described_class::CLIENT_CONNECT_DEADLINE).to eq(10)
  end
end
