//! The Prometheus metrics: a snapshot in the text exposition format
//! (`prometheus-client`), served at `/choria/metrics` over HTTP/1 (`hyper`).
//! Anyone who can reach the port can send anything, so the server bounds
//! what a client can hold: a few connections at a time, a small request
//! head read within seconds, one request per connection, and a deadline on
//! each connection. It runs on the connection's runtime and ends with it.

use crate::backoff::FailureKind;
use crate::log_queue::Level;
use crate::monitor::{Monitor, Snapshot};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The one path served.
pub const PATH: &str = "/choria/metrics";
/// Connections served at once; more are closed at once. A scraper needs one.
const MAX_CONNECTIONS: usize = 8;
/// Time for a client to send its request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a connection may last, whatever the client does.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(15);
/// The smallest read buffer hyper takes, which also bounds the request head.
const MAX_HEAD: usize = 8192;

/// The metrics of a snapshot in the Prometheus text format.
pub fn encode(snapshot: &Snapshot) -> String {
    let labels = [
        ("identity", snapshot.identity.clone()),
        ("broker", snapshot.broker.clone().unwrap_or_default()),
    ]
    .map(|(name, value)| (Cow::Borrowed(name), Cow::Owned(value)));
    let mut registry = Registry::with_labels(labels.into_iter());
    let stats = &snapshot.stats;
    let counters: [(&str, &str, u64); 8] = [
        (
            "choria_nats_messages_received",
            "Messages received from the broker",
            stats.in_msgs,
        ),
        (
            "choria_nats_messages_sent",
            "Messages sent to the broker",
            stats.out_msgs,
        ),
        (
            "choria_nats_received_bytes",
            "Bytes of messages received",
            stats.in_bytes,
        ),
        (
            "choria_nats_sent_bytes",
            "Bytes of messages sent",
            stats.out_bytes,
        ),
        (
            "choria_nats_reconnects",
            "Links to a broker made again after one dropped",
            stats.reconnects,
        ),
        (
            "choria_nats_dropped_messages",
            "Messages dropped because the receive queue was full",
            stats.dropped,
        ),
        (
            "choria_nats_skipped_messages",
            "Messages skipped because they were not choria:transport:1 envelopes",
            snapshot.skipped,
        ),
        (
            "choria_nats_connection_attempts",
            "Attempts to connect to a broker",
            snapshot.attempts,
        ),
    ];
    for (name, help, value) in counters {
        let counter: Counter = Counter::default();
        counter.inc_by(value);
        registry.register(name, help, counter);
    }
    let failures = Family::<Vec<(String, String)>, Counter>::default();
    for (kind, value) in FailureKind::ALL.iter().zip(snapshot.failures) {
        failures
            .get_or_create(&vec![("kind".to_string(), kind.name().to_string())])
            .inc_by(value);
    }
    registry.register(
        "choria_nats_connection_failures",
        "Failed attempts to connect, by kind: refused, overloaded (timed out or cut) or other",
        failures,
    );
    let gauges: [(&str, &str, Option<i64>); 5] = [
        (
            "choria_nats_connected",
            "1 when connected to a broker, else 0",
            Some(i64::from(snapshot.connected)),
        ),
        (
            "choria_nats_server_pool_size",
            "Brokers known",
            Some(snapshot.pool_size as i64),
        ),
        (
            "choria_nats_receive_queue_messages",
            "Messages waiting to be taken by the connector",
            Some(stats.queued as i64),
        ),
        (
            "choria_nats_receive_queue_bytes",
            "Bytes of messages waiting to be taken by the connector",
            Some(stats.queued_bytes as i64),
        ),
        (
            "choria_nats_certificate_expiry_timestamp_seconds",
            "When this node's certificate expires, as a Unix time",
            snapshot.certificate_expires,
        ),
    ];
    for (name, help, value) in gauges {
        if let Some(value) = value {
            let gauge: Gauge = Gauge::default();
            gauge.set(value);
            registry.register(name, help, gauge);
        }
    }
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_text::encode(&mut text, &registry);
    text
}

/// The answer to one request.
fn respond(monitor: &Monitor, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode, text: &'static str| {
        let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
        *response.status_mut() = status;
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    };
    if request.uri().path() != PATH {
        return plain(
            StatusCode::NOT_FOUND,
            "Not found: the metrics are at /choria/metrics\n",
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "Only GET and HEAD are served\n",
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let mut response = Response::new(Full::new(Bytes::from(encode(&monitor.snapshot()))));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(prometheus_text::CONTENT_TYPE),
    );
    response
}

/// Listens on `address` and serves the metrics until the runtime ends. A
/// port that cannot be bound is one error line; the connection carries on.
pub async fn serve(address: SocketAddr, monitor: Arc<Monitor>) {
    let listener = match TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(error) => {
            monitor.log(
                Level::Error,
                format!("Cannot serve Prometheus metrics on {address}: {error}; carrying on without them: free the port or set another plugin.choria.stats_port"),
            );
            return;
        }
    };
    monitor.log(
        Level::Info,
        format!("Serving Prometheus metrics on http://{address}{PATH}"),
    );
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut accept_errors: u64 = 0;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors, mostly: wait instead of spinning.
                accept_errors += 1;
                if accept_errors.is_power_of_two() {
                    monitor.log(
                        Level::Warn,
                        format!("The metrics port {address} could not accept a connection: {error} ({accept_errors} such failures)"),
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let monitor = Arc::clone(&monitor);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let response = respond(&monitor, &request);
                async move { Ok::<_, Infallible>(response) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_DEADLINE, connection).await;
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Stats;
    use crate::monitor::Recent;

    #[test]
    fn encodes_counters_and_gauges_with_the_identity_and_broker() {
        let snapshot = Snapshot {
            identity: "node1".into(),
            connected: true,
            server: Some("nats1:4222".into()),
            broker: Some("nats1:4222".into()),
            source: Some("config".into()),
            connected_since: None,
            last_received: None,
            last_sent: None,
            started: 0,
            now: 0,
            stats: Stats {
                in_msgs: 7,
                reconnects: 2,
                ..Stats::default()
            },
            skipped: 1,
            attempts: 5,
            failures: [2, 0, 1],
            pool_size: 1,
            recent: Recent::default(),
            certificate_expires: Some(1_800_000_000),
        };
        let text = encode(&snapshot);
        let labels = "identity=\"node1\",broker=\"nats1:4222\"";
        for line in [
            format!("choria_nats_messages_received_total{{{labels}}} 7"),
            format!("choria_nats_reconnects_total{{{labels}}} 2"),
            format!("choria_nats_skipped_messages_total{{{labels}}} 1"),
            format!("choria_nats_connection_failures_total{{{labels},kind=\"refused\"}} 2"),
            format!("choria_nats_connected{{{labels}}} 1"),
            format!("choria_nats_certificate_expiry_timestamp_seconds{{{labels}}} 1800000000"),
            "# TYPE choria_nats_connected gauge".to_string(),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }
}
