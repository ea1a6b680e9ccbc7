# frozen_string_literal: true

require "fileutils"
require "forwardable"
require "openssl"
require_relative "../choria_nats"
require_relative "atomic_file"
require_relative "ca_pin"
require_relative "puppet_ca"
require_relative "ssl_files"

module ChoriaNats
  # `mco choria request_cert`: makes the user's key (never overwriting one,
  # and using an existing one only when no one else can read or write it), a
  # CSR, fetches the CA's certificate (showing its SHA-256 fingerprint: the
  # first download cannot be verified), submits the CSR and waits, showing
  # progress, until the CA has signed it or the deadline passes; then runs the
  # pre-flight checks on the signed certificate and saves it only if it passes.
  #
  #   ChoriaNats::CertificateRequest.new(paths: ssl_paths, puppet_ca: puppet_ca, out: $stdout, wait: 600).run
  class CertificateRequest
    extend Forwardable

    # Seconds to wait for the CA to sign, unless told.
    DEFAULT_WAIT = 600
    # Seconds between two looks at the CA.
    POLL_INTERVAL = 5
    # Seconds between progress lines when the output is not a terminal.
    PROGRESS_EVERY = 30
    # Bits of a new RSA key: what Puppet itself makes.
    KEY_BITS = 4096

    # paths:: a ChoriaNats::SSLPaths; puppet_ca:: a ChoriaNats::PuppetCA (its ca_file is set here);
    # ca_pin:: a ChoriaNats::CAPin the CA certificate must match, or nil;
    # wait:: seconds to wait for signing (0: submit and stop); uid:: the process' user id
    def initialize(paths:, puppet_ca:, ca_pin: nil, out: $stdout, wait: DEFAULT_WAIT,
                   poll_interval: POLL_INTERVAL, uid: Process.uid,
                   clock: -> { Process.clock_gettime(Process::CLOCK_MONOTONIC) }, sleeper: ->(s) { sleep(s) })
      @paths = paths
      @puppet_ca = puppet_ca
      @pin = ca_pin
      @out = out
      @wait = Float(wait)
      @poll_interval = poll_interval
      @uid = uid
      @clock = clock
      @sleeper = sleeper
    end

    # Runs the request; returns the CertificateCheck of the saved certificate. Raises
    # ChoriaNats::CertificateRequestError (the CA) or ChoriaNats::ConfigurationError (the files).
    def run
      refuse_to_start
      @out.puts("Requesting a certificate for #{certname} from the Puppet CA #{@puppet_ca}")
      @out.puts("SSL dir #{@paths.ssl_dir} (#{@paths.ssl_dir_reason})")
      existing = existing_certificate
      return existing if existing

      SSLFiles.make_directories(@paths.ssl_dir)
      fetch_ca
      signed = @puppet_ca.certificate(certname) # asks the CA before a key is made: it may be unreachable
      key = private_key
      certificate = signed_certificate(signed, key) || submit_and_wait(key)
      save_certificate(certificate)
      final_check
    end

    private

    def_delegator :@paths, :certname

    # Before any file is read or made: as root, or for a certname that cannot name files in the SSL dir.
    def refuse_to_start
      @paths.check_puppet_certname!("set MCOLLECTIVE_CERTNAME, or give --certname")
      return unless @uid.zero?

      raise ConfigurationError, "refusing to run as root: root's certificate is the node's own Puppet " \
                                "certificate (#{@paths.ssl_dir}), which the Puppet agent requests and renews; run " \
                                "this as the user who runs mco"
    end

    # The check of a certificate that is already there; nil when there is none.
    def existing_certificate
      return nil unless File.exist?(@paths.cert_file)

      check = CertificateCheck.for_paths(@paths)
      unless check.ok?
        raise ConfigurationError, "#{@paths.cert_file} exists, but: #{check.first_problem.line}. It is never " \
                                  "overwritten: move it (and the files it was made with) away, then run again"
      end
      @out.puts("You already have a certificate: #{@paths.cert_file}: nothing to do")
      print_check(check)
      check
    end

    # The existing key (never replaced), or a new one written with mode 0600.
    def private_key
      file = @paths.key_file
      if File.exist?(file) || File.symlink?(file)
        key = SSLFiles.read_key(file)
        @out.puts("Using the existing private key #{file} (a key is never overwritten)")
        return key
      end
      key = OpenSSL::PKey::RSA.new(KEY_BITS)
      SSLFiles.write_new(file, key.to_pem, 0o600)
      @out.puts("Created the private key #{file} (RSA #{KEY_BITS} bits, mode 0600)")
      key
    end

    # The CA's certificate: the one on disk, or downloaded and shown with its fingerprint;
    # either must have the fingerprint given, when one is.
    def fetch_ca
      file = @paths.ca_file
      if File.exist?(file)
        ca = OpenSSL::X509::Certificate.new(File.binread(file))
        @pin&.check!(ca, "The CA file #{file}", "move it away to download the CA's again")
        @out.puts("Using the CA certificate #{file}: #{ca.subject.to_utf8}, SHA256 #{SSLFiles.fingerprint(ca.to_der)}")
      else
        ca = @puppet_ca.ca_certificate
        @pin&.check!(ca, "The CA certificate from #{@puppet_ca}", "nothing was saved: check that this is your CA")
        SSLFiles.write_new(file, ca.to_pem, 0o644)
        @out.puts("Downloaded the CA certificate to #{file}: #{ca.subject.to_utf8}",
                  "  SHA256 fingerprint #{SSLFiles.fingerprint(ca.to_der)}", "  #{CAPin.trust_line(@pin)}")
      end
      @puppet_ca.ca_file = file
    rescue OpenSSL::X509::CertificateError
      raise ConfigurationError, "The CA file #{file} holds no PEM certificate: move it away and run again"
    end

    # The certificate the CA already signed for this certname, when it is for our key; nil when there is none.
    def signed_certificate(certificate, key)
      return nil unless certificate
      return certificate if certificate.public_key.to_der == key.public_key.to_der

      raise CertificateRequestError, "The Puppet CA #{@puppet_ca} already has a signed certificate for #{certname} " \
                                     "that was issued for another key than #{@paths.key_file}: ask its administrator " \
                                     "to run `puppetserver ca clean --certname #{certname}`, then run this again"
    end

    def submit_and_wait(key)
      pending = @puppet_ca.certificate_request(certname)
      if pending.nil?
        csr = make_csr(key)
        @puppet_ca.submit(certname, csr)
        @out.puts("Submitted the certificate request #{@paths.csr_file} (SHA256 #{SSLFiles.fingerprint(csr.to_der)})")
      elsif pending.public_key.to_der == key.public_key.to_der
        @out.puts("The CA already holds our certificate request for #{certname} (SHA256 " \
                  "#{SSLFiles.fingerprint(pending.to_der)})")
      else
        raise CertificateRequestError, "The Puppet CA #{@puppet_ca} holds a certificate request for #{certname} " \
                                       "made with another key than #{@paths.key_file}: ask its administrator to run " \
                                       "`puppetserver ca clean --certname #{certname}`, then run this again"
      end
      wait_for_signature
    end

    def make_csr(key)
      csr = OpenSSL::X509::Request.new
      csr.version = 0
      csr.subject = OpenSSL::X509::Name.new([["CN", certname, OpenSSL::ASN1::UTF8STRING]])
      csr.public_key = key.public_key
      csr.sign(key, OpenSSL::Digest.new("SHA256"))
      AtomicFile.replace(@paths.csr_file, csr.to_pem, 0o644)
      csr
    end

    def wait_for_signature
      @out.puts("The CA's administrator signs it with: puppetserver ca sign --certname #{certname}")
      started = @clock.call
      progress = Progress.new(@out, certname, @wait)
      loop do
        certificate = @puppet_ca.certificate(certname)
        if certificate
          progress.done
          return certificate
        end
        waited = @clock.call - started
        raise CertificateRequestError, not_signed_message if waited >= @wait

        progress.update(waited)
        @sleeper.call([@poll_interval, @wait - waited].min)
      end
    end

    def not_signed_message
      waited = @wait.zero? ? "" : " within #{format('%g', @wait)}s"
      "The Puppet CA #{@puppet_ca} has not signed the request for #{certname}#{waited}: ask its administrator to run " \
        "`puppetserver ca sign --certname #{certname}`, then run `mco choria request_cert` again " \
        "(it keeps the key and the request)"
    end

    # The certificate is checked before it is saved: one that fails is never put in place.
    def save_certificate(certificate)
      SSLFiles.save_certificate(@paths, certificate)
      @out.puts("Saved the signed certificate #{@paths.cert_file}")
    end

    def final_check
      check = CertificateCheck.for_paths(@paths)
      print_check(check)
      raise ConfigurationError, "The new certificate fails a check: #{check.first_problem.line}" unless check.ok?

      @out.puts("Done: mco can now use #{@paths.cert_file}")
      check
    end

    def print_check(check)
      check.checks.each { |item| @out.puts("  #{item.ok? ? 'ok' : item.status}: #{item.line}") }
    end
  end

  class CertificateRequest
    # The progress while waiting: one line rewritten on a terminal, a line now and then otherwise.
    class Progress
      # out:: where the lines go; certname:: the certificate waited for; limit:: seconds of waiting.
      def initialize(out, certname, limit)
        @out = out
        @certname = certname
        @limit = limit
        @tty = out.respond_to?(:tty?) && out.tty?
        @last_line = nil
        @rewriting = false
      end

      # Shows that `waited` seconds have passed.
      def update(waited)
        text = "Waiting for the CA to sign #{@certname}: #{waited.round}s of #{@limit.round}s"
        if @tty
          @out.print("\r#{text} ")
          @out.flush
          @rewriting = true
        elsif @last_line.nil? || waited - @last_line >= PROGRESS_EVERY
          @last_line = waited
          @out.puts(text)
        end
      end

      # Ends the progress display.
      def done
        @out.print("\n") if @rewriting
        @out.puts("The CA signed the certificate for #{@certname}")
      end
    end
  end
end
