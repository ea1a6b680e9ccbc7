//! One stretch of waiting on the runtime, without Ruby: a future is driven
//! until it completes, a deadline passes, the caller is interrupted or log
//! lines wait. The Ruby side (`ruby_api/nogvl.rs`) runs this with the GVL
//! released and loops until the wait is over.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;
use tokio::runtime::Runtime;
use tokio::sync::Notify;

/// How one stretch of waiting ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<T> {
    /// The future completed.
    Done(T),
    /// Log lines wait to be handed to Ruby; the future is still pending.
    Logs,
    /// The caller was interrupted; the future is still pending.
    Interrupted,
    /// The deadline passed first.
    TimedOut,
}

/// What a stretch of waiting watches besides its future.
pub struct Watch<'a> {
    /// Notified when the caller's thread is wanted back.
    pub interrupt: &'a Notify,
    /// Notified when log lines are queued; none for waits that log nothing.
    pub logs: Option<&'a Notify>,
    /// When the whole wait ends, if ever.
    pub deadline: Option<Instant>,
    /// Poll without sleeping until then (see [`poll_until`]).
    pub spin_until: Option<Instant>,
}

/// Drives `future` on `runtime` until one of the [`Step`]s happens; an
/// interrupt wins over everything, and the future over log lines.
pub fn step<F: Future>(
    runtime: &Runtime,
    watch: &Watch<'_>,
    mut future: Pin<&mut F>,
) -> Step<F::Output> {
    let spin_until = watch
        .spin_until
        .map(|at| watch.deadline.map_or(at, |d| d.min(at)));
    if let Some(out) = spin_until.and_then(|until| poll_until(future.as_mut(), until)) {
        return Step::Done(out);
    }
    runtime.block_on(async {
        let sleep = async {
            match watch.deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let logs = async {
            match watch.logs {
                Some(notify) => notify.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = watch.interrupt.notified() => Step::Interrupted,
            out = future => Step::Done(out),
            _ = logs => Step::Logs,
            _ = sleep => Step::TimedOut,
        }
    })
}

/// Polls `future` until it is ready or `until` passes, without sleeping. A
/// thread put to sleep and woken again costs more than a short round trip on
/// loopback, so a wait that is likely to end soon polls first, for a short
/// time.
///
/// Between polls the thread yields its CPU (`sched_yield`): the threads that
/// bring the reply (the runtime's, the broker's) run at once when they are
/// ready instead of waiting for the poller's time slice to end, which keeps
/// the slow tail of round trips short where a pure spin lengthens it.
pub fn poll_until<F: Future>(mut future: Pin<&mut F>, until: Instant) -> Option<F::Output> {
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut context) {
            return Some(out);
        }
        if Instant::now() >= until {
            return None;
        }
        std::thread::yield_now();
    }
}
