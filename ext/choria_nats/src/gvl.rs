//! Running Rust without Ruby's Global VM Lock, so that other Ruby threads run
//! while a connection waits, and so that Ruby can interrupt the wait.
//!
//! This is the one place with unsafe GVL code. The blocking closure must not
//! touch Ruby objects: everything it needs is copied into Rust values first.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
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
pub enum Ran<R> {
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
pub fn without_gvl<F, R>(interrupt: &Notify, func: F) -> Ran<R>
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
        Some(Err(panic)) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Ran::Panicked(message)
        }
    }
}
