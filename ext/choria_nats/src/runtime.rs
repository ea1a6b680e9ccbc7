//! The tokio runtimes: the private one of each connection, made at connect
//! time (never at `require`: mcollectived forks before it connects), shut down
//! by `close`, and left alone in a forked child, whose copy of it has no
//! threads behind it; and the one-thread runtime of a single blocking call
//! (an SRV lookup), gone when the call returns.

use crate::errors::Failure;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::runtime::Runtime;

/// Forks this process has gone through, counted in each child by
/// `count_fork_in_child`, which the Ruby boundary registers with
/// `pthread_atfork` when the library is loaded. Comparing this is a load,
/// where `getpid` is a system call on every connection call. Without Ruby
/// (the fleet simulation) nothing counts, and only the pid check of
/// `forked_by_count_or_pid` sees a fork.
static FORKS: AtomicU64 = AtomicU64::new(0);

/// The child handler of `pthread_atfork`: it only bumps an atomic, which is
/// async-signal-safe.
pub extern "C" fn count_fork_in_child() {
    FORKS.fetch_add(1, Ordering::Relaxed);
}

/// How many forks separate this process from the first that loaded us.
fn fork_generation() -> u64 {
    FORKS.load(Ordering::Relaxed)
}

pub struct NatsRuntime {
    /// Present until dropped.
    runtime: Option<Runtime>,
    generation: u64,
    pid: u32,
}

impl NatsRuntime {
    pub fn new() -> Result<Self, Failure> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(crate::panics::THREAD_NAME)
            .enable_all()
            .build()
            .map_err(|e| Failure::connection(format!("Cannot start the NATS I/O threads: {e}")))?;
        Ok(NatsRuntime {
            runtime: Some(runtime),
            generation: fork_generation(),
            pid: std::process::id(),
        })
    }

    /// Whether this process is a fork of the one that made the runtime, by
    /// the count of forks (a load: cheap enough for every call).
    pub fn forked_by_count(&self) -> bool {
        fork_generation() != self.generation
    }

    /// The same, also asking the kernel for the pid (for teardown, where a
    /// fork made without the C library's `fork` must not be missed).
    pub fn forked_by_count_or_pid(&self) -> bool {
        self.forked_by_count() || self.pid != std::process::id()
    }
}

/// A runtime on the calling thread, for one blocking call.
pub fn single_thread() -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

impl Deref for NatsRuntime {
    type Target = Runtime;

    fn deref(&self) -> &Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime is present until the connection is dropped")
    }
}

impl Drop for NatsRuntime {
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        if self.forked_by_count_or_pid() {
            // The worker threads exist only in the parent; shutting down here
            // would wait on them, or on locks they held at fork time. Leak.
            std::mem::forget(runtime);
        } else {
            runtime.shutdown_background();
        }
    }
}
