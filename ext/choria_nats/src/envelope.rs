//! The rules of the fast path for reading an envelope
//! (lib/choria_nats/envelope.rb), without Ruby: which JSON serde_json parses
//! instead of Ruby's parser, and the base64 check of a payload. The Ruby
//! objects are built in `ruby_api/envelope.rs`, through [`Build`].
//!
//! serde_json is faster than Ruby's C JSON parser on Choria envelopes (see
//! docs/performance.md, decode scenarios). Ruby stays the reference: this
//! returns a value only where the two agree by construction (a UTF-8 JSON
//! object whose numbers are all integers that fit 64 bits, nested no deeper
//! than Ruby's default `max_nesting`), and nil for everything else (invalid
//! JSON, other numbers, deep nesting), which `Envelope` then hands to
//! `JSON.parse` and its error messages. Objects are built in document order
//! with `Hash#[]=`, so a repeated key behaves as in `JSON.parse`.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Ruby's default `max_nesting` for `JSON.parse` and `JSON.generate` alike:
/// one level deeper raises there.
pub const MAX_NESTING: usize = 100;

/// Why the fast path gave up; never shown: Ruby's parser takes over.
#[derive(Debug)]
pub struct Defer;

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

/// Makes the values the parser finds: Ruby objects for `parse_native`, plain
/// Rust data for `parse_plain`, so that the rules of what is parsed here can be
/// tested and fuzzed without a Ruby VM.
pub trait Build: Copy {
    type Value;
    type Key;
    type Array;
    type Object;
    fn null(self) -> Self::Value;
    fn boolean(self, v: bool) -> Self::Value;
    fn signed(self, v: i64) -> Self::Value;
    fn unsigned(self, v: u64) -> Self::Value;
    fn string(self, v: &str) -> Self::Value;
    fn key(self, v: &str) -> Self::Key;
    fn array(self) -> Self::Array;
    fn push(self, array: &mut Self::Array, item: Self::Value) -> Result<(), Defer>;
    fn array_value(self, array: Self::Array) -> Self::Value;
    fn object(self) -> Self::Object;
    fn set(
        self,
        object: &mut Self::Object,
        key: Self::Key,
        value: Self::Value,
    ) -> Result<(), Defer>;
    fn object_value(self, object: Self::Object) -> Self::Value;
    /// The value as an object, or None when it is another kind of value.
    fn as_object(self, value: Self::Value) -> Option<Self::Object>;
}

/// A JSON value as plain Rust data, as `parse_native` would build it in Ruby:
/// integers within 64 bits, objects in document order, where a repeated key
/// keeps its first place and its last value (`Hash#[]=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    Null,
    Bool(bool),
    Integer(i128),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Builds `Json`; a repeated key is looked for in the whole object, which is
/// fine for tests and fuzz inputs only.
#[derive(Clone, Copy)]
struct PlainData;

impl Build for PlainData {
    type Value = Json;
    type Key = String;
    type Array = Vec<Json>;
    type Object = Vec<(String, Json)>;

    fn null(self) -> Json {
        Json::Null
    }

    fn boolean(self, v: bool) -> Json {
        Json::Bool(v)
    }

    fn signed(self, v: i64) -> Json {
        Json::Integer(i128::from(v))
    }

    fn unsigned(self, v: u64) -> Json {
        Json::Integer(i128::from(v))
    }

    fn string(self, v: &str) -> Json {
        Json::String(v.to_string())
    }

    fn key(self, v: &str) -> String {
        v.to_string()
    }

    fn array(self) -> Vec<Json> {
        Vec::new()
    }

    fn push(self, array: &mut Vec<Json>, item: Json) -> Result<(), Defer> {
        array.push(item);
        Ok(())
    }

    fn array_value(self, array: Vec<Json>) -> Json {
        Json::Array(array)
    }

    fn object(self) -> Vec<(String, Json)> {
        Vec::new()
    }

    fn set(self, object: &mut Vec<(String, Json)>, key: String, value: Json) -> Result<(), Defer> {
        match object.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => object.push((key, value)),
        }
        Ok(())
    }

    fn object_value(self, object: Vec<(String, Json)>) -> Json {
        Json::Object(object)
    }

    fn as_object(self, value: Json) -> Option<Vec<(String, Json)>> {
        match value {
            Json::Object(object) => Some(object),
            _ => None,
        }
    }
}

/// Builds one JSON value at `depth` containers deep.
#[derive(Clone, Copy)]
struct Element<B> {
    build: B,
    depth: usize,
}

impl<B: Build> Element<B> {
    fn nested(self) -> Result<Self, Defer> {
        if self.depth >= MAX_NESTING {
            return Err(Defer);
        }
        Ok(Element {
            build: self.build,
            depth: self.depth + 1,
        })
    }
}

impl<'de, B: Build> DeserializeSeed<'de> for Element<B> {
    type Value = B::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<B::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, B: Build> Visitor<'de> for Element<B> {
    type Value = B::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<B::Value, E> {
        Ok(self.build.null())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<B::Value, E> {
        Ok(self.build.boolean(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<B::Value, E> {
        Ok(self.build.signed(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<B::Value, E> {
        Ok(self.build.unsigned(v))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<B::Value, E> {
        // A fraction, an exponent, or an integer beyond 64 bits: serde_json
        // rounds these to f64 where Ruby keeps a Bignum or parses on its own.
        Err(E::custom(Defer))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<B::Value, E> {
        Ok(self.build.string(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<B::Value, A::Error> {
        let inner = self.nested().map_err(de::Error::custom)?;
        let mut array = self.build.array();
        while let Some(item) = seq.next_element_seed(inner)? {
            self.build
                .push(&mut array, item)
                .map_err(de::Error::custom)?;
        }
        Ok(self.build.array_value(array))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<B::Value, A::Error> {
        let inner = self.nested().map_err(de::Error::custom)?;
        let mut object = self.build.object();
        while let Some(key) = map.next_key_seed(Key(self.build))? {
            let value = map.next_value_seed(inner)?;
            self.build
                .set(&mut object, key, value)
                .map_err(de::Error::custom)?;
        }
        Ok(self.build.object_value(object))
    }
}

/// Builds an object's key.
struct Key<B>(B);

impl<'de, B: Build> DeserializeSeed<'de> for Key<B> {
    type Value = B::Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<B::Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, B: Build> Visitor<'de> for Key<B> {
    type Value = B::Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<B::Key, E> {
        Ok(self.0.key(v))
    }
}

/// The object `bytes` holds, or None for Ruby's parser to judge.
pub fn parse<B: Build>(build: B, bytes: &[u8]) -> Option<B::Object> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = Element { build, depth: 0 }
        .deserialize(&mut deserializer)
        .ok()?;
    deserializer.end().ok()?;
    build.as_object(value)
}

/// The object `parse_native` would return for `bytes`, as plain Rust data, or
/// None where it returns nil.
pub fn parse_plain(bytes: &[u8]) -> Option<Vec<(String, Json)>> {
    parse(PlainData, bytes)
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
/// bytes at a time with no branch inside, where a byte-by-byte `all` was
/// barely faster than Ruby's `String#count`.
pub fn is_base64_text(text: &[u8]) -> bool {
    text.chunks(64)
        .all(|chunk| chunk.iter().fold(true, |ok, &b| ok & is_base64_byte(b)))
}

#[cfg(test)]
mod tests {
    use super::{is_base64_text, parse_plain, Json};

    fn nested(depth: usize) -> String {
        format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    }

    #[test]
    fn parses_objects_of_strings_integers_and_literals() {
        let parsed = parse_plain(
            br#" {"s":"\u00e9\n","i":-9223372036854775808,"u":18446744073709551615,
                 "l":[null,true,false],"o":{}} "#,
        );
        assert_eq!(
            parsed,
            Some(vec![
                ("s".to_string(), Json::String("\u{e9}\n".to_string())),
                ("i".to_string(), Json::Integer(i128::from(i64::MIN))),
                ("u".to_string(), Json::Integer(i128::from(u64::MAX))),
                (
                    "l".to_string(),
                    Json::Array(vec![Json::Null, Json::Bool(true), Json::Bool(false)])
                ),
                ("o".to_string(), Json::Object(Vec::new())),
            ])
        );
    }

    #[test]
    fn a_repeated_key_keeps_its_first_place_and_last_value() {
        assert_eq!(
            parse_plain(br#"{"a":1,"b":2,"a":3}"#),
            Some(vec![
                ("a".to_string(), Json::Integer(3)),
                ("b".to_string(), Json::Integer(2)),
            ])
        );
    }

    #[test]
    fn leaves_to_ruby_what_ruby_must_decide() {
        for deferred in [
            &b"[1]"[..],
            b"\"text\"",
            b"{\"f\":1.5}",
            b"{\"e\":1e3}",
            b"{\"big\":18446744073709551616}",
            b"{\"a\":1} x",
            b"{\"a\":1}{}",
            b"{\"a\":\"\xff\"}",
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":1,}",
            b"",
        ] {
            assert_eq!(parse_plain(deferred), None, "{deferred:?}");
        }
    }

    #[test]
    fn nests_as_deep_as_ruby_max_nesting_and_no_deeper() {
        assert!(parse_plain(nested(100).as_bytes()).is_some());
        assert_eq!(parse_plain(nested(101).as_bytes()), None);
    }

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
