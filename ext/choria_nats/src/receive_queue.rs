//! One queue for the messages of every subscription: each subscription's
//! messages are forwarded into it by a small task, and Ruby's `receive` takes
//! from it. Its bound keeps memory in check during a flood; a message that
//! finds it full is counted and reported, never dropped silently.

use crate::log_queue::{Level, LogQueue};
use async_nats::{Message, Subscriber};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How often, at most, a full queue is reported while it stays full.
const WARN_EVERY: Duration = Duration::from_secs(1);

pub struct ReceiveQueue {
    tx: mpsc::Sender<Message>,
    /// Taken by the receiving Ruby thread; a tokio mutex so that a second
    /// receiver waits for it without holding the GVL.
    pub rx: tokio::sync::Mutex<mpsc::Receiver<Message>>,
    dropped: AtomicU64,
    /// Drops not yet reported, and when the last report was made.
    unreported: Mutex<(u64, Option<Instant>)>,
}

impl ReceiveQueue {
    pub fn new(capacity: usize) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(capacity);
        Arc::new(ReceiveQueue {
            tx,
            rx: tokio::sync::Mutex::new(rx),
            dropped: AtomicU64::new(0),
            unreported: Mutex::new((0, None)),
        })
    }

    /// Messages dropped because the queue was full, since connect.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Messages waiting to be received.
    pub fn len(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    fn offer(&self, message: Message, subject: &str, logs: &LogQueue) {
        match self.tx.try_send(message) {
            Ok(()) => {
                if let Ok(mut unreported) = self.unreported.lock() {
                    if unreported.0 > 0 {
                        logs.push(
                            Level::Warn,
                            format!(
                                "The receive queue has room again after dropping {} messages (receive_capacity {}); {} dropped since connect",
                                unreported.0,
                                self.tx.max_capacity(),
                                self.dropped()
                            ),
                        );
                        *unreported = (0, Some(Instant::now()));
                    }
                }
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if let Ok(mut unreported) = self.unreported.lock() {
                    unreported.0 += 1;
                    let due = unreported.1.is_none_or(|at| at.elapsed() >= WARN_EVERY);
                    if due {
                        logs.push(
                            Level::Error,
                            format!(
                                "The receive queue is full (receive_capacity {}): dropped {} messages, the latest on {subject}; {total} dropped since connect. Receive faster or raise receive_capacity",
                                self.tx.max_capacity(),
                                unreported.0
                            ),
                        );
                        *unreported = (0, Some(Instant::now()));
                    }
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// Forwards a subscription's messages into the queue until `cancel` fires
/// (then unsubscribes) or the connection ends.
pub async fn forward(
    mut subscriber: Subscriber,
    subject: String,
    queue: Arc<ReceiveQueue>,
    logs: Arc<LogQueue>,
    mut cancel: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            message = subscriber.next() => match message {
                Some(message) => queue.offer(message, &subject, &logs),
                None => return,
            },
            _ = &mut cancel => {
                if let Err(e) = subscriber.unsubscribe().await {
                    logs.push(Level::Warn, format!("Could not unsubscribe from {subject}: {e}"));
                }
                return;
            }
        }
    }
}
