# frozen_string_literal: true

require "spec_helper"
require "choria_nats/ssl_files"

RSpec.describe ChoriaNats::SSLFiles do
  describe ".read_key" do
    let(:dir) { Dir.mktmpdir("choria-nats-ssl-files") }
    let(:file) { File.join(dir, "alice.mcollective.pem") }
    let(:key) { ChoriaNats::TestSupport::PKI.cached_key(:ssl_files_spec) }

    before { File.write(file, key.to_pem) }

    after { FileUtils.rm_rf(dir) }

    it "reads a key of this user that no one else can write and only its group can read, as Puppet makes them" do
      [0o600, 0o400, 0o640].each do |mode|
        File.chmod(mode, file)
        expect(described_class.read_key(file).public_key.to_der).to eq(key.public_key.to_der)
      end
    end

    it "refuses a key others may read or write, or its group write, saying what to run" do
      [0o604, 0o620, 0o602, 0o660].each do |mode|
        File.chmod(mode, file)
        expect { described_class.read_key(file) }
          .to raise_error(ChoriaNats::ConfigurationError,
                          "The private key file #{file} is open to other users (mode #{format('%04o', mode)}): run " \
                          "`chmod 600 #{file}` (or, if someone may have copied it, move it away to make a new key), " \
                          "then run again")
      end
    end

    it "refuses a key another user owns, saying what to run" do
      File.chmod(0o600, file)
      other = Process.euid + 1
      expected = "The private key file #{file} belongs to uid #{Process.euid}, not to this user (uid #{other}): " \
                 "run `chown NAME #{file}` as root, or move it away to make a new key"
      pattern = /\A#{Regexp.escape(expected).sub('NAME', '\S+')}\z/
      expect { described_class.read_key(file, owner: other) }.to raise_error(ChoriaNats::ConfigurationError, pattern)
    end

    it "refuses a symbolic link to a key, and what is not a file" do
      File.chmod(0o600, file)
      link = File.join(dir, "link.pem")
      File.symlink(file, link)
      expect { described_class.read_key(link) }
        .to raise_error(ChoriaNats::ConfigurationError, "The private key file #{link} is a symbolic link: put the " \
                                                        "key file itself there, or move the link away to make a new " \
                                                        "key, then run again")

      subdir = File.join(dir, "sub.pem")
      Dir.mkdir(subdir, 0o700)
      expect { described_class.read_key(subdir) }
        .to raise_error(ChoriaNats::ConfigurationError, /\AThe private key file #{subdir} is not a regular file: /)
    end
  end
end
