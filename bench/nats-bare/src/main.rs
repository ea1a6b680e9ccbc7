//! `nats-bare`: a bare async-nats client with the same verified-TLS setup as
//! the choria-nats gem (`require_tls`, the CA as the only root, a client
//! certificate) and the same runtime shape (tokio, two worker threads). It is
//! the baseline `bench/run.rb` compares the gem to.
//!
//! ```text
//! nats-bare publish --server H:P --ca CA --cert CERT --key KEY --subject S --count N --size B
//! nats-bare receive --server H:P --ca CA --cert CERT --key KEY --subject S --count N --timeout SEC
//! nats-bare replies --server H:P --ca CA --cert CERT --key KEY --subject S --count N --connections C
//! ```
//!
//! `replies` is a load generator: `count` simulated nodes, spread over `C`
//! connections, each send one ~600-byte `choria:transport:1` reply envelope at
//! once to one reply subject, as a fleet answers a broadcast.
//!
//! Each prints one JSON line of measurements on stdout (`receive` prints
//! `{"ready":true}` first, once its subscription is known to the broker).
//! Errors go to stderr, with exit status 1.

use async_nats::{Client, ConnectOptions, Subject};
use bytes::Bytes;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::error::Error;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const USAGE: &str = "usage:
  nats-bare publish --server H:P --ca CA --cert CERT --key KEY --subject S --count N --size BYTES
  nats-bare receive --server H:P --ca CA --cert CERT --key KEY --subject S --count N --timeout SEC
  nats-bare replies --server H:P --ca CA --cert CERT --key KEY --subject S --count N --connections C";

/// Options every subcommand takes.
const COMMON: &[&str] = &["server", "ca", "cert", "key", "subject", "count"];

/// Longest a flush may take before we give up.
const FLUSH_LIMIT: Duration = Duration::from_secs(120);

/// Extra subscription room beyond the expected count, so nothing is dropped.
const SPARE_CAPACITY: usize = 1024;

/// `--name value` pairs after the subcommand.
struct Args {
    values: HashMap<String, String>,
}

impl Args {
    fn parse(raw: &[String], extra: &[&str]) -> Result<Self> {
        let mut values = HashMap::new();
        let mut rest = raw.iter();
        while let Some(flag) = rest.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --option, got {flag:?}"))?;
            if !COMMON.contains(&name) && !extra.contains(&name) {
                return Err(format!("unknown option --{name}").into());
            }
            let value = rest
                .next()
                .ok_or_else(|| format!("--{name} needs a value"))?;
            values.insert(name.to_string(), value.clone());
        }
        Ok(Args { values })
    }

    fn text(&self, name: &str) -> Result<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("--{name} is required").into())
    }

    fn number<T: FromStr>(&self, name: &str) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        let text = self.text(name)?;
        text.parse()
            .map_err(|e| format!("--{name} {text:?}: {e}").into())
    }
}

/// Connects with the gem's TLS setup.
async fn connect(args: &Args, subscription_capacity: Option<usize>) -> Result<Client> {
    let mut options = ConnectOptions::new()
        .require_tls(true)
        .add_root_certificates(PathBuf::from(args.text("ca")?))
        .add_client_certificate(
            PathBuf::from(args.text("cert")?),
            PathBuf::from(args.text("key")?),
        )
        .name("nats-bare");
    if let Some(capacity) = subscription_capacity {
        options = options.subscription_capacity(capacity);
    }
    let server = args.text("server")?;
    let client = options
        .connect(server)
        .await
        .map_err(|e| format!("cannot connect to {server}: {e}"))?;
    Ok(client)
}

async fn flush(client: &Client) -> Result<()> {
    tokio::time::timeout(FLUSH_LIMIT, client.flush())
        .await
        .map_err(|_| format!("flush did not finish within {}s", FLUSH_LIMIT.as_secs()))?
        .map_err(|e| format!("flush failed: {e}"))?;
    Ok(())
}

fn rate(messages: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        messages as f64 / seconds
    } else {
        0.0
    }
}

/// A JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn emit(line: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}

/// Publishes `count` messages of `size` bytes, then flushes; times both.
async fn publish(args: &Args) -> Result<()> {
    let subject = args.text("subject")?;
    let count: u64 = args.number("count")?;
    let size: usize = args.number("size")?;
    let client = connect(args, None).await?;
    let payload = Bytes::from(vec![b'x'; size]);
    let target = Subject::from(subject);
    let start = Instant::now();
    for sent in 0..count {
        client
            .publish(target.clone(), payload.clone())
            .await
            .map_err(|e| format!("publish {} of {count} failed: {e}", sent + 1))?;
    }
    flush(&client).await?;
    let elapsed = start.elapsed();
    emit(&format!(
        "{{\"mode\":\"publish\",\"subject\":{},\"count\":{count},\"size\":{size},\"elapsed\":{:.6},\"msgs_per_sec\":{:.1}}}",
        json_string(subject),
        elapsed.as_secs_f64(),
        rate(count, elapsed)
    ))
}

/// Receives up to `count` messages, or until none comes for `timeout` seconds.
async fn receive(args: &Args) -> Result<()> {
    let subject = args.text("subject")?;
    let count: u64 = args.number("count")?;
    let timeout: f64 = args.number("timeout")?;
    if !timeout.is_finite() || timeout <= 0.0 {
        return Err(
            format!("--timeout must be a positive number of seconds, not {timeout}").into(),
        );
    }
    let gap = Duration::from_secs_f64(timeout);
    let capacity = usize::try_from(count)?.saturating_add(SPARE_CAPACITY);
    let client = connect(args, Some(capacity)).await?;
    let mut subscriber = client
        .subscribe(subject.to_string())
        .await
        .map_err(|e| format!("cannot subscribe to {subject}: {e}"))?;
    flush(&client).await?;
    emit("{\"ready\":true}")?;

    let mut received: u64 = 0;
    let mut first: Option<Instant> = None;
    let mut last: Option<Instant> = None;
    while received < count {
        match tokio::time::timeout(gap, subscriber.next()).await {
            Ok(Some(_message)) => {
                let now = Instant::now();
                first.get_or_insert(now);
                last = Some(now);
                received += 1;
            }
            Ok(None) | Err(_) => break,
        }
    }
    let elapsed = match (first, last) {
        (Some(first), Some(last)) => last.duration_since(first),
        _ => Duration::ZERO,
    };
    let in_msgs = client.statistics().in_messages.load(Ordering::Relaxed);
    emit(&format!(
        "{{\"mode\":\"receive\",\"subject\":{},\"count\":{count},\"received\":{received},\"lost\":{},\"in_msgs\":{in_msgs},\"elapsed\":{:.6},\"msgs_per_sec\":{:.1}}}",
        json_string(subject),
        count - received,
        elapsed.as_secs_f64(),
        rate(received, elapsed)
    ))
}

/// The reply envelope simulated node `node` sends: ~600 bytes, as a real
/// rpcutil reply through the choria security plugin is.
fn reply_envelope(node: u64) -> Vec<u8> {
    // What a security plugin would produce, base64 with MCollective's line breaks.
    let body = format!("{{\"statuscode\":0,\"statusmsg\":\"OK\",\"data\":{{\"pong\":{node}}},\"sender\":\"node{node}.example.net\",\"padding\":\"{}\"}}", "x".repeat(300));
    let encoded = base64_lines(body.as_bytes());
    format!(
        "{{\"protocol\":\"choria:transport:1\",\"data\":{},\"headers\":{{\"mc_sender\":\"node{node}.example.net\"}}}}",
        json_string(&encoded)
    )
    .into_bytes()
}

/// Base64 with a newline every 60 characters and at the end, as Ruby's
/// `Base64.encode64` writes it.
fn base64_lines(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut flat = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                flat.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                flat.push('=');
            }
        }
    }
    let mut lines = String::with_capacity(flat.len() + flat.len() / 60 + 1);
    for line in flat.as_bytes().chunks(60) {
        lines.push_str(&String::from_utf8_lossy(line));
        lines.push('\n');
    }
    lines
}

/// `count` simulated nodes over `connections` connections each send one reply
/// envelope at once; times from the first publish to the last flush.
async fn replies(args: &Args) -> Result<()> {
    let subject = Subject::from(args.text("subject")?);
    let count: u64 = args.number("count")?;
    let connections: u64 = args.number("connections")?;
    if connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    let mut clients = Vec::new();
    for _ in 0..connections {
        clients.push(connect(args, None).await?);
    }
    let start = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for (i, client) in clients.into_iter().enumerate() {
        let subject = subject.clone();
        let nodes: Vec<u64> = (0..count).filter(|n| n % connections == i as u64).collect();
        senders.spawn(async move {
            for node in nodes {
                client
                    .publish(subject.clone(), Bytes::from(reply_envelope(node)))
                    .await
                    .map_err(|e| format!("node {node}: publish failed: {e}"))?;
            }
            flush(&client).await.map_err(|e| e.to_string())
        });
    }
    while let Some(done) = senders.join_next().await {
        done.map_err(|e| format!("a sender task failed: {e}"))??;
    }
    let elapsed = start.elapsed();
    emit(&format!(
        "{{\"mode\":\"replies\",\"count\":{count},\"connections\":{connections},\"size\":{},\"elapsed\":{:.6}}}",
        reply_envelope(0).len(),
        elapsed.as_secs_f64()
    ))
}

async fn run(argv: &[String]) -> Result<()> {
    match argv.split_first() {
        Some((command, rest)) if command == "publish" => {
            publish(&Args::parse(rest, &["size"])?).await
        }
        Some((command, rest)) if command == "receive" => {
            receive(&Args::parse(rest, &["timeout"])?).await
        }
        Some((command, rest)) if command == "replies" => {
            replies(&Args::parse(rest, &["connections"])?).await
        }
        Some((command, _)) if command == "-h" || command == "--help" => {
            emit(USAGE)?;
            Ok(())
        }
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
