# frozen_string_literal: true

require "spec_helper"
require_relative "../../rakelib/native_gem/elf"
require_relative "../../rakelib/native_gem/package"

RSpec.describe NativeGem do
  describe NativeGem::Elf do
    # readelf's report (file header, dynamic section, section headers, versions) of a library.
    def report(machine: "AArch64", needed: %w[libc.so.6 libm.so.6], glibc: %w[2.17 2.17], symtab: false)
      sections = [".dynsym", ".text", (".symtab" if symtab)].compact.each_with_index.map do |name, i|
        format("  [%<i>2d] %<name>-17s PROGBITS        0000000000001000 001000 000100 00  AX  0   0 16",
               i: i + 1, name: name)
      end
      <<~REPORT
        ELF Header:
          Class:                             ELF64
          Machine:                           #{machine}
        Dynamic section at offset 0x450000 contains 30 entries:
          Tag        Type                         Name/Value
        #{needed.map { |lib| " 0x0000000000000001 (NEEDED)             Shared library: [#{lib}]" }.join("\n")}
        Section Headers:
        #{sections.join("\n")}
        Version needs section '.gnu.version_r' contains 2 entries:
        #{glibc.map.with_index { |v, i| "  0x00#{i}0:   Name: GLIBC_#{v}  Flags: none  Version: #{i + 2}" }.join("\n")}
          0x0040:   Name: GLIBC_PRIVATE  Flags: none  Version: 9
      REPORT
    end

    it "reads the machine, the libraries linked, the newest glibc version and whether it is stripped" do
      elf = described_class.new(report(glibc: %w[2.3 2.17 2.2.5], symtab: true))
      expect(elf.machine).to eq("AArch64")
      expect(elf.needed).to eq(%w[libc.so.6 libm.so.6])
      expect(elf.glibc).to eq(Gem::Version.new("2.17"))
      expect(elf).not_to be_stripped
      expect(described_class.new(report).problems("aarch64")).to be_empty
    end

    it "refuses another CPU's library, a library beyond glibc, a newer glibc and a symbol table" do
      expect(described_class.new(report(machine: "Advanced Micro Devices X86-64")).problems("aarch64"))
        .to eq(["is for Advanced Micro Devices X86-64, not AArch64"])
      expect(described_class.new(report(needed: %w[libc.so.6 libgcc_s.so.1 ld-linux-x86-64.so.2])).problems("aarch64"))
        .to eq(["links libgcc_s.so.1, ld-linux-x86-64.so.2, not only glibc"])
      expect(described_class.new(report(needed: %w[libm.so.6])).problems("aarch64")).to eq(["links no libc.so.6"])
      expect(described_class.new(report(glibc: %w[2.17 2.28])).problems("aarch64"))
        .to eq(["needs GLIBC_2.28, newer than 2.17"])
      expect(described_class.new(report(symtab: true)).problems("aarch64")).to eq(["is not stripped"])
    end
  end

  describe NativeGem::Package do
    it "makes the source gemspec a platform gem for the carried minors, without what builds the library" do
      spec = described_class.gemspec("aarch64", %w[2.7 3.1 3.3 3.4])
      expect(spec.platform.to_s).to eq("aarch64-linux")
      expect(spec.extensions).to be_empty
      expect(spec.files).to include("lib/choria_nats/2.7/choria_nats.so", "lib/choria_nats/3.4/choria_nats.so",
                                    "lib/choria_nats.rb", "THIRD-PARTY-LICENSES")
      expect(spec.files.grep(%r{\Aext/|\ACargo})).to be_empty
      expect(spec.required_ruby_version.as_list).to contain_exactly(">= 2.7", "< 3.5.dev")
      expect(spec.required_ruby_version).not_to be_satisfied_by(Gem::Version.new("3.5.0.preview1"))
    end
  end

  it "is listed in the README with the Rubies each platform gem carries" do
    readme = File.read(File.expand_path("../../README.md", __dir__), encoding: Encoding::UTF_8)
    described_class.arches.each do |arch|
      carried = readme[/^\| `choria-nats-VERSION-#{described_class.platform(arch)[:gem]}\.gem` \|[^|]*\|([^|]+)\|/, 1]
      expect(carried&.strip).to eq(described_class.abis(arch).join(", ")), arch
    end
  end

  it "has a platform gem, a Rust target and a home in pkg/ for every CPU of the roots' matrix" do
    expect(described_class.arches).to contain_exactly("x86_64", "aarch64")
    expect(described_class.rust_targets).to eq(%w[x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu])
    expect(described_class.gem_file("aarch64")).to end_with("/pkg/choria-nats-#{ChoriaNats::VERSION}-aarch64-linux.gem")
    expect { described_class.platform("riscv64") }.to raise_error(ArgumentError, /no platform gem for riscv64/)
  end
end
