//! `ChoriaNats::Envelope.generate_native(value)`: the JSON text of an
//! envelope, byte for byte what `JSON.generate` makes of the same value, or
//! nil where that cannot be promised.
//!
//! The connector publishes every request as `JSON.generate` of a base64
//! payload and its headers: `JSON.generate` took 9 us of a 1 KiB request's
//! 22 us connector publish (measured in a loop like `rake bench`'s connector
//! publish; 4.2-5.8 us alone). Ruby stays the reference: the value is
//! written here only when it is made of exactly the classes whose output is
//! fixed (`Hash` with `String` keys, `Array`, `String` holding valid UTF-8,
//! `Integer` within 64 bits, `nil`, `true`, `false`), nested no deeper than
//! `JSON.generate`'s `max_nesting`. Anything else (a Symbol key, a Float, a
//! subclass, another encoding, invalid UTF-8, deeper nesting) returns nil,
//! and `Envelope.encode` hands it to `JSON.generate`, with its results and
//! its errors. Strings are escaped as Ruby's generator escapes them (`"`,
//! `\`, and control characters: `\b \f \n \r \t`, else `\u00xx`) and
//! nothing else.

use magnus::{
    encoding::EncodingCapable,
    prelude::*,
    r_hash::ForEach,
    value::{Qfalse, Qtrue},
    Error, Integer, RArray, RHash, RModule, RString, Ruby, Value,
};

/// `JSON.generate`'s default `max_nesting`: one level deeper raises there.
const MAX_NESTING: usize = 100;

/// The value cannot be written here; `JSON.generate` decides.
struct Defer;

/// Writes JSON into `out`; each container it enters counts towards `MAX_NESTING`.
struct Writer<'r> {
    ruby: &'r Ruby,
    out: Vec<u8>,
}

impl Writer<'_> {
    fn value(&mut self, value: Value, depth: usize) -> Result<(), Defer> {
        let ruby = self.ruby;
        if value.is_nil() {
            self.out.extend_from_slice(b"null");
        } else if Qtrue::from_value(value).is_some() {
            self.out.extend_from_slice(b"true");
        } else if Qfalse::from_value(value).is_some() {
            self.out.extend_from_slice(b"false");
        } else if let Some(string) = RString::from_value(value) {
            exactly(value, ruby.class_string())?;
            self.string(string)?;
        } else if let Some(hash) = RHash::from_value(value) {
            exactly(value, ruby.class_hash())?;
            self.hash(hash, nested(depth)?)?;
        } else if let Some(array) = RArray::from_value(value) {
            exactly(value, ruby.class_array())?;
            self.array(array, nested(depth)?)?;
        } else if let Some(integer) = Integer::from_value(value) {
            let number = integer.to_i64().map_err(|_| Defer)?;
            self.out.extend_from_slice(number.to_string().as_bytes());
        } else {
            return Err(Defer);
        }
        Ok(())
    }

    fn string(&mut self, string: RString) -> Result<(), Defer> {
        let ruby = self.ruby;
        let encoding = string.enc_get();
        // SAFETY: read and escaped into `out` at once, with the GVL held and
        // no Ruby code in between.
        let bytes = unsafe { string.as_slice() };
        let written_as_is = encoding == ruby.utf8_encindex()
            || encoding == ruby.ascii8bit_encindex()
            || (encoding == ruby.usascii_encindex() && bytes.is_ascii());
        if !written_as_is {
            return Err(Defer);
        }
        escape_into(
            &mut self.out,
            std::str::from_utf8(bytes).map_err(|_| Defer)?,
        );
        Ok(())
    }

    fn hash(&mut self, hash: RHash, depth: usize) -> Result<(), Defer> {
        self.out.push(b'{');
        let mut first = true;
        let mut outcome = Ok(());
        let walked = hash.foreach(|key: Value, value: Value| {
            if !first {
                self.out.push(b',');
            }
            first = false;
            outcome = match RString::from_value(key) {
                Some(name) => exactly(key, self.ruby.class_string())
                    .and_then(|()| self.string(name))
                    .map(|()| self.out.push(b':'))
                    .and_then(|()| self.value(value, depth)),
                None => Err(Defer),
            };
            Ok(if outcome.is_ok() {
                ForEach::Continue
            } else {
                ForEach::Stop
            })
        });
        walked.map_err(|_| Defer)?;
        outcome?;
        self.out.push(b'}');
        Ok(())
    }

    fn array(&mut self, array: RArray, depth: usize) -> Result<(), Defer> {
        self.out.push(b'[');
        for index in 0..array.len() {
            if index > 0 {
                self.out.push(b',');
            }
            let item: Value = array.entry(index as isize).map_err(|_| Defer)?;
            self.value(item, depth)?;
        }
        self.out.push(b']');
        Ok(())
    }
}

/// Whether JSON (and Ruby's generator) escapes `b`. Without short-circuits,
/// so that the compiler can test many bytes at once.
#[inline]
fn needs_escape(b: u8) -> bool {
    (b < 0x20) | (b == b'"') | (b == b'\\')
}

/// Bytes tested at once for anything to escape: base64 with line breaks has
/// one every 61 bytes, so most chunks are copied whole.
const CHUNK: usize = 16;

/// `text` as a quoted JSON string, escaped as Ruby's generator escapes it
/// (the tests hold it to serde_json's escaping). On a 1 KiB request's
/// envelope, `Envelope.encode` took 2.2-2.8 us with serde_json's escaping,
/// which perf put at most of it, and 1.9-3.0 us with this one, against
/// `JSON.generate`'s 4.2-5.8 us in the same loops.
pub fn escape_into(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut clean_from = 0;
    for (chunk_index, chunk) in bytes.chunks(CHUNK).enumerate() {
        if !chunk
            .iter()
            .fold(false, |dirty, &b| dirty | needs_escape(b))
        {
            continue;
        }
        for (offset, &b) in chunk.iter().enumerate() {
            if !needs_escape(b) {
                continue;
            }
            let at = chunk_index * CHUNK + offset;
            out.extend_from_slice(&bytes[clean_from..at]);
            clean_from = at + 1;
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                _ => out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]),
            }
        }
    }
    out.extend_from_slice(&bytes[clean_from..]);
    out.push(b'"');
}

/// `value` is an instance of `class` itself, not of a subclass (whose
/// `to_json` JSON.generate would call). `equal` compares identity first.
fn exactly(value: Value, class: magnus::RClass) -> Result<(), Defer> {
    match value.class().equal(class) {
        Ok(true) => Ok(()),
        _ => Err(Defer),
    }
}

/// The depth inside one more container, or Defer past `MAX_NESTING`.
fn nested(depth: usize) -> Result<usize, Defer> {
    if depth >= MAX_NESTING {
        Err(Defer)
    } else {
        Ok(depth + 1)
    }
}

/// `ChoriaNats::Envelope.generate_native(value)`: a UTF-8 String, or nil.
fn generate_native(ruby: &Ruby, value: Value) -> Option<RString> {
    let mut writer = Writer {
        ruby,
        out: Vec::with_capacity(2048),
    };
    writer.value(value, 0).ok()?;
    Some(ruby.enc_str_new(&writer.out, ruby.utf8_encoding()))
}

pub fn define(envelope: RModule) -> Result<(), Error> {
    envelope.define_singleton_method("generate_native", magnus::function!(generate_native, 1))
}

#[cfg(test)]
mod tests {
    use super::escape_into;

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        escape_into(&mut out, text);
        String::from_utf8(out).expect("escaping keeps UTF-8")
    }

    #[test]
    fn escapes_every_character_as_serde_json_does() {
        for code in (0..0x80u32).chain([0xe9, 0x2028, 0x1f600]) {
            let text = char::from_u32(code).expect("a char").to_string();
            assert_eq!(
                escaped(&text),
                serde_json::to_string(&text).expect("serde_json"),
                "{code:#x}"
            );
        }
    }

    #[test]
    fn escapes_long_mixed_text_across_chunk_boundaries_as_serde_json_does() {
        let pieces = [
            "abcdefghijklmnopq",
            "\n",
            "\"",
            "\\",
            "\u{1}",
            "\u{1f}",
            "é",
            "x",
        ];
        let mut text = String::new();
        let mut state = 7u32;
        for _ in 0..2000 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let piece = pieces[(state >> 16) as usize % pieces.len()];
            let cut = (state >> 8) as usize % piece.len().max(1);
            text.push_str(if piece.is_char_boundary(cut) {
                &piece[cut..]
            } else {
                piece
            });
            assert_eq!(
                escaped(&text),
                serde_json::to_string(&text).expect("serde_json")
            );
        }
        let base64_lines = "QUJD".repeat(15) + "\n";
        let body = base64_lines.repeat(23);
        assert_eq!(
            escaped(&body),
            serde_json::to_string(&body).expect("serde_json")
        );
    }
}
