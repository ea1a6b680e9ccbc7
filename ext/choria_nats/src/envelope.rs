//! The native helpers of `ChoriaNats::Envelope` (lib/choria_nats/envelope.rb),
//! for the two costly steps of reading an envelope.
//!
//! `parse_native(body)`: a JSON object parsed by serde_json straight into Ruby
//! objects, or nil when Ruby's own parser must decide.
//!
//! `rake bench` (decode scenarios) measured serde_json 5-10 times faster than
//! Ruby's C JSON parser on Choria envelopes. Ruby stays the reference: this
//! returns a value only where the two agree by construction (a UTF-8 JSON
//! object whose numbers are all integers that fit 64 bits, nested no deeper
//! than Ruby's default `max_nesting`), and nil for everything else (invalid
//! JSON, other numbers, deep nesting), which `Envelope` then hands to
//! `JSON.parse` and its error messages. Objects are built in document order
//! with `Hash#[]=`, so a repeated key behaves as in `JSON.parse`.

use magnus::{function, prelude::*, Error, RHash, RModule, RString, Ruby, Value};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Ruby's `JSON.parse` default `max_nesting`.
const MAX_NESTING: usize = 100;

/// Why the fast path gave up; never shown: Ruby's parser takes over.
#[derive(Debug)]
struct Defer;

impl fmt::Display for Defer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("left to Ruby's JSON parser")
    }
}

impl std::error::Error for Defer {}

impl de::Error for Defer {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Defer
    }
}

/// Builds one JSON value as a Ruby object at `depth` containers deep.
#[derive(Clone, Copy)]
struct RubyValue<'r> {
    ruby: &'r Ruby,
    depth: usize,
}

impl<'r> RubyValue<'r> {
    fn nested(self) -> Result<Self, Defer> {
        if self.depth >= MAX_NESTING {
            return Err(Defer);
        }
        Ok(RubyValue {
            ruby: self.ruby,
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for RubyValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RubyValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(self.ruby.qnil().as_value())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(if v {
            self.ruby.qtrue().as_value()
        } else {
            self.ruby.qfalse().as_value()
        })
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(self.ruby.integer_from_i64(v).as_value())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(self.ruby.integer_from_u64(v).as_value())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Value, E> {
        // A fraction, an exponent, or an integer beyond 64 bits: serde_json
        // rounds these to f64 where Ruby keeps a Bignum or parses on its own.
        Err(E::custom(Defer))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(self.ruby.str_new(v).as_value())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested().map_err(de::Error::custom)?;
        let array = self.ruby.ary_new();
        while let Some(item) = seq.next_element_seed(inner)? {
            array.push(item).map_err(|_| de::Error::custom(Defer))?;
        }
        Ok(array.as_value())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested().map_err(de::Error::custom)?;
        let hash = self.ruby.hash_new();
        while let Some(key) = map.next_key_seed(RubyKey(self.ruby))? {
            let value = map.next_value_seed(inner)?;
            hash.aset(key, value)
                .map_err(|_| de::Error::custom(Defer))?;
        }
        Ok(hash.as_value())
    }
}

/// Builds an object's key as a Ruby String.
struct RubyKey<'r>(&'r Ruby);

impl<'de> DeserializeSeed<'de> for RubyKey<'_> {
    type Value = RString;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RString, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for RubyKey<'_> {
    type Value = RString;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RString, E> {
        Ok(self.0.str_new(v))
    }
}

/// The object `bytes` holds as a Ruby Hash, or None for Ruby's parser to judge.
fn parse(ruby: &Ruby, bytes: &[u8]) -> Option<RHash> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = RubyValue { ruby, depth: 0 }
        .deserialize(&mut deserializer)
        .ok()?;
    deserializer.end().ok()?;
    RHash::from_value(value)
}

/// Whether `b` may appear in base64 with line breaks. Without short-circuits,
/// so that the compiler can test many bytes at once.
#[inline]
fn is_base64_byte(b: u8) -> bool {
    b.is_ascii_uppercase()
        | b.is_ascii_lowercase()
        | b.is_ascii_digit()
        | (b == b'+')
        | (b == b'/')
        | (b == b'=')
        | (b == b'\r')
        | (b == b'\n')
}

/// Whether every byte of `text` may appear in base64 with line breaks: 64
/// bytes at a time with no branch inside (a byte-by-byte `all` measured
/// 0.49 us for a reply's 533 bytes, barely ahead of Ruby's `String#count`).
fn is_base64_text(text: &[u8]) -> bool {
    text.chunks(64)
        .all(|chunk| chunk.iter().fold(true, |ok, &b| ok & is_base64_byte(b)))
}

/// `ChoriaNats::Envelope.base64_text?(string)`: the check `String#count`
/// made in Ruby. Measured through `send`: 0.16 us against 0.67 us for a
/// reply's 533 bytes of base64, 0.43 us against 1.72 us for a request's 2,965.
fn base64_text(text: RString) -> bool {
    // SAFETY: read at once, with the GVL held and no Ruby code in between.
    is_base64_text(unsafe { text.as_slice() })
}

/// `ChoriaNats::Envelope.parse_native(body)`.
fn parse_native(ruby: &Ruby, body: RString) -> Option<RHash> {
    // A copy, so that no Ruby object is borrowed while Ruby objects are made.
    // SAFETY: copied at once, with the GVL held and no Ruby code in between.
    let bytes = unsafe { body.as_slice() }.to_vec();
    parse(ruby, &bytes)
}

pub fn define(module: RModule) -> Result<(), Error> {
    let envelope = module.define_module("Envelope")?;
    envelope.define_singleton_method("parse_native", function!(parse_native, 1))?;
    envelope.define_singleton_method("base64_text?", function!(base64_text, 1))?;
    crate::envelope_writer::define(envelope)
}

#[cfg(test)]
mod tests {
    use super::is_base64_text;

    #[test]
    fn base64_text_is_the_alphabet_padding_and_line_breaks() {
        assert!(is_base64_text(
            b"eyJzdGF0dXNjb2Rl\nIjowLCJzdGF0dXNtc2ci+/==\r\n"
        ));
        assert!(is_base64_text(b""));
        for bad in [
            &b"a b"[..],
            b"a\tb",
            b"@",
            b"a-b",
            b"a_b",
            b"\xc3\xa9",
            b"\0",
        ] {
            assert!(!is_base64_text(bad), "{bad:?}");
        }
    }
}
