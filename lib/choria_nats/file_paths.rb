# frozen_string_literal: true

require_relative "certname"
require_relative "configured_path"
require_relative "errors"
require_relative "settings_table"
require_relative "plugin_settings"

module ChoriaNats
  # Where the certificate, key and CA are for the `file` security provider: wherever
  # plugin.security.file.certificate, .key and .ca say, with no Puppet layout (sites without
  # Puppet, containers). The certname is chosen as for Puppet's files (ChoriaNats::Certname), and
  # the certificate must be for it. Nothing here makes or requests files: whatever issues them also
  # renews them.
  class FilePaths
    # The settings naming each file, by the check (ChoriaNats::CertificateCheck) that reads it.
    SETTINGS = { ca: "security_file_ca", certificate: "security_file_certificate", key: "security_file_key" }.freeze
    # What each file is, for messages.
    ROLES = { ca: "the CA certificates", certificate: "the certificate", key: "the certificate's private key" }.freeze
    # How the doctor labels each file.
    LABELS = { ca: "CA file", certificate: "Cert file", key: "Key file" }.freeze
    # Why `mco choria request_cert` refuses under this provider.
    NO_REQUEST = "plugin.security.provider is file: the file provider cannot request a certificate from a Puppet " \
                 "CA, its files come from whatever issues them; set plugin.security.file.certificate, " \
                 "plugin.security.file.key and plugin.security.file.ca to them, or use plugin.security.provider " \
                 "= puppet to request one"

    # @return [String] the CA certificates, the certificate and its key, as absolute paths
    attr_reader :ca_file, :cert_file, :key_file
    # @return [String] the certificate name, and how it was chosen
    attr_reader :certname, :certname_reason

    # settings:: a ChoriaNats::PluginSettings; uid, user, home, env:: the process' identity (HOME expands `~`).
    # Raises ChoriaNats::ConfigurationError, naming the setting, when one of the three is not set.
    def initialize(identity:, settings:, uid: Process.uid, user: nil, home: nil, env: ENV)
      @certname, @certname_reason = Certname.choose(identity: identity, uid: uid, env: env, user: user)
      home ||= env["HOME"]
      @ca_file, @cert_file, @key_file = SETTINGS.map do |check, name|
        path = settings.public_send(name)
        key = SettingsTable.key(name)
        unless path
          raise ConfigurationError, "plugin.security.provider is file, and #{key} is not set: set it to the path of " \
                                    "#{ROLES.fetch(check)} (PEM)"
        end
        ConfiguredPath.expand(path, key: key, home: home)
      end
    end

    # The security provider: "file".
    def provider
      "file"
    end

    # Where the files were chosen from, for the connector's start-up line.
    def source
      "plugin.security.file.certificate (the file security provider)"
    end

    # What the doctor shows of where the files are: [label, text] pairs.
    def locations
      files.map { |check, path| [LABELS.fetch(check), "#{path} (#{SettingsTable.key(SETTINGS.fetch(check))})"] }
    end

    # For each file that does not exist, by check: a line naming its setting, instead of the
    # certificate checks' own, which point at `mco choria request_cert`.
    def missing_files
      files.reject { |_, path| File.exist?(path) }.to_h do |check, path|
        [check, "#{SettingsTable.key(SETTINGS.fetch(check))} is #{path}, which does not exist: set it to the path " \
                "of #{ROLES.fetch(check)} (the file provider never creates them)"]
      end
    end

    private

    def files
      { ca: ca_file, certificate: cert_file, key: key_file }
    end
  end
end
