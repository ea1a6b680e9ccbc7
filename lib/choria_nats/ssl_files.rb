# frozen_string_literal: true

require "fileutils"
require "openssl"
require_relative "errors"

module ChoriaNats
  # File handling for `mco choria request_cert`: Puppet's SSL dir layout, files
  # that are never overwritten, and fingerprints as Puppet prints them.
  module SSLFiles
    # The SSL dir's sub-directories and their modes (as Puppet makes them).
    DIRECTORIES = { "certs" => 0o755, "private_keys" => 0o750, "certificate_requests" => 0o755 }.freeze

    module_function

    # Makes the SSL dir's sub-directories that are missing.
    def make_directories(ssl_dir)
      DIRECTORIES.each do |dir, mode|
        path = File.join(ssl_dir, dir)
        next if File.directory?(path)

        FileUtils.mkdir_p(path, mode: mode)
        File.chmod(mode, path)
      end
    end

    # Writes a file that must not exist yet, with `mode` from the start.
    def write_new(file, content, mode)
      File.open(file, File::WRONLY | File::CREAT | File::EXCL, mode) { |f| f.write(content) }
    rescue Errno::EEXIST
      raise ConfigurationError, "#{file} appeared while this ran: it is never overwritten; run again"
    end

    # The private key in `file`; ChoriaNats::ConfigurationError when it cannot be read or used.
    def read_key(file)
      OpenSSL::PKey.read(File.read(file))
    rescue Errno::EACCES
      raise ConfigurationError, "The private key file #{file} cannot be read by this user: fix its permissions " \
                                "or run as its owner"
    rescue OpenSSL::PKey::PKeyError
      raise ConfigurationError, "The private key file #{file} holds no usable private key: move it away and run " \
                                "again to make a new one"
    end

    # A SHA-256 fingerprint as `3F:19:AB:...`, as `puppetserver ca list` prints them.
    def fingerprint(der)
      OpenSSL::Digest::SHA256.hexdigest(der).upcase.scan(/../).join(":")
    end
  end
end
