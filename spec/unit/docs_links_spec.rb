# frozen_string_literal: true

require "spec_helper"

RSpec.describe "The documentation" do
  root = File.expand_path("../..", __dir__)
  documents = %w[README.md CONTRIBUTING.md CHANGELOG.md].map { |name| File.join(root, name) } +
              Dir[File.join(root, "docs", "*.md")].sort
  links = ChoriaNats::TestSupport::MarkdownLinks

  documents.each do |path|
    it "leads from #{path.delete_prefix("#{root}/")} to files and headings that exist" do
      expect(links.new(path).broken).to eq([])
    end
  end

  it "leads from the README to every document in docs/ within two clicks" do
    linked_from = lambda do |path|
      links.new(path).targets.grep_v(links::EXTERNAL).map { |target| target.split("#").first }.reject(&:empty?)
           .map { |target| File.expand_path(target, File.dirname(path)) }.select { |file| file.end_with?(".md") }
    end
    one_click = linked_from.call(File.join(root, "README.md"))
    two_clicks = one_click + one_click.select { |file| File.exist?(file) }.flat_map(&linked_from)
    expect(Dir[File.join(root, "docs", "*.md")] - two_clicks).to eq([])
  end

  it "ships in the gem every document the README links to" do
    files = Dir.chdir(root) { Gem::Specification.load("choria-nats.gemspec").files }
    linked = links.new(File.join(root, "README.md")).targets.grep_v(links::EXTERNAL)
                  .map { |target| target.split("#").first }.reject(&:empty?).uniq
    expect(linked - files).to eq([])
  end

  it "names only source files that exist" do
    sources = Dir.chdir(root) { Dir.glob("{lib,ext,spec,bench,sim,rakelib,bin,exe}/**/*.{rs,rb}") }
    named = documents.flat_map do |path|
      names = File.read(path, encoding: "UTF-8").scan(%r{`([\w./-]+\.(?:rs|rb))`}).flatten
      names.map { |name| [File.basename(path), name] }
    end
    missing = named.reject do |_, name|
      sources.any? { |source| source == name || source.end_with?("/#{name}") }
    end
    expect(missing).to eq([])
  end

  it "leads from code comments only to documents that exist" do
    kinds = [".rb", ".rs", ".rake", ".toml", ""]
    found = Dir[File.join(root, "{lib,exe,bin,rakelib,bench,sim,spec,ext}", "**", "*")].grep_v(%r{/target/})
    sources = found.select { |path| File.file?(path) && kinds.include?(File.extname(path)) }
    mentions = sources.flat_map do |path|
      docs = File.read(path, encoding: "BINARY").scan(%r{\bdocs/[\w-]+\.md\b})
      docs.map { |doc| [path.delete_prefix("#{root}/"), doc] }
    end
    expect(mentions.reject { |_, doc| File.exist?(File.join(root, doc)) }).to eq([])
  end

  describe ChoriaNats::TestSupport::MarkdownLinks do
    around do |example|
      Dir.mktmpdir do |dir|
        @dir = dir
        example.run
      end
    end

    def write(name, text)
      File.join(@dir, name).tap { |path| File.write(path, text) }
    end

    it "makes heading ids as GitHub does" do
      expect(links.slug("The receive queue's byte bound (`receive_buffer_bytes`)"))
        .to eq("the-receive-queues-byte-bound-receive_buffer_bytes")
      expect(links.slug("Reconnect storms: the fleet simulation")).to eq("reconnect-storms-the-fleet-simulation")
    end

    it "numbers repeated headings" do
      page = write("page.md", "# Notes\n\n## Notes\n\n## Notes\n")
      expect(links.new(page).anchors).to eq(%w[notes notes-1 notes-2])
    end

    it "reports a link to a missing file and to a missing heading, and accepts the good ones" do
      write("other.md", "# Other\n\n## Known heading\n")
      page = write("page.md", <<~MD)
        # Page
        [ok](other.md#known-heading) [ok](#page) [ok](https://example.net/x.md)
        [gone](missing.md) [no heading](other.md#unknown) ![no image](chart.svg)
      MD
      expect(links.new(page).broken).to contain_exactly(
        a_string_starting_with("missing.md: no file"),
        a_string_starting_with("other.md#unknown: no heading"),
        a_string_starting_with("chart.svg: no file")
      )
    end

    it "ignores links in code blocks and inline code" do
      page = write("page.md", "# Page\n\n```\n[gone](missing.md)\n```\n\n`[gone](missing.md)`\n")
      expect(links.new(page).broken).to eq([])
    end
  end
end
