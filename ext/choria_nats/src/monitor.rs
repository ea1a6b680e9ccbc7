//! What `mcollectived` shows of its link from outside: snapshots of the
//! connection's state taken on the connection's own runtime, the status file
//! written from them on a timer (`status_file.rs`) and the metrics served
//! from them (`metrics.rs`). Nothing here is on the path of a message: the
//! snapshots read the counters the connection keeps anyway, and the file is
//! written on a blocking thread, so a slow disk or a stuck Ruby thread
//! delays neither messages nor the next snapshot.

use crate::backoff::FailureKind;
use crate::connection::{stats_of, Stats};
use crate::log_queue::Level;
use crate::session::Session;
use crate::settings::Monitoring;
use crate::shared::Shared;
use crate::status_file;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::runtime::Handle;

/// Time between two snapshots: the resolution of `last_message` and of
/// `connected_since`.
const SAMPLE: Duration = Duration::from_secs(1);
/// The window over which reconnects and drops count as recent: longer than
/// the usual interval of a Nagios check, so each check sees every rise.
pub const RECENT: Duration = Duration::from_secs(15 * 60);
/// Failed writes of the status file after the first are logged at most this often.
const FAILURE_LOG_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// Reconnects and drops within the last `seconds`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recent {
    pub seconds: u64,
    pub reconnects: u64,
    pub dropped: u64,
}

/// The state of the link at one moment. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub identity: String,
    pub connected: bool,
    /// `host:port` of the broker in use, or being tried.
    pub server: Option<String>,
    /// The broker in use, else the last one connected to (before the first
    /// link, the first one tried): the metrics' `broker` label, which must
    /// not follow the reconnect attempts from broker to broker, or an alert
    /// on `connected` would start again with each attempt.
    pub broker: Option<String>,
    /// Where that broker came from (configuration, SRV).
    pub source: Option<String>,
    pub connected_since: Option<i64>,
    pub last_received: Option<i64>,
    pub last_sent: Option<i64>,
    pub started: i64,
    pub now: i64,
    pub stats: Stats,
    /// Messages the connector skipped because they were not envelopes.
    pub skipped: u64,
    /// Connection attempts, and the failed ones by kind (`FailureKind::ALL`).
    pub attempts: u64,
    pub failures: [u64; 3],
    pub pool_size: usize,
    pub recent: Recent,
    pub certificate_expires: Option<i64>,
}

/// What the snapshots remember between them.
#[derive(Default)]
struct Seen {
    in_msgs: u64,
    out_msgs: u64,
    connects: u64,
    connected_since: Option<i64>,
    last_received: Option<i64>,
    last_sent: Option<i64>,
    /// `(time, reconnects, dropped)` of each snapshot within `RECENT`.
    history: VecDeque<(i64, u64, u64)>,
    /// The last broker this connection was connected to; before the first
    /// link, the first one tried.
    last_broker: Option<String>,
}

impl Seen {
    /// Remembers since when the link is up, and the broker it is up to.
    fn note_link(&mut self, connected: bool, server: Option<&str>, connects: u64, now: i64) {
        if !connected {
            self.connected_since = None;
            // Before the first link, the first broker tried names the series.
            if self.last_broker.is_none() {
                self.last_broker = server.map(str::to_string);
            }
            return;
        }
        self.last_broker = server.map(str::to_string);
        if self.connected_since.is_none() || connects != self.connects {
            self.connected_since = Some(now);
        }
    }
}

pub struct Monitor {
    shared: Arc<Shared>,
    session: OnceLock<Arc<Session>>,
    pub settings: Monitoring,
    identity: String,
    certificate_expires: Option<i64>,
    started: i64,
    seen: Mutex<Seen>,
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The end of the validity of the first certificate in `path`, if it can be read.
pub fn certificate_expiry(path: &Path) -> Option<i64> {
    let chain = crate::tls::certificates("certificate", path).ok()?;
    crate::x509::parse(chain.first()?).map(|cert| cert.not_after)
}

impl Monitor {
    pub fn new(
        shared: Arc<Shared>,
        settings: Monitoring,
        identity: String,
        certificate_expires: Option<i64>,
    ) -> Arc<Self> {
        Arc::new(Monitor {
            shared,
            session: OnceLock::new(),
            settings,
            identity,
            certificate_expires,
            started: unix_now(),
            seen: Mutex::new(Seen::default()),
        })
    }

    /// The session, once the first connect succeeded.
    pub fn attach(&self, session: Arc<Session>) {
        let _ = self.session.set(session);
    }

    /// Starts the snapshots, the status file and the metrics port on `runtime`.
    pub fn start(self: &Arc<Self>, runtime: &Handle) {
        runtime.spawn(Arc::clone(self).run());
        if let Some(address) = self.settings.stats_listen {
            runtime.spawn(crate::metrics::serve(address, Arc::clone(self)));
        }
    }

    pub fn log(&self, level: Level, line: String) {
        self.shared.log(level, line);
    }

    /// The state now, remembering what changed since the previous snapshot.
    pub fn snapshot(&self) -> Snapshot {
        let session = self.session.get();
        let stats = stats_of(&self.shared, session.map(Arc::as_ref));
        let connected = session.is_some_and(|session| session.is_connected());
        let (server, source, pool_size) = {
            let pool = self.shared.pool();
            let current = pool.current();
            (
                Some(current.label.clone()),
                Some(current.source.clone()),
                pool.len(),
            )
        };
        let failures = FailureKind::ALL.map(|kind| self.shared.failures(kind));
        let connects = self.shared.connects();
        let now = unix_now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if stats.in_msgs > seen.in_msgs {
            seen.last_received = Some(now);
        }
        if stats.out_msgs > seen.out_msgs {
            seen.last_sent = Some(now);
        }
        seen.note_link(connected, server.as_deref(), connects, now);
        (seen.in_msgs, seen.out_msgs, seen.connects) = (stats.in_msgs, stats.out_msgs, connects);
        // One entry a second at most, however often a scrape asks: the
        // window stays bounded by RECENT's seconds, not by the requests.
        if seen.history.back().is_none_or(|&(t, _, _)| t != now) {
            seen.history
                .push_back((now, stats.reconnects, stats.dropped));
        }
        while seen
            .history
            .front()
            .is_some_and(|(t, _, _)| now - t > RECENT.as_secs() as i64)
        {
            seen.history.pop_front();
        }
        let recent = match seen.history.front() {
            Some(&(since, reconnects, dropped)) => Recent {
                seconds: (now - since).max(0) as u64,
                reconnects: stats.reconnects.saturating_sub(reconnects),
                dropped: stats.dropped.saturating_sub(dropped),
            },
            None => Recent::default(),
        };
        Snapshot {
            identity: self.identity.clone(),
            connected,
            broker: seen.last_broker.clone(),
            server,
            source,
            connected_since: seen.connected_since,
            last_received: seen.last_received,
            last_sent: seen.last_sent,
            started: self.started,
            now,
            skipped: self.shared.skipped(),
            attempts: connects + failures.iter().sum::<u64>(),
            failures,
            pool_size,
            recent,
            certificate_expires: self.certificate_expires,
            stats,
        }
    }

    /// Takes a snapshot every `SAMPLE` and writes the status file every
    /// `status_interval`, until the runtime ends.
    async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(SAMPLE);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut next_write = Instant::now();
        let mut failures = WriteFailures::default();
        if let Some(path) = &self.settings.status_file {
            self.log(
                Level::Info,
                format!(
                    "Writing the status file {} every {}s",
                    path.display(),
                    self.settings.status_interval.as_secs_f64()
                ),
            );
        }
        loop {
            tick.tick().await;
            let snapshot = self.snapshot();
            let Some(path) = &self.settings.status_file else {
                continue;
            };
            if Instant::now() < next_write {
                continue;
            }
            next_write = Instant::now() + self.settings.status_interval;
            let mut content = status_file::render(&snapshot, self.settings.status_interval)
                .to_string()
                .into_bytes();
            content.push(b'\n');
            let target = path.clone();
            // The loop waits for the write, so a slow disk delays the next
            // write, never piles them up.
            let result =
                tokio::task::spawn_blocking(move || status_file::replace(&target, &content))
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
            if let Some(line) = failures.outcome(path, result) {
                self.log(line.0, line.1);
            }
        }
    }
}

/// The rate limit of the log lines of failed writes.
#[derive(Default)]
struct WriteFailures {
    /// Failures since the last line about them.
    unlogged: u64,
    /// Failures since the last good write.
    in_a_row: u64,
    last_logged: Option<Instant>,
}

impl WriteFailures {
    /// The line to log after a write, if any: the first failure, then at most
    /// one every `FAILURE_LOG_INTERVAL`, and one when writes work again.
    fn outcome(&mut self, path: &Path, result: std::io::Result<()>) -> Option<(Level, String)> {
        match result {
            Ok(()) if self.in_a_row > 0 => {
                let line = format!(
                    "Wrote the status file {} again after {} failed writes",
                    path.display(),
                    self.in_a_row
                );
                *self = WriteFailures::default();
                Some((Level::Info, line))
            }
            Ok(()) => None,
            Err(error) => {
                self.in_a_row += 1;
                self.unlogged += 1;
                if self
                    .last_logged
                    .is_some_and(|t| t.elapsed() < FAILURE_LOG_INTERVAL)
                {
                    return None;
                }
                let more = match self.unlogged {
                    1 => String::new(),
                    n => format!(" ({n} failed writes since the last such line)"),
                };
                self.unlogged = 0;
                self.last_logged = Some(Instant::now());
                Some((
                    Level::Error,
                    format!(
                        "Cannot write the status file {}: {error}{more}: check that its directory exists and this process can write to it",
                        path.display()
                    ),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backoff::Backoff;
    use crate::server_pool::ServerPool;
    use std::path::PathBuf;

    #[test]
    fn keeps_the_last_broker_connected_to_while_attempts_move_between_brokers() {
        let mut seen = Seen::default();
        seen.note_link(false, Some("nats3:4222"), 0, 98);
        seen.note_link(false, Some("nats1:4222"), 0, 99);
        assert_eq!(seen.last_broker.as_deref(), Some("nats3:4222"));
        seen.note_link(true, Some("nats1:4222"), 1, 100);
        seen.note_link(false, Some("nats2:4222"), 1, 101);
        seen.note_link(false, Some("nats1:4222"), 1, 102);
        seen.note_link(false, Some("nats2:4222"), 1, 103);
        assert_eq!(seen.last_broker.as_deref(), Some("nats1:4222"));
        assert_eq!(seen.connected_since, None);
        seen.note_link(true, Some("nats2:4222"), 2, 104);
        assert_eq!(seen.last_broker.as_deref(), Some("nats2:4222"));
        assert_eq!(seen.connected_since, Some(104));
    }

    #[test]
    fn remembers_one_snapshot_a_second_however_often_it_is_asked() {
        let servers = vec![("127.0.0.1:4222".to_string(), "config".to_string())];
        let pool = ServerPool::new(&servers, false, &mut rand::rng()).expect("one server");
        let monitoring = Monitoring {
            status_file: None,
            status_interval: Duration::from_secs(30),
            stats_listen: None,
        };
        let monitor = Monitor::new(
            Shared::new(pool, Backoff::default()),
            monitoring,
            "node".to_string(),
            None,
        );
        for _ in 0..10_000 {
            monitor.snapshot();
        }
        let held = monitor.seen.lock().expect("not poisoned").history.len();
        assert!(held <= 2, "{held} snapshots held");
    }

    #[test]
    fn logs_the_first_failed_write_then_few_and_the_recovery() {
        let mut failures = WriteFailures::default();
        let path = PathBuf::from("/nonexistent/status.json");
        let fail = || Err(std::io::Error::from(std::io::ErrorKind::NotFound));
        let first = failures
            .outcome(&path, fail())
            .expect("the first is logged");
        assert_eq!(first.0, Level::Error);
        assert!(
            first
                .1
                .starts_with("Cannot write the status file /nonexistent/status.json: "),
            "{}",
            first.1
        );
        assert!(first
            .1
            .ends_with("check that its directory exists and this process can write to it"));
        for _ in 0..100 {
            assert_eq!(failures.outcome(&path, fail()), None);
        }
        let back = failures
            .outcome(&path, Ok(()))
            .expect("the recovery is logged");
        assert_eq!(
            back,
            (
                Level::Info,
                "Wrote the status file /nonexistent/status.json again after 101 failed writes"
                    .to_string()
            )
        );
        assert_eq!(failures.outcome(&path, Ok(())), None);
    }
}
