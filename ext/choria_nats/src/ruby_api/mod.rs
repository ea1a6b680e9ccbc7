//! Everything Ruby sees, one file per class or function group, and the one
//! helper that leaves the GVL. The core (the rest of the crate) knows nothing
//! of magnus.

mod address;
mod args;
mod certificate;
mod connection;
mod envelope;
mod errors;
mod nogvl;
mod settings;
mod srv;

use magnus::{prelude::*, Error, Ruby};

/// Defines the `ChoriaNats` module's native constants, classes and functions.
pub fn init(ruby: &Ruby) -> Result<(), Error> {
    // SAFETY: registers a child handler that only bumps an atomic
    // (async-signal-safe), with no prepare or parent handler. If registration
    // fails (ENOMEM), forks go uncounted and teardown's pid check still sees
    // them.
    unsafe {
        libc::pthread_atfork(None, None, Some(crate::runtime::count_fork_in_child));
    }
    let module = ruby.define_module("ChoriaNats")?;
    module.const_set("NATIVE_VERSION", env!("CARGO_PKG_VERSION"))?;
    module.const_set("NATS_CLIENT", crate::NATS_CLIENT)?;
    address::define(module)?;
    srv::define(module)?;
    certificate::define(ruby, module)?;
    envelope::define(module)?;
    settings::define(ruby, module)?;
    connection::define(ruby, module)
}
