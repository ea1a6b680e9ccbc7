# frozen_string_literal: true

require "spec_helper"
require "open3"
require "rbconfig"

# `choria-nats plugin install` run as a user runs it, then MCollective (Debian's 2.12) finding the
# connector and its DDL the way mcollectived and mco do.
RSpec.describe "choria-nats plugin install", :bounded do
  let(:repo) { File.expand_path("../..", __dir__) }
  let(:connector) { File.join(repo, "lib", "mcollective", "connector", "nats.rb") }
  let(:dir) { Dir.mktmpdir("choria-nats-plugin-install") }
  let(:libdir) { File.join(dir, "plugins") }

  after { FileUtils.rm_rf(dir) }

  # Runs the command from the checkout, as `ruby -Ilib exe/choria-nats ...`, without RUBYLIB.
  def choria_nats(*args)
    Open3.capture3({ "RUBYLIB" => nil }, RbConfig.ruby, "-I", File.join(repo, "lib"),
                   File.join(repo, "exe", "choria-nats"), *args)
  end

  # Runs Ruby code in a fresh process with only `ruby_flags` added to the load path.
  def ruby(code, *ruby_flags)
    Open3.capture3({ "RUBYLIB" => nil }, RbConfig.ruby, *ruby_flags, "-e", code, chdir: dir)
  end

  def server_cfg
    path = File.join(dir, "server.cfg")
    File.write(path, <<~CFG)
      libdir = #{libdir}
      identity = plugin-install.example
      collectives = mcollective
      main_collective = mcollective
      connector = nats
      securityprovider = psk
      plugin.psk = choria-nats-specs
      factsource = yaml
      logger_type = console
      loglevel = error
    CFG
    path
  end

  it "installs the connector's DDL and loader, and reports nothing to do the second time", bounded: 60 do
    stdout, stderr, status = choria_nats("plugin", "install", "--libdir", libdir)

    expect(status.exitstatus).to eq(0), stderr
    expect(stdout).to include("created    #{libdir}/mcollective/connector/nats.ddl\n")
    expect(stdout.lines.last).to match(/set `connector = nats`.*restart mcollectived/)
    expect(File.read(File.join(libdir, "mcollective", "connector", "nats.ddl")))
      .to start_with("# Written by `choria-nats plugin install`")

    stdout, = choria_nats("plugin", "install", "--libdir", libdir)
    expect(stdout.lines.grep(/^created|^updated/)).to be_empty
    expect(stdout).to include("unchanged  #{libdir}/mcollective/connector/nats.ddl\n")
  end

  it "makes MCollective find the DDL in the libdir, without which it cannot load the connector", bounded: 60 do
    choria_nats("plugin", "install", "--libdir", libdir)
    # What Connector::Base.inherited does for `class Nats < Base`, with the libdir first on $LOAD_PATH
    # as MCollective::Config#loadconfig puts it; the gem itself is not on the load path.
    code = lambda do |load_path|
      <<~RUBY
        require "mcollective"
        $LOAD_PATH.unshift(*#{load_path.inspect})
        ddl = MCollective::DDL.new("nats", :connector)
        puts ddl.findddlfile, ddl.meta[:name], ddl.meta[:timeout]
      RUBY
    end

    stdout, stderr, status = ruby(code.call([libdir]))
    expect(status).to be_success, stderr
    expect(stdout).to eq("#{libdir}/mcollective/connector/nats.ddl\nnats\n2\n")

    _, stderr, status = ruby(code.call([]))
    expect(status).not_to be_success
    expect(stderr).to include("Can't find DDL for connector plugin 'nats'")
  end

  it "makes MCollective load the gem's connector through the loader (connector = nats)", bounded: 60 do
    skip "the connector (lib/mcollective/connector/nats.rb) is not written yet" unless File.exist?(connector)

    choria_nats("plugin", "install", "--libdir", libdir)
    code = <<~RUBY
      require "mcollective"
      MCollective::Config.instance.loadconfig(#{server_cfg.inspect})
      puts $LOAD_PATH.first
      puts MCollective::Connector::Nats.instance_method(:connect).source_location.first
      puts MCollective::DDL.new("nats", :connector).findddlfile
      puts MCollective::PluginManager.pluginlist.include?("connector_plugin")
    RUBY
    # -I<repo>/lib: how the loader finds `choria_nats` when the gem is not installed (development).
    stdout, stderr, status = ruby(code, "-I", File.join(repo, "lib"))

    expect(status).to be_success, stderr
    expect(stdout.lines.map(&:chomp))
      .to eq([libdir, connector, "#{libdir}/mcollective/connector/nats.ddl", "true"])
  end

  it "uninstalls what it installed", bounded: 60 do
    choria_nats("plugin", "install", "--libdir", libdir)

    stdout, stderr, status = choria_nats("plugin", "uninstall", "--libdir", libdir)

    expect(status.exitstatus).to eq(0), stderr
    expect(stdout).to include("removed    #{libdir}/mcollective/connector/nats.ddl\n")
    expect(Dir.glob("**/*", base: File.join(libdir, "mcollective"))).to eq([])
  end

  it "leaves a file it did not write alone and exits 1", bounded: 60 do
    FileUtils.mkdir_p(File.join(libdir, "mcollective", "connector"))
    File.write(File.join(libdir, "mcollective", "connector", "nats.ddl"), "metadata :name => \"theirs\"\n")

    stdout, _, status = choria_nats("plugin", "install", "--libdir", libdir)

    expect(status.exitstatus).to eq(1)
    expect(stdout).to include("left alone #{libdir}/mcollective/connector/nats.ddl: not written by choria-nats")
    expect(File.read(File.join(libdir, "mcollective", "connector", "nats.ddl"))).to eq("metadata :name => \"theirs\"\n")
  end

  it "takes the libdir from --config", bounded: 60 do
    stdout, stderr, status = choria_nats("plugin", "install", "--config", server_cfg)

    expect(status.exitstatus).to eq(0), stderr
    expect(stdout.lines.first).to eq("libdir #{libdir} (from #{server_cfg})\n")
    expect(File).to exist(File.join(libdir, "mcollective", "connector", "nats.ddl"))

    _, stderr, status = choria_nats("plugin", "install", "--config", File.join(dir, "missing.cfg"))
    expect(status.exitstatus).to eq(1)
    expect(stderr).to match(/choria-nats: no MCollective config found .*: pass --libdir DIR/)
  end

  it "prints its version and help, and usage on stderr with status 2 for unknown commands", bounded: 60 do
    expect(choria_nats("--version").first).to eq("choria-nats #{ChoriaNats::VERSION}\n")
    expect(choria_nats("help").first).to start_with("Usage: choria-nats COMMAND")

    [%w[frobnicate], %w[plugin], %w[plugin reinstall], %w[plugin install --bogus], %w[plugin install extra], []]
      .each do |args|
        stdout, stderr, status = choria_nats(*args)
        expect([stdout, status.exitstatus]).to eq(["", 2]), "choria-nats #{args.join(' ')}"
        expect(stderr).to match(/\Achoria-nats: .+\n\nUsage: choria-nats COMMAND/)
      end
  end

  it "defines ChoriaNats::PLUGIN_DIR on `require \"choria_nats\"`, as the loaders expect", bounded: 60 do
    stdout, stderr, status = ruby('require "choria_nats"; puts ChoriaNats::PLUGIN_DIR', "-I", File.join(repo, "lib"))

    expect(status).to be_success, stderr
    expect(stdout).to eq("#{repo}/lib/mcollective\n")
  end

  describe "on a libdir that holds mcollective-choria 0.16.1", bounded: 180 do
    include_context "with a TLS broker"

    let(:reference) { ChoriaNats::TestSupport::MCollectiveChoria }

    before { skip "mcollective-choria 0.16.1 is not in shared/peers" unless reference.available? }

    # Every file under the libdir's mcollective/ with its bytes and mode.
    def tree(root)
      base = File.join(root, "mcollective")
      Dir.glob("**/*", base: base).sort.to_h do |relative|
        file = File.join(base, relative)
        [relative, [File.directory?(file) ? :dir : File.binread(file), File.stat(file).mode]]
      end
    end

    it "refuses without --replace; with it, mcollectived answers mco ping through this gem's connector; " \
       "uninstall puts 0.16.1's files back byte for byte" do
      reference.install(libdir)
      original = tree(reference::LIB)
      expect(tree(libdir)).to eq(original)

      stdout, _, status = choria_nats("plugin", "install", "--libdir", libdir)
      expect(status.exitstatus).to eq(1), stdout
      expect(stdout).to include("left alone #{libdir}/mcollective/connector/nats.rb: mcollective-choria 0.12.0 to " \
                                "0.16.1's own file: `choria-nats plugin install --replace` moves it aside")
      expect(tree(libdir)).to eq(original)

      stdout, stderr, status = choria_nats("plugin", "install", "--replace", "--libdir", libdir)
      expect(status.exitstatus).to eq(0), stdout + stderr
      expect(stdout.lines.grep(/^replaced /).map { |line| line.split[1].chomp(":") })
        .to eq(reference::REPLACED.map { |relative| "#{libdir}/mcollective/#{relative}" })

      %w[node.example.net rspec.mcollective].each { |name| pki.cert_for(name) }
      settings = { "plugin.choria.middleware_hosts" => server.address, "plugin.choria.ssldir" => pki.dir,
                   "plugin.choria.use_srv_records" => "false", "loglevel" => "info",
                   "plugin.yaml" => File.join(dir, "facts.yaml") }
      File.write(File.join(dir, "facts.yaml"), "role: test\n")
      config = ChoriaNats::TestSupport::MCollectiveConfig.text(identity: "node.example.net", libdir: libdir,
                                                               settings: settings)
      # RUBYLIB stands for the installed gem, which the loaders activate when there is one.
      env = { "RUBYLIB" => File.join(repo, "lib") }
      node = ChoriaNats::TestSupport::Mcollectived.new(dir: File.join(dir, "daemon"), name: "node", config: config,
                                                       env: env.merge("MCOLLECTIVE_CERTNAME" => "node.example.net"))
      node.start
      node.wait_for_log(/Connected to NATS #{Regexp.escape(server.address)} \(config\)/, 60)
      client = File.join(dir, "client.cfg")
      ChoriaNats::TestSupport::MCollectiveConfig.write(client, identity: "client", libdir: libdir, settings: settings)
      client_env = env.merge("MCOLLECTIVE_CERTNAME" => "rspec.mcollective")
      output, status = ChoriaNats::TestSupport::Mcollectived.mco(client, "ping", env: client_env)
      expect(status).to be_success, output
      expect(output).to match(/^node\.example\.net\s+time=/).and include("1 replies")
      expect(node.log).to include("choria-nats #{ChoriaNats::VERSION}")
      node.stop

      stdout, stderr, status = choria_nats("plugin", "uninstall", "--libdir", libdir)
      expect(status.exitstatus).to eq(0), stdout + stderr
      expect(stdout.lines.grep(/^restored /).size).to eq(3)
      expect(tree(libdir)).to eq(original)
      expect(Dir.children(libdir)).to eq(["mcollective"])
    ensure
      node&.stop
    end
  end
end
