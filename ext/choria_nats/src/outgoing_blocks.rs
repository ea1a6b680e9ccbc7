//! Copies of outgoing subjects and payloads, carved out of shared blocks.
//!
//! A publish copies its bytes out of Ruby on the Ruby thread, and the runtime
//! frees them once written. With one allocation per copy, the two threads
//! contend for the allocator's arena lock on every message (perf showed the
//! futex waits and wakes); carving the copies out of 64 KiB blocks makes that
//! one allocation and one free per block.
//!
//! A copy equal to the previous one of its part (subject, reply subject or
//! payload) is that previous copy again: MCollective publishes one request
//! body to every node's subject when it addresses nodes directly, and a
//! client sends every request with the same reply subject. Shared bytes are
//! neither copied again nor moved to the runtime's core again; comparing
//! costs less than a copy, and little when the bytes differ early.
//!
//! Copies that get an allocation of their own are counted while they live,
//! that is until async-nats has written them: the bytes waiting to be sent
//! are bounded by that count, since a broker that stops reading would
//! otherwise leave its client's buffer of `OUTGOING_BUFFER` messages to grow
//! to that many times the largest payload. Small copies need no count: that many of them
//! fill at most `OUTGOING_BUFFER * LARGEST_SHARED` bytes of blocks.

use bytes::{Bytes, BytesMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Size of one block.
const BLOCK: usize = 64 * 1024;
/// Copies larger than this get an allocation of their own, so that one large
/// message never keeps a block of small ones alive, nor the other way round.
const LARGEST_SHARED: usize = BLOCK / 8;
/// The largest copy remembered for the next publish (NATS' default
/// max_payload): a larger one, which the broker may refuse anyway, is not
/// kept alive after its publish.
const LARGEST_REMEMBERED: usize = 1024 * 1024;

/// The part of a message a copy is for; each remembers its previous copy.
#[derive(Clone, Copy)]
pub enum Part {
    Subject = 0,
    Reply = 1,
    Payload = 2,
}

#[derive(Default)]
pub struct OutgoingBlocks {
    state: Mutex<State>,
    /// Bytes of the large copies still alive, and who waits for them to go.
    large: Arc<Outstanding>,
}

#[derive(Default)]
struct Outstanding {
    bytes: AtomicUsize,
    freed: Notify,
}

/// A large copy's bytes, counted until they are dropped.
struct Counted {
    bytes: Vec<u8>,
    outstanding: Arc<Outstanding>,
}

impl AsRef<[u8]> for Counted {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.outstanding
            .bytes
            .fetch_sub(self.bytes.len(), Ordering::Release);
        self.outstanding.freed.notify_waiters();
    }
}

#[derive(Default)]
struct State {
    /// The block being filled; empty until the first copy.
    block: BytesMut,
    /// The previous copy of each part, up to `LARGEST_REMEMBERED` bytes. It
    /// keeps at most one block or one 1 MiB copy alive until the next one.
    previous: [Bytes; 3],
}

impl OutgoingBlocks {
    /// An immutable copy of `bytes`, which are `part` of a message.
    pub fn copy(&self, part: Part, bytes: &[u8]) -> Bytes {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let previous = &mut state.previous[part as usize];
        if previous.len() == bytes.len() && previous[..] == *bytes {
            return previous.clone();
        }
        let copy = if bytes.len() > LARGEST_SHARED {
            self.large.bytes.fetch_add(bytes.len(), Ordering::AcqRel);
            Bytes::from_owner(Counted {
                bytes: bytes.to_vec(),
                outstanding: Arc::clone(&self.large),
            })
        } else {
            let block = &mut state.block;
            if block.capacity() - block.len() < bytes.len() {
                // The old block lives on in the copies made from it.
                *block = BytesMut::with_capacity(BLOCK);
            }
            block.extend_from_slice(bytes);
            block.split().freeze()
        };
        state.previous[part as usize] = if copy.len() <= LARGEST_REMEMBERED {
            copy.clone()
        } else {
            Bytes::new()
        };
        copy
    }
}

impl OutgoingBlocks {
    /// Bytes of large copies not yet written (and the one kept for the next
    /// publish).
    pub fn outstanding(&self) -> usize {
        self.large.bytes.load(Ordering::Acquire)
    }

    /// Whether a payload of `size` bytes fits under `bound` now. Small ones
    /// always do; a large one when nothing else is outstanding, so that no
    /// bound makes a payload impossible to send.
    pub fn has_room(&self, size: usize, bound: usize) -> bool {
        let outstanding = self.outstanding();
        size <= LARGEST_SHARED || outstanding == 0 || outstanding.saturating_add(size) <= bound
    }

    /// Waits until a payload of `size` bytes fits under `bound`.
    pub async fn room(&self, size: usize, bound: usize) {
        loop {
            let freed = self.large.freed.notified();
            let mut freed = std::pin::pin!(freed);
            freed.as_mut().enable();
            if self.has_room(size, bound) {
                return;
            }
            freed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_exact_and_independent() {
        let blocks = OutgoingBlocks::default();
        let a = blocks.copy(Part::Payload, b"first");
        let b = blocks.copy(Part::Payload, b"");
        let c = blocks.copy(Part::Payload, b"second");
        assert_eq!(&a[..], b"first");
        assert_eq!(&b[..], b"");
        assert_eq!(&c[..], b"second");
    }

    #[test]
    fn small_copies_share_a_block_until_it_is_full() {
        let blocks = OutgoingBlocks::default();
        let payload = vec![7u8; 1024];
        let copies: Vec<Bytes> = (0..200u8)
            .map(|n| {
                let mut payload = payload.clone();
                payload[0] = n;
                blocks.copy(Part::Payload, &payload)
            })
            .collect();
        assert!(copies
            .iter()
            .enumerate()
            .all(|(n, c)| c[0] as usize == n && c[1..] == payload[1..]));
        let adjacent = copies
            .windows(2)
            .filter(|w| w[0].as_ptr().wrapping_add(1024) == w[1].as_ptr())
            .count();
        // 64 copies of 1 KiB fit a block: all neighbours but those across
        // the two block boundaries are adjacent in memory.
        assert_eq!(adjacent, 199 - 3);
    }

    #[test]
    fn large_copies_get_their_own_allocation() {
        let blocks = OutgoingBlocks::default();
        let small = blocks.copy(Part::Payload, b"small");
        let large = blocks.copy(Part::Payload, &vec![1u8; LARGEST_SHARED + 1]);
        let after = blocks.copy(Part::Payload, b"after");
        assert_eq!(large.len(), LARGEST_SHARED + 1);
        assert_eq!(small.as_ptr().wrapping_add(5), after.as_ptr());
    }

    #[test]
    fn a_copy_equal_to_the_previous_one_of_its_part_is_shared() {
        let blocks = OutgoingBlocks::default();
        let first = blocks.copy(Part::Payload, b"body");
        let subject = blocks.copy(Part::Subject, b"a.b");
        let again = blocks.copy(Part::Payload, b"body");
        assert_eq!(first.as_ptr(), again.as_ptr());
        assert_eq!(
            subject.as_ptr(),
            blocks.copy(Part::Subject, b"a.b").as_ptr()
        );
        // Same length, other bytes: a copy of its own.
        let other = blocks.copy(Part::Payload, b"bodz");
        assert_eq!(&other[..], b"bodz");
        assert_ne!(first.as_ptr(), other.as_ptr());
        // Equal bytes of another part are copied for that part.
        let reply = blocks.copy(Part::Reply, b"body");
        assert_ne!(first.as_ptr(), reply.as_ptr());
        assert_eq!(&reply[..], b"body");
    }

    #[tokio::test]
    async fn large_copies_are_counted_until_dropped_and_room_waits_for_them() {
        let blocks = Arc::new(OutgoingBlocks::default());
        let size = LARGEST_SHARED + 1;
        let small = blocks.copy(Part::Payload, b"small");
        assert_eq!(blocks.outstanding(), 0);
        let a = blocks.copy(Part::Payload, &vec![1u8; size]);
        let b = blocks.copy(Part::Payload, &vec![2u8; size]);
        assert_eq!(blocks.outstanding(), 2 * size);
        assert!(!blocks.has_room(size, 2 * size));
        assert!(
            blocks.has_room(5, 2 * size),
            "small copies are not held back"
        );
        let waiter = {
            let blocks = Arc::clone(&blocks);
            tokio::spawn(async move { blocks.room(size, 2 * size).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(a);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("room once a copy is gone")
            .expect("the waiter");
        // `b` is also the remembered previous payload: both go before it counts 0.
        drop(b);
        blocks.copy(Part::Payload, b"other");
        assert_eq!(blocks.outstanding(), 0);
        assert!(blocks.has_room(100 * size, size), "alone, any size fits");
        drop(small);
    }

    #[test]
    fn a_copy_over_one_mebibyte_is_not_kept_for_the_next_publish() {
        let blocks = OutgoingBlocks::default();
        let large = vec![3u8; LARGEST_REMEMBERED + 1];
        let first = blocks.copy(Part::Payload, &large);
        let again = blocks.copy(Part::Payload, &large);
        assert_ne!(first.as_ptr(), again.as_ptr());
        assert!(blocks.state.lock().unwrap().previous[Part::Payload as usize].is_empty());
    }
}
