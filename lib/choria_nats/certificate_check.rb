# frozen_string_literal: true

module ChoriaNats
  # The pre-flight checks of the CA, certificate and key files, made
  # in Rust by `ChoriaNats.check_certificates`: each file exists and can be
  # read, the certificate chains to the CA (intermediates may follow it in its
  # file), it is for the certname, the key belongs to it, and it is valid now.
  #
  #   check = ChoriaNats::CertificateCheck.run(ca_file: ca, cert_file: cert, key_file: key,
  #                                            certname: "alice.mcollective")
  #   check.ok?                 # => false
  #   check.first_problem.line  # => "The certificate ... is for bob.mcollective, not for the certname ..."
  #   check.check!              # raises ChoriaNats::ConfigurationError with that line
  class CertificateCheck
    # One check: `name` is :ca, :certificate, :key, :chain, :name, :key_match or :validity;
    # `status` :ok, :problem or :skipped (a check it needs failed); `line` says it in words.
    Item = Struct.new(:name, :status, :line) do
      # Whether this check passed.
      def ok?
        status == :ok
      end

      # Whether this check found a problem.
      def problem?
        status == :problem
      end
    end

    # Every check, in the order problems are reported.
    attr_reader :checks
    # Subjects from the certificate up to its CA, as the files show them.
    attr_reader :chain
    # The certificate's subject and issuer (`CN=...`), or nil when it cannot be read.
    attr_reader :subject, :issuer
    # The names the certificate holds: its CN, then its DNS and IP alternative names.
    attr_reader :names
    # The validity period (Time, UTC), or nil.
    attr_reader :not_before, :not_after
    # "RSA", "EC" or "Ed25519", or nil when the key cannot be used.
    attr_reader :key_type

    # Runs the checks; `certname` nil leaves out the name check.
    def self.run(ca_file:, cert_file:, key_file:, certname: nil)
      new(ChoriaNats.check_certificates(ca_file.to_s, cert_file.to_s, key_file.to_s, certname&.to_s))
    end

    # Runs the checks on the files of a ChoriaNats::SSLPaths or ChoriaNats::FilePaths, with its
    # certname; the lines say what to do for its provider, and a missing file is reported with the
    # paths' own line (`missing_files`).
    def self.for_paths(paths)
      report = ChoriaNats.check_certificates(paths.ca_file.to_s, paths.cert_file.to_s, paths.key_file.to_s,
                                             paths.certname.to_s, paths.provider)
      new(report, missing: paths.missing_files)
    end

    # report:: the Hash `ChoriaNats.check_certificates` returns; missing:: lines, by check, that
    # replace the line of a file check that found a problem.
    def initialize(report, missing: {})
      @checks = report.fetch("checks").map do |check|
        name = check.fetch("check").to_sym
        status = check.fetch("status").to_sym
        line = (status == :problem && missing[name]) || check.fetch("line")
        Item.new(name, status, line)
      end
      @chain = report.fetch("chain")
      @subject = report["subject"]
      @issuer = report["issuer"]
      @names = report.fetch("names")
      @not_before = report["not_before"] && Time.at(report["not_before"]).utc
      @not_after = report["not_after"] && Time.at(report["not_after"]).utc
      @key_type = report["key_type"]
    end

    # Whether every check passed.
    def ok?
      problems.empty?
    end

    # The checks that found a problem.
    def problems
      checks.select(&:problem?)
    end

    # The first problem, or nil.
    def first_problem
      problems.first
    end

    # The check named `name`, or nil.
    def [](name)
      checks.find { |check| check.name == name.to_sym }
    end

    # Raises ChoriaNats::ConfigurationError with the first problem's line; returns self when all is well.
    def check!
      problem = first_problem
      raise ConfigurationError, problem.line if problem

      self
    end
  end
end
