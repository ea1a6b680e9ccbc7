//! What a connection keeps while connected: the NATS client, the receive
//! queue and the subscriptions, and the supervisor that replaces the client
//! when its connection task ends on its own. async-nats' task reconnects by
//! itself after ordinary faults; when it ends (it panics on some malformed
//! broker lines), its client can never send or receive again, so the
//! supervisor builds a new one under the same back-off and subscribes it to
//! every subject again, into the same queue. It does the same when a
//! reconnect must reach a broker the SRV records list and async-nats was not
//! given (async-nats' pool cannot grow while it reconnects).

use crate::connect::{self, Connected};
use crate::log_queue::Level;
use crate::receive_queue::{forward, ReceiveQueue};
use crate::settings::{InitialRetry, Settings};
use crate::shared::Shared;
use async_nats::Client;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::{oneshot, watch};

/// How often the supervisor tries again to take the client slot while a
/// publish waiting for buffer room still reads the old client.
const SWAP_RETRY: Duration = Duration::from_millis(5);

/// The message and byte counters of the session, over every client it had.
#[derive(Default, Clone, Copy)]
pub struct Counters {
    pub in_messages: u64,
    pub out_messages: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
}

impl Counters {
    fn of(client: &Client) -> Self {
        let s = client.statistics();
        Counters {
            in_messages: s.in_messages.load(Ordering::Relaxed),
            out_messages: s.out_messages.load(Ordering::Relaxed),
            in_bytes: s.in_bytes.load(Ordering::Relaxed),
            out_bytes: s.out_bytes.load(Ordering::Relaxed),
        }
    }

    fn plus(self, other: Counters) -> Self {
        Counters {
            in_messages: self.in_messages + other.in_messages,
            out_messages: self.out_messages + other.out_messages,
            in_bytes: self.in_bytes + other.in_bytes,
            out_bytes: self.out_bytes + other.out_bytes,
        }
    }
}

pub struct Session {
    client: RwLock<Client>,
    pub queue: Arc<ReceiveQueue>,
    /// Subject to the handle that ends its forwarding task.
    subscriptions: Mutex<HashMap<String, oneshot::Sender<()>>>,
    /// Set by `close`, ending every wait and the supervisor.
    pub closed: watch::Sender<bool>,
    /// Whether the client's connection task has ended and no new client
    /// has replaced it yet.
    rebuilding: AtomicBool,
    /// Bumped each time a new client replaces one whose task ended.
    rebuilt: watch::Sender<u64>,
    /// The counters of the clients that were replaced.
    carried: Mutex<Counters>,
    shared: Arc<Shared>,
    runtime: Handle,
}

impl Session {
    /// A session around a connected client; its supervisor runs on `runtime`
    /// until `closed` is set.
    pub fn start(
        connected: Connected,
        settings: &Settings,
        shared: Arc<Shared>,
        runtime: Handle,
    ) -> Arc<Self> {
        crate::panics::record();
        let session = Arc::new(Session {
            client: RwLock::new(connected.client),
            queue: ReceiveQueue::new(settings.receive_capacity, settings.receive_buffer_bytes),
            subscriptions: Mutex::new(HashMap::new()),
            closed: watch::channel(false).0,
            rebuilding: AtomicBool::new(false),
            rebuilt: watch::channel(0).0,
            carried: Mutex::new(Counters::default()),
            shared,
            runtime: runtime.clone(),
        });
        runtime.spawn(Arc::clone(&session).supervise(settings.clone(), connected.ended));
        session
    }

    /// The client; a write lock is taken only to replace it.
    pub fn client(&self) -> RwLockReadGuard<'_, Client> {
        self.client.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the link to the broker is up.
    pub fn is_connected(&self) -> bool {
        !self.rebuilding()
            && self.client().connection_state() == async_nats::connection::State::Connected
    }

    /// Whether the client is being replaced after its task ended.
    pub fn rebuilding(&self) -> bool {
        self.rebuilding.load(Ordering::Acquire)
    }

    /// Waits until no replacement is under way, or the session is closed.
    pub async fn usable(&self) {
        let mut rebuilt = self.rebuilt.subscribe();
        let mut closed = self.closed.subscribe();
        while self.rebuilding() && !*closed.borrow() {
            tokio::select! {
                _ = rebuilt.changed() => {}
                _ = closed.changed() => {}
            }
        }
    }

    pub fn is_subscribed(&self, subject: &str) -> bool {
        self.lock_subscriptions().contains_key(subject)
    }

    /// Subscribes to `subject` on the current client; false when already
    /// subscribed.
    pub async fn subscribe(&self, subject: &str) -> Result<bool, String> {
        if self.is_subscribed(subject) {
            return Ok(false);
        }
        let client = self.client().clone();
        let subscriber = client
            .subscribe(subject.to_string())
            .await
            .map_err(|e| e.to_string())?;
        let mut subscriptions = self.lock_subscriptions();
        if subscriptions.contains_key(subject) {
            // Another thread subscribed meanwhile; this one goes away on drop.
            return Ok(false);
        }
        subscriptions.insert(subject.to_string(), self.forward(subscriber, subject));
        Ok(true)
    }

    /// Ends the subscription to `subject`; false when there was none.
    pub fn unsubscribe(&self, subject: &str) -> bool {
        match self.lock_subscriptions().remove(subject) {
            Some(cancel) => {
                let _ = cancel.send(());
                true
            }
            None => false,
        }
    }

    /// Ends every subscription (at close).
    pub fn unsubscribe_all(&self) {
        self.lock_subscriptions().clear();
    }

    /// Messages and bytes in and out, over every client of the session.
    pub fn counters(&self) -> Counters {
        let carried = *self.carried.lock().unwrap_or_else(|p| p.into_inner());
        carried.plus(Counters::of(&self.client()))
    }

    fn lock_subscriptions(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<()>>> {
        self.subscriptions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts forwarding a subscriber's messages into the queue; returns the
    /// handle that ends it.
    fn forward(&self, subscriber: async_nats::Subscriber, subject: &str) -> oneshot::Sender<()> {
        let (cancel, cancelled) = oneshot::channel();
        self.runtime.spawn(forward(
            subscriber,
            subject.to_string(),
            Arc::clone(&self.queue),
            Arc::clone(&self.shared.logs),
            cancelled,
        ));
        cancel
    }

    /// Waits for the client's connection task to end and replaces the client,
    /// until the session is closed.
    async fn supervise(self: Arc<Self>, settings: Settings, mut ended: oneshot::Receiver<()>) {
        let mut closed = self.closed.subscribe();
        // A replacement keeps trying, with back-off, for as long as it takes.
        let settings = Settings {
            initial_retry: InitialRetry::Forever,
            ..settings
        };
        loop {
            let moved = tokio::select! {
                _ = &mut ended => false,
                _ = self.shared.rebuild_requested() => true,
                _ = closed.wait_for(|closed| *closed) => return,
            };
            if *closed.borrow() {
                return;
            }
            self.rebuilding.store(true, Ordering::Release);
            let subscriptions = self.lock_subscriptions().len();
            if moved {
                self.shared.log(
                    Level::Info,
                    format!("Building a new NATS client for the servers the SRV records list; {subscriptions} subscriptions to restore"),
                );
            } else {
                let reason = crate::panics::take_last().map_or_else(
                    || "it ended without a panic".to_string(),
                    |panic| format!("it panicked: {panic}"),
                );
                self.shared.log(
                    Level::Error,
                    format!(
                        "The NATS client's connection task ended ({reason}); connecting again with {subscriptions} subscriptions to restore"
                    ),
                );
            }
            let connected = tokio::select! {
                connected = self.reconnect(&settings) => connected,
                _ = closed.wait_for(|closed| *closed) => return,
            };
            ended = connected.ended;
            self.replace(connected.client).await;
        }
    }

    /// A new client, trying until one connects.
    async fn reconnect(&self, settings: &Settings) -> Connected {
        let mut failures = 0;
        loop {
            match connect::initial(settings, &self.shared).await {
                Ok(connected) => return connected,
                // Only a check of the files before any attempt fails here:
                // they may be put right, so keep trying.
                Err(failure) => {
                    failures += 1;
                    let delay = settings.backoff.delay(failures, &mut rand::rng());
                    self.shared.log(
                        Level::Error,
                        format!(
                            "{}; trying again in {:.1}s",
                            failure.message,
                            delay.as_secs_f64()
                        ),
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Puts `client` in place of the dead one and subscribes it to every
    /// subject, forwarding into the same queue.
    async fn replace(&self, client: Client) {
        let old = loop {
            if let Ok(mut slot) = self.client.try_write() {
                break std::mem::replace(&mut *slot, client.clone());
            }
            tokio::time::sleep(SWAP_RETRY).await;
        };
        {
            let mut carried = self.carried.lock().unwrap_or_else(|p| p.into_inner());
            *carried = carried.plus(Counters::of(&old));
        }
        drop(old);
        let subjects: Vec<String> = self.lock_subscriptions().keys().cloned().collect();
        let mut restored = 0;
        for subject in &subjects {
            match client.subscribe(subject.clone()).await {
                Ok(subscriber) => {
                    let mut subscriptions = self.lock_subscriptions();
                    // Unsubscribed meanwhile: dropping the subscriber ends it.
                    if let Some(slot) = subscriptions.get_mut(subject) {
                        *slot = self.forward(subscriber, subject);
                        restored += 1;
                    }
                }
                Err(error) => self.shared.log(
                    Level::Error,
                    format!("Could not subscribe to {subject} again after rebuilding the NATS connection: {error}"),
                ),
            }
        }
        self.rebuilding.store(false, Ordering::Release);
        self.rebuilt.send_modify(|n| *n += 1);
        self.shared.log(
            Level::Info,
            format!(
                "Rebuilt the NATS connection to {}: {restored} of {} subscriptions restored",
                self.shared.pool().current().describe(),
                subjects.len()
            ),
        );
    }
}
