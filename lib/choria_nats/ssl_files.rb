# frozen_string_literal: true

require "etc"
require "fileutils"
require "openssl"
require_relative "atomic_file"
require_relative "certificate_check"
require_relative "errors"

module ChoriaNats
  # File handling for `mco choria request_cert`: Puppet's SSL dir layout, files
  # that are never overwritten, a private key used only while it is private, a
  # certificate saved only once it passes the checks, and fingerprints as
  # Puppet prints them.
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

    # Saves the signed `certificate` as the certificate of `paths` (a ChoriaNats::SSLPaths) only when it
    # passes the pre-flight checks with their CA, key and certname, run on it beside its final name: a
    # certificate the connector could not use is never saved, and a file already there is never replaced.
    def save_certificate(paths, certificate)
      AtomicFile.create(paths.cert_file, certificate.to_pem, 0o644) do |temporary|
        problem = CertificateCheck.run(ca_file: paths.ca_file, cert_file: temporary, key_file: paths.key_file,
                                       certname: paths.certname).first_problem
        next unless problem

        raise CertificateRequestError, "The certificate signed for #{paths.certname} fails a check, so it was not " \
                                       "saved: #{problem.line.gsub(temporary, paths.cert_file)}"
      end
    end

    # The private key in `file`, a file of `owner` that no one else may read or write (others could
    # have copied the key, or put theirs in its place); ChoriaNats::ConfigurationError otherwise, or
    # when it cannot be read or used.
    def read_key(file, owner: Process.euid)
      File.open(file, File::RDONLY | File::NOFOLLOW, binmode: true) do |f|
        check_key_file(file, f.stat, owner)
        OpenSSL::PKey.read(f.read)
      end
    rescue Errno::ELOOP
      raise ConfigurationError, "The private key file #{file} is a symbolic link: put the key file itself there, " \
                                "or move the link away to make a new key, then run again"
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

    # Raises ChoriaNats::ConfigurationError unless `stat` is of a regular file of `owner` that others
    # cannot touch and its group can at most read: Puppet writes its keys with mode 0640.
    def check_key_file(file, stat, owner)
      unless stat.file?
        raise ConfigurationError, "The private key file #{file} is not a regular file: move it away and run again " \
                                  "to make a new key"
      end
      if stat.uid != owner
        raise ConfigurationError, "The private key file #{file} belongs to uid #{stat.uid}, not to this user " \
                                  "(uid #{owner}): run `chown #{user_name(owner)} #{file}` as root, or move it away " \
                                  "to make a new key"
      end
      return if (stat.mode & 0o037).zero?

      mode = format("%04o", stat.mode & 0o7777)
      raise ConfigurationError, "The private key file #{file} is open to other users (mode #{mode}): run `chmod 600 " \
                                "#{file}` (or, if someone may have copied it, move it away to make a new key), then " \
                                "run again"
    end

    def user_name(uid)
      Etc.getpwuid(uid)&.name || uid.to_s
    rescue ArgumentError
      uid.to_s
    end
    private_class_method :check_key_file, :user_name
  end
end
