# frozen_string_literal: true

require "etc"
require_relative "errors"

module ChoriaNats
  # The name the certificate must be for, whichever provider holds the files: MCOLLECTIVE_CERTNAME,
  # else the identity for root (the daemon), else `<user>.mcollective`.
  module Certname
    # [certname, how it was chosen] for the process' identity; `user` nil reads USER, then the
    # passwd entry of `uid`. Raises ChoriaNats::ConfigurationError when no user name is known.
    def self.choose(identity:, uid:, env:, user: nil)
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
