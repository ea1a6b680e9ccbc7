# frozen_string_literal: true

require File.join(__dir__, "roots")

desc "Build (or check the cache of) the Debian root of every Ruby and CPU the platform gems carry " \
     "(ROOTS_ARCH=x86_64|aarch64 for one CPU)"
task :roots do
  Roots.rows(arch: ENV.fetch("ROOTS_ARCH", nil)).each do |row|
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    Roots.ensure(row[:arch], row[:abi])
    puts format("%<label>s: %<ruby>s (%<s>.0f s)", label: Roots.label(row), ruby: Roots.ruby(row[:arch], row[:abi]),
                                                   s: Process.clock_gettime(Process::CLOCK_MONOTONIC) - started)
  end
end
