# frozen_string_literal: true

require "fileutils"
require "shellwords"

module Roots
  # The executable that runs a root's Ruby: a private mount namespace binds /dev, /proc and /tmp
  # (where callers keep their files: the same paths inside and out) into the root, which then
  # runs its Ruby. The mounts die with the process, and removing a root never reaches through them.
  module Wrapper
    module_function

    # Writes the wrapper of (arch, abi) unless it is there already.
    def write(arch, abi)
      path = Roots.wrapper(arch, abi)
      body = text(arch, abi)
      return if File.exist?(path) && File.read(path) == body

      FileUtils.mkdir_p(File.dirname(path))
      File.write("#{path}.tmp", body)
      File.chmod(0o755, "#{path}.tmp")
      File.rename("#{path}.tmp", path)
    end

    # The script: it keeps the working directory when it is under /tmp, else runs in /. It finds the
    # host's tools itself: callers may run it with a PATH that holds nothing but it.
    def text(arch, abi)
      <<~SH
        #!/bin/bash
        # #{Roots.label(Roots.row(arch, abi))} in #{Roots.dir(arch, abi)} (written by rakelib/roots/wrapper.rb).
        wd=/
        case "$PWD" in /tmp | /tmp/*) wd=$PWD ;; esac
        exec /usr/bin/unshare --mount --propagation private -- /bin/bash -c '
          PATH=/usr/sbin:/usr/bin:/sbin:/bin
          mount --rbind /dev "$0/dev" && mount --rbind /proc "$0/proc" && mount --rbind /tmp "$0/tmp" || exit 125
          PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin exec /usr/bin/unshare --root="$0" --wd="$1" "${@:2}"
        ' #{Shellwords.escape(Roots.dir(arch, abi))} "$wd" #{Roots.row(arch, abi)[:ruby]} "$@"
      SH
    end
  end
end
