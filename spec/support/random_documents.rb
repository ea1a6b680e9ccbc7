# frozen_string_literal: true

module ChoriaNats
  module TestSupport
    # Random JSON-able values for comparing the native envelope code with Ruby's JSON:
    # text of any character up to U+02FF, and nested Hashes and Arrays of big and small
    # Integers, Floats, booleans, nil and text, from a seeded Random.
    class RandomDocuments
      # Documents drawn from +random+.
      def initialize(random)
        @random = random
      end

      # A string of up to 7 characters, control characters included.
      def text
        Array.new(@random.rand(8)) { [@random.rand(0x00..0x2FF)].pack("U") }.join
      end

      # A Hash of up to 4 entries, as envelope headers.
      def headers
        Array.new(@random.rand(5)) { [text, value] }.to_h
      end

      # A value +depth+ containers deep: containers stop at depth 4.
      def value(depth = 1)
        pick = depth < 4 ? @random.rand(7) : @random.rand(5)
        return atom(pick) if pick < 5

        items = Array.new(@random.rand(4)) { value(depth + 1) }
        pick == 5 ? items : items.to_h { |item| [text, item] }
      end

      private

      def atom(pick)
        case pick
        when 0 then @random.rand((-2**65)..(2**65))
        when 1 then @random.rand(10).zero? ? @random.rand * 1000 : @random.rand(-99..99)
        when 2 then @random.rand(2).zero?
        when 3 then nil
        else text
        end
      end
    end
  end
end
