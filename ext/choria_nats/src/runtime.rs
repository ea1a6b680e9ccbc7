//! The private tokio runtime of one connection: made at connect time (never at
//! `require`: mcollectived forks before it connects), shut down by `close`, and
//! left alone in a forked child, whose copy of it has no threads behind it.

use crate::errors::Failure;
use std::ops::Deref;
use tokio::runtime::Runtime;

pub struct NatsRuntime {
    /// Present until dropped.
    runtime: Option<Runtime>,
    pid: u32,
}

impl NatsRuntime {
    pub fn new() -> Result<Self, Failure> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("choria-nats")
            .enable_all()
            .build()
            .map_err(|e| Failure::connection(format!("Cannot start the NATS I/O threads: {e}")))?;
        Ok(NatsRuntime {
            runtime: Some(runtime),
            pid: std::process::id(),
        })
    }

    /// Whether this process is a fork of the one that made the runtime.
    pub fn forked(&self) -> bool {
        self.pid != std::process::id()
    }
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
        if self.forked() {
            // The worker threads exist only in the parent; shutting down here
            // would wait on them, or on locks they held at fork time. Leak.
            std::mem::forget(runtime);
        } else {
            runtime.shutdown_background();
        }
    }
}
