# frozen_string_literal: true

desc "Regenerate THIRD-PARTY-LICENSES from Cargo.lock (cargo-about: cargo install --locked cargo-about --features cli)"
task :licenses do
  unless system("cargo about --version", out: File::NULL, err: File::NULL)
    abort "rake licenses: cargo-about not found: cargo install --locked cargo-about --version 0.9.3 --features cli"
  end
  # cargo-about reads `cargo metadata`, which wants every locked crate's source (all platforms) in the
  # local registry; after this fetch it reads license files from there only (--frozen: no network).
  sh "cargo fetch --locked --quiet"
  sh "cargo about generate --frozen --fail --config about.toml --manifest-path Cargo.toml " \
     "--output-file THIRD-PARTY-LICENSES about.hbs"
end
