# frozen_string_literal: true

require "open3"
require "rubygems"
require_relative "platforms"

module NativeGem
  # What readelf reports of a shared library, and what is wrong with it as a
  # library of a platform gem. readelf reads ELF files of any CPU.
  class Elf
    # @return [String] the ELF machine, as readelf names it
    attr_reader :machine
    # @return [Array<String>] the libraries it links (DT_NEEDED)
    attr_reader :needed
    # @return [Gem::Version, nil] the newest GLIBC_ symbol version it needs
    attr_reader :glibc

    # Reads `path` with readelf; raises when readelf cannot.
    def self.read(path)
      out, status = Open3.capture2e("readelf", "--file-header", "--dynamic", "--section-headers",
                                    "--version-info", "--wide", path)
      raise "readelf #{path} failed: #{out}" unless status.success?

      new(out)
    end

    # `report`: readelf's output for the file header, dynamic section, section headers and versions.
    def initialize(report)
      @machine = report[/^\s*Machine:\s+(.+?)\s*$/, 1]
      @needed = report.scan(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/).flatten
      @glibc = report.scan(/\bGLIBC_(\d+(?:\.\d+)+)\b/).flatten.map { |v| Gem::Version.new(v) }.max
      @symtab = report.match?(/\]\s+\.symtab\s/)
    end

    # Whether the symbol table is gone (a stripped library keeps only the dynamic symbols).
    def stripped?
      !@symtab
    end

    # What keeps it from shipping in `arch`'s platform gem: an empty list when nothing does.
    def problems(arch)
      platform = NativeGem.platform(arch)
      foreign = needed - NativeGem.allowed_libraries(arch)
      [("is for #{machine}, not #{platform[:machine]}" unless machine == platform[:machine]),
       ("links #{foreign.join(', ')}, not only glibc" unless foreign.empty?),
       ("links no libc.so.6" unless needed.include?("libc.so.6")),
       ("needs GLIBC_#{glibc}, newer than #{GLIBC}" if glibc && glibc > Gem::Version.new(GLIBC)),
       ("is not stripped" unless stripped?)].compact
    end
  end
end
