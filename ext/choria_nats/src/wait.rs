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

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::sync::Arc;
    use std::time::Duration;

    fn runtime() -> Runtime {
        crate::runtime::single_thread().expect("a runtime")
    }

    fn watch<'a>(
        interrupt: &'a Notify,
        logs: Option<&'a Notify>,
        deadline: Option<Instant>,
    ) -> Watch<'a> {
        Watch {
            interrupt,
            logs,
            deadline,
            spin_until: None,
        }
    }

    /// Notifies `notify` from another thread after `after`.
    fn notify_later(notify: &Arc<Notify>, after: Duration) -> std::thread::JoinHandle<()> {
        let notify = Arc::clone(notify);
        std::thread::spawn(move || {
            std::thread::sleep(after);
            notify.notify_one();
        })
    }

    #[test]
    fn ends_with_the_output_of_a_future_that_completes() {
        let runtime = runtime();
        let interrupt = Notify::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let _ = tx.send(7);
        });
        let deadline = Some(Instant::now() + Duration::from_secs(5));
        let step = step(&runtime, &watch(&interrupt, None, deadline), pin!(rx));
        assert_eq!(step, Step::Done(Ok(7)));
        sender.join().expect("the sender");
    }

    #[test]
    fn times_out_at_the_deadline_and_not_before() {
        let runtime = runtime();
        let interrupt = Notify::new();
        let started = Instant::now();
        let deadline = Some(started + Duration::from_millis(50));
        let step = step(
            &runtime,
            &watch(&interrupt, None, deadline),
            pin!(std::future::pending::<()>()),
        );
        assert_eq!(step, Step::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn an_interrupt_from_another_thread_ends_a_wait_without_deadline() {
        let runtime = runtime();
        let interrupt = Arc::new(Notify::new());
        let notifier = notify_later(&interrupt, Duration::from_millis(20));
        let step = step(
            &runtime,
            &watch(&interrupt, None, None),
            pin!(std::future::pending::<()>()),
        );
        assert_eq!(step, Step::Interrupted);
        notifier.join().expect("the notifier");
    }

    #[test]
    fn an_interrupt_wins_over_a_future_that_is_ready_too() {
        let runtime = runtime();
        let interrupt = Notify::new();
        interrupt.notify_one();
        let step = step(
            &runtime,
            &watch(&interrupt, None, None),
            pin!(std::future::ready(1)),
        );
        assert_eq!(step, Step::Interrupted);
    }

    #[test]
    fn log_lines_end_a_stretch_only_for_a_wait_that_watches_them() {
        let runtime = runtime();
        let interrupt = Notify::new();
        let logs = Arc::new(Notify::new());
        let notifier = notify_later(&logs, Duration::from_millis(20));
        let step_with_logs = step(
            &runtime,
            &watch(&interrupt, Some(&logs), None),
            pin!(std::future::pending::<()>()),
        );
        assert_eq!(step_with_logs, Step::Logs);
        notifier.join().expect("the notifier");
        logs.notify_one();
        let deadline = Some(Instant::now() + Duration::from_millis(30));
        let step_without = step(
            &runtime,
            &watch(&interrupt, None, deadline),
            pin!(std::future::pending::<()>()),
        );
        assert_eq!(step_without, Step::TimedOut);
    }

    #[test]
    fn spins_for_a_future_that_completes_soon_and_gives_up_on_one_that_does_not() {
        let mut polls = 0;
        let soon = std::future::poll_fn(|_| {
            polls += 1;
            if polls < 50 {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(polls)
            }
        });
        let until = Instant::now() + Duration::from_secs(5);
        assert_eq!(poll_until(pin!(soon), until), Some(50));
        let until = Instant::now() + Duration::from_millis(10);
        assert_eq!(poll_until(pin!(std::future::pending::<()>()), until), None);
        assert!(Instant::now() >= until);
    }

    #[test]
    fn a_spin_does_not_outlast_the_deadline() {
        let runtime = runtime();
        let interrupt = Notify::new();
        let started = Instant::now();
        let watch = Watch {
            interrupt: &interrupt,
            logs: None,
            deadline: Some(started + Duration::from_millis(20)),
            spin_until: Some(started + Duration::from_secs(5)),
        };
        let step = step(&runtime, &watch, pin!(std::future::pending::<()>()));
        assert_eq!(step, Step::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(4));
    }
}
