//! Log lines made on the runtime's threads, where Ruby cannot be called, wait
//! here until a Ruby thread in one of the connection's methods hands them to
//! the Ruby logger.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::Notify;

/// How many lines wait at most; older ones give way and are counted.
const CAPACITY: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

#[derive(Default)]
pub struct LogQueue {
    lines: Mutex<VecDeque<(Level, String)>>,
    pending: AtomicBool,
    lost: AtomicU64,
    /// Woken when a line arrives, so a thread blocked in the connection can
    /// come back to Ruby and hand it over.
    pub notify: Notify,
}

impl LogQueue {
    pub fn push(&self, level: Level, line: impl Into<String>) {
        if let Ok(mut lines) = self.lines.lock() {
            if lines.len() >= CAPACITY {
                lines.pop_front();
                self.lost.fetch_add(1, Ordering::Relaxed);
            }
            lines.push_back((level, line.into()));
        }
        self.pending.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Whether lines wait: one atomic load, cheap enough for every call.
    pub fn pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Takes every waiting line, with a line saying how many were lost when
    /// nobody collected them in time.
    pub fn take(&self) -> Vec<(Level, String)> {
        self.pending.store(false, Ordering::Release);
        let mut taken: Vec<_> = match self.lines.lock() {
            Ok(mut lines) => lines.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        let lost = self.lost.swap(0, Ordering::Relaxed);
        if lost > 0 {
            taken.insert(
                0,
                (
                    Level::Warn,
                    format!("{lost} log lines from the NATS connection were lost: nothing collected them in time"),
                ),
            );
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_over_lines_in_order_and_clears_pending() {
        let queue = LogQueue::default();
        assert!(!queue.pending());
        queue.push(Level::Info, "one");
        queue.push(Level::Warn, "two");
        assert!(queue.pending());
        let lines = queue.take();
        assert_eq!(
            lines,
            vec![(Level::Info, "one".into()), (Level::Warn, "two".into())]
        );
        assert!(!queue.pending());
        assert!(queue.take().is_empty());
    }

    #[test]
    fn counts_what_overflows_and_says_so() {
        let queue = LogQueue::default();
        for i in 0..CAPACITY + 5 {
            queue.push(Level::Debug, format!("line {i}"));
        }
        let lines = queue.take();
        assert_eq!(lines.len(), CAPACITY + 1);
        assert!(lines[0].1.starts_with("5 log lines"));
        assert_eq!(lines[1].1, "line 5");
    }
}
