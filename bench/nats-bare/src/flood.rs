//! Throughput: `publish`, `receive` and the fleet simulator `replies`.

use crate::args::Args;
use crate::common::{
    connect, emit, flush, json_number, json_string, rate, reset_peak_rss, status_kb, sync,
    SPARE_CAPACITY,
};
use crate::envelope::reply_envelope;
use crate::Result;
use async_nats::{Client, Subject};
use bytes::Bytes;
use futures_util::StreamExt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The payload to publish: the bytes of `--payload-file`, or `--size` bytes of `x`.
fn payload(args: &Args) -> Result<Bytes> {
    if args.has("payload-file") {
        let file = args.text("payload-file")?;
        let bytes = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        return Ok(Bytes::from(bytes));
    }
    let size: usize = args.number("size")?;
    Ok(Bytes::from(vec![b'x'; size]))
}

/// With `--distinct N`, N variants of `payload` that each differ from the
/// one before (the variant's number written over its first bytes), made
/// before the clock starts; else `payload` alone.
fn variants(args: &Args, payload: Bytes) -> Result<Vec<Bytes>> {
    let distinct: usize = args.number_or("distinct", 1)?;
    if distinct == 0 {
        return Err("--distinct must be at least 1".into());
    }
    if distinct == 1 {
        return Ok(vec![payload]);
    }
    Ok((0..distinct)
        .map(|n| {
            let mut variant = payload.to_vec();
            let tag = n.to_string();
            let width = tag.len().min(variant.len());
            variant[..width].copy_from_slice(&tag.as_bytes()[..width]);
            Bytes::from(variant)
        })
        .collect())
}

/// Publishes `count` messages, then flushes; times both.
pub async fn publish(args: &Args) -> Result<()> {
    let subject = args.text("subject")?;
    let count: u64 = args.number("count")?;
    let payloads = variants(args, payload(args)?)?;
    let client = connect(args, None).await?;
    let target = Subject::from(subject);
    let start = Instant::now();
    for (sent, payload) in (0..count).zip(payloads.iter().cycle()) {
        client
            .publish(target.clone(), payload.clone())
            .await
            .map_err(|e| format!("publish {} of {count} failed: {e}", sent + 1))?;
    }
    flush(&client).await?;
    let elapsed = start.elapsed();
    sync(&client).await?;
    emit(&format!(
        "{{\"mode\":\"publish\",\"subject\":{},\"count\":{count},\"size\":{},\"elapsed\":{:.6},\"msgs_per_sec\":{:.1}}}",
        json_string(subject),
        payloads[0].len(),
        elapsed.as_secs_f64(),
        rate(count, elapsed)
    ))
}

/// Receives up to `count` messages, or until none comes for `timeout` seconds.
/// Reports the RSS once subscribed and the peak RSS while receiving.
pub async fn receive(args: &Args) -> Result<()> {
    let subject = args.text("subject")?;
    let count: u64 = args.number("count")?;
    let gap = args.seconds("timeout")?;
    let capacity = usize::try_from(count)?.saturating_add(SPARE_CAPACITY);
    let client = connect(args, Some(capacity)).await?;
    let mut subscriber = client
        .subscribe(subject.to_string())
        .await
        .map_err(|e| format!("cannot subscribe to {subject}: {e}"))?;
    flush(&client).await?;
    let peak_reset = reset_peak_rss();
    let ready_rss = status_kb("VmRSS");
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
    let peak_rss = if peak_reset { status_kb("VmHWM") } else { None };
    let in_msgs = client.statistics().in_messages.load(Ordering::Relaxed);
    emit(&format!(
        "{{\"mode\":\"receive\",\"subject\":{},\"count\":{count},\"received\":{received},\"lost\":{},\"in_msgs\":{in_msgs},\"elapsed\":{:.6},\"msgs_per_sec\":{:.1},\"rss_kb\":{},\"peak_rss_kb\":{}}}",
        json_string(subject),
        count - received,
        elapsed.as_secs_f64(),
        rate(received, elapsed),
        json_number(ready_rss),
        json_number(peak_rss)
    ))
}

/// `count` simulated nodes over `connections` connections each send one reply
/// envelope at once; times from the first publish to the last flush.
pub async fn replies(args: &Args) -> Result<()> {
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
            flush(&client).await.map_err(|e| e.to_string())?;
            Ok::<Client, String>(client)
        });
    }
    let mut done = Vec::new();
    while let Some(sent) = senders.join_next().await {
        done.push(sent.map_err(|e| format!("a sender task failed: {e}"))??);
    }
    let elapsed = start.elapsed();
    for client in &done {
        sync(client).await?;
    }
    emit(&format!(
        "{{\"mode\":\"replies\",\"count\":{count},\"connections\":{connections},\"size\":{},\"elapsed\":{:.6}}}",
        reply_envelope(0).len(),
        elapsed.as_secs_f64()
    ))
}
