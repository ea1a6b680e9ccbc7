//! The state a connection shares with its runtime's callbacks: the server
//! pool, the log lines waiting for Ruby, and what async-nats tells us about
//! the link (connects, disconnects, slow consumers, server errors).

use crate::backoff::Backoff;
use crate::log_queue::{Level, LogQueue};
use crate::server_pool::ServerPool;
use async_nats::{Event, ReconnectToServer, Server};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub struct Link {
    pub logs: Arc<LogQueue>,
    pool: Mutex<ServerPool>,
    backoff: Backoff,
    /// Successful connects seen by the event callback (the first is the
    /// initial connect, the rest are reconnects).
    connects: AtomicU64,
    /// Messages async-nats dropped because a subscription's own buffer was
    /// full (it reports each as a slow-consumer event).
    pub slow_consumer_drops: AtomicU64,
}

impl Link {
    pub fn new(pool: ServerPool, backoff: Backoff) -> Arc<Self> {
        Arc::new(Link {
            logs: Arc::new(LogQueue::default()),
            pool: Mutex::new(pool),
            backoff,
            connects: AtomicU64::new(0),
            slow_consumer_drops: AtomicU64::new(0),
        })
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

    /// Adds the servers the cluster announced (in async-nats' view of the
    /// pool) to ours, and says so.
    pub fn merge_announced(&self, pool: &mut ServerPool, servers: &[Server]) {
        let added =
            pool.merge_discovered(servers.iter().filter(|s| s.is_discovered).map(|s| &s.addr));
        if !added.is_empty() {
            self.log(
                Level::Info,
                format!(
                    "The NATS cluster announced {}: added to the server pool",
                    added.join(", ")
                ),
            );
        }
    }

    /// Chooses the server for async-nats' next connection attempt and how long
    /// to wait before it. `servers` is async-nats' own view of the pool: it
    /// carries the servers the cluster announced and the outcome of the
    /// previous attempt.
    pub fn next_server(&self, servers: &[Server]) -> ReconnectToServer {
        let mut pool = self.pool();
        self.merge_announced(&mut pool, servers);
        let reconnecting = servers.iter().any(|s| s.did_connect);
        if !reconnecting {
            // The initial connect: `connect::initial` chose the server already.
            return ReconnectToServer {
                addr: pool.current().addr.clone(),
                delay: Some(std::time::Duration::ZERO),
            };
        }
        let previous = pool.current().clone();
        let failed = servers
            .iter()
            .find(|s| s.addr == previous.addr)
            .and_then(|s| s.last_error.clone());
        if let Some(error) = failed {
            pool.record_failure(error.clone());
            self.log(
                Level::Warn,
                format!(
                    "Could not reconnect to NATS {}: {error}",
                    previous.describe()
                ),
            );
        }
        let failures = pool.consecutive_failures();
        let next = pool.choose().clone();
        let delay = self.backoff.delay(failures, &mut rand::rng());
        drop(pool);
        self.log(
            Level::Debug,
            format!(
                "Connecting to NATS {} in {:.2}s",
                next.describe(),
                delay.as_secs_f64()
            ),
        );
        ReconnectToServer {
            addr: next.addr,
            delay: Some(delay),
        }
    }
}
