# frozen_string_literal: true

require "fileutils"
require "tmpdir"

# A temp dir, a PKI in it and one TLS nats-server (verify: true) for the
# whole example group: `pki` and `server`; connections made with
# `connect_client` are closed after each example.
RSpec.shared_context "with a TLS broker" do
  before(:all) do
    @dir = Dir.mktmpdir("choria-nats-spec")
    @pki = ChoriaNats::TestSupport::PKI.new(File.join(@dir, "ssl"))
    @server = ChoriaNats::TestSupport::NatsServer.new(pki: @pki, dir: File.join(@dir, "broker")).start
  end

  after(:all) do
    @server&.stop
    FileUtils.rm_rf(@dir)
  end

  after { close_clients }

  let(:pki) { @pki }
  let(:server) { @server }
end

# MCOLLECTIVE_CERTNAME set to `certname` for the example group (the PKI gets
# a certificate for it), as a node or user would have; restored afterwards.
RSpec.shared_context "with a certname" do |certname|
  before(:all) do
    @saved_certname = ENV.fetch("MCOLLECTIVE_CERTNAME", nil)
    ENV["MCOLLECTIVE_CERTNAME"] = certname
    @pki.cert_for(certname)
  end

  after(:all) { ENV["MCOLLECTIVE_CERTNAME"] = @saved_certname }
end
