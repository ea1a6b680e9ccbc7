# frozen_string_literal: true

require "fileutils"

module ChoriaNats
  module TestSupport
    # The real mcollective-choria 0.16.1 (its lib/, beside the repository in shared/peers), which
    # the specs copy into a temporary libdir the way a site that runs it has it installed.
    module MCollectiveChoria
      # Its lib/, which holds mcollective/<type>/<name>.
      LIB = File.expand_path("../../../shared/peers/mcollective-choria-0.16.1/lib", __dir__)
      # The files of it that the gem's plugin files replace.
      REPLACED = %w[application/choria.rb connector/nats.ddl connector/nats.rb].freeze

      # Whether the copy is there.
      def self.available?
        REPLACED.all? { |relative| File.file?(File.join(LIB, "mcollective", relative)) }
      end

      # Copies its whole plugin tree into `libdir`/mcollective; returns `libdir`.
      def self.install(libdir)
        FileUtils.mkdir_p(libdir)
        FileUtils.cp_r(File.join(LIB, "mcollective"), libdir, preserve: true)
        libdir
      end

      # The bytes of its `relative` file.
      def self.content(relative)
        File.binread(File.join(LIB, "mcollective", relative))
      end
    end
  end
end
