# frozen_string_literal: true

require_relative "bounded_command"
require_relative "certname"
require_relative "configured_path"
require_relative "errors"

module ChoriaNats
  # Where the certificate, key and CA are for the `puppet` security provider, following Puppet's
  # layout: root (the daemon) uses Puppet's SSL dir and the identity as certname; anyone else
  # `~/.puppetlabs/etc/puppet/ssl` and `<user>.mcollective`. ChoriaNats::FilePaths is the `file` provider's.
  class SSLPaths
    # Puppet's SSL dir in the AIO packages.
    AIO_SSLDIR = "/etc/puppetlabs/puppet/ssl"
    # Seconds `puppet config print ssldir` may take.
    PUPPET_TIMEOUT = 20

    # @return [String] the SSL dir in use
    attr_reader :ssl_dir
    # @return [String] the certificate name
    attr_reader :certname
    # @return [String] how the certname was chosen, for diagnostics
    attr_reader :certname_reason
    # @return [String] how the SSL dir was chosen, for logs and diagnostics
    attr_reader :ssl_dir_reason

    # uid, user, home, env:: the process' identity; ssldir:: plugin.choria.ssldir (`~` and relative
    # paths are expanded); puppet_ssldir:: callable asking Puppet for its ssldir (nil when no Puppet);
    # certname:: the one `--certname` gives, or nil. Raises ChoriaNats::ConfigurationError when a user's
    # HOME or name is needed and unknown, or when `certname` is not one Puppet accepts.
    def initialize(identity:, ssldir: nil, uid: Process.uid, user: nil, home: nil, env: ENV,
                   puppet_ssldir: method(:ask_puppet), certname: nil)
      @root = uid.zero?
      @certname, @certname_reason = Certname.choose(identity: identity, uid: uid, env: env, user: user,
                                                    given: certname)
      @ssl_dir, @ssl_dir_reason = choose_dir(ssldir, home || env["HOME"], puppet_ssldir)
    end

    # Whether these are the daemon's (root's) paths.
    def root?
      @root
    end

    # Raises ChoriaNats::ConfigurationError, ending with `advice`, when the certname is not one
    # Puppet's CA accepts (see Certname::PUPPET_CERTNAME).
    def check_puppet_certname!(advice)
      problem = Certname.problem(certname, advice: advice)
      raise ConfigurationError, problem if problem
    end

    # The security provider: "puppet".
    def provider
      "puppet"
    end

    # Where the files were chosen from, for the connector's start-up line.
    def source
      ssl_dir_reason
    end

    # What the doctor shows of where the files are: [label, text] pairs.
    def locations
      [["SSL dir", "#{ssl_dir} (#{ssl_dir_reason})"]]
    end

    # Lines replacing the certificate checks' own for files that are missing: none, as those
    # lines already say that `mco choria request_cert` makes Puppet's files.
    def missing_files
      {}
    end

    # The CA certificate.
    def ca_file
      File.join(ssl_dir, "certs", "ca.pem")
    end

    # This certname's certificate.
    def cert_file
      File.join(ssl_dir, "certs", "#{certname}.pem")
    end

    # This certname's private key.
    def key_file
      File.join(ssl_dir, "private_keys", "#{certname}.pem")
    end

    # The CSR `mco choria request_cert` writes.
    def csr_file
      File.join(ssl_dir, "certificate_requests", "#{certname}.pem")
    end

    private

    def choose_dir(override, home, puppet_ssldir)
      if override && !override.empty?
        return [ConfiguredPath.expand(override, key: "plugin.choria.ssldir", home: home), "plugin.choria.ssldir"]
      end
      return [File.join(user_home(home), ".puppetlabs/etc/puppet/ssl"), "the user's Puppet SSL dir"] unless root?
      return [AIO_SSLDIR, "the Puppet AIO SSL dir"] if File.directory?(AIO_SSLDIR)

      asked = puppet_ssldir&.call
      return [asked, "`puppet config print ssldir`"] if asked && !asked.empty?

      [AIO_SSLDIR, "the Puppet AIO SSL dir (no Puppet installed to ask)"]
    end

    # Only HOME: Dir.home without it asks getlogin(), which names whoever logged in, not
    # necessarily this user (sudo, setpriv).
    def user_home(home)
      return home if home && !home.empty?

      raise ConfigurationError, "HOME is not set, and a user's SSL dir is under it (~/.puppetlabs/etc/puppet/ssl): " \
                                "set HOME to your home directory, or set plugin.choria.ssldir"
    end

    # Puppet's own ssldir (Debian's puppet: /var/lib/puppet/ssl), or nil.
    def ask_puppet
      BoundedCommand.output(%w[puppet config print ssldir], PUPPET_TIMEOUT)&.strip
    end
  end
end
