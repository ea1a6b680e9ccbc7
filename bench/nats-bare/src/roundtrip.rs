//! Latency: `request` (sequential round trips) against `respond` (an echo).

use crate::args::Args;
use crate::common::{connect, emit, flush, json_string, micros, percentile, sync};
use crate::Result;
use async_nats::Subject;
use bytes::Bytes;
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// Round trips before the measured ones, when `--warmup` is not given.
const WARMUP: u64 = 50;

/// Sends `count` requests (after `warmup` unmeasured ones) one at a time, each
/// with a reply subject this client subscribed to, and waits for each reply:
/// the pattern the Ruby side uses (subscribe, publish with reply, receive).
pub async fn request(args: &Args) -> Result<()> {
    let subject = Subject::from(args.text("subject")?);
    let count: u64 = args.number("count")?;
    let warmup: u64 = args.number_or("warmup", WARMUP)?;
    let size: usize = args.number("size")?;
    let wait = args.seconds("timeout")?;
    let client = connect(args, None).await?;
    let inbox = Subject::from(client.new_inbox());
    let mut replies = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| format!("cannot subscribe to {inbox}: {e}"))?;
    flush(&client).await?;
    let payload = Bytes::from(vec![b'r'; size]);
    let mut samples = Vec::with_capacity(usize::try_from(count)?);
    let mut lost: u64 = 0;
    for sent in 0..warmup + count {
        let start = Instant::now();
        client
            .publish_with_reply(subject.clone(), inbox.clone(), payload.clone())
            .await
            .map_err(|e| format!("request {} failed: {e}", sent + 1))?;
        match tokio::time::timeout(wait, replies.next()).await {
            Ok(Some(_reply)) if sent >= warmup => samples.push(start.elapsed()),
            Ok(Some(_reply)) => {}
            Ok(None) => return Err("the reply subscription ended".into()),
            Err(_) => lost += 1,
        }
    }
    samples.sort_unstable();
    let total: Duration = samples.iter().sum();
    let mean = if samples.is_empty() {
        Duration::ZERO
    } else {
        total / u32::try_from(samples.len())?
    };
    emit(&format!(
        "{{\"mode\":\"request\",\"subject\":{},\"count\":{count},\"size\":{size},\"lost\":{lost},\"p50_us\":{:.1},\"p90_us\":{:.1},\"p99_us\":{:.1},\"mean_us\":{:.1},\"min_us\":{:.1},\"max_us\":{:.1}}}",
        json_string(&subject),
        micros(percentile(&samples, 0.50)),
        micros(percentile(&samples, 0.90)),
        micros(percentile(&samples, 0.99)),
        micros(mean),
        micros(samples.first().copied().unwrap_or_default()),
        micros(samples.last().copied().unwrap_or_default()),
    ))
}

/// Answers each request on `subject` with its own payload, on its reply
/// subject, until `count` are answered or none comes for `timeout` seconds.
pub async fn respond(args: &Args) -> Result<()> {
    let subject = args.text("subject")?;
    let count: u64 = args.number("count")?;
    let gap = args.seconds("timeout")?;
    let client = connect(args, None).await?;
    let mut requests = client
        .subscribe(subject.to_string())
        .await
        .map_err(|e| format!("cannot subscribe to {subject}: {e}"))?;
    flush(&client).await?;
    emit("{\"ready\":true}")?;
    let mut answered: u64 = 0;
    let mut unanswerable: u64 = 0;
    while answered < count {
        match tokio::time::timeout(gap, requests.next()).await {
            Ok(Some(message)) => match message.reply {
                Some(reply) => {
                    client
                        .publish(reply, message.payload)
                        .await
                        .map_err(|e| format!("reply {} failed: {e}", answered + 1))?;
                    answered += 1;
                }
                None => unanswerable += 1,
            },
            Ok(None) | Err(_) => break,
        }
    }
    sync(&client).await?;
    emit(&format!(
        "{{\"mode\":\"respond\",\"subject\":{},\"answered\":{answered},\"without_reply_subject\":{unanswerable}}}",
        json_string(subject)
    ))
}
