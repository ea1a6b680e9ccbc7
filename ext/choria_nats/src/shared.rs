//! The state a connection shares with its runtime's callbacks: the server
//! pool, the log lines waiting for Ruby, and what async-nats tells us about
//! the link to the broker (connects, disconnects, slow consumers, server errors).

use crate::backoff::{Backoff, FailureKind, Streak};
use crate::log_queue::{Level, LogQueue};
use crate::server_pool::ServerPool;
use async_nats::{Event, ReconnectToServer, Server, ServerInfo};
use hickory_resolver::proto::rr::Name;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Something told of every event before `Shared` handles it (the fleet
/// simulation times reconnects with it).
pub type Observer = Box<dyn Fn(&Event) + Send + Sync>;

/// Announced cluster members logged per connection: an INFO can name
/// thousands, and each line is written once.
const MAX_ANNOUNCED_LOGGED: usize = 16;

/// How long looking SRV records up again may take.
const SRV_REFRESH_TIMEOUT: Duration = Duration::from_secs(5);

/// Records named in the log line of an answer cut at `srv::MAX_RECORDS`.
const IGNORED_LOGGED: usize = 8;

/// Where the SRV records of the pool come from, and when they were last
/// looked up.
pub struct SrvSource {
    pub names: Vec<Name>,
    pub nameserver: Option<SocketAddr>,
    /// The shortest time between two lookups.
    pub period: Duration,
    last: Mutex<Option<Instant>>,
    /// Whether the latest lookup failed or was empty (logged once).
    failing: std::sync::atomic::AtomicBool,
}

impl SrvSource {
    pub fn new(names: Vec<Name>, nameserver: Option<SocketAddr>, period: Duration) -> Self {
        SrvSource {
            names,
            nameserver,
            period,
            last: Mutex::new(None),
            failing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether a lookup may be made now (at most one a period); if so, it
    /// counts as made.
    fn due(&self) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match *last {
            Some(at) if now.duration_since(at) < self.period => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }
}

/// The scheme of an announced member (`ws` in `ws://h:1`), `none` without
/// one, `invalid` when it is not a plain word.
fn announced_scheme(url: &str) -> &str {
    match url.split_once("://") {
        None => "none",
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme.len() <= 16
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+') =>
        {
            scheme
        }
        Some(_) => "invalid",
    }
}

pub struct Shared {
    pub logs: Arc<LogQueue>,
    pool: Mutex<ServerPool>,
    backoff: Backoff,
    /// Successful connects seen by the event callback (the first is the
    /// initial connect, the rest are reconnects).
    connects: AtomicU64,
    /// Messages async-nats dropped because a subscription's own buffer was
    /// full (it reports each as a slow-consumer event).
    pub slow_consumer_drops: AtomicU64,
    /// Messages the connector skipped because they were not envelopes.
    skipped: AtomicU64,
    /// Failed connect attempts by kind, in `FailureKind::ALL` order.
    failures_by_kind: [AtomicU64; 3],
    /// The failed reconnect attempts since the link was last up.
    streak: Mutex<Streak>,
    observer: OnceLock<Observer>,
    /// Announced cluster members already logged.
    announced: Mutex<HashSet<String>>,
    /// The SRV names the pool follows, when it came from SRV records.
    srv: OnceLock<SrvSource>,
    /// Told when a reconnect needs a server async-nats was not given: the
    /// session's supervisor then builds a new client (`session.rs`).
    rebuild: Notify,
}

impl Shared {
    pub fn new(pool: ServerPool, backoff: Backoff) -> Arc<Self> {
        Arc::new(Shared {
            logs: Arc::new(LogQueue::default()),
            pool: Mutex::new(pool),
            backoff,
            connects: AtomicU64::new(0),
            slow_consumer_drops: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            failures_by_kind: Default::default(),
            streak: Mutex::new(Streak::default()),
            observer: OnceLock::new(),
            announced: Mutex::new(HashSet::new()),
            srv: OnceLock::new(),
            rebuild: Notify::new(),
        })
    }

    /// Makes the pool follow these SRV names; false when it follows some already.
    pub fn follow_srv(&self, source: SrvSource) -> bool {
        self.srv.set(source).is_ok()
    }

    /// Waits until a reconnect asks for a new client.
    pub async fn rebuild_requested(&self) {
        self.rebuild.notified().await;
    }

    /// Looks the SRV records up again, at most once a period, and puts the
    /// answer into the pool (`ServerPool::refresh_srv`). A failed or empty
    /// lookup keeps the pool as it is, logged once until one succeeds again.
    /// The lookup runs as a task of its own: async-nats wants the futures of
    /// its callbacks shareable between threads, and the resolver's are not.
    pub async fn refresh_srv(self: &Arc<Self>) {
        let shared = Arc::clone(self);
        // A lookup that panicked changed nothing: the pool stays.
        let _ = tokio::spawn(async move { shared.lookup_srv_again().await }).await;
    }

    async fn lookup_srv_again(&self) {
        let Some(source) = self.srv.get() else {
            return;
        };
        if source.names.is_empty() || !source.due() {
            return;
        }
        let shown = source
            .names
            .iter()
            .map(|n| n.to_ascii().trim_end_matches('.').to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let result =
            crate::srv::resolve(&source.names, source.nameserver, SRV_REFRESH_TIMEOUT).await;
        let answer = match result {
            Ok(answer) if !answer.records.is_empty() => answer,
            Ok(_) => return self.srv_failed(source, format!("no SRV records for {shown}")),
            Err(failure) => return self.srv_failed(source, failure.message),
        };
        self.log(
            Level::Debug,
            format!(
                "Looked the SRV records up again: {} for {shown}",
                answer.records.len()
            ),
        );
        if source.failing.swap(false, Ordering::Relaxed) {
            self.log(Level::Info, format!("SRV records for {shown} found again"));
        }
        if !answer.ignored.is_empty() {
            let mut named = answer.ignored[..answer.ignored.len().min(IGNORED_LOGGED)].join(", ");
            if answer.ignored.len() > IGNORED_LOGGED {
                named.push_str(&format!(
                    " and {} more",
                    answer.ignored.len() - IGNORED_LOGGED
                ));
            }
            self.log(
                Level::Warn,
                format!(
                    "Ignoring {} SRV records beyond the first {}: {named}",
                    answer.ignored.len(),
                    crate::srv::MAX_RECORDS
                ),
            );
        }
        let specs: Vec<String> = answer
            .records
            .iter()
            .map(|r| format!("{}:{}", r.host, r.port))
            .collect();
        if let Some(reason) = &answer.partial {
            self.log(
                Level::Warn,
                format!("Looking SRV records up again answered only in part ({reason}): adding what it lists, removing nothing"),
            );
        }
        let (change, described) = {
            let mut pool = self.pool();
            let change = pool.refresh_srv(&specs, answer.partial.is_none());
            (change, pool.describe())
        };
        for refused in &change.refused {
            self.log(Level::Warn, format!("Ignoring an SRV record: {refused}"));
        }
        if !change.added.is_empty() || !change.removed.is_empty() {
            let listed = |names: &[String]| {
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            };
            self.log(
                Level::Info,
                format!(
                    "SRV answer changed: added {}, removed {}; server pool: {described}",
                    listed(&change.added),
                    listed(&change.removed)
                ),
            );
        }
    }

    fn srv_failed(&self, source: &SrvSource, reason: String) {
        if !source.failing.swap(true, Ordering::Relaxed) {
            self.log(
                Level::Warn,
                format!(
                    "Looking SRV records up again failed: {reason}; keeping the server pool {}",
                    self.pool().describe()
                ),
            );
        } else {
            self.log(
                Level::Debug,
                format!("Looking SRV records up again failed: {reason}"),
            );
        }
    }

    /// Sets the observer of events; false when one was set already.
    pub fn observe(&self, observer: Observer) -> bool {
        self.observer.set(observer).is_ok()
    }

    /// Successful connects so far, of every client of the connection.
    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::Relaxed)
    }

    /// Counts a message the connector skipped.
    pub fn count_skipped(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }

    /// Messages the connector skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Counts a failed connect attempt.
    pub fn count_failure(&self, kind: FailureKind) {
        self.failures_by_kind[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Failed connect attempts so far of one kind.
    pub fn failures(&self, kind: FailureKind) -> u64 {
        self.failures_by_kind[kind as usize].load(Ordering::Relaxed)
    }

    /// The pool; a poisoned lock (a panic elsewhere) still gives the data.
    pub fn pool(&self) -> MutexGuard<'_, ServerPool> {
        self.pool
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn log(&self, level: Level, line: impl Into<String>) {
        self.logs.push(level, line);
    }

    /// Handles an event from async-nats' connection handler.
    pub fn on_event(&self, event: Event) {
        if let Some(observer) = self.observer.get() {
            observer(&event);
        }
        match event {
            Event::Connected => {
                if self.connects.fetch_add(1, Ordering::Relaxed) > 0 {
                    let mut pool = self.pool();
                    pool.record_success();
                    let line = format!(
                        "Reconnected after connection failure: {}; server pool: {}",
                        pool.current().describe(),
                        pool.describe()
                    );
                    drop(pool);
                    self.log(Level::Info, line);
                }
            }
            Event::Disconnected => {
                let server = self.pool().current().describe();
                self.log(
                    Level::Warn,
                    format!("Disconnected from NATS: {server}; reconnecting with back-off"),
                );
            }
            Event::LameDuckMode => {
                let server = self.pool().current().describe();
                self.log(
                    Level::Warn,
                    format!("The NATS broker {server} is entering lame duck mode: it will shut down soon"),
                );
            }
            Event::SlowConsumer(sid) => {
                let n = self.slow_consumer_drops.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    self.log(
                        Level::Error,
                        format!("NATS dropped a message for subscription {sid}: its buffer is full ({n} such drops since connect)"),
                    );
                }
            }
            Event::ServerError(error) => {
                let server = self.pool().current().describe();
                self.log(
                    Level::Error,
                    format!("The NATS broker {server} reported: {error}"),
                );
            }
            Event::ClientError(error) => {
                self.log(Level::Debug, format!("NATS client error: {error}"));
            }
            Event::Closed => self.log(Level::Info, "Connection to NATS closed"),
            Event::Draining => self.log(Level::Debug, "Draining the NATS connection"),
        }
    }

    /// Logs, once each, the cluster members a broker announced in its INFO,
    /// none of which is dialled: that INFO arrives before TLS starts, so
    /// anyone on the path can write it (see docs/security.md). A member
    /// whose scheme is not NATS over TLS is a warning: nothing legitimate
    /// announces one to a TLS client.
    pub fn note_announced(&self, info: &ServerInfo) {
        if info.connect_urls.is_empty() {
            return;
        }
        let server = self.pool().current().describe();
        let mut seen = self.announced.lock().unwrap_or_else(|p| p.into_inner());
        for url in &info.connect_urls {
            if seen.len() > MAX_ANNOUNCED_LOGGED || seen.contains(url) {
                continue;
            }
            seen.insert(url.clone());
            if seen.len() > MAX_ANNOUNCED_LOGGED {
                self.log(
                    Level::Warn,
                    format!("The NATS broker {server} announced more than {MAX_ANNOUNCED_LOGGED} cluster members: not logging more of them"),
                );
                break;
            }
            let scheme = announced_scheme(url);
            let level = match scheme {
                "nats" | "tls" | "none" => Level::Info,
                _ => Level::Warn,
            };
            self.log(
                level,
                format!("The NATS broker {server} announced the cluster member {url:?} (scheme {scheme}): not dialled, brokers come only from configuration and SRV records"),
            );
        }
    }

    /// Chooses the server for async-nats' next connection attempt and how long
    /// to wait before it. `servers` is async-nats' own view of the pool: it
    /// carries the outcome of the previous attempt, whose kind (refused, overloaded, other) sets the
    /// back-off window (see `backoff.rs`). When the link has just dropped, or
    /// every server has failed once more, the SRV records are looked up again.
    /// A server async-nats was not given cannot be dialled by this client:
    /// after the wait, the supervisor is asked for a new one, and this
    /// client's connection task waits for ever (it ends with the runtime).
    pub async fn next_server(self: &Arc<Self>, servers: &[Server]) -> ReconnectToServer {
        let (refresh, reconnecting) = self.record_attempt(servers);
        if refresh {
            self.refresh_srv().await;
        }
        let (next, delay) = self.choose(reconnecting);
        let known = servers.iter().any(|s| s.addr == next.addr);
        if reconnecting && !known {
            self.log(
                Level::Info,
                format!(
                    "Connecting to NATS {} in {:.2}s with a new client: the SRV records list it and this client was not given it",
                    next.describe(),
                    delay.as_secs_f64()
                ),
            );
            tokio::time::sleep(delay).await;
            self.rebuild.notify_one();
            std::future::pending::<()>().await;
        }
        if reconnecting {
            self.log(
                Level::Debug,
                format!(
                    "Connecting to NATS {} in {:.2}s",
                    next.describe(),
                    delay.as_secs_f64()
                ),
            );
        }
        ReconnectToServer {
            addr: next.addr,
            delay: Some(delay),
        }
    }

    /// Records the outcome of the previous attempt; says whether to look the
    /// SRV records up again, and whether this is a reconnect.
    fn record_attempt(&self, servers: &[Server]) -> (bool, bool) {
        let reconnecting = servers.iter().any(|s| s.did_connect);
        if !reconnecting {
            // The initial connect: `connect::initial` chose the server already.
            return (false, false);
        }
        let mut pool = self.pool();
        let previous = pool.current().clone();
        let failed = servers
            .iter()
            .find(|s| s.addr == previous.addr)
            .and_then(|s| s.last_error.clone());
        let mut streak = self.streak.lock().unwrap_or_else(|p| p.into_inner());
        match failed {
            Some(error) => {
                let kind = FailureKind::classify(&error);
                self.count_failure(kind);
                streak.record(kind);
                pool.record_failure(error.clone());
                self.log(
                    Level::Warn,
                    format!(
                        "Could not reconnect to NATS {}: {}",
                        previous.describe(),
                        crate::credentials::unwrap_auth_error(&error)
                    ),
                );
                let round = pool.len().max(1) as u32;
                (pool.consecutive_failures().is_multiple_of(round), true)
            }
            // async-nats clears the error of a server once it connects: the
            // previous attempt succeeded, and the link was up until now.
            None => {
                streak.reset();
                (true, true)
            }
        }
    }

    /// The server for the next attempt and the wait before it.
    fn choose(&self, reconnecting: bool) -> (crate::server_pool::Entry, Duration) {
        let mut pool = self.pool();
        if !reconnecting {
            return (pool.current().clone(), Duration::ZERO);
        }
        let next = pool.choose().clone();
        let streak = *self.streak.lock().unwrap_or_else(|p| p.into_inner());
        (next, self.backoff.next_delay(streak, &mut rand::rng()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};
    use std::time::Duration;

    fn shared() -> Arc<Shared> {
        let specs = [("127.0.0.1:4222".to_string(), "config".to_string())];
        let pool = ServerPool::new(&specs, false, &mut StdRng::seed_from_u64(1)).unwrap();
        Shared::new(pool, Backoff::default())
    }

    /// async-nats' view of the one-server pool after an attempt.
    fn servers(last_error: Option<&str>) -> Vec<Server> {
        vec![Server {
            addr: "nats://127.0.0.1:4222".parse().unwrap(),
            failed_attempts: usize::from(last_error.is_some()),
            did_connect: true,
            is_discovered: false,
            last_error: last_error.map(str::to_string),
        }]
    }

    const REFUSED: &str = "IO error: Connection refused (os error 111)";

    #[test]
    fn waits_by_the_kind_of_the_last_failure_and_forgets_after_a_success() {
        let shared = shared();
        let spread = Backoff::default().spread;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let delay = |error: Option<&str>| {
            runtime
                .block_on(shared.next_server(&servers(error)))
                .delay
                .unwrap()
        };
        assert!(delay(None) < spread, "just dropped: a random phase");
        assert_eq!(delay(Some(REFUSED)), spread, "refused: the period");
        assert_eq!(delay(Some(REFUSED)), spread);
        assert!(delay(Some("timed out")) < spread * 4, "overloaded");
        assert!(delay(None) < spread, "up, then dropped again");
        let others: Vec<_> = (0..3)
            .map(|_| delay(Some("DNS error: no such host")))
            .collect();
        assert!(others[0] < Duration::from_millis(500), "{others:?}");
        assert!(others[2] < Duration::from_secs(2), "{others:?}");
        assert_eq!(shared.failures(FailureKind::Refused), 2);
        assert_eq!(shared.failures(FailureKind::Overloaded), 1);
        assert_eq!(shared.failures(FailureKind::Other), 3);
        let logged = shared.logs.take();
        assert_eq!(
            logged
                .iter()
                .filter(|(_, line)| line
                    .starts_with("Could not reconnect to NATS 127.0.0.1:4222 (config): "))
                .count(),
            6
        );
    }

    #[test]
    fn logs_each_announced_member_once_and_warns_of_schemes_that_are_not_nats() {
        let shared = shared();
        let info = ServerInfo {
            connect_urls: vec![
                "ws://10.0.0.9:80".into(),
                "10.0.0.8:4222".into(),
                "tls://b:4222".into(),
                "ws://10.0.0.9:80".into(),
                "\u{1b}[2J://x".into(),
            ],
            ..Default::default()
        };
        shared.note_announced(&info);
        shared.note_announced(&info);
        let logged = shared.logs.take();
        let lines: Vec<_> = logged
            .iter()
            .map(|(l, line)| (l.name(), line.as_str()))
            .collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[0], ("warn", "The NATS broker 127.0.0.1:4222 (config) announced the cluster member \"ws://10.0.0.9:80\" (scheme ws): not dialled, brokers come only from configuration and SRV records"));
        assert_eq!(lines[1].0, "info");
        assert!(lines[1].1.contains("\"10.0.0.8:4222\" (scheme none)"));
        assert!(lines[2].1.contains("(scheme tls)"));
        assert_eq!(lines[3].0, "warn");
        assert!(
            lines[3].1.contains("\\u{1b}[2J://x\" (scheme invalid)"),
            "{}",
            lines[3].1
        );
    }

    #[test]
    fn logs_a_bounded_number_of_announced_members() {
        let shared = shared();
        let info = ServerInfo {
            connect_urls: (0..10_000).map(|i| format!("h{i}:4222")).collect(),
            ..Default::default()
        };
        shared.note_announced(&info);
        let logged = shared.logs.take();
        assert_eq!(logged.len(), MAX_ANNOUNCED_LOGGED + 1);
        assert!(logged[MAX_ANNOUNCED_LOGGED].1.contains("not logging more"));
        shared.note_announced(&info);
        assert!(shared.logs.take().is_empty());
    }

    #[test]
    fn tells_the_observer_of_every_event() {
        let shared = shared();
        let seen = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&seen);
        assert!(shared.observe(Box::new(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        })));
        assert!(!shared.observe(Box::new(|_| {})), "one observer");
        shared.on_event(Event::Connected);
        shared.on_event(Event::Disconnected);
        assert_eq!(seen.load(Ordering::Relaxed), 2);
    }
}
