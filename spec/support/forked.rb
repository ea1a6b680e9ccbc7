# frozen_string_literal: true

module ChoriaNats
  module TestSupport
    # Running a block in a forked child, as mcollectived forks after loading the gem.
    module Forked
      # The block's value (as a String) from a forked child, and the child's
      # Process::Status. The child never runs RSpec's exit hooks: it leaves with
      # exit!, 1 and the exception's class and message when the block raised.
      def in_forked_child
        reader, writer = IO.pipe
        pid = fork do
          reader.close
          begin
            writer.write(yield.to_s)
            code = 0
          rescue Exception => e # rubocop:disable Lint/RescueException -- the child must never unwind into RSpec
            writer.write("#{e.class}: #{e.message}")
            code = 1
          end
          writer.close
          exit!(code)
        end
        writer.close
        output = reader.read
        [output, Process.wait2(pid).last]
      ensure
        reader&.close
      end
    end
  end
end
