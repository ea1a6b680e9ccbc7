# frozen_string_literal: true

require "spec_helper"

RSpec.describe ChoriaNats::FilePaths do
  let(:files) do
    { "security.provider" => "file", "security.file.certificate" => "/etc/choria/tls.crt",
      "security.file.key" => "/etc/choria/tls.key", "security.file.ca" => "/etc/choria/ca.crt" }
  end

  def paths(conf, **process)
    described_class.new(identity: "node1.example.net", settings: ChoriaNats::PluginSettings.new(conf, env: {}),
                        uid: 0, env: {}, **process)
  end

  it "takes the three files from plugin.security.file.* and the certname as Puppet's files do" do
    found = paths(files)
    expect([found.ca_file, found.cert_file, found.key_file])
      .to eq(%w[/etc/choria/ca.crt /etc/choria/tls.crt /etc/choria/tls.key])
    expect([found.provider, found.certname]).to eq(%w[file node1.example.net])
    expect(found.locations).to eq([["CA file", "/etc/choria/ca.crt (plugin.security.file.ca)"],
                                   ["Cert file", "/etc/choria/tls.crt (plugin.security.file.certificate)"],
                                   ["Key file", "/etc/choria/tls.key (plugin.security.file.key)"]])
    user = described_class.new(identity: "n", settings: ChoriaNats::PluginSettings.new(files, env: {}), uid: 1000,
                               user: "rip", env: {})
    expect(user.certname).to eq("rip.mcollective")
  end

  it "expands ~ to HOME" do
    found = paths(files.merge("security.file.key" => "~/tls.key"), home: "/home/rip")
    expect(found.key_file).to eq("/home/rip/tls.key")
  end

  { "security.file.certificate" => "the certificate", "security.file.key" => "the certificate's private key",
    "security.file.ca" => "the CA certificates" }.each do |key, role|
    it "names plugin.#{key} in one line when it is not set" do
      ["", nil].each do |value|
        expect { paths(files.merge(key => value)) }
          .to raise_error(ChoriaNats::ConfigurationError,
                          "plugin.security.provider is file, and plugin.#{key} is not set: set it to the path of " \
                          "#{role} (PEM)")
      end
    end
  end

  it "gives a line naming the setting for each file that does not exist" do
    Dir.mktmpdir("choria-nats-file-paths") do |dir|
      cert = File.join(dir, "tls.crt")
      File.write(cert, "")
      found = paths(files.merge("security.file.certificate" => cert, "security.file.ca" => File.join(dir, "ca.crt")))
      expect(found.missing_files).to eq(
        ca: "plugin.security.file.ca is #{dir}/ca.crt, which does not exist: set it to the path of the CA " \
            "certificates (the file provider never creates them)",
        key: "plugin.security.file.key is /etc/choria/tls.key, which does not exist: set it to the path of the " \
             "certificate's private key (the file provider never creates them)"
      )
      check = ChoriaNats::CertificateCheck.for_paths(found)
      expect(check[:ca].line).to eq(found.missing_files[:ca])
      expect(check[:key].line).to eq(found.missing_files[:key])
      expect(check[:certificate].line).not_to include("plugin.security.file")
    end
  end
end

RSpec.describe ChoriaNats::SecurityProvider do
  def paths(conf)
    described_class.paths(ChoriaNats::PluginSettings.new(conf, env: {}), identity: "n", uid: 0, env: {},
                                                                         puppet_ssldir: -> {})
  end

  it "gives Puppet's layout by default and for puppet, and the configured files for file" do
    expect(paths("choria.ssldir" => "/srv/ssl")).to be_a(ChoriaNats::SSLPaths)
    expect(paths("choria.ssldir" => "/srv/ssl", "security.provider" => "puppet").cert_file)
      .to eq("/srv/ssl/certs/n.pem")
    file = paths("security.provider" => "file", "security.file.certificate" => "/c", "security.file.key" => "/k",
                 "security.file.ca" => "/a", "choria.ssldir" => "/srv/ssl")
    expect([file.class, file.cert_file]).to eq([ChoriaNats::FilePaths, "/c"])
  end

  it "refuses an unknown provider in one line that lists the known ones" do
    expect { paths("security.provider" => "pkcs11") }
      .to raise_error(ChoriaNats::ConfigurationError, 'plugin.security.provider must be puppet or file, not "pkcs11"')
  end
end
