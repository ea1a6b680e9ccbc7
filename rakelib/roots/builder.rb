# frozen_string_literal: true

require "fileutils"
require "open3"

module Roots
  # Makes one row's root: the host's apt resolves and downloads the row's packages with their
  # dependencies for the row's CPU, `dpkg-deb` unpacks them (no maintainer scripts run, so
  # nothing is emulated), and the few files those scripts would have written are added.
  class Builder
    # The handler qemu-user-static registers for arm64 executables.
    BINFMT_AARCH64 = "/proc/sys/fs/binfmt_misc/qemu-aarch64"
    # What to do when the wrapper cannot make its mounts private: / is then not a mount point.
    PROPAGATION_HINT = "; / is not a mount point here (a chroot?): bind-mount the chroot's directory onto " \
                       "itself before entering it (mount --bind DIR DIR), as CONTRIBUTING.md shows"

    # row:: a row of Roots::MATRIX; root:: the directory to make
    def initialize(row, root)
      @row = row
      @root = root
      @scratch = "#{root}.build"
    end

    # apt's sources.list for a row: Debian's keyring signs every list. Only experimental's lists,
    # which are past their Valid-Until, are taken without that date; a stale list of the other
    # suites (a mirror or a network replaying old, signed metadata) is refused.
    def self.sources(row)
      lines = ["deb [signed-by=#{KEYRING}] #{MIRROR} #{row[:suite]} main"]
      lines << "deb [signed-by=#{KEYRING} check-valid-until=no] #{MIRROR} experimental main" if row[:experimental]
      lines.map { |line| "#{line}\n" }.join
    end

    # Makes the root in a scratch directory beside it, then moves it into place.
    def build
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      check_binfmt
      FileUtils.rm_rf(@scratch)
      download
      unpack
      settle
      File.write(File.join(@scratch, STAMP), Roots.stamp(@row))
      FileUtils.rm_rf(@root)
      File.rename(@scratch, @root)
      verify
      prune
      warn format("Roots: built %<root>s in %<s>.0f s",
                  root: @root, s: Process.clock_gettime(Process::CLOCK_MONOTONIC) - started)
    end

    private

    # Raises unless the kernel can run the row's CPU's executables.
    def check_binfmt
      return if @row[:arch] == "x86_64" || File.exist?(BINFMT_AARCH64)

      raise "Roots: no binfmt_misc handler for aarch64 (#{BINFMT_AARCH64} is missing): " \
            "run bin/setup, which installs qemu-user-static and registers it"
    end

    # apt's options for the root: its own sources, lists, archives and an empty dpkg status.
    def apt_options
      debian = ARCHES.fetch(@row[:arch])[:debian]
      {
        "Dir" => @scratch, "Dir::State::status" => path("var/lib/dpkg/status"),
        "Dir::Etc::SourceParts" => path("etc/apt/sources.list.d"),
        "Dir::Etc::Preferences" => path("etc/apt/preferences"),
        "Dir::Etc::PreferencesParts" => path("etc/apt/preferences.d"),
        "APT::Architecture" => debian, "APT::Architectures::" => debian,
        "APT::Install-Recommends" => "false", "APT::Sandbox::User" => "root", "Debug::NoLocking" => "true"
      }.flat_map { |key, value| ["-o", "#{key}=#{value}"] }
    end

    def download
      %w[etc/apt/sources.list.d etc/apt/preferences.d var/lib/dpkg var/lib/apt/lists/partial
         var/cache/apt/archives/partial].each { |d| FileUtils.mkdir_p(path(d)) }
      File.write(path("var/lib/dpkg/status"), "")
      File.write(path("etc/apt/sources.list"), Builder.sources(@row))
      run("apt-get", "-qq", *apt_options, "update")
      run("apt-get", "-qq", *apt_options, "install", "--download-only", "-y", *BASE_PACKAGES, *@row[:packages])
    end

    # Unpacks every downloaded package over merged-/usr symlinks, as Debian installs them.
    def unpack
      %w[bin sbin lib lib64].each do |d|
        FileUtils.mkdir_p(path("usr/#{d}"))
        File.symlink("usr/#{d}", path(d))
      end
      debs = Dir[path("var/cache/apt/archives/*.deb")].sort
      raise "Roots: apt downloaded nothing into #{@scratch}" if debs.empty?

      debs.each do |deb|
        run("bash", "-o", "pipefail", "-c",
            'dpkg-deb --fsys-tarfile "$1" | tar -x --keep-directory-symlink -C "$2"', "unpack", deb, @scratch)
      end
    end

    # The users and hosts files the tests rely on, and the mount points the wrapper binds; the
    # packages' archives and apt's lists are dropped.
    def settle
      %w[passwd group].each { |name| FileUtils.cp(path("usr/share/base-passwd/#{name}.master"), path("etc/#{name}")) }
      File.write(path("etc/hosts"), "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
      %w[dev proc tmp root].each { |d| FileUtils.mkdir_p(path(d)) }
      FileUtils.chmod(0o1777, path("tmp"))
      FileUtils.rm_rf([path("var/cache/apt"), path("var/lib/apt/lists")])
    end

    # Raises unless the root's Ruby runs and is the row's minor.
    def verify
      Wrapper.write(@row[:arch], @row[:abi])
      out, status = Open3.capture2e(Roots.wrapper(@row[:arch], @row[:abi]), "-e", "print RUBY_VERSION")
      return if status.success? && out.start_with?("#{@row[:abi]}.")

      hint = PROPAGATION_HINT if out.include?("propagation")
      raise "Roots: #{Roots.label(@row)} does not run in #{@root}: #{out.strip}#{hint}"
    end

    # Removes the row's roots of other recipes that nobody asked for in KEEP_DAYS, unless one is
    # being built (its lock is held).
    def prune
      # (The bare name: the roots of the first recipe, named for their row alone.)
      others = Dir[File.join(CACHE, "#{Roots.name(@row)}{,-*}")].map { |p| p.sub(/\.(?:lock|ruby|build)\z/, "") }.uniq
      (others - [@root]).each do |other|
        next if asked_for_lately?(other)

        File.open("#{other}.lock", File::RDWR | File::CREAT, 0o644) do |lock|
          next unless lock.flock(File::LOCK_EX | File::LOCK_NB)

          FileUtils.rm_rf([other, "#{other}.ruby", "#{other}.build"])
          File.unlink("#{other}.lock")
        end
      end
    end

    def asked_for_lately?(root)
      File.mtime(File.join(root, STAMP)) > Time.now - (KEEP_DAYS * 86_400)
    rescue Errno::ENOENT
      false
    end

    def path(relative)
      File.join(@scratch, relative)
    end

    def run(*command)
      out, status = Open3.capture2e(*command)
      raise "Roots: #{command.join(' ')} failed:\n#{out}" unless status.success?
    end
  end
end
