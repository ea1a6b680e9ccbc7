//! `--name value` options after the subcommand.

use crate::Result;
use std::collections::HashMap;
use std::str::FromStr;

/// Options every subcommand that talks to a broker takes.
const COMMON: &[&str] = &["server", "ca", "cert", "key", "subject", "count"];

/// `--name value` pairs after the subcommand.
pub struct Args {
    values: HashMap<String, String>,
}

impl Args {
    /// Parses `raw`, accepting the common options and `extra`.
    pub fn parse(raw: &[String], extra: &[&str]) -> Result<Self> {
        let mut values = HashMap::new();
        let mut rest = raw.iter();
        while let Some(flag) = rest.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --option, got {flag:?}"))?;
            if !COMMON.contains(&name) && !extra.contains(&name) {
                return Err(format!("unknown option --{name}").into());
            }
            let value = rest
                .next()
                .ok_or_else(|| format!("--{name} needs a value"))?;
            values.insert(name.to_string(), value.clone());
        }
        Ok(Args { values })
    }

    /// Whether `--name` was given.
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The value of `--name`, which is required.
    pub fn text(&self, name: &str) -> Result<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("--{name} is required").into())
    }

    /// The value of `--name` as a number.
    pub fn number<T: FromStr>(&self, name: &str) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        let text = self.text(name)?;
        text.parse()
            .map_err(|e| format!("--{name} {text:?}: {e}").into())
    }

    /// The value of `--name` as a number, or `default` when it is not given.
    pub fn number_or<T: FromStr>(&self, name: &str, default: T) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        if self.has(name) {
            self.number(name)
        } else {
            Ok(default)
        }
    }

    /// `--name` as a positive, finite number of seconds.
    pub fn seconds(&self, name: &str) -> Result<std::time::Duration> {
        let seconds: f64 = self.number(name)?;
        if !seconds.is_finite() || seconds <= 0.0 {
            return Err(
                format!("--{name} must be a positive number of seconds, not {seconds}").into(),
            );
        }
        Ok(std::time::Duration::from_secs_f64(seconds))
    }
}
