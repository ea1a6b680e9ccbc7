//! `ChoriaNats.srv_lookup`: the SRV lookup of the broker list, made with the
//! GVL released and interruptible by Ruby.

use super::errors::{exception, IntoException};
use super::nogvl::{wait_for, Waited};
use crate::errors::Failure;
use crate::srv::{parse_names, parse_nameserver, resolve};
use magnus::{function, scan_args::scan_args, Error, Module, RModule, Ruby, Value};
use std::time::Duration;

/// The whole lookup's deadline when the caller gives none.
const DEFAULT_TIMEOUT: f64 = 5.0;
/// The longest deadline a caller may ask for.
const MAX_TIMEOUT: f64 = 120.0;

/// `ChoriaNats.srv_lookup(names, nameserver = nil, timeout = 5.0)`: the records
/// of every name together, a `host:port` listed twice kept once, as
/// `[[host, port, priority, weight], ...]` in RFC 2782 order, at most
/// `ChoriaNats::SRV_MAX_RECORDS`; `[]` when no name has any (NXDOMAIN, no SRV
/// data). Raises `ChoriaNats::TimeoutError` (a `ConnectionError`) when no name
/// gave records and the DNS server did not answer within `timeout` seconds
/// (for all the names together), and `ConnectionError` when it cannot be
/// reached or answers every name with an error code such as REFUSED or SERVFAIL.
fn srv_lookup(ruby: &Ruby, args: &[Value]) -> Result<Vec<(String, u16, u16, u16)>, Error> {
    let args =
        scan_args::<(Vec<String>,), (Option<Option<String>>, Option<Option<f64>>), (), (), (), ()>(
            args,
        )?;
    let (names,) = args.required;
    let (nameserver, timeout) = args.optional;
    let names = parse_names(&names).map_err(exception(ruby))?;
    let nameserver = nameserver
        .flatten()
        .map(|s| parse_nameserver(&s))
        .transpose()
        .map_err(exception(ruby))?;
    let timeout = timeout.flatten().unwrap_or(DEFAULT_TIMEOUT);
    if !timeout.is_finite() || timeout <= 0.0 || timeout > MAX_TIMEOUT {
        return Err(Failure::config(format!(
            "The SRV lookup timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT}, not {timeout}"
        ))
        .into_exception(ruby));
    }
    let timeout = Duration::from_secs_f64(timeout);
    let runtime = crate::runtime::single_thread().map_err(|e| {
        Failure::connection(format!("Cannot start the DNS lookup: {e}")).into_exception(ruby)
    })?;
    // `resolve` keeps its own deadline, so the wait needs none.
    let result = match wait_for(
        ruby,
        &runtime,
        None,
        None,
        Duration::ZERO,
        resolve(&names, nameserver, timeout),
    )? {
        Waited::Done(result) => result,
        Waited::TimedOut => unreachable!("no deadline was set"),
    };
    let answer = result.map_err(exception(ruby))?;
    Ok(answer
        .records
        .into_iter()
        .map(|r| (r.host, r.port, r.priority, r.weight))
        .collect())
}

pub fn define(module: RModule) -> Result<(), Error> {
    module.const_set("SRV_MAX_RECORDS", crate::srv::MAX_RECORDS)?;
    module.define_module_function("srv_lookup", function!(srv_lookup, -1))
}
