# frozen_string_literal: true

require "spec_helper"

RSpec.describe ChoriaNats::Targets do
  def subject_for(type, identity: "node1.example.net", collective: "mcollective")
    described_class.subject(agent: "rpcutil", type: type, collective: collective,
                            collectives: %w[mcollective sub], identity: identity,
                            reply_to: -> { ["choria=rip.mcollective", 1234, 7] })
  end

  it "maps broadcast and request to the agent's broadcast subject" do
    expect(subject_for(:broadcast)).to eq("mcollective.broadcast.agent.rpcutil")
    expect(subject_for(:request, collective: "sub")).to eq("sub.broadcast.agent.rpcutil")
  end

  it "maps directed and direct_request to the node's subject" do
    expect(subject_for(:directed)).to eq("mcollective.node.node1.example.net")
    expect(subject_for(:direct_request, identity: "node2")).to eq("mcollective.node.node2")
  end

  it "makes reply subjects from the md5 of the caller id, the pid and the request sequence" do
    md5 = Digest::MD5.hexdigest("choria=rip.mcollective")
    expect(subject_for(:reply)).to eq("mcollective.reply.#{md5}.1234.7")
  end

  it "refuses a node identity that would widen the subject to other nodes" do
    [">", "*", "node1.>", "a..b", ".a", "a b", ""].each do |identity|
      expect { subject_for(:direct_request, identity: identity) }
        .to raise_error(ChoriaNats::Error, /\ANot a node identity: #{Regexp.escape(identity.inspect)} /)
    end
    expect(subject_for(:directed, identity: "web-1_a.example.net")).to eq("mcollective.node.web-1_a.example.net")
  end

  it "keeps the identities that can name a node, and yields why each other one cannot" do
    problems = []
    expect(described_class.sendable(%w[a.example.net > b]) { |line| problems << line }).to eq(%w[a.example.net b])
    expect(problems).to eq([described_class.identity_problem(">")])
  end

  it "refuses an unknown type" do
    expect { subject_for(:queue) }.to raise_error(ChoriaNats::Error, /Unknown target type :queue/)
  end

  it "refuses an unknown collective, naming the known ones" do
    expect { subject_for(:broadcast, collective: "other") }
      .to raise_error(ChoriaNats::Error, 'Unknown collective "other": known collectives are mcollective, sub')
  end
end
