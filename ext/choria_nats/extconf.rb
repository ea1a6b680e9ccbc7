# frozen_string_literal: true

# Writes a Makefile that builds the native library with cargo, for
# `rake compile` and for `gem install` of the source gem. It needs Rust >= 1.89,
# cargo, libclang (for rb-sys' bindgen) and the Ruby headers; not the rb_sys gem.
require "rbconfig"
require "shellwords"

crate_dir = __dir__
root = File.expand_path("../..", crate_dir)
target_dir = ENV.fetch("CARGO_TARGET_DIR", File.join(root, "target"))
cargo = ENV.fetch("CARGO", "cargo")
library = File.join(target_dir, "release", "libchoria_nats.so")
dlext = RbConfig::CONFIG["DLEXT"]
sitearchdir = RbConfig::CONFIG["sitearchdir"]
# A gem install leaves ~1 GB of cargo output behind unless it is removed.
clean_target = target_dir.start_with?(root) && !ENV.key?("CHORIA_NATS_KEEP_TARGET")

File.write("Makefile", <<~MAKE)
  SHELL = /bin/sh
  DESTDIR =
  sitearchdir = #{sitearchdir}
  TARGET = choria_nats.#{dlext}

  all: $(TARGET)

  $(TARGET): FORCE
  \tRUBY=#{RbConfig.ruby.shellescape} CARGO_TARGET_DIR=#{target_dir.shellescape} #{cargo.shellescape} build --release --locked --manifest-path #{File.join(crate_dir, 'Cargo.toml').shellescape}
  \tcp #{library.shellescape} $(TARGET)

  install: $(TARGET)
  \tmkdir -p $(DESTDIR)$(sitearchdir)/choria_nats
  \tcp $(TARGET) $(DESTDIR)$(sitearchdir)/choria_nats/$(TARGET)
  #{clean_target ? "\trm -rf #{target_dir.shellescape}" : ''}

  clean:
  \trm -f $(TARGET)

  FORCE:

  .PHONY: all install clean FORCE
MAKE
