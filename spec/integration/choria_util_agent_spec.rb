# frozen_string_literal: true

require "spec_helper"
require "json"

# mcollective-choria's own choria_util agent and DDL, run by a real mcollectived whose connector is
# this gem's, asked by a real mco. The agent reads the connector's client_version, client_flavour,
# active_options, stats, connected? and connected_server.scheme/host/port. The files are copied at
# test time from the reference release into a temporary libdir, never into the project.
RSpec.describe "mcollective-choria's choria_util agent with connector = nats (real mcollectived and mco)" do
  reference = File.expand_path("../../../shared/peers/mcollective-choria-0.16.1/lib", __dir__)

  before(:all) do
    skip "mcollective-choria 0.16.1 is not in #{reference}" unless File.directory?(reference)

    @dir = Dir.mktmpdir("choria-nats-choria-util")
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "ssl"))
    @broker = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "broker")).start
    @plugins = File.join(@dir, "plugins")
    # The agent and its DDL, and util/choria.rb, the class the agent calls for facter and the broker
    # list. On a site the reference's security plugin (securityprovider = choria) loads that class;
    # these nodes use psk, so the daemon requires it (RUBYOPT) from the temporary libdir.
    %w[agent/choria_util.rb agent/choria_util.ddl util/choria.rb].each do |file|
      FileUtils.mkdir_p(File.join(@plugins, "mcollective", File.dirname(file)))
      FileUtils.cp(File.join(reference, "mcollective", file), File.join(@plugins, "mcollective", file))
    end
    @libdir = [ChoriaNats::TestSupport::MCollectiveConfig::LIB, @plugins].join(File::PATH_SEPARATOR)
    @identity = "util-node.example.net"
    @pki.cert_for(@identity)
    facts = File.join(@dir, "facts.yaml")
    File.write(facts, "role: test\n")
    config = ChoriaNats::TestSupport::MCollectiveConfig.text(
      identity: @identity, libdir: @libdir, settings: settings.merge("plugin.yaml" => facts, "loglevel" => "info")
    )
    env = { "MCOLLECTIVE_CERTNAME" => @identity, "RUBYLIB" => @plugins, "RUBYOPT" => "-rmcollective/util/choria" }
    @node = ChoriaNats::TestSupport::Mcollectived.new(dir: File.join(@dir, "daemon"), name: @identity,
                                                      config: config, env: env).start
    @node.wait_for_log(/Connected to NATS #{Regexp.escape(@broker.address)} \(config\)/)
  end

  after(:all) do
    @node&.stop
    @broker&.stop
    FileUtils.rm_rf(@dir) if @dir
  end

  def settings
    { "plugin.choria.middleware_hosts" => @broker.address, "plugin.choria.ssldir" => @pki.dir,
      "plugin.choria.use_srv_records" => "false", "connection_timeout" => "5" }
  end

  it "answers mco rpc choria_util info with this gem's connector, broker and options", bounded: 120 do
    config = ChoriaNats::TestSupport::MCollectiveConfig.write(File.join(@dir, "client.cfg"),
                                                              identity: "util-client.example.net",
                                                              libdir: @libdir, settings: settings)
    @pki.cert_for("rspec.mcollective")
    output, status = ChoriaNats::TestSupport::Mcollectived.mco(config, "rpc", "choria_util", "info", "-I", @identity,
                                                               "--json",
                                                               env: { "MCOLLECTIVE_CERTNAME" => "rspec.mcollective" })
    expect(status).to be_success, output
    reply = JSON.parse(output[output.index("[")..]).fetch(0)
    expect(reply.values_at("sender", "statuscode")).to eq([@identity, 0]), reply.inspect
    data = reply.fetch("data")
    puts "\nchoria_util info from #{@identity}:\n#{JSON.pretty_generate(data)}" if ENV["CHORIA_NATS_SHOW"]
    expect(data).to include("connector" => "Nats", "client_version" => ChoriaNats::VERSION,
                            "connected_server" => "nats://#{@broker.address}",
                            "middleware_servers" => [@broker.address])
    expect(data["client_flavour"]).to start_with("choria-nats #{ChoriaNats::VERSION} (")
    options = data.fetch("client_options")
    expect(options).to include("name" => @identity, "servers" => [[@broker.address, "config"]])
    expect(options.keys).not_to include("tls", "password", "logger")
    expect(data.fetch("client_stats")).to include("in_msgs", "out_msgs", "reconnects")
  end
end
