# frozen_string_literal: true

$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))

require "choria_nats"
require "tmpdir"
require "timeout"
Dir[File.join(__dir__, "support", "*.rb")].sort.each { |file| require file }

RSpec.configure do |config|
  config.disable_monkey_patching!
  config.order = :defined
  config.include ChoriaNats::TestSupport::Connections
  config.include ChoriaNats::TestSupport::Forked
  config.around(:each, :bounded) { |example| Timeout.timeout(example.metadata[:bounded]) { example.run } }
end
