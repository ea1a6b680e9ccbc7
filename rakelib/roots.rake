# frozen_string_literal: true

require File.join(__dir__, "roots")
require File.join(__dir__, "roots", "suite")

# The rows ROOTS_ARCH and ROOTS_ABI pick (all when unset).
def roots_rows
  abi = ENV.fetch("ROOTS_ABI", nil)
  Roots.rows(arch: ENV.fetch("ROOTS_ARCH", nil)).select { |row| abi.nil? || row[:abi] == abi }
end

def roots_seconds(started)
  (Process.clock_gettime(Process::CLOCK_MONOTONIC) - started).round
end

desc "Build (or find in the cache) the Debian root of every Ruby and CPU the platform gems carry " \
     "(ROOTS_ARCH=x86_64|aarch64, ROOTS_ABI=3.1 pick)"
task :roots do
  roots_rows.each do |row|
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    ruby = Roots.ruby(row[:arch], row[:abi])
    puts "#{Roots.label(row)}: #{ruby} (#{roots_seconds(started)} s)"
  end
end

namespace :roots do
  desc "Run the unit suite under every Ruby and CPU the platform gems carry, each in its root, with the " \
       "library of pkg/'s platform gem (or $CHORIA_NATS_PLATFORM_GEMS'; run rake native first)"
  task :spec do
    project = File.expand_path("..", __dir__)
    gems = ENV.fetch("CHORIA_NATS_PLATFORM_GEMS", nil)&.split ||
           Dir[File.join(project, "pkg", "choria-nats-#{gem_version}-*-linux.gem")]
    by_arch = gems.to_h { |gem| [Gem::Package.new(gem).spec.platform.cpu, gem] }
    failed = roots_rows.reject do |row|
      gem = by_arch.fetch(row[:arch]) { abort "rake roots:spec: no #{row[:arch]} platform gem: run rake native" }
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      output, status = Roots::Suite.new(row, project: project, gem: gem).run
      puts output unless status.success?
      puts "#{Roots.label(row)}: #{output[/^\d+ examples?, .*$/] || 'no summary'} (#{roots_seconds(started)} s)"
      status.success?
    end
    abort "rake roots:spec: failed under #{failed.map { |row| Roots.label(row) }.join(', ')}" unless failed.empty?
  end
end
