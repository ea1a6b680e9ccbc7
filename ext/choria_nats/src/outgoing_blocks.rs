//! Copies of outgoing subjects and payloads, carved out of shared blocks.
//!
//! A publish copies its bytes out of Ruby on the Ruby thread, and the runtime
//! frees them once written. With one allocation per copy, the two threads
//! contend for the allocator's arena lock on every message (perf showed the
//! futex waits and wakes); carving the copies out of 64 KiB blocks makes that
//! one allocation and one free per block.

use bytes::{Bytes, BytesMut};
use std::sync::Mutex;

/// Size of one block.
const BLOCK: usize = 64 * 1024;
/// Copies larger than this get an allocation of their own, so that one large
/// message never keeps a block of small ones alive, nor the other way round.
const LARGEST_SHARED: usize = BLOCK / 8;

#[derive(Default)]
pub struct OutgoingBlocks {
    /// The block being filled; empty until the first copy.
    block: Mutex<BytesMut>,
}

impl OutgoingBlocks {
    /// An immutable copy of `bytes`.
    pub fn copy(&self, bytes: &[u8]) -> Bytes {
        if bytes.len() > LARGEST_SHARED {
            return Bytes::copy_from_slice(bytes);
        }
        let mut block = self.block.lock().unwrap_or_else(|p| p.into_inner());
        if block.capacity() - block.len() < bytes.len() {
            // The old block lives on in the copies made from it.
            *block = BytesMut::with_capacity(BLOCK);
        }
        block.extend_from_slice(bytes);
        block.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_exact_and_independent() {
        let blocks = OutgoingBlocks::default();
        let a = blocks.copy(b"first");
        let b = blocks.copy(b"");
        let c = blocks.copy(b"second");
        assert_eq!(&a[..], b"first");
        assert_eq!(&b[..], b"");
        assert_eq!(&c[..], b"second");
    }

    #[test]
    fn small_copies_share_a_block_until_it_is_full() {
        let blocks = OutgoingBlocks::default();
        let payload = vec![7u8; 1024];
        let copies: Vec<Bytes> = (0..200).map(|_| blocks.copy(&payload)).collect();
        assert!(copies.iter().all(|c| c[..] == payload[..]));
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
        let small = blocks.copy(b"small");
        let large = blocks.copy(&vec![1u8; LARGEST_SHARED + 1]);
        let after = blocks.copy(b"after");
        assert_eq!(large.len(), LARGEST_SHARED + 1);
        assert_eq!(small.as_ptr().wrapping_add(5), after.as_ptr());
    }
}
