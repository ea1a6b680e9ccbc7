//! The Ruby-visible side of the gem, one file per class or function group.

pub mod settings;
