# frozen_string_literal: true

require "spec_helper"
require "open3"

# `choria-nats doctor` and MCollective loading the connector in the environment daemons and cron
# jobs get: nothing but PATH (no LANG, so Ruby reads files as US-ASCII; no HOME), and LANG=C. Each
# command runs in a child process whose environment is cleared, against a real nats-server.
RSpec.describe "choria-nats without LANG or HOME" do
  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-bare")
    File.chmod(0o755, @dir)
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "pki"))
    @broker = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "broker")).start
    @ssldir = File.join(@dir, "ssl")
    FileUtils.mkdir_p([File.join(@ssldir, "certs"), File.join(@ssldir, "private_keys")])
    FileUtils.cp(@pki.ca_file, File.join(@ssldir, "certs", "ca.pem"))
    FileUtils.cp(@pki.client_cert, File.join(@ssldir, "certs", "#{certname}.pem"))
    FileUtils.cp(@pki.client_key, File.join(@ssldir, "private_keys", "#{certname}.pem"))
  end

  after(:all) do
    @broker&.stop
    FileUtils.rm_rf(@dir)
  end

  # What each example runs in, besides PATH.
  environments = { "nothing but PATH" => {}, "LANG=C" => { "LANG" => "C" } }

  # The name the PKI's client certificate is for; root's certname is the identity.
  def certname
    ChoriaNats::TestSupport::PKI::CLIENT_NAME
  end

  let(:exe) { File.expand_path("../../exe/choria-nats", __dir__) }
  let(:lib) { File.expand_path("../../lib", __dir__) }

  # A server.cfg for the broker and SSL dir; `before` goes above its settings.
  def config_file(name, before: "", ssldir: @ssldir)
    settings = { "plugin.choria.middleware_hosts" => @broker.address, "plugin.choria.use_srv_records" => "false",
                 "connection_timeout" => "5" }
    settings["plugin.choria.ssldir"] = ssldir if ssldir
    text = ChoriaNats::TestSupport::MCollectiveConfig.text(identity: certname, settings: settings)
    path = File.join(@dir, "#{name}.cfg")
    File.binwrite(path, before.b + text.b)
    File.chmod(0o644, path)
    path
  end

  # Runs `command` with only PATH and `env` set; returns [stdout+stderr, status]. As anyone but root,
  # the certname comes from MCOLLECTIVE_CERTNAME (a user's certname is <user>.mcollective).
  def bare(env, *command)
    user = Process.uid.zero? ? {} : { "MCOLLECTIVE_CERTNAME" => certname }
    Open3.capture2e({ "PATH" => ENV.fetch("PATH") }.merge(user, env), "timeout", "60", *command,
                    unsetenv_others: true, chdir: @dir)
  end

  def expect_no_backtrace(output)
    expect(output).not_to match(/\.rb:\d+:in |\(ArgumentError\)|Error\)$/)
  end

  environments.each do |description, env|
    context "with #{description}" do
      it "choria-nats doctor reads a UTF-8 comment, connects, and names the line MCollective fails on", bounded: 90 do
        config = config_file("comment", before: "# Konfiguration f\u00fcr Knoten\n")
        output, status = bare(env, "ruby", "-I", lib, exe, "doctor", "--config", config)
        expect_no_backtrace(output)
        expect(status.exitstatus).to eq(1), output
        expect(output).to include("Config     #{config}\n  PROBLEM  MCollective cannot read #{config} here: line 1 " \
                                  "is not US-ASCII, the encoding this locale gives Ruby for files: make that line " \
                                  "ASCII, or run mco and mcollectived with LANG=C.UTF-8\n")
        expect(output).to include("#{@broker.address} (config): connected over verified TLS")
        expect(output).to include("Result: 1 problem; the first: MCollective cannot read #{config} here")
      end

      it "choria-nats doctor finds all is well with an ASCII config", bounded: 90 do
        config = config_file("ascii", before: "# Configuration for the nodes\n")
        output, status = bare(env, "ruby", "-I", lib, exe, "doctor", "--config", config)
        expect(status.exitstatus).to eq(0), output
        expect(output).to include("Result: all is well")
      end

      it "MCollective loads the connector, which connects", bounded: 90 do
        config = config_file("connector")
        code = <<~RUBY
          require "mcollective"
          MCollective::Config.instance.loadconfig(ARGV.fetch(0))
          connector = MCollective::PluginManager["connector_plugin"]
          connector.connect
          puts "connected to \#{connector.connected_server} with \#{connector.class}"
          connector.disconnect
        RUBY
        output, status = bare(env, "ruby", "-I", lib, "-e", code, config)
        expect(status).to be_success, output
        expect(output).to include("connected to #{@broker.address} with MCollective::Connector::Nats")
      end
    end
  end

  environments.merge("LANG=C.UTF-8" => { "LANG" => "C.UTF-8" }).each do |description, env|
    it "choria-nats doctor names the file and line that are not UTF-8, in one line, with #{description}",
       bounded: 60 do
      config = config_file("latin1", before: "# Konfiguration f\xFCr Knoten\n".b)
      output, status = bare(env, "ruby", "-I", lib, exe, "doctor", "--config", config)
      expect(output).to eq("choria-nats: The MCollective config #{config} is not UTF-8 text: line 1 has the byte " \
                           "0xFC: save the file as UTF-8\n")
      expect(status.exitstatus).to eq(1)
    end
  end

  it "tells a user without HOME what to set, in one line", bounded: 120 do
    user = ChoriaNats::TestSupport::UnprivilegedUser.shared
    config = config_file("user", ssldir: nil)
    home = user.directory(File.join(@dir, "home"))
    output, status = user.run("ruby", "-I", user.lib, user.exe, "doctor", "--config", config,
                              home: home, env: { "HOME" => nil })
    expect(output).to eq("choria-nats: HOME is not set, and a user's SSL dir is under it " \
                         "(~/.puppetlabs/etc/puppet/ssl): set HOME to your home directory, or set " \
                         "plugin.choria.ssldir\n")
    expect(status.exitstatus).to eq(1)
  end
end
