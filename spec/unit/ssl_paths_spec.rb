# frozen_string_literal: true

require "spec_helper"

RSpec.describe ChoriaNats::SSLPaths do
  let(:no_puppet) { -> {} }

  it "gives a user their home Puppet SSL dir and <user>.mcollective" do
    paths = described_class.new(identity: "node1", uid: 1000, user: "rip", home: "/home/rip", env: {},
                                puppet_ssldir: no_puppet)
    expect(paths).not_to be_root
    expect(paths.certname).to eq("rip.mcollective")
    expect(paths.certname_reason).to eq("<user>.mcollective, for the user rip")
    expect(paths.ca_file).to eq("/home/rip/.puppetlabs/etc/puppet/ssl/certs/ca.pem")
    expect(paths.cert_file).to eq("/home/rip/.puppetlabs/etc/puppet/ssl/certs/rip.mcollective.pem")
    expect(paths.key_file).to eq("/home/rip/.puppetlabs/etc/puppet/ssl/private_keys/rip.mcollective.pem")
  end

  it "gives root the identity as certname" do
    paths = described_class.new(identity: "node1.example.net", uid: 0, env: { "USER" => "root" },
                                home: "/root", puppet_ssldir: -> { "/var/lib/puppet/ssl" })
    expect(paths.certname).to eq("node1.example.net")
    expect(paths.certname_reason).to eq("the identity, as root runs the daemon")
    expected_dir = File.directory?(described_class::AIO_SSLDIR) ? described_class::AIO_SSLDIR : "/var/lib/puppet/ssl"
    expect(paths.ssl_dir).to eq(expected_dir)
  end

  it "asks Puppet for its ssldir as root when the AIO path is absent" do
    skip "the AIO SSL dir exists on this machine" if File.directory?(described_class::AIO_SSLDIR)
    paths = described_class.new(identity: "n", uid: 0, env: {}, home: "/root", puppet_ssldir: lambda {
                                                                                                "/var/lib/puppet/ssl"
                                                                                              })
    expect(paths.ssl_dir).to eq("/var/lib/puppet/ssl")
    expect(paths.ssl_dir_reason).to eq("`puppet config print ssldir`")
  end

  it "runs `puppet config print ssldir` by default, and takes a dir only from one that succeeds" do
    skip "the AIO SSL dir exists on this machine" if File.directory?(described_class::AIO_SSLDIR)
    Dir.mktmpdir("choria-nats-puppet") do |bin|
      puppet = File.join(bin, "puppet")
      File.write(puppet, "#!/bin/sh\n[ \"$*\" = 'config print ssldir' ] && echo /srv/puppet/ssl\n")
      File.chmod(0o755, puppet)
      path = ENV.fetch("PATH", nil)
      begin
        ENV["PATH"] = "#{bin}:#{path}"
        paths = described_class.new(identity: "n", uid: 0, env: {})
        expect([paths.ssl_dir, paths.ssl_dir_reason]).to eq(["/srv/puppet/ssl", "`puppet config print ssldir`"])

        File.write(puppet, "#!/bin/sh\necho /srv/puppet/ssl; exit 1\n")
        expect(described_class.new(identity: "n", uid: 0, env: {}).ssl_dir_reason)
          .to eq("the Puppet AIO SSL dir (no Puppet installed to ask)")
      ensure
        ENV["PATH"] = path
      end
    end
  end

  it "lets MCOLLECTIVE_CERTNAME and plugin.choria.ssldir override" do
    paths = described_class.new(identity: "node1", ssldir: "/srv/ssl", uid: 1000, user: "rip", home: "/home/rip",
                                env: { "MCOLLECTIVE_CERTNAME" => "ops.mcollective" }, puppet_ssldir: no_puppet)
    expect(paths.cert_file).to eq("/srv/ssl/certs/ops.mcollective.pem")
    expect(paths.certname_reason).to eq("from MCOLLECTIVE_CERTNAME")
    expect(paths.ssl_dir_reason).to eq("plugin.choria.ssldir")
  end

  it "expands ~ and ~user in plugin.choria.ssldir, and a relative path from the working directory" do
    paths = described_class.new(identity: "n", ssldir: "~/ssl", uid: 0, home: "/home/rip", env: {},
                                puppet_ssldir: no_puppet)
    expect(paths.ssl_dir).to eq("/home/rip/ssl")
    expect(paths.ca_file).to eq("/home/rip/ssl/certs/ca.pem")
    expect(described_class.new(identity: "n", ssldir: "~", uid: 0, home: "/home/rip", env: {}).ssl_dir)
      .to eq("/home/rip")
    root_home = Etc.getpwnam("root").dir
    expect(described_class.new(identity: "n", ssldir: "~root/ssl", uid: 0, env: {}).ssl_dir)
      .to eq(File.join(root_home, "ssl"))
    expect(described_class.new(identity: "n", ssldir: "ssl", uid: 0, env: {}).ssl_dir)
      .to eq(File.join(Dir.pwd, "ssl"))
  end

  it "says in one line that ~ needs HOME, and that ~user or a full path do not" do
    expect { described_class.new(identity: "n", ssldir: "~/ssl", uid: 0, env: {}, puppet_ssldir: no_puppet) }
      .to raise_error(ChoriaNats::ConfigurationError,
                      "plugin.choria.ssldir is ~/ssl, and ~ is HOME, which is not set: set HOME, or write the path " \
                      "in full (or as ~user/..., the home of a user named there)")
    expect { described_class.new(identity: "n", ssldir: "~no-such-user-here/ssl", uid: 0, env: {}) }
      .to raise_error(ChoriaNats::ConfigurationError,
                      "plugin.choria.ssldir is ~no-such-user-here/ssl, which cannot be expanded (user " \
                      "no-such-user-here doesn't exist): write the path in full")
  end

  it "tells a user without HOME what to set, in one line" do
    expect { described_class.new(identity: "n", uid: 1000, user: "rip", env: {}, puppet_ssldir: no_puppet) }
      .to raise_error(ChoriaNats::ConfigurationError,
                      "HOME is not set, and a user's SSL dir is under it (~/.puppetlabs/etc/puppet/ssl): set HOME " \
                      "to your home directory, or set plugin.choria.ssldir")
    paths = described_class.new(identity: "n", ssldir: "/srv/ssl", uid: 1000, user: "rip", env: { "HOME" => "" },
                                puppet_ssldir: no_puppet)
    expect(paths.cert_file).to eq("/srv/ssl/certs/rip.mcollective.pem")
  end

  it "needs neither HOME nor USER for root" do
    allow(Dir).to receive(:home).and_raise(ArgumentError, "couldn't find HOME environment")
    allow(Etc).to receive(:getpwuid).and_raise(ArgumentError, "can't find user for 0")
    paths = described_class.new(identity: "node1.example.net", uid: 0, env: {}, puppet_ssldir: no_puppet)
    expect(paths.certname).to eq("node1.example.net")
  end

  it "says what to set for a uid with no user name" do
    expect { described_class.new(identity: "n", uid: 4_000_000, env: { "HOME" => "/h" }, puppet_ssldir: no_puppet) }
      .to raise_error(ChoriaNats::ConfigurationError, /\ANo user name for uid 4000000 .*: set USER, or /)
  end

  it "finds the user name from the uid when USER is unset" do
    paths = described_class.new(identity: "n", uid: Process.uid.zero? ? 1 : Process.uid, env: {}, home: "/h",
                                puppet_ssldir: no_puppet)
    expect(paths.certname).to end_with(".mcollective")
  end

  it "takes --certname over MCOLLECTIVE_CERTNAME, and refuses one that is not a Puppet certname" do
    paths = described_class.new(identity: "node1", uid: 1000, user: "rip", home: "/home/rip", puppet_ssldir: no_puppet,
                                env: { "MCOLLECTIVE_CERTNAME" => "env.mcollective" }, certname: "given.mcollective")
    expect([paths.certname, paths.certname_reason]).to eq(["given.mcollective", "from --certname"])
    expect(paths.key_file).to eq("/home/rip/.puppetlabs/etc/puppet/ssl/private_keys/given.mcollective.pem")

    ["../x", "..", ".hidden", "a/b", "Upper.mcollective", "", "a b"].each do |name|
      expect { described_class.new(identity: "n", uid: 1000, user: "rip", home: "/h", env: {}, certname: name) }
        .to raise_error(ChoriaNats::ConfigurationError,
                        "The certname #{name.inspect} (--certname) is not one Puppet accepts: use lower-case " \
                        "letters, digits, '.', '-' and '_', starting with a letter or digit (it names files in " \
                        "the SSL dir)")
    end
  end
end
