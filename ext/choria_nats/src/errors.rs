//! Errors of the native core and their mapping to the gem's Ruby exception
//! classes, which are declared once, in `lib/choria_nats/errors.rb`.

use magnus::{exception::ExceptionClass, prelude::*, Error, RModule, Ruby};
use std::fmt;

/// Which `ChoriaNats::*` exception class a failure becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad options, missing or unusable files: `ChoriaNats::ConfigurationError`.
    Configuration,
    /// The broker cannot be reached or the link failed: `ChoriaNats::ConnectionError`.
    Connection,
    /// The TLS handshake or peer verification failed: `ChoriaNats::TLSError`.
    Tls,
    /// The broker refused our credentials: `ChoriaNats::AuthenticationError`.
    Authentication,
    /// A deadline passed: `ChoriaNats::TimeoutError`.
    Timeout,
    /// A message could not be published (size, subject): `ChoriaNats::PublishError`.
    Publish,
    /// A bug in this gem: `ChoriaNats::Error`.
    Internal,
}

impl Kind {
    fn class_name(self) -> &'static str {
        match self {
            Kind::Configuration => "ConfigurationError",
            Kind::Connection => "ConnectionError",
            Kind::Tls => "TLSError",
            Kind::Authentication => "AuthenticationError",
            Kind::Timeout => "TimeoutError",
            Kind::Publish => "PublishError",
            Kind::Internal => "Error",
        }
    }
}

/// A failure with the sentence an operator reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }

    pub fn config(message: impl Into<String>) -> Self {
        Failure::new(Kind::Configuration, message)
    }

    pub fn connection(message: impl Into<String>) -> Self {
        Failure::new(Kind::Connection, message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Failure::new(Kind::Timeout, message)
    }

    /// The Ruby exception for this failure.
    pub fn into_error(self, ruby: &Ruby) -> Error {
        match exception_class(ruby, self.kind.class_name()) {
            Ok(class) => Error::new(class, self.message),
            Err(err) => err,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

fn exception_class(ruby: &Ruby, name: &str) -> Result<ExceptionClass, Error> {
    let module: RModule = ruby.class_object().const_get("ChoriaNats")?;
    module.const_get(name)
}

/// Converts a failure to a Ruby exception; for `map_err`.
pub fn raise(ruby: &Ruby) -> impl Fn(Failure) -> Error + '_ {
    move |failure| failure.into_error(ruby)
}
