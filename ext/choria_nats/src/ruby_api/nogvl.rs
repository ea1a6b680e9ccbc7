//! Waiting for the runtime from a Ruby thread: without Ruby's Global VM Lock,
//! so that other Ruby threads run meanwhile, interruptible by Ruby, and coming
//! back to Ruby whenever log lines wait, so that a daemon blocked in `receive`
//! still logs its reconnects as they happen. Every wait of a connection and
//! the SRV lookup go through [`wait_for`].
//!
//! This is the one place with unsafe GVL code. The blocking closure must not
//! touch Ruby objects: everything it needs is copied into Rust values first.

use super::errors::IntoException;
use crate::errors::Failure;
use crate::log_queue::LogQueue;
use crate::wait::{step, Step, Watch};
use magnus::{Error, Ruby};
use std::ffi::c_void;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

struct Call<F, R> {
    func: Option<F>,
    result: Option<std::thread::Result<R>>,
}

unsafe extern "C" fn run<F: FnOnce() -> R, R>(data: *mut c_void) -> *mut c_void {
    // SAFETY: `data` is the `Call` that `without_gvl` owns and keeps alive, and
    // uniquely borrowed, until `rb_thread_call_without_gvl2` has returned.
    let call = unsafe { &mut *(data as *mut Call<F, R>) };
    if let Some(func) = call.func.take() {
        // A panic must never unwind into Ruby's C frames.
        call.result = Some(catch_unwind(AssertUnwindSafe(func)));
    }
    std::ptr::null_mut()
}

unsafe extern "C" fn unblock(data: *mut c_void) {
    // SAFETY: `data` is the `Notify` borrowed by `without_gvl`, alive until the
    // call returns; Ruby calls this only while the call runs. `notify_one` is
    // thread-safe and calls no Ruby API.
    let interrupt = unsafe { &*(data as *const Notify) };
    interrupt.notify_one();
}

/// What became of a call made without the GVL.
enum Ran<R> {
    /// The closure ran to its end.
    Done(R),
    /// Ruby had an interrupt pending and did not run the closure.
    Skipped,
    /// The closure panicked; the message says where.
    Panicked(String),
}

/// Runs `func` with the GVL released. When Ruby wants this thread back
/// (`Thread#raise`, `Thread#kill`, `Timeout.timeout`, a signal), `interrupt` is
/// notified: `func` should watch it and return promptly, after which the caller
/// lets Ruby raise with `Ruby::thread_check_ints`.
fn without_gvl<F, R>(interrupt: &Notify, func: F) -> Ran<R>
where
    F: FnOnce() -> R,
{
    let mut call = Call::<F, R> {
        func: Some(func),
        result: None,
    };
    // SAFETY: both pointers outlive the call, which returns only after `run`
    // has finished; `run` and `unblock` match the C signatures Ruby expects.
    unsafe {
        rb_sys::rb_thread_call_without_gvl2(
            Some(run::<F, R>),
            &mut call as *mut Call<F, R> as *mut c_void,
            Some(unblock),
            interrupt as *const Notify as *mut c_void,
        );
    }
    match call.result {
        None => Ran::Skipped,
        Some(Ok(value)) => Ran::Done(value),
        Some(Err(panic)) => Ran::Panicked(crate::panics::message(panic.as_ref())),
    }
}

/// How a wait ended, when Ruby did not interrupt it.
pub enum Waited<T> {
    Done(T),
    TimedOut,
}

/// Log lines waiting for Ruby, and how to hand them over (with the GVL held).
pub struct Logs<'a> {
    pub queue: &'a LogQueue,
    pub deliver: &'a dyn Fn() -> Result<(), Error>,
}

impl Logs<'_> {
    fn deliver_pending(&self) -> Result<(), Error> {
        if self.queue.pending() {
            (self.deliver)()?;
        }
        Ok(())
    }
}

/// Drives `future` on `runtime` until it completes or `deadline` passes,
/// first polling it for up to `spin` without sleeping (see
/// `wait::poll_until`). Waiting `logs` are handed to Ruby as they come. A Ruby
/// interrupt (`Thread#raise`, `Thread#kill`, `Timeout.timeout`, Ctrl-C) ends
/// the wait with that exception; the future is dropped, so it must be safe
/// to cancel.
pub fn wait_for<F: Future>(
    ruby: &Ruby,
    runtime: &Runtime,
    logs: Option<&Logs<'_>>,
    deadline: Option<Instant>,
    spin: Duration,
    future: F,
) -> Result<Waited<F::Output>, Error> {
    let mut future = pin!(future);
    // Only before the first sleep, and only when asked for.
    let mut spin_until = (!spin.is_zero()).then(|| Instant::now() + spin);
    loop {
        if let Some(logs) = logs {
            logs.deliver_pending()?;
        }
        let interrupt = Notify::new();
        let watch = Watch {
            interrupt: &interrupt,
            logs: logs.map(|logs| &logs.queue.notify),
            deadline,
            spin_until: spin_until.take(),
        };
        match without_gvl(&interrupt, || step(runtime, &watch, future.as_mut())) {
            Ran::Done(Step::Done(out)) => {
                if let Some(logs) = logs {
                    logs.deliver_pending()?;
                }
                return Ok(Waited::Done(out));
            }
            Ran::Done(Step::TimedOut) => return Ok(Waited::TimedOut),
            Ran::Done(Step::Logs) => {}
            Ran::Done(Step::Interrupted) | Ran::Skipped => ruby.thread_check_ints()?,
            Ran::Panicked(message) => {
                return Err(Failure::internal_panic(&message).into_exception(ruby))
            }
        }
    }
}
