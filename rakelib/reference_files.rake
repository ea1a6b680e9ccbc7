# frozen_string_literal: true

# `rake reference_files REFERENCE_REPO=/path/to/mcollective-choria`: rewrites the list of the
# mcollective-choria files `choria-nats plugin install --replace` recognises
# (lib/choria_nats/data/mcollective_choria_files.tsv) from a git clone of that project: the SHA-256
# of each file of ours it shipped, at every release tag and at its last commit.
require "digest"
require "open3"

desc "Rewrite lib/choria_nats/data/mcollective_choria_files.tsv from a clone of mcollective-choria (REFERENCE_REPO)"
task :reference_files do
  repo = ENV.fetch("REFERENCE_REPO") { abort "set REFERENCE_REPO to a git clone of mcollective-choria" }
  git = ->(*args) { Open3.capture2("git", "-C", repo, *args).then { |out, status| status.success? ? out : nil } }
  tags = git.call("tag").to_s.split.grep(/\A\d+(\.\d+)*\z/).sort_by { |tag| Gem::Version.new(tag) }
  abort "no release tags in #{repo}" if tags.empty?

  last = "final-#{git.call('log', '-1', '--format=%cs', 'HEAD').to_s.strip}"
  files = %w[connector/nats.rb connector/nats.ddl application/choria.rb]
  seen = Hash.new { |hash, key| hash[key] = [] }
  (tags.map { |tag| [tag, tag] } + [["HEAD", last]]).each do |ref, label|
    files.each do |file|
      content = git.call("show", "#{ref}:lib/mcollective/#{file}")
      seen[[file, Digest::SHA256.hexdigest(content)]] << label if content
    end
  end
  path = File.expand_path("../lib/choria_nats/data/mcollective_choria_files.tsv", __dir__)
  File.write(path, <<~HEADER + seen.map { |(file, sha), labels| "#{file}\t#{sha}\t#{labels.join(',')}\n" }.join)
    # The files of mcollective-choria that `choria-nats plugin install --replace` recognises and moves
    # aside: path under <libdir>/mcollective, SHA-256 of the content, the releases that shipped it
    # ("final-DATE": the project's last commit, after its last tag). Written by `rake reference_files`.
  HEADER
  puts "#{seen.size} file versions from #{tags.first} to #{tags.last} and #{last}: #{path}"
end
