# frozen_string_literal: true

require "fileutils"
require "open3"
require "rubygems/package"
require "tmpdir"

module Roots
  # The unit suite under one row's Ruby, in its root: a copy of the project's tracked files (and
  # of ../shared, whose samples some specs read) under /tmp, which the root sees, with the row's
  # library from its platform gem where a source build goes, as in a checkout after rake compile.
  class Suite
    # What runs: the integration specs need the host's brokers and daemons, which the roots do not
    # hold; the roots spec runs each library against those.
    SPECS = "spec/unit/**/*_spec.rb"
    # A spec that loads MCollective, which runs only where Debian ships it for the row's Ruby.
    LOADS_MCOLLECTIVE = /require "mcollective"|MCollectiveConfig\.load/.freeze

    # row:: a row of Roots::MATRIX; project:: the checkout; gem:: that CPU's platform gem
    def initialize(row, project:, gem:)
      @row = row
      @project = project
      @gem = gem
    end

    # Runs the suite; returns [output, status].
    def run
      Dir.mktmpdir("choria-nats-suite-#{@row[:arch]}-#{@row[:abi]}-") do |scratch|
        copy = File.join(scratch, File.basename(@project))
        stage(copy, File.join(scratch, "shared"))
        Open3.capture2e({ "RUBYLIB" => nil, "RUBYOPT" => nil, "HOME" => scratch },
                        Roots.ruby(@row[:arch], @row[:abi]), "-S", "rspec", *specs(copy), chdir: copy)
      end
    end

    private

    def specs(copy)
      files = Dir.glob(SPECS, base: copy).sort
      @row[:mcollective] ? files : files.reject { |file| File.read(File.join(copy, file)).match?(LOADS_MCOLLECTIVE) }
    end

    def stage(copy, shared)
      files, status = Open3.capture2("git", "ls-files", "-z", chdir: @project)
      raise "Roots: git ls-files failed in #{@project}" unless status.success?

      files.split("\0").each do |file|
        next unless File.file?(File.join(@project, file))

        FileUtils.mkdir_p(File.join(copy, File.dirname(file)))
        FileUtils.cp(File.join(@project, file), File.join(copy, file), preserve: true)
      end
      source = File.expand_path("../shared", @project)
      FileUtils.cp_r(source, shared) if File.directory?(source)
      place_library(File.join(copy, "lib", "choria_nats"))
    end

    # The row's library out of the platform gem.
    def place_library(dir)
      carried = "lib/choria_nats/#{@row[:abi]}/choria_nats.so"
      Dir.mktmpdir do |unpacked|
        Gem::Package.new(@gem).extract_files(unpacked, carried)
        library = File.join(unpacked, carried)
        raise "Roots: #{@gem} carries no #{carried}" unless File.file?(library)

        FileUtils.cp(library, File.join(dir, "choria_nats.so"))
      end
    end
  end
end
