//! One queue for the messages of every subscription: each subscription's
//! messages are forwarded into it by a small task, and Ruby's `receive` takes
//! from it. It is bounded in messages and in bytes, so that a flood of large
//! messages cannot run the process out of memory; a message that finds it
//! full is counted and reported, never dropped silently.

use crate::log_queue::{Level, LogQueue};
use async_nats::{Message, Subscriber};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
    /// Bytes of the messages waiting, and their bound.
    held: AtomicUsize,
    max_bytes: usize,
    /// Drops not yet reported, and when the last report was made.
    unreported: Mutex<(u64, Option<Instant>)>,
}

impl ReceiveQueue {
    pub fn new(capacity: usize, max_bytes: usize) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(capacity);
        Arc::new(ReceiveQueue {
            tx,
            rx: tokio::sync::Mutex::new(rx),
            dropped: AtomicU64::new(0),
            held: AtomicUsize::new(0),
            max_bytes,
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

    /// Bytes of the messages waiting to be received.
    pub fn held_bytes(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// A message waiting, if there is one now and no other thread is taking.
    pub fn try_take(&self) -> Option<Message> {
        let message = self.rx.try_lock().ok()?.try_recv().ok()?;
        self.taken(&message);
        Some(message)
    }

    /// The next message; none once the queue is closed.
    pub async fn take(&self) -> Option<Message> {
        let message = self.rx.lock().await.recv().await?;
        self.taken(&message);
        Some(message)
    }

    fn taken(&self, message: &Message) {
        self.held.fetch_sub(size_of(message), Ordering::Relaxed);
    }

    /// Counts `size` bytes in, unless that would pass the bound.
    fn reserve(&self, size: usize) -> bool {
        self.held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                (held.saturating_add(size) <= self.max_bytes).then_some(held + size)
            })
            .is_ok()
    }

    fn offer(&self, message: Message, subject: &str, logs: &LogQueue) {
        let size = size_of(&message);
        let sent = if self.reserve(size) {
            self.tx.try_send(message).inspect_err(|_| {
                self.held.fetch_sub(size, Ordering::Relaxed);
            })
        } else {
            Err(mpsc::error::TrySendError::Full(message))
        };
        match sent {
            Ok(()) => {
                if let Ok(mut unreported) = self.unreported.lock() {
                    if unreported.0 > 0 {
                        logs.push(
                            Level::Warn,
                            format!(
                                "The receive queue has room again after dropping {} messages (receive_capacity {}, receive_buffer_bytes {}); {} dropped since connect",
                                unreported.0,
                                self.tx.max_capacity(),
                                self.max_bytes,
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
                                "The receive queue is full (receive_capacity {}, receive_buffer_bytes {}, holding {} bytes): dropped {} messages, the latest on {subject}; {total} dropped since connect. Receive faster or raise those limits",
                                self.tx.max_capacity(),
                                self.max_bytes,
                                self.held_bytes(),
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

/// The memory a waiting message holds, as far as its size tells: async-nats'
/// `length` counts subjects, headers and payload as read off the wire.
fn size_of(message: &Message) -> usize {
    let subjects = message.subject.len() + message.reply.as_ref().map_or(0, |r| r.len());
    message.length.max(message.payload.len() + subjects)
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn message(size: usize) -> Message {
        Message {
            subject: "s".into(),
            reply: None,
            payload: Bytes::from(vec![b'x'; size]),
            headers: None,
            status: None,
            description: None,
            length: size + 1,
        }
    }

    #[tokio::test]
    async fn drops_what_would_pass_the_byte_bound_and_takes_room_back_on_receive() {
        let logs = LogQueue::default();
        let queue = ReceiveQueue::new(100, 2_500);
        for _ in 0..3 {
            queue.offer(message(999), "s", &logs);
        }
        assert_eq!(queue.len(), 2, "the third would hold 3,000 bytes");
        assert_eq!(queue.held_bytes(), 2_000);
        assert_eq!(queue.dropped(), 1);
        let full = logs.take();
        assert!(
            full.iter()
                .any(|(_, line)| line.contains("receive_buffer_bytes 2500")),
            "{full:?}"
        );
        assert!(queue.try_take().is_some());
        assert_eq!(queue.held_bytes(), 1_000);
        queue.offer(message(999), "s", &logs);
        assert_eq!(queue.len(), 2);
        assert!(queue.take().await.is_some());
        assert!(queue.take().await.is_some());
        assert_eq!(queue.held_bytes(), 0);
    }

    #[test]
    fn a_message_larger_than_the_bound_is_dropped_not_held() {
        let logs = LogQueue::default();
        let queue = ReceiveQueue::new(100, 500);
        queue.offer(message(1_000), "s", &logs);
        assert_eq!(
            (queue.len(), queue.held_bytes(), queue.dropped()),
            (0, 0, 1)
        );
    }

    #[test]
    fn counts_every_drop_past_the_message_bound_and_reports_them_at_most_once_a_second() {
        let logs = LogQueue::default();
        let queue = ReceiveQueue::new(2, 1_000_000);
        for _ in 0..5 {
            queue.offer(message(10), "flood.s", &logs);
        }
        assert_eq!((queue.len(), queue.dropped()), (2, 3));
        let reported = logs.take();
        assert_eq!(
            reported.len(),
            1,
            "one report within a second: {reported:?}"
        );
        assert_eq!(reported[0].0.name(), "error");
        assert!(
            reported[0]
                .1
                .contains("dropped 1 messages, the latest on flood.s; 1 dropped since connect"),
            "{}",
            reported[0].1
        );
        assert!(queue.try_take().is_some());
        queue.offer(message(10), "flood.s", &logs);
        let recovered = logs.take();
        assert_eq!(recovered.len(), 1, "{recovered:?}");
        assert_eq!(recovered[0].0.name(), "warn");
        assert!(
            recovered[0]
                .1
                .contains("room again after dropping 2 messages (receive_capacity 2, receive_buffer_bytes 1000000); 3 dropped since connect"),
            "{}",
            recovered[0].1
        );
        queue.offer(message(10), "flood.s", &logs);
        assert_eq!(queue.dropped(), 4);
        assert!(logs.take().is_empty(), "reported less than a second ago");
        assert!(queue.try_take().is_some());
        queue.offer(message(10), "flood.s", &logs);
        let again = logs.take();
        assert!(
            again.len() == 1 && again[0].1.contains("after dropping 1 messages"),
            "counted afresh since the last report: {again:?}"
        );
    }

    #[test]
    fn holds_a_message_by_its_wire_length_or_its_parts_whichever_is_larger() {
        let logs = LogQueue::default();
        let queue = ReceiveQueue::new(10, 1_000);
        let mut parts = message(10);
        parts.reply = Some("reply.1".into());
        parts.length = 0;
        queue.offer(parts, "s", &logs);
        assert_eq!(queue.held_bytes(), 10 + 1 + 7);
        queue.offer(message(10), "s", &logs);
        assert_eq!(queue.held_bytes(), 18 + 11);
        assert!(queue.try_take().is_some());
        assert!(queue.try_take().is_some());
        assert_eq!((queue.held_bytes(), queue.len()), (0, 0));
        assert!(queue.try_take().is_none());
    }
}
