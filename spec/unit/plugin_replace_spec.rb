# frozen_string_literal: true

require "spec_helper"
require "digest"
require "stringio"

# `choria-nats plugin install --replace` and `plugin uninstall` on a libdir that holds the real
# mcollective-choria 0.16.1 (copied at test time), with the gem's own plugin files.
RSpec.describe ChoriaNats::PluginInstaller, "replacing mcollective-choria's files" do
  let(:root) { Dir.mktmpdir("choria-nats-replace") }
  let(:libdir) { ChoriaNats::TestSupport::MCollectiveChoria.install(File.join(root, "plugins")) }
  let(:out) { StringIO.new }
  let(:backup_dir) { File.join(libdir, "choria-nats-backup") }
  let(:replaced) { ChoriaNats::TestSupport::MCollectiveChoria::REPLACED }

  before do
    skip "mcollective-choria 0.16.1 is not in shared/peers" unless ChoriaNats::TestSupport::MCollectiveChoria.available?
  end

  after { FileUtils.rm_rf(root) }

  def installer(replace: false)
    described_class.new(libdir: libdir, out: out, replace: replace)
  end

  def path(relative)
    File.join(libdir, "mcollective", relative)
  end

  def statuses(result)
    result.actions.to_h { |action| [action.path.delete_prefix("#{libdir}/mcollective/"), action.status] }
  end

  # Every file of the libdir with its content, mode and inode.
  def snapshot
    Dir.glob("**/*", base: libdir).sort.to_h do |relative|
      file = File.join(libdir, relative)
      stat = File.lstat(file)
      [relative, [stat.file? ? Digest::SHA256.file(file).hexdigest : :dir, stat.mode, stat.ino]]
    end
  end

  it "recognises each of 0.16.1's files by its content, and only those bytes" do
    replaced.each do |relative|
      sha = Digest::SHA256.hexdigest(ChoriaNats::TestSupport::MCollectiveChoria.content(relative))
      expect(ChoriaNats::ReferenceFiles.releases(relative, sha)).to include("0.16.1"), relative
      expect(ChoriaNats::ReferenceFiles.recognise(path(relative), relative)).to include("0.16.1")
    end
    File.open(path("connector/nats.rb"), "a") { |file| file.write("\n") }
    expect(ChoriaNats::ReferenceFiles.recognise(path("connector/nats.rb"), "connector/nats.rb")).to eq([])
  end

  it "without --replace leaves them alone, says --replace moves them aside, and fails" do
    before = snapshot

    result = installer.install

    expect(result.exit_status).to eq(1)
    expect(statuses(result).values_at(*replaced)).to all(eq(:reference))
    expect(out.string).to include("left alone #{path('connector/nats.rb')}: mcollective-choria 0.12.0 to 0.16.1's " \
                                  "own file: `choria-nats plugin install --replace` moves it aside into " \
                                  "#{backup_dir} (`plugin uninstall` puts it back)\n")
    expect(out.string).to include("left alone #{path('connector/nats.ddl')}: mcollective-choria 0.16.1's own file")
    expect(out.string.lines.last).to match(/3 file\(s\) left alone, so the plugin is not fully installed/)
    expect(snapshot).to eq(before)
  end

  it "with --replace moves them aside keeping mode and inode, installs its own; uninstall puts them back" do
    File.chmod(0o640, path("connector/nats.rb"))
    before = snapshot
    inode = File.stat(path("connector/nats.rb")).ino

    result = installer(replace: true).install

    expect(result.exit_status).to eq(0), out.string
    expect(statuses(result).values_at(*replaced)).to all(eq(:replaced))
    expect(out.string).to include("replaced   #{path('connector/nats.rb')}: mcollective-choria 0.12.0 to 0.16.1's, " \
                                  "moved to #{backup_dir}/mcollective/connector/nats.rb\n")
    expect(out.string.lines.grep(/^replaced /).size).to eq(3)
    replaced.each do |relative|
      expect(installer.ours?(path(relative))).to be(true), relative
      backup = File.join(backup_dir, "mcollective", relative)
      expect(File.binread(backup)).to eq(ChoriaNats::TestSupport::MCollectiveChoria.content(relative))
    end
    expect(File.stat(File.join(backup_dir, "mcollective/connector/nats.rb")))
      .to have_attributes(ino: inode, mode: before.fetch("mcollective/connector/nats.rb")[1])
    expect(File.stat(backup_dir).mode & 0o777).to eq(0o700)

    expect(installer(replace: true).install.exit_status).to eq(0) # again: its own files now, the backups kept
    expect(File).to exist(File.join(backup_dir, "mcollective/connector/nats.rb"))

    out.string = +""
    result = installer.uninstall

    expect(statuses(result).values_at(*replaced)).to all(eq(:restored))
    expect(out.string).to include("restored   #{path('connector/nats.rb')}: mcollective-choria 0.12.0 to 0.16.1's, " \
                                  "from #{backup_dir}/mcollective/connector/nats.rb\n")
    expect(snapshot).to eq(before)
    expect(File).not_to exist(backup_dir)
  end

  it "never overwrites a file it does not recognise, even with --replace, and then moves nothing" do
    File.open(path("connector/nats.rb"), "a") { |file| file.write("# a local fix\n") }
    before = snapshot

    result = installer(replace: true).install

    expect(result.exit_status).to eq(1)
    expect(statuses(result)).to include("connector/nats.rb" => :foreign, "connector/nats.ddl" => :reference,
                                        "application/choria.rb" => :reference)
    expect(out.string).to include("left alone #{path('connector/nats.rb')}: not written by choria-nats (another " \
                                  "plugin of that name? move it away, then run again)")
    expect(out.string).to include("left alone #{path('connector/nats.ddl')}: mcollective-choria 0.16.1's own file: " \
                                  "not moved aside while a file that is not mcollective-choria's is in the way")
    expect(snapshot).to eq(before)
    expect(File).not_to exist(backup_dir)
  end

  it "never overwrites a backup that exists, and then moves nothing" do
    earlier = File.join(backup_dir, "mcollective", "connector", "nats.rb")
    FileUtils.mkdir_p(File.dirname(earlier), mode: 0o700)
    FileUtils.chmod_R(0o700, backup_dir)
    File.write(earlier, "an earlier backup\n")
    before = snapshot

    expect { installer(replace: true).install }
      .to raise_error(ChoriaNats::ConfigurationError, "#{earlier} exists already: a backup is never overwritten; " \
                                                      "move it away (it may be the file an earlier run moved aside), " \
                                                      "then run again")
    expect(snapshot).to eq(before)
  end

  it "refuses a backup folder that is a link, or that others may write to" do
    elsewhere = File.join(root, "elsewhere")
    Dir.mkdir(elsewhere, 0o700)
    File.symlink(elsewhere, backup_dir)
    expect { installer(replace: true).install }
      .to raise_error(ChoriaNats::ConfigurationError, /\A#{backup_dir} is not a folder that only this user/)
    expect(Dir.children(elsewhere)).to be_empty

    File.unlink(backup_dir)
    Dir.mkdir(backup_dir, 0o777)
    File.chmod(0o777, backup_dir)
    expect { installer(replace: true).install }
      .to raise_error(ChoriaNats::ConfigurationError, /\A#{backup_dir} is not a folder that only this user/)
  end

  it "says a move across filesystems is not made, and leaves the file" do
    allow(File).to receive(:link).and_raise(Errno::EXDEV)
    file = path("application/choria.rb")

    expect { installer(replace: true).install }
      .to raise_error(ChoriaNats::ConfigurationError, "#{file} and #{backup_dir} are on different filesystems, so " \
                                                      "it cannot be moved aside in one step: move it out of " \
                                                      "#{File.dirname(file)} by hand, then run again")
    expect(File.binread(file)).to eq(ChoriaNats::TestSupport::MCollectiveChoria.content("application/choria.rb"))
  end

  it "keeps a backup whose file was replaced by another since, and puts back one whose file is gone" do
    installer(replace: true).install
    File.unlink(path("connector/nats.ddl"))
    File.unlink(path("application/choria.rb"))
    File.write(path("application/choria.rb"), "# someone's own application\n")
    out.string = +""

    installer.uninstall

    expect(File.binread(path("connector/nats.ddl")))
      .to eq(ChoriaNats::TestSupport::MCollectiveChoria.content("connector/nats.ddl"))
    expect(out.string).to include("kept       #{backup_dir}/mcollective/application/choria.rb: " \
                                  "#{path('application/choria.rb')} is not choria-nats' file: put it back by hand")
    expect(File.read(path("application/choria.rb"))).to eq("# someone's own application\n")
  end
end
