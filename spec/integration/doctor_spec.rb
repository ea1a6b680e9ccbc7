# frozen_string_literal: true

require "spec_helper"
require "open3"
require "stringio"
require "choria_nats/doctor"

# `choria-nats doctor` and `mco choria show_config` (ChoriaNats::Doctor) against
# a real nats-server that verifies client certificates, with SSL dirs laid out
# as Puppet's, each broken in one way.
RSpec.describe "choria-nats doctor and mco choria show_config" do
  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-doctor")
    File.chmod(0o755, @dir)
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "pki"))
    @broker = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "broker")).start
  end

  after(:all) do
    @broker&.stop
    FileUtils.rm_rf(@dir)
  end

  let(:pki) { @pki }
  let(:broker) { @broker }
  let(:exe) { File.expand_path("../../exe/choria-nats", __dir__) }
  let(:lib) { File.expand_path("../../lib", __dir__) }

  # An SSL dir for `certname` whose certificate and key are copies of `cert` and `key`.
  def ssldir(name, certname:, cert: pki.client_cert, key: pki.client_key, ca_file: pki.ca_file)
    dir = File.join(@dir, name)
    FileUtils.mkdir_p([File.join(dir, "certs"), File.join(dir, "private_keys")])
    FileUtils.cp(ca_file, File.join(dir, "certs", "ca.pem")) if ca_file
    FileUtils.cp(cert, File.join(dir, "certs", "#{certname}.pem")) if cert
    FileUtils.cp(key, File.join(dir, "private_keys", "#{certname}.pem")) if key
    dir
  end

  def pluginconf(ssldir, hosts: broker.address)
    { "choria.ssldir" => ssldir, "choria.middleware_hosts" => hosts, "choria.use_srv_records" => "false" }
  end

  # Runs the doctor in this process; returns [output, exit status].
  def doctor(ssldir, certname:, hosts: broker.address)
    out = StringIO.new
    status = ChoriaNats::Doctor.new(identity: "node.example.net", pluginconf: pluginconf(ssldir, hosts: hosts),
                                    config_file: "(spec)", out: out,
                                    env: { "MCOLLECTIVE_CERTNAME" => certname, "USER" => "root" }).run
    [out.string, status]
  end

  def config_file(name, ssldir, libdir: ChoriaNats::TestSupport::MCollectiveConfig::LIB)
    settings = pluginconf(ssldir).transform_keys { |key| "plugin.#{key}" }.merge("connection_timeout" => "5")
    path = ChoriaNats::TestSupport::MCollectiveConfig.write(File.join(@dir, "#{name}.cfg"),
                                                            identity: "node.example.net", libdir: libdir,
                                                            settings: settings)
    File.chmod(0o644, path)
    path
  end

  describe "a healthy node" do
    it "prints the certname, SSL dir, each check, the chain, the brokers and a real connection; exits 0" do
      output, status = doctor(ssldir("healthy", certname: "client.example.net"), certname: "client.example.net")
      expect(status).to eq(0), output
      expect(output).to include("Certname   client.example.net (from MCOLLECTIVE_CERTNAME)")
      expect(output).to include("SSL dir    #{@dir}/healthy (plugin.choria.ssldir)")
      expect(output).to include("  ok       The certificate is signed by the CA in #{@dir}/healthy/certs/ca.pem: " \
                                "CN=client.example.net, issued by CN=ChoriaNats Test CA")
      expect(output).to include("  ok       The certificate is for client.example.net, the certname")
      expect(output).to match(/^  valid    \d{4}-.* UTC to \d{4}-.* UTC$/)
      expect(output).to include("  NATS brokers from plugin.choria.middleware_hosts: #{broker.address}")
      expect(output).to include("\n  ok       #{broker.address} (config): connected over verified TLS in ")
      expect(output).to end_with("Result: all is well: this node can reach its NATS brokers over verified TLS\n")
    end

    it "runs as `choria-nats doctor --config FILE`" do
      config = config_file("healthy", ssldir("healthy-cli", certname: "client.example.net"))
      output, status = Open3.capture2e({ "MCOLLECTIVE_CERTNAME" => "client.example.net" }, "ruby", "-I", lib, exe,
                                       "doctor", "--config", config)
      expect(status.exitstatus).to eq(0), output
      expect(output).to include("Config     #{config}").and include("Identity   node.example.net")
      expect(output).to include("connected over verified TLS")
    end

    it "runs as `mco choria show_config`", bounded: 120 do
      config = config_file("show-config", ssldir("show-config", certname: "client.example.net"))
      env = { "MCOLLECTIVE_CERTNAME" => "client.example.net" }
      output, status = ChoriaNats::TestSupport::Mcollectived.mco(config, "choria", "show_config", env: env)
      expect(status.exitstatus).to eq(0), output
      expect(output).to match(/^MCollective\n  MCollective +2\.\d+\.\d+\n  choria-nats +#{ChoriaNats::VERSION} /)
      expect(output).to include(["  Config file         #{config}", "  Plugin config dir   #{@dir}/plugin.d",
                                 "  libdir              #{ChoriaNats::TestSupport::MCollectiveConfig::LIB}",
                                 "  Collectives         mcollective (main: mcollective)\n"].join("\n"))
      expect(output).to include("  Puppet CA: none configured and SRV lookups are off (plugin.choria.use_srv_records " \
                                "= false): using the default puppet:8140\n")
      expect(output).to include(["  Security provider   puppet (the default)",
                                 "  CSR path            #{@dir}/show-config/certificate_requests/" \
                                 "client.example.net.pem (absent)\n"].join("\n"))
      expect(output).to match(/^  plugin\.choria\.use_srv_records +  = false \(config\)$/)
      expect(output).to match(/^  plugin\.choria\.puppetdb_port +  = 8081 \(default\)$/)
      expect(output).to include("Config     #{config}")
      expect(output).to include("Result: all is well")
    end
  end

  it "reaches `mco choria` through the loader `choria-nats plugin install` writes", bounded: 120 do
    libdir = File.join(@dir, "installed-plugins")
    output, status = Open3.capture2e({ "RUBYLIB" => nil }, "ruby", "-I", lib, exe, "plugin", "install",
                                     "--libdir", libdir)
    expect(status.exitstatus).to eq(0), output
    expect(output).to include("created    #{libdir}/mcollective/application/choria.rb")

    config = config_file("installed", ssldir("installed", certname: "client.example.net"), libdir: libdir)
    # RUBYLIB stands for the installed gem, which the loader activates when there is one.
    env = { "MCOLLECTIVE_CERTNAME" => "client.example.net", "RUBYLIB" => lib }
    output, status = ChoriaNats::TestSupport::Mcollectived.mco(config, "choria", "show_config", env: env)
    expect(status.exitstatus).to eq(0), output
    output, status = ChoriaNats::TestSupport::Mcollectived.mco(config, "help", "choria", env: env)
    expect(status.exitstatus).to eq(0), output
    expect(output).to include("mco choria request_cert [--ca HOST[:PORT]] [--certname NAME] [--wait SECONDS]")
      .and include("mco choria show_config")
  end

  describe "each failure, and exit status 1" do
    it "a missing certificate and key: says request_cert makes them, and does not dial" do
      dir = ssldir("missing", certname: "nobody.example.net", cert: nil, key: nil)
      output, status = doctor(dir, certname: "nobody.example.net")
      expect(status).to eq(1)
      expect(output).to include("  PROBLEM  The certificate file #{dir}/certs/nobody.example.net.pem does not exist: " \
                                "`mco choria request_cert` creates the certificate, key and CA files")
      expect(output).to include("  PROBLEM  The private key file #{dir}/private_keys/nobody.example.net.pem does not")
      expect(output).to include("  skipped  Not connecting to #{broker.address}: fix the certificate files first")
      expect(output).to include("Result: 2 problems; the first: The certificate file")
    end

    it "a certificate another CA signed" do
      dir = ssldir("foreign", certname: "foreign.example.net", cert: pki.foreign_client_cert,
                              key: pki.foreign_client_key)
      output, status = doctor(dir, certname: "foreign.example.net")
      expect(status).to eq(1)
      expect(output).to include("  PROBLEM  The certificate #{dir}/certs/foreign.example.net.pem is not signed by " \
                                "the CA in #{dir}/certs/ca.pem: it was issued by CN=ChoriaNats Foreign CA")
    end

    it "a certificate for another name than the certname, though the broker accepts it" do
      dir = ssldir("other-name", certname: "alice.mcollective")
      output, status = doctor(dir, certname: "alice.mcollective")
      expect(status).to eq(1)
      expect(output).to include("  PROBLEM  The certificate #{dir}/certs/alice.mcollective.pem is for " \
                                "client.example.net, not for the certname alice.mcollective")
      expect(output).to include("(config): connected over verified TLS")
      expect(output).to include("Result: 1 problem; the first: The certificate")
    end

    it "a key that does not belong to the certificate" do
      dir = ssldir("mismatch", certname: "client.example.net", key: pki.mismatched_client_key)
      output, status = doctor(dir, certname: "client.example.net")
      expect(status).to eq(1)
      expect(output).to include("  PROBLEM  The private key #{dir}/private_keys/client.example.net.pem does not " \
                                "belong to the certificate #{dir}/certs/client.example.net.pem")
    end

    it "an expired certificate" do
      cert, key = ChoriaNats::TestSupport::ExtraCertificates.issue(pki, @dir, "old.example.net",
                                                                   validity: [-400 * 86_400, -86_400])
      dir = ssldir("expired", certname: "old.example.net", cert: cert, key: key)
      output, status = doctor(dir, certname: "old.example.net")
      expect(status).to eq(1)
      expect(output).to match(/^  PROBLEM  The certificate #{Regexp.escape(dir)}\S+ expired at \d{4}-\d\d-\d\d /)
      expect(output).to match(/^  ok       The certificate is signed by the CA/)
    end

    it "a broker that does not answer, next to one that does" do
      port = ChoriaNats::TestSupport::NatsServer.free_port
      hosts = "#{broker.address},127.0.0.1:#{port}"
      output, status = doctor(ssldir("one-down", certname: "client.example.net"), certname: "client.example.net",
                                                                                  hosts: hosts)
      expect(status).to eq(1)
      expect(output).to include("  NATS brokers from plugin.choria.middleware_hosts: #{hosts.sub(',', ', ')}")
      expect(output).to include("  ok       #{broker.address} (config): connected")
      expect(output).to include("  PROBLEM  The NATS broker 127.0.0.1:#{port} (config) refused the connection: is " \
                                "nats-server running and listening on that port?")
    end

    it "a key this user cannot read (run as an ordinary user)", bounded: 120 do
      skip "needs root to make a key another user cannot read" unless Process.uid.zero?

      user = ChoriaNats::TestSupport::UnprivilegedUser.shared
      dir = ssldir("unreadable", certname: "client.example.net")
      FileUtils.chmod_R("a+rX", dir)
      key = File.join(dir, "private_keys", "client.example.net.pem")
      File.chmod(0o600, key)
      config = config_file("unreadable", dir, libdir: user.lib)
      output, status = user.run("ruby", "-I", user.lib, user.exe, "doctor", "--config", config,
                                home: user.directory(File.join(@dir, "home")),
                                env: { "MCOLLECTIVE_CERTNAME" => "client.example.net" })
      expect(status.exitstatus).to eq(1), output
      expect(output).to include("  PROBLEM  The private key file #{key} cannot be read by this user: fix its " \
                                "permissions or run as its owner")
    end
  end

  describe "the connector checks the certificate before connecting" do
    it "mco fails with one line when the certificate is not for the certname", bounded: 120 do
      config = config_file("mco-other-name", ssldir("mco-other-name", certname: "alice.mcollective"))
      env = { "MCOLLECTIVE_CERTNAME" => "alice.mcollective" }
      output, status = ChoriaNats::TestSupport::Mcollectived.mco(config, "ping", env: env)
      expect(status).not_to be_success
      expect(output).to include("is for client.example.net, not for the certname alice.mcollective")
    end
  end
end
