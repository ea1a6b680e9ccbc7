//! Arguments of the Ruby-visible methods, read by hand where `scan_args`
//! would cost more than the method's own work.

use super::errors::IntoException;
use crate::errors::{Category, Failure};
use magnus::{prelude::*, Error, Ruby, Value};
use std::time::Duration;

/// Ruby's own message for a wrong number of arguments.
pub fn arity_error(ruby: &Ruby, given: usize, expected: &str) -> Error {
    Error::new(
        ruby.exception_arg_error(),
        format!("wrong number of arguments (given {given}, expected {expected})"),
    )
}

/// The optional timeout argument in seconds: none or nil for none.
pub fn seconds_arg(ruby: &Ruby, args: &[Value], what: &str) -> Result<Option<Duration>, Error> {
    let value = match *args {
        [] => return Ok(None),
        [value] if value.is_nil() => return Ok(None),
        [value] => f64::try_convert(value)?,
        _ => return Err(arity_error(ruby, args.len(), "0..1")),
    };
    if value.is_finite() && value >= 0.0 {
        Ok(Some(Duration::from_secs_f64(value)))
    } else {
        Err(Failure::config(format!(
            "The {what} timeout must be a number of seconds, 0 or more, not {value}"
        ))
        .into_exception(ruby))
    }
}

/// A subject that is not UTF-8, which NATS cannot carry.
pub fn not_utf8(ruby: &Ruby, what: &str) -> Error {
    Failure::new(
        Category::Publish,
        format!("Cannot publish: the {what} is not valid UTF-8"),
    )
    .into_exception(ruby)
}
