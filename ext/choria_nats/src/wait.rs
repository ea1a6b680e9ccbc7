//! Waiting for the runtime from a Ruby thread: without the GVL, interruptible,
//! and coming back to Ruby whenever log lines wait, so that a daemon blocked in
//! `receive` still logs its reconnects as they happen.

use crate::errors::Failure;
use crate::gvl::{without_gvl, Ran};
use crate::log_queue::LogQueue;
use magnus::{Error, Ruby};
use std::future::Future;
use std::pin::pin;
use std::time::Instant;
use tokio::runtime::Runtime;
use tokio::sync::Notify;

pub enum Waited<T> {
    Done(T),
    TimedOut,
}

enum Step<T> {
    Done(T),
    Logs,
    Interrupted,
    TimedOut,
}

/// Drives `future` on `runtime` until it completes or `deadline` passes.
/// `deliver` hands waiting log lines to Ruby (with the GVL held). A Ruby
/// interrupt (`Thread#raise`, `Thread#kill`, `Timeout.timeout`, Ctrl-C) ends the
/// wait with that exception; the future is dropped, so it must be safe to
/// cancel.
pub fn wait_for<F: Future>(
    ruby: &Ruby,
    runtime: &Runtime,
    logs: &LogQueue,
    deliver: &dyn Fn() -> Result<(), Error>,
    deadline: Option<Instant>,
    future: F,
) -> Result<Waited<F::Output>, Error> {
    let mut future = pin!(future);
    loop {
        if logs.pending() {
            deliver()?;
        }
        let interrupt = Notify::new();
        let ran = without_gvl(&interrupt, || {
            runtime.block_on(async {
                let sleep = async {
                    match deadline {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    biased;
                    _ = interrupt.notified() => Step::Interrupted,
                    out = &mut future => Step::Done(out),
                    _ = logs.notify.notified() => Step::Logs,
                    _ = sleep => Step::TimedOut,
                }
            })
        });
        match ran {
            Ran::Done(Step::Done(out)) => {
                if logs.pending() {
                    deliver()?;
                }
                return Ok(Waited::Done(out));
            }
            Ran::Done(Step::TimedOut) => return Ok(Waited::TimedOut),
            Ran::Done(Step::Logs) => {}
            Ran::Done(Step::Interrupted) | Ran::Skipped => ruby.thread_check_ints()?,
            Ran::Panicked(message) => {
                return Err(Failure::new(
                    crate::errors::Kind::Internal,
                    format!("Internal error in choria-nats (please report it): {message}"),
                )
                .into_error(ruby))
            }
        }
    }
}
