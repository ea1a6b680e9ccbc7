# frozen_string_literal: true

require "fileutils"
require "open3"
require "rbconfig"
require "shellwords"

module ChoriaNats
  module TestSupport
    # A built gem installed into an empty GEM_HOME, and Ruby run against it in
    # subprocesses that cannot see this checkout's lib/ (no RUBYLIB, RUBYOPT,
    # or other gem paths), with the PATH given. Every run is bounded in time.
    class InstalledGem
      # Publishes on one connection and receives on another over verified TLS;
      # ARGV: CA, certificate, key, server. Prints the library loaded and the message.
      ROUND_TRIP = <<~'RUBY'
        require "choria_nats"
        ca, cert, key, server = ARGV
        connect = lambda do |name|
          ChoriaNats::Connection.connect(servers: [server], ca_file: ca, cert_file: cert, key_file: key, name: name)
        end
        receiver = connect.call("installed-receiver")
        receiver.subscribe("installed.gem")
        receiver.flush(5)
        sender = connect.call("installed-sender")
        sender.publish("installed.gem", "round trip \x00\xFF".b, "installed.reply")
        sender.flush(5)
        message = receiver.receive(5)
        [sender, receiver].each(&:close)
        puts "library: #{$LOADED_FEATURES.grep(/choria_nats\.so\z/).join(' ')}"
        puts "received: #{message.inspect}"
      RUBY

      # The message ROUND_TRIP prints when the round trip worked.
      RECEIVED = %(received: ["installed.gem", "installed.reply", #{"round trip \x00\xFF".b.inspect}])

      # A directory holding only `ruby` and `gem`: a PATH without cargo, rustc or a C toolchain.
      def self.ruby_only_path(dir)
        FileUtils.mkdir_p(dir)
        { "ruby" => RbConfig.ruby, "gem" => File.join(RbConfig::CONFIG["bindir"], "gem") }.each do |name, target|
          FileUtils.ln_sf(target, File.join(dir, name))
        end
        dir
      end

      # A directory holding `ruby` and `gem` that run another Ruby through `ruby`, an executable
      # taking ruby's arguments (a root's, from Roots.ruby): that Ruby's own gem command.
      def self.other_ruby_path(dir, ruby)
        FileUtils.mkdir_p(dir)
        FileUtils.ln_sf(ruby, File.join(dir, "ruby"))
        File.write(File.join(dir, "gem"), "#!/bin/sh\nexec #{Shellwords.escape(ruby)} -S gem \"$@\"\n")
        File.chmod(0o755, File.join(dir, "gem"))
        dir
      end

      # Whether `command` is found on `path`.
      def self.on_path?(path, command)
        path.split(File::PATH_SEPARATOR).any? { |dir| File.executable?(File.join(dir, command)) }
      end

      # @return [String] the GEM_HOME
      attr_reader :gem_home

      # dir:: scratch directory (the GEM_HOME goes in it); path:: PATH of every subprocess
      def initialize(dir, path: ENV.fetch("PATH"), env: {})
        @dir = dir
        @gem_home = File.join(dir, "gems")
        @env = { "GEM_HOME" => @gem_home, "GEM_PATH" => @gem_home, "RUBYLIB" => nil, "RUBYOPT" => nil,
                 "BUNDLE_GEMFILE" => nil, "PATH" => path }.merge(env)
      end

      # `gem install --local` of `gem_file`; returns [output, status].
      def install(gem_file, timeout: 900)
        run(command("gem"), "install", "--local", "--no-document", "--install-dir", gem_home, gem_file,
            timeout: timeout)
      end

      # The installed gem's directory (the only choria-nats in the GEM_HOME).
      def gem_dir
        Dir[File.join(gem_home, "gems", "choria-nats-*")].first
      end

      # Runs Ruby code against the installed gem; returns [output, status].
      def ruby(code, *args, timeout: 60)
        run(command("ruby"), "-e", code, *args, timeout: timeout)
      end

      # Runs ROUND_TRIP against `server` with the PKI's client certificate.
      def round_trip(pki, server)
        ruby(ROUND_TRIP, pki.ca_file, pki.client_cert, pki.client_key, server.address)
      end

      # Runs a command; kills its process group when `timeout` seconds pass.
      def run(*command, timeout:)
        Open3.popen2e(@env, *command, chdir: @dir, pgroup: true) do |stdin, out, wait|
          stdin.close
          reader = Thread.new { out.read }
          unless wait.join(timeout)
            Process.kill("KILL", -wait.pid)
            wait.join
            return ["#{reader.value}\n(killed after #{timeout}s)", wait.value]
          end
          [reader.value, wait.value]
        end
      end

      private

      # The command found on the subprocesses' PATH (spawn looks names up on the parent's PATH).
      def command(name)
        dir = @env["PATH"].split(File::PATH_SEPARATOR).find { |d| File.executable?(File.join(d, name)) }
        dir ? File.join(dir, name) : raise("#{name} not on PATH #{@env['PATH']}")
      end
    end
  end
end
