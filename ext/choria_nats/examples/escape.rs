//! Times `json_escape::escape_into` against serde_json's string
//! serialisation on the strings an envelope carries, to show whether our own
//! escaper still earns its place (docs/performance.md holds the figures).
//!
//! `cargo run --release --example escape` from `ext/choria_nats/`. The
//! inputs are the envelope strings of the captured wire samples (the
//! `envelope_write` fuzz seeds) and base64 bodies as the connector sends
//! them, with and without Ruby's newline every 60 characters. Each round
//! times both escapers in turn on every input; the median round is printed.

use choria_nats::json_escape::escape_into;
use std::hint::black_box;
use std::time::Instant;

/// Rounds per input; the median is reported.
const ROUNDS: usize = 15;
/// Bytes escaped per timed run, so that each run lasts milliseconds.
const BYTES_PER_RUN: usize = 16 << 20;

fn main() {
    let inputs = inputs();
    println!(
        "{:<44} {:>8} {:>12} {:>12} {:>8}",
        "input", "bytes", "ours ns", "serde ns", "serde/ours"
    );
    for (name, text) in &inputs {
        let iterations = (BYTES_PER_RUN / text.len().max(1)).max(1);
        let mut ours = Vec::with_capacity(ROUNDS);
        let mut serde = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            ours.push(time(iterations, text, escape_into));
            serde.push(time(iterations, text, |out, s| {
                serde_json::to_writer(out, s).expect("a Vec takes any string")
            }));
        }
        let (ours, serde) = (median(&mut ours), median(&mut serde));
        println!(
            "{name:<44} {:>8} {ours:>12.1} {serde:>12.1} {:>8.2}",
            text.len(),
            serde / ours
        );
    }
}

/// Nanoseconds per call of `escape` on `text`, over `iterations` calls.
fn time(iterations: usize, text: &str, escape: impl Fn(&mut Vec<u8>, &str)) -> f64 {
    let mut out = Vec::with_capacity(text.len() * 2 + 2);
    let started = Instant::now();
    for _ in 0..iterations {
        out.clear();
        escape(&mut out, black_box(text));
        black_box(&out);
    }
    started.elapsed().as_nanos() as f64 / iterations as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Every input, named, each checked to escape to serde_json's bytes.
fn inputs() -> Vec<(String, String)> {
    let seeds = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/envelope_write");
    let mut inputs: Vec<(String, String)> = std::fs::read_dir(seeds)
        .expect("the envelope_write seeds")
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name() != "controls.txt")
        .map(|entry| {
            let text = std::fs::read_to_string(entry.path()).expect("a seed is text");
            (entry.file_name().to_string_lossy().into_owned(), text)
        })
        .collect();
    inputs.sort();
    for size in [1 << 10, 64 << 10] {
        let strict = base64(size);
        let lines = strict
            .as_bytes()
            .chunks(60)
            .map(|line| format!("{}\n", String::from_utf8_lossy(line)))
            .collect::<String>();
        inputs.push((format!("base64 of {} KiB, strict", size >> 10), strict));
        inputs.push((
            format!("base64 of {} KiB, 60-char lines", size >> 10),
            lines,
        ));
    }
    for (name, text) in &inputs {
        let mut ours = Vec::new();
        escape_into(&mut ours, text);
        let serde = serde_json::to_string(text).expect("serde_json writes any string");
        assert_eq!(ours, serde.as_bytes(), "{name}: the escapers disagree");
    }
    inputs
}

/// The base64 text of `size` pseudo-random bytes.
fn base64(size: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state: u32 = 0x9e37_79b9;
    (0..size.div_ceil(3) * 4)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            char::from(ALPHABET[(state % 64) as usize])
        })
        .collect()
}
