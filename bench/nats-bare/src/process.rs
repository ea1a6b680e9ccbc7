//! A process's fixed costs: `connect` (time to a verified-TLS connection) and
//! `idle` (a connection holding subscriptions, doing nothing).

use crate::args::Args;
use crate::common::{connect, emit, flush, status_kb};
use crate::Result;
use futures_util::StreamExt;
use std::time::Instant;

/// Times one connect: TCP, TLS with both certificates verified, CONNECT, and
/// the first PING/PONG, as `ChoriaNats::Connection.connect` does.
pub async fn connect_once(args: &Args) -> Result<()> {
    let start = Instant::now();
    let client = connect(args, None).await?;
    let connected = start.elapsed();
    flush(&client).await?;
    let flushed = start.elapsed();
    emit(&format!(
        "{{\"mode\":\"connect\",\"connect_ms\":{:.3},\"connect_and_flush_ms\":{:.3}}}",
        connected.as_secs_f64() * 1e3,
        flushed.as_secs_f64() * 1e3
    ))
}

/// Subscribes to `count` subjects (`<subject>.0` ...), then idles for
/// `timeout` seconds, draining whatever arrives, so another process can read
/// its CPU time and RSS from `/proc`.
pub async fn idle(args: &Args) -> Result<()> {
    let prefix = args.text("subject")?;
    let count: u64 = args.number("count")?;
    let stay = args.seconds("timeout")?;
    let client = connect(args, None).await?;
    let mut drains = tokio::task::JoinSet::new();
    for n in 0..count {
        let subject = format!("{prefix}.{n}");
        let mut subscriber = client
            .subscribe(subject.clone())
            .await
            .map_err(|e| format!("cannot subscribe to {subject}: {e}"))?;
        drains.spawn(async move { while subscriber.next().await.is_some() {} });
    }
    flush(&client).await?;
    emit(&format!(
        "{{\"ready\":true,\"rss_kb\":{}}}",
        status_kb("VmRSS").unwrap_or(0)
    ))?;
    tokio::time::sleep(stay).await;
    drains.abort_all();
    Ok(())
}
