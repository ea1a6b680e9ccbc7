//! `ChoriaNats.broker_address`: the broker list's entries put in `host:port`
//! form by the same code that reads the connection's servers.

use super::errors::IntoException;
use crate::address::{normalize, Credentials, DEFAULT_PORT};
use crate::errors::Failure;
use magnus::{function, prelude::*, Error, RModule, Ruby};

/// `ChoriaNats.broker_address(entry, default_port, setting)`: `entry` as
/// `host:port`; raises `ChoriaNats::ConfigurationError` naming `setting` when
/// it holds credentials, without repeating the secret.
fn broker_address(
    ruby: &Ruby,
    entry: String,
    default_port: u16,
    setting: String,
) -> Result<String, Error> {
    normalize(&entry, default_port).map_err(|Credentials(shown)| {
        Failure::config(format!(
            "{setting} holds credentials in {shown}: remove them from it and set plugin.nats.user and plugin.nats.pass instead"
        ))
        .into_exception(ruby)
    })
}

pub fn define(module: RModule) -> Result<(), Error> {
    module.const_set("NATS_PORT", DEFAULT_PORT)?;
    module.define_module_function("broker_address", function!(broker_address, 3))
}
