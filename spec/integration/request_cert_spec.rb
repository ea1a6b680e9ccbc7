# frozen_string_literal: true

require "spec_helper"
require "digest"

# `mco choria request_cert`, the real command (Debian's mco with this gem's
# application) run as an ordinary user, against a real Puppet CA: Debian's
# puppetserver, started once for the run (TestSupport::PuppetServer). The
# specs sign requests with `puppetserver ca sign`, as a CA's administrator would.
RSpec.describe "mco choria request_cert against a real puppetserver CA" do
  before(:all) do
    skip "puppetserver is not installed (bin/setup installs it)" unless ChoriaNats::TestSupport::PuppetServer.available?

    @ca = ChoriaNats::TestSupport::PuppetServer.shared
    @user = ChoriaNats::TestSupport::UnprivilegedUser.shared
    @dir = Dir.mktmpdir("choria-nats-request-cert")
    File.chmod(0o755, @dir)
    puts format("\n  puppetserver CA on %<address>s, ready %<seconds>.0fs after its start",
                address: @ca.address, seconds: @ca.started_in)
  end

  after(:all) { FileUtils.rm_rf(@dir) if @dir }

  let(:ca) { @ca }
  let(:user) { @user }

  def client_config(name, port: ca.port, extra: {})
    settings = { "plugin.choria.puppetca_host" => "127.0.0.1", "plugin.choria.puppetca_port" => port.to_s,
                 "plugin.choria.use_srv_records" => "false", "plugin.choria.middleware_hosts" => "127.0.0.1:4222" }
    path = ChoriaNats::TestSupport::MCollectiveConfig.write(File.join(@dir, "#{name}.cfg"),
                                                            identity: "#{name}.example.net", libdir: user.lib,
                                                            settings: settings.merge(extra))
    File.chmod(0o644, path)
    path
  end

  # A fresh HOME for the user, and its Puppet SSL dir.
  def home(name)
    user.directory(File.join(@dir, name))
  end

  def ssl(home, *parts)
    File.join(home, ".puppetlabs", "etc", "puppet", "ssl", *parts)
  end

  def request_cert(home, wait:, certname: nil, config: client_config(File.basename(home)), args: [])
    env = certname ? { "MCOLLECTIVE_CERTNAME" => certname } : {}
    user.run("mco", "choria", "request_cert", "--wait", wait.to_s, *args, "--config", config, home: home, env: env,
                                                                                              timeout: wait + 60)
  end

  # Runs request_cert in a thread, signs the request once the CA has it, and returns the command's result.
  def request_and_sign(home, certname:, env_certname: certname, wait: 120, **options)
    run = Thread.new { request_cert(home, wait: wait, certname: env_certname, **options) }
    eventually(90) { ca.requested?(certname) || !run.alive? }
    return run.value unless run.alive?

    expect(ca.sign(certname)).to include("Successfully signed certificate request for #{certname}")
    run.value
  end

  def fingerprint(pem_file)
    OpenSSL::Digest::SHA256.hexdigest(OpenSSL::X509::Certificate.new(File.read(pem_file)).to_der)
                           .upcase.scan(/../).join(":")
  end

  it "gets a fresh certificate: key, CSR, the CA and its fingerprint, progress, then the signed certificate",
     bounded: 240 do
    home = home("fresh")
    certname = "#{user.name}.mcollective"
    output, status = request_and_sign(home, certname: certname, env_certname: nil)

    expect(status).to be_success, output
    expect(output).to include("Puppet CA from plugin.choria.puppetca_host: #{ca.address}")
    expect(output).to include("Downloaded the CA certificate to #{ssl(home, 'certs',
                                                                      'ca.pem')}: CN=Puppet CA: localhost")
    expect(output).to include("  SHA256 fingerprint #{fingerprint(ca.ca_file)}\n")
    expect(output).to include("This first download cannot be verified")
    expect(output).to include("Created the private key #{ssl(home, 'private_keys', "#{certname}.pem")} " \
                              "(RSA 4096 bits, mode 0600)")
    expect(output).to match(/^Submitted the certificate request .*#{certname}\.pem \(SHA256 [0-9A-F:]{95}\)$/)
    expect(output).to match(/^Waiting for the CA to sign #{certname}: \d+s of 120s$/)
    expect(output).to include("The CA signed the certificate for #{certname}")
    expect(output).to include("  ok: The certificate is for #{certname}, the certname")
    expect(output).to include("Done: mco can now use #{ssl(home, 'certs', "#{certname}.pem")}")

    key = ssl(home, "private_keys", "#{certname}.pem")
    expect(File.stat(key).mode & 0o777).to eq(0o600)
    expect(File.stat(key).uid).to eq(user.uid)
    check = ChoriaNats::CertificateCheck.run(ca_file: ssl(home, "certs", "ca.pem"),
                                             cert_file: ssl(home, "certs", "#{certname}.pem"), key_file: key,
                                             certname: certname)
    expect(check).to be_ok
    expect(check.issuer).to eq("CN=Puppet CA: localhost")

    output, status = request_cert(home, wait: 5)
    expect(status).to be_success, output
    expect(output).to include("You already have a certificate: #{ssl(home, 'certs', "#{certname}.pem")}: nothing to do")
  end

  it "gives mco a certificate that a broker certified by the same CA accepts (choria-nats doctor as the user)",
     bounded: 180 do
    home = File.join(@dir, "fresh")
    certificate = ssl(home, "certs", "#{user.name}.mcollective.pem")
    skip "needs the certificate the first example got" unless File.exist?(certificate)

    cert, key = ca.generate("nats.example.net", alt_names: "localhost,IP:127.0.0.1")
    broker = ChoriaNats::TestSupport::NatsServer.new(dir: File.join(@dir, "broker"), cert: cert, key: key,
                                                     ca: ca.ca_file).start
    config = client_config("end-to-end", extra: { "plugin.choria.middleware_hosts" => broker.address })
    output, status = user.run("ruby", "-I", user.lib, user.exe, "doctor", "--config", config, home: home)
    expect(status.exitstatus).to eq(0), output
    expect(output).to include("CN=#{user.name}.mcollective, issued by CN=Puppet CA: localhost")
    expect(output).to include("#{broker.address} (config): connected over verified TLS")
  ensure
    broker&.stop
  end

  it "stops at its deadline when nobody signs; the next run keeps the key and finishes; a new key is refused",
     bounded: 300 do
    home = home("unsigned")
    certname = "unsigned.mcollective"
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    output, status = request_cert(home, wait: 6, certname: certname)
    took = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started

    expect(status.exitstatus).to eq(1), output
    expect(took).to be < 40
    expect(output).to match(/^Waiting for the CA to sign #{certname}: 0s of 6s$/)
    expect(output).to include("mco choria request_cert: The Puppet CA #{ca.address} (config) has not signed the " \
                              "request for #{certname} within 6s: ask its administrator to run `puppetserver ca " \
                              "sign --certname #{certname}`, then run `mco choria request_cert` again (it keeps " \
                              "the key and the request)")
    expect(File.exist?(ssl(home, "certs", "#{certname}.pem"))).to be(false)

    key = ssl(home, "private_keys", "#{certname}.pem")
    before = [Digest::SHA256.file(key).hexdigest, File.stat(key).mtime, File.stat(key).ino]
    output, status = request_and_sign(home, certname: certname)
    expect(status).to be_success, output
    expect(output).to include("Using the existing private key #{key} (a key is never overwritten)")
    expect(output).to include("The CA already holds our certificate request for #{certname}")
    expect([Digest::SHA256.file(key).hexdigest, File.stat(key).mtime, File.stat(key).ino]).to eq(before)
    expect(output).to include("Done: mco can now use")

    # The key lost: a new one cannot take over the signed certificate.
    other = home("lost-key")
    output, status = request_cert(other, wait: 5, certname: certname)
    expect(status.exitstatus).to eq(1), output
    expect(output).to include("The Puppet CA #{ca.address} (config) already has a signed certificate for " \
                              "#{certname} that was issued for another key than " \
                              "#{ssl(other, 'private_keys', "#{certname}.pem")}: ask its administrator to " \
                              "run `puppetserver ca clean --certname #{certname}`, then run this again")
  end

  it "shows the CA's 403 with its host:port, status and body", bounded: 120 do
    certname = "#{ChoriaNats::TestSupport::PuppetServer::DENIED_PREFIX}x.mcollective"
    output, status = request_cert(home("denied"), wait: 5, certname: certname)
    expect(status.exitstatus).to eq(1), output
    expect(output).to include("mco choria request_cert: The Puppet CA #{ca.address} (config) answered 403 Forbidden " \
                              "to PUT /puppet-ca/v1/certificate_request/#{certname}: Forbidden request: " \
                              "/puppet-ca/v1/certificate_request/#{certname} (method :put)")
  end

  it "names the CA it cannot reach, before making a key", bounded: 120 do
    port = ChoriaNats::TestSupport::NatsServer.free_port
    home = home("unreachable")
    output, status = request_cert(home, wait: 5, config: client_config("unreachable", port: port))
    expect(status.exitstatus).to eq(1), output
    expect(output).to include("mco choria request_cert: Cannot reach the Puppet CA 127.0.0.1:#{port} (config): ")
    expect(output).to include("Connection refused").and include("check plugin.choria.puppetca_host and " \
                                                                "plugin.choria.puppetca_port")
    expect(Dir.exist?(ssl(home, "private_keys")) && !Dir.empty?(ssl(home, "private_keys"))).to be(false)
  end

  it "checks the downloaded CA against --ca-fingerprint or plugin.choria.puppetca_fingerprint", bounded: 180 do
    home = home("pinned")
    certname = "pinned.mcollective"
    right = fingerprint(ca.ca_file)
    wrong = "#{right.start_with?('AB') ? 'CD' : 'AB'}:#{right[3..]}" # one byte off, whatever the CA's first byte
    env = { "MCOLLECTIVE_CERTNAME" => certname }
    output, status = user.run("mco", "choria", "request_cert", "--wait", "0", "--ca-fingerprint", wrong.delete(":"),
                              "--config", client_config("pinned"), home: home, env: env, timeout: 60)
    expect(status.exitstatus).to eq(1), output
    expect(output).to include("mco choria request_cert: The CA certificate from #{ca.address} (config) has the " \
                              "SHA256 fingerprint #{fingerprint(ca.ca_file)}, not #{wrong} (--ca-fingerprint): " \
                              "nothing was saved: check that this is your CA")
    expect(File.exist?(ssl(home, "certs", "ca.pem"))).to be(false)
    expect(Dir.exist?(ssl(home, "private_keys")) && !Dir.empty?(ssl(home, "private_keys"))).to be(false)

    config = client_config("pinned-by-setting",
                           extra: { "plugin.choria.puppetca_fingerprint" => fingerprint(ca.ca_file) })
    output, = request_cert(home, wait: 0, certname: certname, config: config)
    expect(output).to include("  SHA256 fingerprint #{fingerprint(ca.ca_file)}\n  This is the fingerprint " \
                              "plugin.choria.puppetca_fingerprint gives\n")
    expect(output).not_to include("cannot be verified")
    expect(fingerprint(ssl(home, "certs", "ca.pem"))).to eq(fingerprint(ca.ca_file))
  end

  it "verifies the CA server against the CA file it has, once it has one", bounded: 120 do
    home = home("other-ca")
    pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "other-pki"))
    user.directory(ssl(home))
    user.directory(ssl(home, "certs"))
    FileUtils.cp(pki.ca_file, ssl(home, "certs", "ca.pem"))
    File.chmod(0o644, ssl(home, "certs", "ca.pem"))
    output, status = request_cert(home, wait: 5, certname: "other-ca.mcollective")
    expect(status.exitstatus).to eq(1), output
    expect(output).to include("The Puppet CA #{ca.address} (config) presented a certificate that does not verify " \
                              "against the CA file #{ssl(home, 'certs', 'ca.pem')} (certificate verify failed")
  end

  it "asks the CA --ca names, over the config, for the certname --certname gives", bounded: 180 do
    home = home("options")
    certname = "chosen.mcollective"
    # The config names a port where no CA listens, and MCOLLECTIVE_CERTNAME another name: the options win.
    config = client_config("options", port: ChoriaNats::TestSupport::NatsServer.free_port)
    output, status = request_and_sign(home, certname: certname, env_certname: "ignored.mcollective", config: config,
                                            args: ["--ca", "127.0.0.1:#{ca.port}", "--certname", certname])

    expect(status).to be_success, output
    expect(output).to include("Puppet CA from --ca: #{ca.address}\n")
    expect(output).to include("Requesting a certificate for #{certname} from the Puppet CA #{ca.address} (--ca)")
    expect(output).to include("Done: mco can now use #{ssl(home, 'certs', "#{certname}.pem")}")
    expect(ca.requested?("ignored.mcollective")).to be(false)

    # A host without a port takes plugin.choria.puppetca_port.
    output, = request_cert(home("options-host"), wait: 0, certname: "host-only.mcollective",
                                                 config: client_config("options-host"), args: ["--ca", "127.0.0.1"])
    expect(output).to include("Puppet CA from --ca: #{ca.address}\n")
  end

  it "refuses a --certname that would leave the SSL dir, and a bad --ca, in one line each", bounded: 60 do
    home = home("bad-options")
    output, status = request_cert(home, wait: 0, args: ["--certname", "../x"])
    expect(status.exitstatus).to eq(1), output
    expect(output).to eq("Validation of certname failed: The certname \"../x\" (--certname) is not one Puppet " \
                         "accepts: use lower-case letters, digits, '.', '-' and '_', starting with a letter or digit " \
                         "(it names files in the SSL dir)\n")
    output, status = request_cert(home, wait: 0, args: ["--ca", "ca.example.net:99999"])
    expect(status.exitstatus).to eq(1), output
    expect(output).to eq("Validation of ca failed: --ca must be HOST or HOST:PORT (an IPv6 address in brackets with " \
                         "a port), with a port from 1 to 65535, not \"ca.example.net:99999\"\n")
    expect(Dir.exist?(ssl(home))).to be(false)
  end

  it "refuses to run as root, whose certificate is Puppet's", bounded: 60 do
    skip "not running as root" unless Process.uid.zero?

    output, status = Open3.capture2e({ "HOME" => @dir }, "timeout", "60", "mco", "choria", "request_cert",
                                     "--config", client_config("root"))
    expect(status.exitstatus).to eq(1), output
    expect(output).to include("mco choria request_cert: refusing to run as root: root's certificate is the node's " \
                              "own Puppet certificate")
  end
end
