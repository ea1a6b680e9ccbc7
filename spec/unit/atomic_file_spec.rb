# frozen_string_literal: true

require "spec_helper"
require "choria_nats/atomic_file"

RSpec.describe ChoriaNats::AtomicFile do
  let(:dir) { Dir.mktmpdir("choria-nats-atomic-file") }
  let(:target) { File.join(dir, "file.pem") }
  let(:victim) { File.join(dir, "victim") }

  before do
    File.write(victim, "the victim's own content\n")
    File.chmod(0o600, victim)
  end

  after { FileUtils.rm_rf(dir) }

  def victim_state
    [File.read(victim), File.stat(victim).mode & 0o7777]
  end

  # Makes the next temporary names what `names` says, as if someone had guessed them.
  def predict(*names)
    allow(described_class).to receive(:temporary_name).with(target).and_return(*names)
  end

  describe ".replace" do
    it "writes the content with the mode asked for, whatever the umask, and leaves no temporary file" do
      File.write(target, "old\n")
      old_umask = File.umask(0o077)
      begin
        described_class.replace(target, "new\n", 0o644)
      ensure
        File.umask(old_umask)
      end

      expect(File.read(target)).to eq("new\n")
      expect(File.stat(target).mode & 0o7777).to eq(0o644)
      expect(Dir.children(dir).sort).to eq(%w[file.pem victim])
    end

    it "never writes through a link planted at the temporary name, even a name guessed right" do
      planted = "#{target}.guessed.tmp"
      File.symlink(victim, planted)
      predict(planted, "#{target}.fresh.tmp")

      described_class.replace(target, "new\n", 0o644)

      expect(victim_state).to eq(["the victim's own content\n", 0o600])
      expect(File.symlink?(target)).to be(false)
      expect(File.read(target)).to eq("new\n")
      expect(File.readlink(planted)).to eq(victim)
    end

    it "gives up with one line saying what to check when every temporary name is taken, writing nothing" do
      planted = "#{target}.guessed.tmp"
      File.symlink(victim, planted)
      predict(planted)

      expect { described_class.replace(target, "new\n", 0o644) }.to raise_error(ChoriaNats::Error) { |error|
        expect(error.message).to eq("Cannot write #{target}: 5 temporary names beside it in a row were already " \
                                    "taken, as if someone were creating them on purpose: check who can write to #{dir}")
      }
      expect(File.exist?(target)).to be(false)
      expect(victim_state).to eq(["the victim's own content\n", 0o600])
    end

    it "removes its temporary file when the rename fails" do
      allow(File).to receive(:rename).and_raise(Errno::EXDEV)

      expect { described_class.replace(target, "new\n", 0o644) }.to raise_error(Errno::EXDEV)
      expect(Dir.children(dir)).to eq(%w[victim])
    end
  end

  describe ".create" do
    it "shows the complete file to the block before putting it in place" do
      seen = nil
      described_class.create(target, "new\n", 0o640) do |temporary|
        seen = [File.dirname(temporary), File.read(temporary), File.stat(temporary).mode & 0o7777, File.exist?(target)]
      end

      expect(seen).to eq([dir, "new\n", 0o640, false])
      expect(File.read(target)).to eq("new\n")
      expect(Dir.children(dir).sort).to eq(%w[file.pem victim])
    end

    it "leaves nothing behind when the block refuses the content" do
      expect { described_class.create(target, "new\n", 0o644) { raise ChoriaNats::Error, "refused" } }
        .to raise_error(ChoriaNats::Error, "refused")
      expect(Dir.children(dir)).to eq(%w[victim])
    end

    it "never replaces a file, or a link, that is already at the target" do
      File.symlink(victim, target)

      expect { described_class.create(target, "new\n", 0o644) }
        .to raise_error(ChoriaNats::ConfigurationError,
                        "#{target} appeared while this ran: it is never overwritten; move it away and run again")
      expect(victim_state).to eq(["the victim's own content\n", 0o600])
      expect(Dir.children(dir).sort).to eq(%w[file.pem victim])
    end
  end
end
