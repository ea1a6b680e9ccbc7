//! `ChoriaNats.broker_address` and `ChoriaNats.server_address_problem`: the
//! broker list's entries put in `host:port` form, and checked, by the same
//! code that reads the connection's servers.

use super::errors::IntoException;
use crate::address::{normalize, parse_address, Credentials, DEFAULT_PORT};
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

/// `ChoriaNats.server_address_problem(address)`: nil when the connection can
/// use `address`, else the one line that says why not, so that the broker
/// list can leave out an SRV record the connection would refuse.
fn server_address_problem(address: String) -> Option<String> {
    parse_address(&address).err().map(|failure| failure.message)
}

pub fn define(module: RModule) -> Result<(), Error> {
    module.const_set("NATS_PORT", DEFAULT_PORT)?;
    module.define_module_function("broker_address", function!(broker_address, 3))?;
    module.define_module_function(
        "server_address_problem",
        function!(server_address_problem, 1),
    )
}
