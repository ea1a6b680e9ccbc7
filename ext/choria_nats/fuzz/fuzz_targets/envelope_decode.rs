//! `Envelope.parse_native`'s rules without Ruby: any bytes are parsed natively
//! exactly when serde_json reads them as an object of strings, integers within
//! 64 bits and literals, nested at most 100 deep (counting values a repeated
//! key replaces too), and then into the same data.
//! Also `Envelope.base64_text?`'s check against a byte-by-byte one.
#![no_main]

use choria_nats::envelope::{is_base64_text, parse_plain, Json};
use libfuzzer_sys::fuzz_target;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// Ruby's `JSON.parse` default `max_nesting`, which the decoder keeps to.
const MAX_NESTING: usize = 100;

fuzz_target!(|data: &[u8]| {
    let parsed = parse_plain(data);
    let shape = serde_json::Deserializer::from_slice(data)
        .deserialize_any(ShapeOf { depth: 0 })
        .ok();
    match serde_json::from_slice::<Value>(data) {
        Ok(value @ Value::Object(_))
            if shape.is_some_and(|s| !s.fractions && s.depth <= MAX_NESTING) =>
        {
            let object = parsed.expect("an object of integers within max_nesting is parsed");
            assert!(same(&Json::Object(object), &value), "parsed differently");
        }
        _ => assert!(parsed.is_none(), "parsed what Ruby must decide: {parsed:?}"),
    }

    let byte_by_byte = data
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"+/=\r\n".contains(b));
    assert_eq!(is_base64_text(data), byte_by_byte);
});

/// What a document holds anywhere, also in values that a repeated key replaces
/// (serde_json's `Value` keeps only the last).
#[derive(Clone, Copy)]
struct Shape {
    /// A number serde_json reads as f64: a fraction, an exponent, -0, or an
    /// integer beyond 64 bits.
    fractions: bool,
    /// How many arrays and objects deep it goes.
    depth: usize,
}

impl Shape {
    fn and(self, other: Shape) -> Shape {
        Shape {
            fractions: self.fractions || other.fractions,
            depth: self.depth.max(other.depth),
        }
    }
}

/// Finds the `Shape` of a value inside `depth` containers.
#[derive(Clone, Copy)]
struct ShapeOf {
    depth: usize,
}

impl ShapeOf {
    fn leaf(self) -> Shape {
        Shape {
            fractions: false,
            depth: self.depth,
        }
    }
}

impl<'de> DeserializeSeed<'de> for ShapeOf {
    type Value = Shape;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Shape, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ShapeOf {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Shape, E> {
        Ok(self.leaf())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Shape, E> {
        Ok(self.leaf())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Shape, E> {
        Ok(self.leaf())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Shape, E> {
        Ok(self.leaf())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape {
            fractions: true,
            depth: self.depth,
        })
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Shape, E> {
        Ok(self.leaf())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        let inner = ShapeOf {
            depth: self.depth + 1,
        };
        let mut shape = inner.leaf();
        while let Some(item) = seq.next_element_seed(inner)? {
            shape = shape.and(item);
        }
        Ok(shape)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let inner = ShapeOf {
            depth: self.depth + 1,
        };
        let mut shape = inner.leaf();
        while map.next_key::<String>()?.is_some() {
            shape = shape.and(map.next_value_seed(inner)?);
        }
        Ok(shape)
    }
}

/// Whether `ours` holds the same data as serde_json's `theirs`, whose objects
/// also keep a repeated key's last value.
fn same(ours: &Json, theirs: &Value) -> bool {
    match (ours, theirs) {
        (Json::Null, Value::Null) => true,
        (Json::Bool(a), Value::Bool(b)) => a == b,
        (Json::Integer(a), Value::Number(b)) => {
            b.as_i64().map(i128::from).or(b.as_u64().map(i128::from)) == Some(*a)
        }
        (Json::String(a), Value::String(b)) => a == b,
        (Json::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Json::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        _ => false,
    }
}
