//! Errors of the native core: a sentence for the operator and the category
//! that picks the gem's Ruby exception class (`ruby_api/errors.rs`).

use std::fmt;

/// What went wrong, as far as the caller cares; each becomes one of the
/// `ChoriaNats::*` exception classes at the Ruby boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
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

/// A failure with the sentence an operator reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: Category,
    pub message: String,
}

impl Failure {
    pub fn new(kind: Category, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }

    pub fn config(message: impl Into<String>) -> Self {
        Failure::new(Category::Configuration, message)
    }

    pub fn connection(message: impl Into<String>) -> Self {
        Failure::new(Category::Connection, message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Failure::new(Category::Timeout, message)
    }

    /// A panic caught where it must not escape: a bug in this gem.
    pub fn internal_panic(message: &str) -> Self {
        Failure::new(
            Category::Internal,
            format!("Internal error in choria-nats (please report it): {message}"),
        )
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}
