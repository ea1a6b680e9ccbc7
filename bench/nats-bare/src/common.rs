//! What every subcommand shares: the gem's TLS setup, flushing, JSON output,
//! and this process's memory figures.

use crate::args::Args;
use crate::Result;
use async_nats::{Client, ConnectOptions};
use bytes::Bytes;
use futures_util::StreamExt;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Longest a flush may take before we give up.
const FLUSH_LIMIT: Duration = Duration::from_secs(120);

/// Extra subscription room beyond the expected count, so nothing is dropped.
pub const SPARE_CAPACITY: usize = 1024;

/// Connects with the gem's TLS setup: TLS required, the CA as the only root,
/// a client certificate.
pub async fn connect(args: &Args, subscription_capacity: Option<usize>) -> Result<Client> {
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

/// Flushes, within `FLUSH_LIMIT`.
pub async fn flush(client: &Client) -> Result<()> {
    tokio::time::timeout(FLUSH_LIMIT, client.flush())
        .await
        .map_err(|_| format!("flush did not finish within {}s", FLUSH_LIMIT.as_secs()))?
        .map_err(|e| format!("flush failed: {e}"))?;
    Ok(())
}

/// Waits until the broker has read everything this client sent before: a
/// message to a fresh inbox of ours comes back only after the broker has
/// processed all that preceded it on this connection. `flush` alone only
/// writes the buffer to the socket; a process that exits right after it can
/// lose its tail (closing a TLS socket with unread input resets it, and the
/// broker drops what it had not read yet).
pub async fn sync(client: &Client) -> Result<()> {
    let inbox = client.new_inbox();
    let mut echo = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| format!("cannot subscribe to {inbox}: {e}"))?;
    client
        .publish(inbox, Bytes::new())
        .await
        .map_err(|e| format!("cannot publish the sync message: {e}"))?;
    flush(client).await?;
    match tokio::time::timeout(FLUSH_LIMIT, echo.next()).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err("the sync subscription ended".into()),
        Err(_) => Err(format!(
            "the broker did not echo the sync message within {}s",
            FLUSH_LIMIT.as_secs()
        )
        .into()),
    }
}

/// Messages per second.
pub fn rate(messages: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        messages as f64 / seconds
    } else {
        0.0
    }
}

/// A JSON string literal.
pub fn json_string(text: &str) -> String {
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

/// A JSON number, or `null` when there is none.
pub fn json_number(value: Option<u64>) -> String {
    value.map_or_else(|| "null".to_string(), |v| v.to_string())
}

/// Writes one line to stdout and flushes it.
pub fn emit(line: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}

/// A `kB` field of `/proc/self/status` (`VmRSS`, `VmHWM`), if readable.
pub fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        line.strip_prefix(field)?
            .strip_prefix(':')?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}

/// Resets `VmHWM` (the peak RSS) to the current RSS; false where Linux refuses.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The value at quantile `q` (0..=1) of sorted `values`, nearest rank.
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Microseconds, as a float.
pub fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
