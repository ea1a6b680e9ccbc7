# frozen_string_literal: true

require "spec_helper"
require "json"

# The native fast paths of ChoriaNats::Envelope against Ruby's own: the
# serde_json parser must give what JSON.parse gives, or step aside.
RSpec.describe ChoriaNats::Envelope do
  samples_dir = File.expand_path("../../../shared/wire-samples", __dir__)

  # [Hash, nil] or [nil, the Invalid message]: what a parser makes of +body+.
  def outcome(parser, body)
    [described_class.send(parser, body.dup), nil]
  rescue ChoriaNats::Envelope::Invalid => e
    [nil, e.message]
  end

  def agree(body)
    ours = outcome(:parse, body)
    expect(ours).to eq(outcome(:parse_in_ruby, body)), body.inspect[0, 200]
    expect(ours.first.keys).to eq(JSON.parse(body).keys) if ours.first # and in the same order
  end

  it "parses every wire sample natively, as JSON.parse does" do
    Dir[File.join(samples_dir, "*.raw")].each do |file|
      body = File.binread(file)
      expect(described_class.send(:parse_native, body)).to eq(JSON.parse(body))
      agree(body)
    end
  end

  it "builds UTF-8 strings and Integers in document order, the last repeated key winning" do
    body = '{"b":1,"a":[-9223372036854775808,18446744073709551615],"b":"\u00e9"}'.b
    parsed = described_class.send(:parse_native, body)
    expect(parsed).to eq("b" => "é", "a" => [-9_223_372_036_854_775_808, 18_446_744_073_709_551_615])
    expect(parsed.keys).to eq(%w[b a])
    expect(parsed["b"].encoding).to eq(Encoding::UTF_8)
  end

  it "leaves to JSON.parse what it cannot be sure to read alike" do
    deep_ok = "{\"a\":#{'[' * 99}#{']' * 99}}"
    ["{\"a\":1.5}", "{\"a\":1e3}", "{\"a\":18446744073709551616}", "[1]", "\"text\"", "nope", "",
     "{\"a\":1} x", "{\"a\":\"\\ud800\"}", "{\"a\":\"\xFF\"}".b, "{\"a\":#{'[' * 100}#{']' * 100}}", "\xEF\xBB\xBF{}".b,
     "{\"a\":NaN}", "{\"a\":\"tab\there\"}"].each do |body|
      expect(described_class.send(:parse_native, body)).to be_nil, body.inspect
      agree(body)
    end
    expect(described_class.send(:parse_native, deep_ok)).to eq(JSON.parse(deep_ok))
  end

  it "agrees with JSON.parse on 2,000 generated documents" do
    documents = ChoriaNats::TestSupport::RandomDocuments.new(Random.new(20_261_125))
    natively = 0
    2000.times do
      body = JSON.generate(documents.headers)
      natively += 1 if described_class.send(:parse_native, body)
      agree(body)
    end
    expect(natively).to be > 500 # the rest hold floats or big integers: JSON.parse's
  end

  # What JSON.generate makes of +value+: [text, nil] or [nil, the error's class and message].
  def generated(value)
    [JSON.generate(value), nil]
  rescue JSON::JSONError, EncodingError => e
    [nil, "#{e.class}: #{e.message}"]
  end

  # The native writer gives JSON.generate's bytes, as UTF-8, or steps aside.
  def writes_alike(value)
    native = described_class.send(:generate_native, value)
    return false unless native

    expect([native, nil]).to eq(generated(value)), value.inspect[0, 200]
    expect(native.encoding).to eq(Encoding::UTF_8)
    true
  end

  it "encodes every wire sample's envelope as JSON.generate does, natively" do
    Dir[File.join(samples_dir, "*.raw")].each do |file|
      envelope = JSON.parse(File.binread(file))
      expect(writes_alike(envelope)).to be(true), file
      data = envelope["data"].unpack1("m")
      line_broken = [data].pack("m") # as MCollective's base64_encode! writes it
      expected = JSON.generate("protocol" => "choria:transport:1", "data" => line_broken,
                               "headers" => envelope["headers"])
      expect(described_class.encode(line_broken, envelope["headers"])).to eq(expected)
    end
  end

  it "escapes what JSON.generate escapes and nothing more" do
    text = "q\"b\\s/\b\f\n\r\t\u0000\u0001\u001f\u007f é\u2028\u{1F600}"
    strings = [text, text.encode("US-ASCII", undef: :replace)]
    strings << text.b if generated([text.b]).first
    expect(writes_alike("a" => text, text => strings)).to be(true)
    # Ruby 2.7's json (2.3) refuses a binary string of UTF-8 bytes, which later ones write as UTF-8;
    # the native writer writes it as they do under every Ruby.
    expect(described_class.send(:generate_native, [text.b])).to eq(JSON.generate([text]))
    expect(writes_alike("n" => [nil, true, false, 0, -1, (2**63) - 1, -2**63, {}, [], ""])).to be(true)
    expect(writes_alike("a" => "#{'[' * 98}#{']' * 98}", "d" => JSON.parse("#{'[' * 99}#{']' * 99}"))).to be(true)
  end

  it "leaves to JSON.generate what it cannot be sure to write alike, errors included" do
    subclass = Class.new(String)
    hash_subclass = Class.new(Hash)
    ["\xFF", "\xFF".b, "é".encode("ISO-8859-1"), "x".encode("UTF-16LE"), "é".dup.force_encoding("US-ASCII"),
     1.5, 2**64, :symbol, subclass.new("x"), hash_subclass.new, Object.new, JSON.parse("#{'[' * 100}#{']' * 100}"),
     { symbol: 1 }, { 1 => 2 }, { "\xFF" => 1 }].each do |odd|
      value = { "a" => odd }
      expect(described_class.send(:generate_native, value)).to be_nil, odd.inspect
      envelope = { "protocol" => "choria:transport:1", "data" => "x", "headers" => value }
      expect(described_class.encode("x", value)).to eq(JSON.generate(envelope)) if generated(envelope).first
    end
    expect { described_class.encode("\xFF", {}) }.to raise_error(JSON::GeneratorError)
  end

  it "agrees with JSON.generate on 2,000 generated envelopes" do
    documents = ChoriaNats::TestSupport::RandomDocuments.new(Random.new(20_261_201))
    natively = 0
    2000.times do
      envelope = { "protocol" => "choria:transport:1", "data" => documents.text, "headers" => documents.headers }
      natively += 1 if writes_alike(envelope)
    end
    expect(natively).to be > 500 # the rest hold floats or big integers: JSON.generate's
  end

  it "checks base64 text natively as the character class it replaces" do
    random = Random.new(7)
    alphabet = [*"A".."Z", *"a".."z", *"0".."9", "+", "/", "=", "\r", "\n"]
    strings = Array.new(500) { Array.new(random.rand(20)) { alphabet.sample(random: random) }.join }
    strings += Array.new(500) { Array.new(random.rand(1..20)) { random.rand(256).chr }.join.b }
    strings.each do |text|
      expect(described_class.send(:base64_text?, text)).to eq(text.b.count("^A-Za-z0-9+/=\r\n").zero?), text.inspect
    end
  end
end
