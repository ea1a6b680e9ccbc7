# frozen_string_literal: true

require "spec_helper"
require "pathname"

# A real nats-server in operator mode (JWT accounts, resolver MEMORY) behind verified TLS, with the
# operator, accounts and users made by the tests (spec/support/nats_accounts.rb).
RSpec.describe ChoriaNats::Connection, "NATS credentials files" do
  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-creds")
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "ssl"))
    @accounts = ChoriaNats::TestSupport::NatsAccounts.new(File.join(@dir, "creds"))
    @broker = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "broker"),
                                                      extra: @accounts.server_config).start
  end

  after(:all) do
    @broker&.stop
    FileUtils.rm_rf(@dir)
  end

  after { close_clients }

  let(:pki) { @pki }
  let(:accounts) { @accounts }
  let(:broker) { @broker }

  def refusal(**overrides)
    ChoriaNats::Connection.connect(**client_options(pki, broker, **overrides))
    raise "connected, but a refusal was expected"
  rescue ChoriaNats::Error => e
    e
  end

  # The seed line of a creds file.
  def seed_in(path)
    File.read(path)[/^SU[A-Z2-7]+$/]
  end

  it "connects with a valid file and publishes, subscribes and receives, never logging the seed or JWT",
     bounded: 60 do
    creds = accounts.creds("good")
    connection = connect_client(pki, broker, credentials: creds)
    connection.subscribe("creds.test")
    connection.publish("creds.test", "over JWT auth")
    expect(connection.receive(5)).to eq(["creds.test", nil, "over JWT auth"])

    logger = client_options(pki, broker)[:logger]
    other = connect_client(pki, broker, credentials: creds, logger: logger)
    text = logger.lines.map(&:last).join("\n")
    expect(text).to include("Using the NATS credentials in #{creds} for user U")
    jwt = File.read(creds)[/^eyJ\S+$/]
    expect(text).not_to include(seed_in(creds))
    expect(text).not_to include(jwt)
    expect(other.inspect).not_to include(seed_in(creds))
  end

  it "accepts a Pathname", bounded: 60 do
    connection = connect_client(pki, broker, credentials: Pathname.new(accounts.creds("pathname")))
    expect(connection).to be_connected
  end

  it "explains in one line that the broker refused a user whose account it does not trust", bounded: 60 do
    creds = accounts.creds("stranger", issuer: accounts.stranger)
    error = refusal(credentials: creds)
    expect(error).to be_a(ChoriaNats::AuthenticationError)
    expect(error.message).to eq(
      "The NATS broker #{broker.address} (config) refused the credentials in #{creds} (authorization " \
      "violation): check that the user's account is one the broker trusts (its operator and resolver " \
      "preload it), that the user was not revoked, and that the broker's clock agrees the JWT is valid"
    )
  end

  it "refuses a seed that is not the JWT's user, before connecting", bounded: 60 do
    creds = accounts.creds("mixed", seed_of: ChoriaNats::TestSupport::NatsAccounts::NKey.new(:user))
    error = refusal(credentials: creds)
    expect(error).to be_a(ChoriaNats::ConfigurationError)
    expect(error.message).to match(
      /\AThe NATS credentials file #{Regexp.escape(creds)} holds the JWT of user U[A-Z2-7]+ with the seed of another user, U[A-Z2-7]+: the JWT and the seed must come from the same \.creds file\z/ # rubocop:disable Layout/LineLength
    )
    expect(error.message).not_to include(seed_in(creds))
  end

  it "refuses an expired user JWT in one line", bounded: 60 do
    creds = accounts.creds("expired", expires: Time.utc(2026, 1, 2, 3, 4, 5))
    error = refusal(credentials: creds)
    expect(error).to be_a(ChoriaNats::ConfigurationError)
    expect(error.message).to eq(
      "The NATS credentials file #{creds} holds a user JWT that expired at 2026-01-02 03:04:05 UTC (by this " \
      "machine's clock): ask the account's operator for new credentials (nsc generate creds)"
    )
  end

  it "refuses a file other users can read before dialling any broker", bounded: 60 do
    creds = accounts.creds("open", mode: 0o640)
    # Nothing listens on this port: a dial would fail with a connection error instead.
    error = refusal(credentials: creds, servers: ["127.0.0.1:#{ChoriaNats::TestSupport::NatsServer.free_port}"])
    expect(error).to be_a(ChoriaNats::ConfigurationError)
    expect(error.message).to eq(
      "The NATS credentials file #{creds} is open to other users (mode 0640): it holds a secret seed; run " \
      "`chmod 600 #{creds}` (and, if someone may have copied it, ask for new credentials)"
    )
  end

  {
    "garbage" => ["\x00\x01 not creds at all\n", "holds no -----BEGIN NATS USER JWT----- block"],
    "a JWT without its seed" => ["-----BEGIN NATS USER JWT-----\neyJhIjoxfQ.eyJhIjoxfQ.c2ln\n" \
                                 "------END NATS USER JWT------\n", "holds no -----BEGIN USER NKEY SEED----- block"],
    "a damaged seed" => [nil, "has a seed that is not a valid nkey seed"]
  }.each do |what, (text, expected)|
    it "refuses #{what} in one line naming the file", bounded: 60 do
      path = if text
               accounts.write("#{what.tr(' ', '-')}.creds", text)
             else
               good = File.read(accounts.creds("damaged"))
               accounts.write("damaged.creds", good.sub(/^(SU[A-Z2-7]+)$/) { Regexp.last_match(1).reverse })
             end
      error = refusal(credentials: path)
      expect(error).to be_a(ChoriaNats::ConfigurationError)
      expect(error.message).to start_with("The NATS credentials file #{path} #{expected}")
      expect(error.message).not_to include("\n")
    end
  end

  it "refuses a file that does not exist", bounded: 60 do
    error = refusal(credentials: File.join(@dir, "none.creds"))
    expect(error).to be_a(ChoriaNats::ConfigurationError)
    expect(error.message).to include("none.creds does not exist: check plugin.nats.credentials")
  end

  it "refuses a user name and a credentials file together, saying which to keep" do
    error = refusal(credentials: accounts.creds("both"), user: "mco", password: "pw")
    expect(error).to be_a(ChoriaNats::ConfigurationError)
    expect(error.message).to include("keep the credentials file for a broker with JWT accounts")
  end

  it "reads the file again at each reconnect, so a fixed or rotated file is taken without a restart",
     bounded: 90 do
    creds = accounts.creds("rotated")
    logger = client_options(pki, broker)[:logger]
    connection = connect_client(pki, broker, credentials: creds, logger: logger, reconnect_initial_delay: 0.1,
                                             reconnect_max_delay: 0.5, reconnect_spread: 0.2)
    connection.subscribe("creds.rotated")
    File.chmod(0o644, creds)
    broker.restart
    # Log lines reach Ruby while the connection is used: receive delivers them while it waits.
    refusal_line = /\ACould not reconnect to NATS #{Regexp.escape(broker.address)} \(config\): The NATS credentials file #{Regexp.escape(creds)} is open to other users \(mode 0644\)/ # rubocop:disable Layout/LineLength
    eventually(30) { connection.receive(0.1).nil? && logger.grep(refusal_line).any? }
    File.write(creds, File.read(accounts.creds("rotated-new")))
    File.chmod(0o600, creds)
    eventually(30) { connection.receive(0.1).nil? && logger.grep(/Reconnected after connection failure/).any? }
    connection.publish("creds.rotated", "after rotation")
    expect(connection.receive(5)).to eq(["creds.rotated", nil, "after rotation"])
  end

  it "says in one line why it cannot reconnect once the broker ended the link of a user whose JWT expired",
     bounded: 90 do
    # The JWT must still be valid when the connection is made: a few seconds, on a busy machine.
    creds = accounts.creds("expiring", expires: Time.now + 6)
    logger = client_options(pki, broker)[:logger]
    connection = connect_client(pki, broker, credentials: creds, logger: logger, reconnect_initial_delay: 0.1,
                                             reconnect_max_delay: 0.5, reconnect_spread: 0.2)
    expired = /\ACould not reconnect to NATS #{Regexp.escape(broker.address)} \(config\): The NATS credentials file #{Regexp.escape(creds)} holds a user JWT that expired at / # rubocop:disable Layout/LineLength
    eventually(40) { connection.receive(0.1).nil? && logger.grep(expired).any? }
    expect(logger.grep(/\AThe NATS broker #{Regexp.escape(broker.address)} \(config\) reported: nats: User Authentication Expired\z/)).not_to be_empty # rubocop:disable Layout/LineLength
  end

  describe "with a real mcollectived and mco" do
    before(:all) do
      @pki.cert_for("node1.example.net")
      @pki.cert_for("rspec.mcollective")
      settings = { "plugin.choria.middleware_hosts" => @broker.address, "plugin.choria.ssldir" => @pki.dir,
                   "plugin.choria.use_srv_records" => "false" }
      facts = File.join(@dir, "facts.yaml")
      File.write(facts, "role: test\n")
      node_config = ChoriaNats::TestSupport::MCollectiveConfig.text(
        identity: "node1.example.net", settings: settings.merge("plugin.yaml" => facts, "loglevel" => "info",
                                                                "plugin.nats.credentials" => @accounts.creds("node"))
      )
      @node = ChoriaNats::TestSupport::Mcollectived.new(dir: File.join(@dir, "daemons"), name: "node1",
                                                        config: node_config,
                                                        env: { "MCOLLECTIVE_CERTNAME" => "node1.example.net" })
      @node.start
      @client_config = ChoriaNats::TestSupport::MCollectiveConfig.write(
        File.join(@dir, "client.cfg"), identity: "rspec-client.example.net",
                                       settings: settings.merge("connection_timeout" => "5")
      )
    end

    after(:all) { @node&.stop }

    it "lets mco ping reach a node, both logging in with credentials files (mco through the environment)",
       bounded: 120 do
      @node.wait_for_log(/Using the NATS credentials in .*node\.creds for user U[A-Z2-7]+/)
      @node.wait_for_log(/Connected to NATS #{Regexp.escape(@broker.address)} \(config\)/)
      env = { "MCOLLECTIVE_CERTNAME" => "rspec.mcollective",
              "MCOLLECTIVE_NATS_CREDENTIALS" => @accounts.creds("client") }
      output, status = ChoriaNats::TestSupport::Mcollectived.mco(@client_config, "ping", env: env)
      expect(status).to be_success, output
      expect(output).to match(/^node1\.example\.net\s+time=/).and match(/1 replies/)
    end

    it "makes mco say in one line that the broker refused its credentials", bounded: 120 do
      env = { "MCOLLECTIVE_CERTNAME" => "rspec.mcollective",
              "MCOLLECTIVE_NATS_CREDENTIALS" => @accounts.creds("mco-stranger", issuer: @accounts.stranger) }
      output, status = ChoriaNats::TestSupport::Mcollectived.mco(@client_config, "ping", env: env)
      expect(status).not_to be_success
      expect(output).to include("refused the credentials in #{File.join(@dir, 'creds', 'mco-stranger.creds')} " \
                                "(authorization violation)")
    end
  end
end
