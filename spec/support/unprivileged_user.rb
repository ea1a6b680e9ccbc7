# frozen_string_literal: true

require "etc"
require "fileutils"
require "open3"
require "tmpdir"

module ChoriaNats
  module TestSupport
    # Runs commands as an ordinary user, as `mco` is run: `mco choria
    # request_cert` refuses root, and a key root cannot read only exists for
    # someone else. As root (CI) that is the system user `choria-nats-test`,
    # created here when missing, and commands run through `setpriv`; as anyone
    # else, the current user. The gem's lib/ and exe/ are copied where that
    # user can read them, since a checkout may sit under a private directory.
    class UnprivilegedUser
      # The system user made for the specs.
      NAME = "choria-nats-test"
      # The checkout's lib/ and exe/.
      ROOT = File.expand_path("../..", __dir__)

      # The run's user, made (and the gem staged) on first use.
      def self.shared
        @shared ||= new
      end

      # The user's name, ids, and the staged copy of the gem's lib/ and exe/choria-nats.
      attr_reader :name, :uid, :gid, :lib, :exe

      def initialize
        entry = Process.uid.zero? ? ensure_system_user : Etc.getpwuid(Process.uid)
        @name = entry.name
        @uid = entry.uid
        @gid = entry.gid
        stage
      end

      # A new directory owned by the user (a HOME, an SSL dir).
      def directory(path)
        FileUtils.mkdir_p(path)
        File.chown(uid, gid, path) if Process.uid.zero?
        path
      end

      # Runs `command` as the user with a clean environment; returns [stdout+stderr, status].
      def run(*command, home:, env: {}, timeout: 120)
        environment = { "PATH" => "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME" => home, "USER" => name,
                        "LOGNAME" => name, "LANG" => "C.UTF-8" }.merge(env)
        switch = Process.uid.zero? ? ["setpriv", "--reuid=#{uid}", "--regid=#{gid}", "--clear-groups", "--"] : []
        Open3.capture2e(environment, "timeout", timeout.to_s, *switch, *command, unsetenv_others: true, chdir: home)
      end

      private

      def ensure_system_user
        Etc.getpwnam(NAME)
      rescue ArgumentError
        output, status = Open3.capture2e("useradd", "--system", "--user-group", "--no-create-home",
                                         "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", NAME)
        raise "useradd #{NAME} failed: #{output}" unless status.success?

        Etc.getpwnam(NAME)
      end

      def stage
        @stage = Dir.mktmpdir("choria-nats-stage")
        FileUtils.cp_r(File.join(ROOT, "lib"), @stage)
        FileUtils.cp_r(File.join(ROOT, "exe"), @stage)
        FileUtils.chmod_R("a+rX", @stage)
        @lib = File.join(@stage, "lib")
        @exe = File.join(@stage, "exe", "choria-nats")
        owner = Process.pid
        at_exit { FileUtils.rm_rf(@stage) if Process.pid == owner }
      end
    end
  end
end
