//! `nats-bare`: a bare async-nats client with the same verified-TLS setup as
//! the choria-nats gem (`require_tls`, the CA as the only root, a client
//! certificate) and the same runtime shape (tokio, two worker threads). It is
//! the baseline `bench/run.rb` compares the gem to, and its load generator.
//!
//! ```text
//! nats-bare publish   CONN --subject S --count N (--size B | --payload-file F) [--distinct D]
//! nats-bare receive   CONN --subject S --count N --timeout SEC
//! nats-bare replies   CONN --subject S --count N --connections C
//! nats-bare request   CONN --subject S --count N --size B --timeout SEC [--warmup W]
//! nats-bare respond   CONN --subject S --count N --timeout SEC
//! nats-bare connect   CONN
//! nats-bare idle      CONN --subject PREFIX --count SUBSCRIPTIONS --timeout SEC
//! nats-bare envelopes --count N
//! nats-bare decode    --file F --count N
//!
//! CONN: --server H:P --ca CA --cert CERT --key KEY
//! ```
//!
//! - `publish` floods a subject and times the publishes and the flush; with
//!   `--distinct D` it sends D payloads in turn, each unlike the one before.
//! - `receive` times the first to the last of `count` messages; `{"ready":true}`
//!   first, once its subscription is known to the broker; it also reports its
//!   RSS then and its peak RSS while receiving.
//! - `replies` is a load generator: `count` simulated nodes, spread over `C`
//!   connections, each send one ~600-byte `choria:transport:1` reply envelope
//!   at once to one reply subject, as a fleet answers a broadcast.
//! - `request` makes `count` sequential round trips to `respond` (which echoes
//!   each request to its reply subject) and reports latency percentiles.
//! - `connect` times one connect; `idle` holds `count` subscriptions for
//!   `timeout` seconds so its CPU time and RSS can be read from `/proc`.
//! - `envelopes` prints the reply envelopes `replies` sends, one a line.
//! - `decode` times serde_json and base64 decoding of the envelopes in a file,
//!   one a line, per message (see `decode.rs`).
//!
//! Each prints one JSON line of measurements on stdout (after any
//! `{"ready":true}` line). Errors go to stderr, with exit status 1.

mod args;
mod common;
mod decode;
mod envelope;
mod flood;
mod process;
mod roundtrip;

use args::Args;
use std::error::Error;
use std::process::ExitCode;

/// What every fallible function here returns.
pub type Result<T> = std::result::Result<T, Box<dyn Error>>;

const USAGE: &str = "usage:
  nats-bare publish   CONN --subject S --count N (--size BYTES | --payload-file FILE) [--distinct D]
  nats-bare receive   CONN --subject S --count N --timeout SEC
  nats-bare replies   CONN --subject S --count N --connections C
  nats-bare request   CONN --subject S --count N --size BYTES --timeout SEC [--warmup W]
  nats-bare respond   CONN --subject S --count N --timeout SEC
  nats-bare connect   CONN
  nats-bare idle      CONN --subject PREFIX --count SUBSCRIPTIONS --timeout SEC
  nats-bare envelopes --count N
  nats-bare decode    --file FILE --count N
CONN: --server H:P --ca CA --cert CERT --key KEY";

async fn run(argv: &[String]) -> Result<()> {
    let Some((command, rest)) = argv.split_first() else {
        return Err(USAGE.into());
    };
    match command.as_str() {
        "publish" => {
            flood::publish(&Args::parse(rest, &["size", "payload-file", "distinct"])?).await
        }
        "receive" => flood::receive(&Args::parse(rest, &["timeout"])?).await,
        "replies" => flood::replies(&Args::parse(rest, &["connections"])?).await,
        "request" => roundtrip::request(&Args::parse(rest, &["size", "timeout", "warmup"])?).await,
        "respond" => roundtrip::respond(&Args::parse(rest, &["timeout"])?).await,
        "connect" => process::connect_once(&Args::parse(rest, &[])?).await,
        "idle" => process::idle(&Args::parse(rest, &["timeout"])?).await,
        "envelopes" => envelope::envelopes(&Args::parse(rest, &[])?),
        "decode" => decode::decode(&Args::parse(rest, &["file"])?),
        "-h" | "--help" => common::emit(USAGE),
        _ => Err(USAGE.into()),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match run(&argv).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nats-bare: {e}");
            ExitCode::FAILURE
        }
    }
}
