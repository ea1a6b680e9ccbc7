# frozen_string_literal: true

require "etc"
require_relative "errors"

module ChoriaNats
  # The name the certificate must be for, whichever provider holds the files: MCOLLECTIVE_CERTNAME,
  # else the identity for root (the daemon), else `<user>.mcollective`.
  module Certname
    # The certnames `mco choria request_cert` asks for: those Puppet's CA accepts, less the ones that
    # could leave the SSL dir's folders once made into a file name (a certname names three files).
    PUPPET_CERTNAME = /\A[a-z0-9][a-z0-9._-]*\z/.freeze

    # Why `name` is not a certname Puppet's CA accepts, in a sentence (naming `given_by`, the option that
    # gave it, and ending with `advice`); nil when it is one.
    def self.problem(name, given_by: nil, advice: nil)
      return nil if name.to_s.match?(PUPPET_CERTNAME)

      "The certname #{name.to_s.inspect}#{" (#{given_by})" if given_by} is not one Puppet accepts: use lower-case " \
        "letters, digits, '.', '-' and '_', starting with a letter or digit (it names files in the SSL dir)" \
        "#{"; #{advice}" if advice}"
    end

    # [certname, how it was chosen]: `given` (from `--certname`), else for the process' identity; `user`
    # nil reads USER, then the passwd entry of `uid`. Raises ChoriaNats::ConfigurationError when `given`
    # is not one Puppet accepts, or no user name is known.
    def self.choose(identity:, uid:, env:, user: nil, given: nil)
      if given
        given_problem = problem(given, given_by: "--certname")
        raise ConfigurationError, given_problem if given_problem

        return [given, "from --certname"]
      end
      return [env["MCOLLECTIVE_CERTNAME"], "from MCOLLECTIVE_CERTNAME"] if env["MCOLLECTIVE_CERTNAME"]
      return [identity, "the identity, as root runs the daemon"] if uid.zero?

      user ||= user_name(uid, env)
      ["#{user}.mcollective", "<user>.mcollective, for the user #{user}"]
    end

    def self.user_name(uid, env)
      name = env["USER"]
      return name if name && !name.empty?

      Etc.getpwuid(uid).name
    rescue ArgumentError
      raise ConfigurationError, "No user name for uid #{uid} (USER is unset and the passwd database has no entry): " \
                                "set USER, or MCOLLECTIVE_CERTNAME to the certname to use"
    end
    private_class_method :user_name
  end
end
