# frozen_string_literal: true

# The Ruby half of bin/demo (run that instead: it installs what this needs).
require "choria_nats"
require "tmpdir"
%w[pki nats_server mcollective_config mcollectived].each do |file|
  require_relative "../spec/support/#{file}"
end

support = ChoriaNats::TestSupport
dir = Dir.mktmpdir("choria-nats-demo")
broker = nil
node = nil

def step(text)
  puts "\n== #{text}"
end

begin
  step "A throw-away Puppet-layout PKI in #{dir}/ssl"
  pki = support::PKI.new(File.join(dir, "ssl"))
  %w[demo-node.example.net demo.mcollective].each { |name| pki.cert_for(name) }
  puts "CA #{pki.ca_file}, certificates for localhost (the broker), demo-node.example.net, demo.mcollective"

  step "nats-server with tls { verify: true } on 127.0.0.1"
  broker = support::NatsServer.new(pki: pki, dir: File.join(dir, "broker").tap { |d| Dir.mkdir(d) }).start
  puts "listening on #{broker.address} (PID #{broker.pid})"

  settings = { "plugin.choria.middleware_hosts" => broker.address, "plugin.choria.ssldir" => pki.dir,
               "plugin.choria.use_srv_records" => "false" }
  step "mcollectived with connector = nats"
  facts = File.join(dir, "facts.yaml")
  File.write(facts, "role: demo\n")
  node_config = support::MCollectiveConfig.text(
    identity: "demo-node.example.net",
    settings: settings.merge("plugin.yaml" => facts, "loglevel" => "info", "classesfile" => File.join(dir, "c.txt"))
  )
  node = support::Mcollectived.new(dir: dir, name: "demo-node.example.net", config: node_config,
                                   env: { "MCOLLECTIVE_CERTNAME" => "demo-node.example.net" }).start
  node.wait_for_log(/Connected to NATS/)
  puts node.log.lines.grep(/choria-nats|NATS/).map { |line| line.sub(/\A.*?: /, "  ") }.join

  client_config = support::MCollectiveConfig.write(File.join(dir, "client.cfg"), identity: "demo-client.example.net",
                                                                                 settings: settings)
  env = { "MCOLLECTIVE_CERTNAME" => "demo.mcollective" }
  [%w[ping], %w[rpc rpcutil inventory]].each do |args|
    step "mco #{args.join(' ')}"
    output, status = support::Mcollectived.mco(client_config, *args, env: env)
    puts output
    raise "mco #{args.join(' ')} failed (#{status})" unless status.success?
  end
  puts "\nDemo finished: the ping and the RPC call went through NATS over verified TLS."
ensure
  node&.stop
  broker&.stop
  FileUtils.rm_rf(dir)
end
