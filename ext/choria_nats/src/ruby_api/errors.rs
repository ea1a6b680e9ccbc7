//! Failures of the core as the gem's Ruby exceptions, whose classes are
//! declared once, in `lib/choria_nats/errors.rb`, and looked up by name.

use crate::errors::{Category, Failure};
use magnus::{exception::ExceptionClass, prelude::*, Error, RModule, Ruby};

fn class_name(category: Category) -> &'static str {
    match category {
        Category::Configuration => "ConfigurationError",
        Category::Connection => "ConnectionError",
        Category::Tls => "TLSError",
        Category::Authentication => "AuthenticationError",
        Category::Timeout => "TimeoutError",
        Category::Publish => "PublishError",
        Category::Internal => "Error",
    }
}

fn exception_class(ruby: &Ruby, name: &str) -> Result<ExceptionClass, Error> {
    let module: RModule = ruby.class_object().const_get("ChoriaNats")?;
    module.const_get(name)
}

/// A core failure as the Ruby exception it stands for.
pub trait IntoException {
    fn into_exception(self, ruby: &Ruby) -> Error;
}

impl IntoException for Failure {
    fn into_exception(self, ruby: &Ruby) -> Error {
        match exception_class(ruby, class_name(self.kind)) {
            Ok(class) => Error::new(class, self.message),
            Err(err) => err,
        }
    }
}

/// `into_exception` as a function, for `map_err`.
pub fn exception(ruby: &Ruby) -> impl Fn(Failure) -> Error + '_ {
    move |failure| failure.into_exception(ruby)
}
