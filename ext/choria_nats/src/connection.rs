//! One verified-TLS NATS connection, as the Ruby class
//! `ChoriaNats::Connection` (`ruby_api/connection.rs`) drives it: the
//! settings, the state shared with the runtime, and what exists only while
//! connected. Nothing here waits or knows Ruby; the Ruby side waits on the
//! futures these methods hand it.

use crate::connect::{Connected, OUTGOING_BUFFER};
use crate::errors::{Category, Failure};
use crate::log_queue::{Level, LogQueue};
use crate::monitor::{certificate_expiry, Monitor};
use crate::outgoing_blocks::OutgoingBlocks;
use crate::runtime::NatsRuntime;
use crate::server_pool::ServerPool;
use crate::session::Session;
use crate::settings::Settings;
use crate::shared::Shared;
use async_nats::client::{PublishError, PublishErrorKind};
use async_nats::connection::State;
use async_nats::{Client, Subject};
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// What exists only while connected.
pub struct Running {
    /// The client, its queue and subscriptions, and their supervisor.
    pub session: Arc<Session>,
    /// Where publish copies its subjects and payloads.
    pub outgoing: OutgoingBlocks,
    /// Last, so the tasks above go first.
    pub runtime: NatsRuntime,
}

pub struct Connection {
    pub settings: Settings,
    pub shared: Arc<Shared>,
    running: RwLock<Option<Arc<Running>>>,
    closed: AtomicBool,
    /// The status file and metrics, when the settings ask for them.
    monitor: Option<Arc<Monitor>>,
}

/// The counters `stats` reports, over every client of the connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub reconnects: u64,
    /// Messages dropped by the receive queue and by async-nats together.
    pub dropped: u64,
    pub queued: u64,
    pub queued_bytes: u64,
    pub outgoing_bytes: usize,
}

impl Drop for Connection {
    fn drop(&mut self) {
        let running = self
            .running
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(running) = running {
            if running.runtime.forked_by_count_or_pid() {
                // A child of the process that connected: nothing behind it runs.
                std::mem::forget(running);
            }
        }
    }
}

const CLOSED: &str = "The NATS connection is closed: make a new one";

impl Connection {
    /// Checks the settings' servers; does not connect.
    pub fn new(settings: Settings) -> Result<Self, Failure> {
        let pool = ServerPool::new(&settings.servers, settings.randomize, &mut rand::rng())?;
        let shared = Shared::new(pool, settings.backoff);
        shared.follow_srv(crate::shared::SrvSource::new(
            settings.srv_names.clone(),
            settings.srv_nameserver,
            settings.backoff.spread,
        ));
        let monitor = settings.monitoring.enabled().then(|| {
            Monitor::new(
                Arc::clone(&shared),
                settings.monitoring.clone(),
                settings.name.clone().unwrap_or_default(),
                certificate_expiry(&settings.files.cert),
            )
        });
        Ok(Connection {
            settings,
            shared,
            running: RwLock::new(None),
            closed: AtomicBool::new(false),
            monitor,
        })
    }

    /// What runs while connected, if anything does, even in a forked child.
    pub fn running(&self) -> Option<Arc<Running>> {
        self.running
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// What runs while connected, or why nothing usable does.
    pub fn require_running(&self) -> Result<Arc<Running>, Failure> {
        match self.running() {
            Some(running) if running.runtime.forked_by_count() => Err(Failure::connection(
                "This NATS connection belongs to the process that made it, before a fork: connect again in this process",
            )),
            Some(running) => Ok(running),
            None if self.is_closed() => Err(Failure::connection(CLOSED)),
            None => Err(Failure::connection("Not connected to NATS: call connect first")),
        }
    }

    pub fn logs(&self) -> &LogQueue {
        &self.shared.logs
    }

    /// Whether `connect` has anything to do: false when already connected;
    /// an error when closed, or connected in the process before a fork.
    pub fn needs_connect(&self) -> Result<bool, Failure> {
        if self.is_closed() {
            return Err(Failure::connection(CLOSED));
        }
        if self.running().is_some() {
            self.require_running()?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Starts the status file and the metrics, when asked for, on the
    /// runtime of a connect: from its start, so that they show a first
    /// connect that takes long.
    pub fn start_monitor(&self, runtime: &NatsRuntime) {
        if let Some(monitor) = &self.monitor {
            monitor.start(runtime.handle());
        }
    }

    /// Starts the session of a connected client and keeps it with its runtime.
    pub fn start(&self, connected: Connected, runtime: NatsRuntime) {
        let session = Session::start(
            connected,
            &self.settings,
            Arc::clone(&self.shared),
            runtime.handle().clone(),
        );
        if let Some(monitor) = &self.monitor {
            monitor.attach(Arc::clone(&session));
        }
        let running = Running {
            session,
            outgoing: OutgoingBlocks::default(),
            runtime,
        };
        *self.running.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(running));
    }

    /// Marks the connection closed and hands back, once, what ran, for the
    /// caller to flush (when [`Running::flush_on_close`] says so) and then
    /// give to [`Connection::finish_close`]. None on a second close, before
    /// any connect, and in a forked child, where nothing behind it runs.
    pub fn begin_close(&self) -> Option<Arc<Running>> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return None;
        }
        let running = self
            .running
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take()?;
        if running.runtime.forked_by_count_or_pid() {
            std::mem::forget(running);
            return None;
        }
        running.session.unsubscribe_all();
        Some(running)
    }

    /// Ends every wait on the session and drops it with its runtime.
    pub fn finish_close(&self, running: Arc<Running>) {
        running.session.closed.send_replace(true);
        self.shared.log(Level::Info, "Connection to NATS closed");
        drop(running);
    }

    pub fn is_connected(&self) -> bool {
        self.running().is_some_and(|running| {
            !running.runtime.forked_by_count() && running.session.is_connected()
        })
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// `host:port` of the broker in use, when connected.
    pub fn connected_server(&self) -> Option<String> {
        self.is_connected()
            .then(|| self.shared.pool().current().label.clone())
    }

    /// The state of the connection in the words of an error message.
    pub fn state_description(&self) -> String {
        match self
            .running()
            .map(|running| running.session.client().connection_state())
        {
            Some(State::Connected) => {
                format!("connected to {}", self.shared.pool().current().describe())
            }
            Some(_) => "disconnected from NATS, reconnecting".to_string(),
            None => "not connected".to_string(),
        }
    }

    /// The counters; zero while not connected.
    pub fn stats(&self) -> Stats {
        let running = self.running();
        Stats {
            outgoing_bytes: running.as_ref().map_or(0, |r| r.outgoing.outstanding()),
            ..stats_of(&self.shared, running.as_ref().map(|r| r.session.as_ref()))
        }
    }
}

/// The counters of the shared state and of the session, if there is one
/// (without the outgoing bytes, which only `Connection::stats` knows).
pub fn stats_of(shared: &Shared, session: Option<&Session>) -> Stats {
    let slow = shared.slow_consumer_drops.load(Ordering::Relaxed);
    let reconnects = shared.connects().saturating_sub(1);
    let Some(session) = session else {
        return Stats {
            reconnects,
            dropped: slow,
            ..Stats::default()
        };
    };
    let counters = session.counters();
    let queue = &session.queue;
    Stats {
        in_msgs: counters.in_messages,
        out_msgs: counters.out_messages,
        in_bytes: counters.in_bytes,
        out_bytes: counters.out_bytes,
        reconnects,
        dropped: queue.dropped() + slow,
        queued: queue.len() as u64,
        queued_bytes: queue.held_bytes() as u64,
        outgoing_bytes: 0,
    }
}

impl Running {
    /// Whether `close` should wait for buffered messages to reach the broker.
    pub fn flush_on_close(&self) -> bool {
        self.session.client().connection_state() == State::Connected
    }
}

/// Sends one message through async-nats' outgoing buffer.
pub async fn publish_one(
    client: &Client,
    subject: Subject,
    reply: Option<Subject>,
    payload: Bytes,
) -> Result<(), PublishError> {
    match reply {
        Some(reply) => client.publish_with_reply(subject, reply, payload).await,
        None => client.publish(subject, payload).await,
    }
}

/// Why a message was not published, for the operator.
pub fn publish_failure(
    error: PublishError,
    subject: &str,
    size: usize,
    client: &Client,
) -> Failure {
    match error.kind() {
        PublishErrorKind::MaxPayloadExceeded => Failure::new(
            Category::Publish,
            format!(
                "The message for {subject} is {size} bytes, over the broker's max_payload of {} bytes: send less, or raise max_payload on the broker",
                client.max_payload()
            ),
        ),
        PublishErrorKind::InvalidSubject => {
            Failure::new(Category::Publish, format!("Cannot publish to the invalid NATS subject {subject:?}"))
        }
        PublishErrorKind::Send => Failure::connection(format!(
            "Cannot publish to {subject}: the NATS connection has ended"
        )),
    }
}

/// Why a publish gave up waiting: `why` says for what.
pub fn publish_timeout(subject: &str, connection: &Connection, why: &str) -> Failure {
    Failure::timeout(format!(
        "Could not publish to {subject} within {:.1}s: {why}; the message was not sent",
        connection.settings.publish_timeout.as_secs_f64(),
    ))
}

/// What a publish waits for when async-nats' outgoing buffer is full.
pub fn outgoing_full(connection: &Connection) -> String {
    format!(
        "the outgoing buffer of {OUTGOING_BUFFER} messages is full ({})",
        connection.state_description()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn settings(server: &str) -> Settings {
        Settings::new(
            vec![(server.to_string(), "config".to_string())],
            PathBuf::from("/nonexistent/ca.pem"),
            PathBuf::from("/nonexistent/cert.pem"),
            PathBuf::from("/nonexistent/key.pem"),
        )
    }

    fn connection() -> Connection {
        Connection::new(settings("127.0.0.1:4222")).expect("a valid server")
    }

    #[test]
    fn refuses_a_server_address_it_cannot_dial() {
        let failure = Connection::new(settings("nats1 example net"))
            .err()
            .expect("refused");
        assert_eq!(failure.kind, Category::Configuration);
        assert!(
            failure.message.starts_with("invalid NATS server address"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn before_connect_it_asks_for_connect_and_reports_nothing_running() {
        let connection = connection();
        assert_eq!(connection.needs_connect(), Ok(true));
        assert_eq!(
            connection.require_running().err(),
            Some(Failure::connection(
                "Not connected to NATS: call connect first"
            ))
        );
        assert!(!connection.is_connected() && !connection.is_closed());
        assert_eq!(connection.connected_server(), None);
        assert_eq!(connection.state_description(), "not connected");
        assert_eq!(connection.stats(), Stats::default());
    }

    #[test]
    fn once_closed_it_refuses_to_connect_or_run_and_closes_only_once() {
        let connection = connection();
        assert!(connection.begin_close().is_none(), "nothing ran");
        assert!(connection.is_closed());
        let closed = Failure::connection("The NATS connection is closed: make a new one");
        assert_eq!(connection.needs_connect(), Err(closed.clone()));
        assert_eq!(connection.require_running().err(), Some(closed));
        assert!(connection.begin_close().is_none());
        assert!(
            connection.logs().take().is_empty(),
            "no close line without a connection"
        );
    }

    #[test]
    fn stats_count_the_reconnects_and_the_drops_of_the_shared_state_while_not_running() {
        let connection = connection();
        for _ in 0..3 {
            connection.shared.on_event(async_nats::Event::Connected);
        }
        connection
            .shared
            .on_event(async_nats::Event::SlowConsumer(1));
        let stats = connection.stats();
        assert_eq!((stats.reconnects, stats.dropped), (2, 1));
    }

    #[test]
    fn a_publish_that_times_out_says_what_it_waited_for_and_that_nothing_was_sent() {
        let connection = connection();
        let why = outgoing_full(&connection);
        assert_eq!(
            publish_timeout("cmd.reply", &connection, &why).message,
            "Could not publish to cmd.reply within 5.0s: the outgoing buffer of 2048 messages is full (not connected); the message was not sent"
        );
    }
}
