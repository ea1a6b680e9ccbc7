# frozen_string_literal: true

require "etc"
require_relative "bounded_command"
require_relative "errors"

module ChoriaNats
  # Where the certificate, key and CA are, following Puppet's layout:
  # root (the daemon) uses Puppet's SSL dir and the identity as certname; anyone
  # else `~/.puppetlabs/etc/puppet/ssl` and `<user>.mcollective`.
  class SSLPaths
    # Puppet's SSL dir in the AIO packages.
    AIO_SSLDIR = "/etc/puppetlabs/puppet/ssl"
    # Seconds `puppet config print ssldir` may take.
    PUPPET_TIMEOUT = 20
    # The certnames `mco choria request_cert` asks for: those Puppet's CA accepts, less the ones that
    # could leave the SSL dir's folders once made into a file name (a certname names three files).
    PUPPET_CERTNAME = /\A[a-z0-9][a-z0-9._-]*\z/.freeze

    # Why `name` is not a certname Puppet's CA accepts, in a sentence (naming `given_by`, the option that
    # gave it, and ending with `advice`); nil when it is one.
    def self.certname_problem(name, given_by: nil, advice: nil)
      return nil if name.to_s.match?(PUPPET_CERTNAME)

      "The certname #{name.to_s.inspect}#{" (#{given_by})" if given_by} is not one Puppet accepts: use lower-case " \
        "letters, digits, '.', '-' and '_', starting with a letter or digit (it names files in the SSL dir)" \
        "#{"; #{advice}" if advice}"
    end

    # @return [String] the SSL dir in use
    attr_reader :ssl_dir
    # @return [String] the certificate name
    attr_reader :certname
    # @return [String] how the certname was chosen, for diagnostics
    attr_reader :certname_reason
    # @return [String] how the SSL dir was chosen, for logs and diagnostics
    attr_reader :ssl_dir_reason

    # uid, user, home, env:: the process' identity; ssldir:: plugin.choria.ssldir;
    # puppet_ssldir:: callable asking Puppet for its ssldir (nil when no Puppet); certname:: the one
    # `--certname` gives, or nil. Raises ChoriaNats::ConfigurationError when a user's HOME or name is needed
    # and unknown, or when `certname` is not one Puppet accepts.
    def initialize(identity:, ssldir: nil, uid: Process.uid, user: nil, home: nil, env: ENV,
                   puppet_ssldir: method(:ask_puppet), certname: nil)
      @root = uid.zero?
      @certname, @certname_reason = certname ? given_certname(certname) : choose_certname(identity, user, uid, env)
      @ssl_dir, @ssl_dir_reason = choose_dir(ssldir, home || env["HOME"], puppet_ssldir)
    end

    # Raises ChoriaNats::ConfigurationError, ending with `advice`, when the certname is not one
    # Puppet's CA accepts (see PUPPET_CERTNAME).
    def check_puppet_certname!(advice)
      problem = self.class.certname_problem(certname, advice: advice)
      raise ConfigurationError, problem if problem
    end

    # Whether these are the daemon's (root's) paths.
    def root?
      @root
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

    def given_certname(name)
      problem = self.class.certname_problem(name, given_by: "--certname")
      raise ConfigurationError, problem if problem

      [name, "from --certname"]
    end

    def choose_certname(identity, user, uid, env)
      return [env["MCOLLECTIVE_CERTNAME"], "from MCOLLECTIVE_CERTNAME"] if env["MCOLLECTIVE_CERTNAME"]
      return [identity, "the identity, as root runs the daemon"] if root?

      user ||= user_name(uid, env)
      ["#{user}.mcollective", "<user>.mcollective, for the user #{user}"]
    end

    def choose_dir(override, home, puppet_ssldir)
      return [override, "plugin.choria.ssldir"] if override && !override.empty?
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

    def user_name(uid, env)
      name = env["USER"]
      return name if name && !name.empty?

      Etc.getpwuid(uid).name
    rescue ArgumentError
      raise ConfigurationError, "No user name for uid #{uid} (USER is unset and the passwd database has no entry): " \
                                "set USER, or MCOLLECTIVE_CERTNAME to the certname to use"
    end

    # Puppet's own ssldir (Debian's puppet: /var/lib/puppet/ssl), or nil.
    def ask_puppet
      BoundedCommand.output(%w[puppet config print ssldir], PUPPET_TIMEOUT)&.strip
    end
  end
end
