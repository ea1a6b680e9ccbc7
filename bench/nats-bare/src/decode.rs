//! `decode --file F --count N`: what decoding `choria:transport:1` envelopes
//! costs in Rust, to weigh against Ruby's C JSON parser and base64 before any
//! of that work moves into the extension. Times serde_json parsing each line
//! of `F` into owned values (as Ruby's `JSON.parse` makes Ruby objects), then
//! decoding each envelope's base64 `data` (line breaks allowed, as MCollective
//! writes them), cycling through the lines until `N` of each are done.

use crate::args::Args;
use crate::common::emit;
use crate::Result;
use base64::Engine;
use serde::Deserialize;
use std::hint::black_box;
use std::time::Instant;

#[derive(Deserialize)]
struct Envelope {
    #[allow(dead_code)]
    protocol: Option<String>,
    data: String,
    #[allow(dead_code)]
    headers: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The base64 in `data` decoded, ignoring line breaks.
fn decode_data(data: &str) -> Result<Vec<u8>> {
    let flat: Vec<u8> = data
        .bytes()
        .filter(|b| !matches!(b, b'\n' | b'\r'))
        .collect();
    Ok(base64::engine::general_purpose::STANDARD.decode(flat)?)
}

pub fn decode(args: &Args) -> Result<()> {
    let count: usize = args.number("count")?;
    let text = std::fs::read_to_string(args.text("file")?)?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    if lines.is_empty() || count == 0 {
        return Err("decode needs a file of envelopes, one a line, and a --count above 0".into());
    }
    let started = Instant::now();
    let mut envelopes = Vec::with_capacity(lines.len());
    for i in 0..count {
        let envelope: Envelope = serde_json::from_str(lines[i % lines.len()])?;
        if envelopes.len() < lines.len() {
            envelopes.push(envelope);
        } else {
            black_box(envelope);
        }
    }
    let parse = started.elapsed();
    let started = Instant::now();
    for i in 0..count {
        black_box(decode_data(&envelopes[i % envelopes.len()].data)?);
    }
    let base64 = started.elapsed();
    let per_message = |total: std::time::Duration| total.as_secs_f64() * 1e6 / count as f64;
    emit(&format!(
        "{{\"count\":{count},\"parse_us\":{:.4},\"base64_us\":{:.4}}}",
        per_message(parse),
        per_message(base64)
    ))
}
