# frozen_string_literal: true

require "json"

module ChoriaNats
  # The `choria:transport:1` envelope every message on NATS travels in:
  #
  #   {"protocol": "choria:transport:1", "data": "<base64>", "headers": {...}}
  #
  # Older connectors wrote the same envelope, sometimes without `protocol`;
  # both directions stay compatible with them.
  module Envelope
    # The protocol name in the envelope.
    PROTOCOL = "choria:transport:1"

    # A body that is not a valid envelope; the message says why.
    class Invalid < ChoriaNats::Error; end

    # The JSON body for a base64 payload and its headers: what JSON.generate makes of them, written
    # natively where that is sure to be the same, because that is faster on every publish.
    def self.encode(data, headers)
      envelope = { "protocol" => PROTOCOL, "data" => data, "headers" => headers }
      generate_native(envelope) || JSON.generate(envelope)
    end

    # The parsed envelope of a body (a Hash with String "data" and Hash
    # "headers"), or Invalid saying what is wrong with it.
    def self.decode(body)
      envelope = parse(body)
      validate!(envelope)
      envelope["headers"] ||= {}
      envelope
    end

    # The message bytes a decoded envelope carries. Decoded here rather than by
    # MCollective::Message.new(base64: true): MCollective's SSL.base64_decode
    # checks the characters with a regular expression, which #decode has
    # already done natively, and that check is most of its cost.
    def self.payload(envelope)
      envelope["data"].unpack1("m")
    end

    # The native parser (serde_json, faster than JSON.parse on every message received) where it is
    # sure to agree with JSON.parse, which decides everything else.
    def self.parse(body)
      parse_native(body) || parse_in_ruby(body)
    end

    def self.parse_in_ruby(body)
      unless body.encoding == Encoding::UTF_8
        body = body.dup if body.frozen?
        body.force_encoding(Encoding::UTF_8)
      end
      raise Invalid, "not UTF-8" unless body.valid_encoding?

      envelope = JSON.parse(body)
      raise Invalid, "not a JSON object" unless envelope.is_a?(Hash)

      envelope
    rescue JSON::NestingError
      raise Invalid, "JSON nested too deeply"
    rescue JSON::ParserError, EncodingError, TypeError
      raise Invalid, "not JSON"
    end

    def self.validate!(envelope)
      protocol = envelope["protocol"]
      raise Invalid, "unknown protocol #{protocol.to_s[0, 40].inspect}" unless protocol.nil? || protocol == PROTOCOL

      data = envelope["data"]
      raise Invalid, "no data" if data.nil?
      raise Invalid, "data is not a string" unless data.is_a?(String)
      raise Invalid, "data is not base64" unless base64_text?(data)

      headers = envelope["headers"]
      raise Invalid, "headers is not an object" unless headers.nil? || headers.is_a?(Hash)
    end
    private_class_method :parse, :parse_in_ruby, :parse_native, :generate_native, :base64_text?, :validate!
  end
end
