# frozen_string_literal: true

require "spec_helper"
require "open3"

# plugin.security.provider = file against a real nats-server (verify: true), a real mcollectived and
# mco: the certificates are generated here and placed as a container would get them (ca.crt,
# tls.crt, tls.key), outside any Puppet SSL dir, and plugin.choria.ssldir is never set.
RSpec.describe "plugin.security.provider = file (real nats-server, mcollectived and mco)" do
  # The node's identity and certname.
  def node
    "file-node.example.net"
  end

  # The client's identity, its certname as root.
  def client
    ChoriaNats::TestSupport::PKI::CLIENT_NAME
  end

  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-filesec")
    File.chmod(0o755, @dir)
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "pki"))
    @broker = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "broker")).start
    @node_files = secrets("node", @pki.cert_for(node), @pki.key_for(node))
    @client_files = secrets("client", @pki.client_cert, @pki.client_key)
    facts = File.join(@dir, "facts.yaml")
    File.write(facts, "role: test\n")
    config = ChoriaNats::TestSupport::MCollectiveConfig.text(
      identity: node, settings: file_settings(@node_files).merge("plugin.yaml" => facts, "loglevel" => "info")
    )
    @node = ChoriaNats::TestSupport::Mcollectived.new(dir: File.join(@dir, "daemon"), name: node, config: config,
                                                      env: { "MCOLLECTIVE_CERTNAME" => nil }).start
    @node.wait_for_log(/Connected to NATS #{Regexp.escape(@broker.address)} \(config\)/)
  end

  after(:all) do
    @node&.stop
    @broker&.stop
    FileUtils.rm_rf(@dir)
  end

  let(:exe) { File.expand_path("../../exe/choria-nats", __dir__) }
  let(:lib) { File.expand_path("../../lib", __dir__) }

  # Copies the CA, `cert` and `key` into <dir>/secrets/<name>/ as ca.crt, tls.crt and tls.key.
  def self.secrets_in(dir, pki, name, cert, key)
    target = File.join(dir, "secrets", name)
    FileUtils.mkdir_p(target)
    { ca: pki.ca_file, cert: cert, key: key }.to_h do |role, source|
      path = File.join(target, { ca: "ca.crt", cert: "tls.crt", key: "tls.key" }.fetch(role))
      FileUtils.cp(source, path)
      [role, path]
    end
  end

  def secrets(name, cert, key)
    self.class.secrets_in(@dir, @pki, name, cert, key)
  end

  def file_settings(files)
    { "plugin.choria.middleware_hosts" => @broker.address, "plugin.choria.use_srv_records" => "false",
      "connection_timeout" => "5", "plugin.security.provider" => "file",
      "plugin.security.file.certificate" => files[:cert], "plugin.security.file.key" => files[:key],
      "plugin.security.file.ca" => files[:ca] }
  end

  # A client config named `name` for the client's files, with `changes` (a nil value drops the line).
  def client_config(name, changes = {})
    settings = file_settings(@client_files).merge(changes).compact
    path = ChoriaNats::TestSupport::MCollectiveConfig.write(File.join(@dir, "#{name}.cfg"), identity: client,
                                                                                            settings: settings)
    File.chmod(0o644, path)
    path
  end

  # mco as root, whose certname is the identity; `env` adds to (nil: removes from) the environment.
  def mco(config, *args, env: {})
    ChoriaNats::TestSupport::Mcollectived.mco(config, *args, env: { "MCOLLECTIVE_CERTNAME" => nil }.merge(env))
  end

  def expect_one_line_error(output, line)
    expect(output).to include(line)
    expect(output).not_to match(/\.rb:\d+:in /)
  end

  it "lets mco ping reach a node when both take their files only from plugin.security.file.*", bounded: 120 do
    output, status = mco(client_config("client"), "ping")
    expect(status).to be_success, output
    expect(output).to match(/^#{Regexp.escape(node)}\s+time=/)
    expect(@node.log).to include("Using certificate #{@node_files[:cert]} for certname #{node} from " \
                                 "plugin.security.file.certificate (the file security provider)")
  end

  it "expands ~ in the file paths to HOME", bounded: 120 do
    relative = @client_files.transform_values { |path| path.sub(@dir, "~") }
    config = client_config("tilde", "plugin.security.file.certificate" => relative[:cert],
                                    "plugin.security.file.key" => relative[:key],
                                    "plugin.security.file.ca" => relative[:ca])
    output, status = mco(config, "ping", env: { "HOME" => @dir })
    expect(status).to be_success, output
    expect(output).to include(node)

    output, status = mco(config, "ping", env: { "HOME" => nil })
    expect(status).not_to be_success
    expect_one_line_error(output, "plugin.security.file.ca is ~/secrets/client/ca.crt, and ~ is HOME, " \
                                  "which is not set: set HOME, or write the path in full")
  end

  it "reports the provider and its three files in choria-nats doctor", bounded: 120 do
    output, status = Open3.capture2e("ruby", "-I", lib, exe, "doctor", "--config", client_config("doctor"),
                                     unsetenv_others: false)
    expect(status.exitstatus).to eq(0), output
    expect(output).to include("Security   file (plugin.security.provider)\n" \
                              "CA file    #{@client_files[:ca]} (plugin.security.file.ca)\n" \
                              "Cert file  #{@client_files[:cert]} (plugin.security.file.certificate)\n" \
                              "Key file   #{@client_files[:key]} (plugin.security.file.key)\n")
    expect(output).not_to include("SSL dir")
    expect(output).to include("Result: all is well")
  end

  describe "refusals, each in one line" do
    it "names a file setting that is not set", bounded: 60 do
      output, status = mco(client_config("no-key", "plugin.security.file.key" => nil), "ping")
      expect(status).not_to be_success
      expect_one_line_error(output, "plugin.security.provider is file, and plugin.security.file.key is not set: " \
                                    "set it to the path of the certificate's private key (PEM)")
    end

    it "names the setting of a file that does not exist", bounded: 60 do
      missing = File.join(@dir, "secrets", "client", "nope.crt")
      output, status = mco(client_config("no-ca", "plugin.security.file.ca" => missing), "ping")
      expect(status).not_to be_success
      expect_one_line_error(output, "plugin.security.file.ca is #{missing}, which does not exist: set it to the " \
                                    "path of the CA certificates (the file provider never creates them)")
    end

    it "lists the known providers for an unknown one", bounded: 60 do
      output, status = mco(client_config("pkcs11", "plugin.security.provider" => "pkcs11"), "ping")
      expect(status).not_to be_success
      expect_one_line_error(output, 'plugin.security.provider must be puppet or file, not "pkcs11"')
    end

    it "checks the files as Puppet's: the key must match and the CA must have signed the certificate",
       bounded: 90 do
      mismatched = secrets("mismatch", @pki.client_cert, @pki.mismatched_client_key)
      output, status = mco(client_config("mismatch", "plugin.security.file.key" => mismatched[:key]), "ping")
      expect(status).not_to be_success
      expect_one_line_error(output, "does not belong to the certificate")

      foreign = secrets("foreign", @pki.foreign_client_cert, @pki.foreign_client_key)
      output, status = mco(client_config("foreign", "plugin.security.file.certificate" => foreign[:cert],
                                                    "plugin.security.file.key" => foreign[:key]), "ping")
      expect(status).not_to be_success
      expect_one_line_error(output, "is not signed by the CA in #{@client_files[:ca]}: it was issued by ")
      expect(output).to include("use a certificate from this CA, or set plugin.security.file.ca to the CA that " \
                                "issued it")
      expect(output).not_to include("request_cert")
    end

    it "says a key this user cannot read cannot be read (run as an ordinary user)", bounded: 120 do
      skip "needs root to make a key another user cannot read" unless Process.uid.zero?

      user = ChoriaNats::TestSupport::UnprivilegedUser.shared
      files = secrets("unreadable", @pki.client_cert, @pki.client_key)
      File.chmod(0o644, files[:ca], files[:cert])
      File.chmod(0o600, files[:key])
      config = client_config("unreadable", "plugin.security.file.certificate" => files[:cert],
                                           "plugin.security.file.key" => files[:key],
                                           "plugin.security.file.ca" => files[:ca], "libdir" => user.lib)
      output, status = user.run("ruby", "-I", user.lib, user.exe, "doctor", "--config", config,
                                home: user.directory(File.join(@dir, "home")),
                                env: { "MCOLLECTIVE_CERTNAME" => client })
      expect(status.exitstatus).to eq(1), output
      expect(output).to include("  PROBLEM  The private key file #{files[:key]} cannot be read by this user: fix its " \
                                "permissions or run as its owner")
    end

    it "looks in Puppet's SSL dir, not at these files, without plugin.security.provider = file", bounded: 60 do
      # An SSL dir of its own, so that root does not ask a slow `puppet config print ssldir`.
      ssldir = File.join(@dir, "empty-ssl")
      output, status = mco(client_config("puppet", "plugin.security.provider" => nil,
                                                   "plugin.choria.ssldir" => ssldir), "ping")
      expect(status).not_to be_success
      expect(output).to include("#{ssldir}/certs/ca.pem does not exist: `mco choria request_cert` creates")
      expect(output).not_to include(@client_files[:cert])
    end

    it "has mco choria request_cert refuse: the file provider cannot ask a Puppet CA", bounded: 60 do
      output, status = mco(client_config("request"), "choria", "request_cert")
      expect(status.exitstatus).to eq(1), output
      expect_one_line_error(output, "mco choria request_cert: #{ChoriaNats::FilePaths::NO_REQUEST}")
    end
  end
end
