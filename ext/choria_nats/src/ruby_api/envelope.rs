//! `ChoriaNats::Envelope`'s native helpers (lib/choria_nats/envelope.rb): the
//! two costly steps of reading an envelope and the one of writing it.
//!
//! `parse_native(body)` builds Ruby objects from JSON by the rules of
//! `envelope.rs`, or returns nil when Ruby's own parser must decide.
//! `base64_text?(string)` is the check `String#count` made in Ruby.
//!
//! `generate_native(value)` is the JSON text of an envelope, byte for byte
//! what `JSON.generate` makes of the same value, or nil where that cannot be
//! promised. Ruby stays the reference: the value is written here only when it
//! is made of exactly the classes whose output is fixed (`Hash` with `String`
//! keys, `Array`, `String` holding valid UTF-8, `Integer` within 64 bits,
//! `nil`, `true`, `false`), nested no deeper than `JSON.generate`'s
//! `max_nesting`. Anything else (a Symbol key, a Float, a subclass, another
//! encoding, invalid UTF-8, deeper nesting) returns nil, and `Envelope.encode`
//! hands it to `JSON.generate`, with its results and its errors. Both are
//! faster than Ruby's own on the connector's hot path (see
//! docs/performance.md).

use crate::envelope::{is_base64_text, parse, Build, Defer, MAX_NESTING};
use crate::json_escape::escape_into;
use magnus::{
    encoding::EncodingCapable,
    function,
    prelude::*,
    r_hash::ForEach,
    value::{Qfalse, Qtrue},
    Error, Integer, RArray, RHash, RModule, RString, Ruby, Value,
};

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

/// Builds Ruby objects.
#[derive(Clone, Copy)]
struct RubyObjects<'r>(&'r Ruby);

impl Build for RubyObjects<'_> {
    type Value = Value;
    type Key = RString;
    type Array = RArray;
    type Object = RHash;

    fn null(self) -> Value {
        self.0.qnil().as_value()
    }

    fn boolean(self, v: bool) -> Value {
        if v {
            self.0.qtrue().as_value()
        } else {
            self.0.qfalse().as_value()
        }
    }

    fn signed(self, v: i64) -> Value {
        self.0.integer_from_i64(v).as_value()
    }

    fn unsigned(self, v: u64) -> Value {
        self.0.integer_from_u64(v).as_value()
    }

    fn string(self, v: &str) -> Value {
        self.0.str_new(v).as_value()
    }

    fn key(self, v: &str) -> RString {
        self.0.str_new(v)
    }

    fn array(self) -> RArray {
        self.0.ary_new()
    }

    fn push(self, array: &mut RArray, item: Value) -> Result<(), Defer> {
        array.push(item).map_err(|_| Defer)
    }

    fn array_value(self, array: RArray) -> Value {
        array.as_value()
    }

    fn object(self) -> RHash {
        self.0.hash_new()
    }

    fn set(self, object: &mut RHash, key: RString, value: Value) -> Result<(), Defer> {
        object.aset(key, value).map_err(|_| Defer)
    }

    fn object_value(self, object: RHash) -> Value {
        object.as_value()
    }

    fn as_object(self, value: Value) -> Option<RHash> {
        RHash::from_value(value)
    }
}

/// `ChoriaNats::Envelope.base64_text?(string)`: the check `String#count`
/// made in Ruby, which it replaces because it is faster (docs/performance.md).
fn base64_text(text: RString) -> bool {
    // SAFETY: read at once, with the GVL held and no Ruby code in between.
    is_base64_text(unsafe { text.as_slice() })
}

/// `ChoriaNats::Envelope.parse_native(body)`.
fn parse_native(ruby: &Ruby, body: RString) -> Option<RHash> {
    // A copy, so that no Ruby object is borrowed while Ruby objects are made.
    // SAFETY: copied at once, with the GVL held and no Ruby code in between.
    let bytes = unsafe { body.as_slice() }.to_vec();
    parse(RubyObjects(ruby), &bytes)
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

pub fn define(module: RModule) -> Result<(), Error> {
    let envelope = module.define_module("Envelope")?;
    envelope.define_singleton_method("parse_native", function!(parse_native, 1))?;
    envelope.define_singleton_method("base64_text?", function!(base64_text, 1))?;
    envelope.define_singleton_method("generate_native", function!(generate_native, 1))
}
