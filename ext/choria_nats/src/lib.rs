//! The native core of the `choria-nats` gem: a NATS client that only speaks
//! verified TLS, on a private tokio runtime, exposed to Ruby as
//! `ChoriaNats::Connection`. `ruby_api` holds everything Ruby sees; the other
//! modules are the core, which knows nothing of Ruby.

pub mod address;
pub mod backoff;
mod cert_check;
pub mod connect;
mod connect_errors;
mod connection;
mod credentials;
pub mod envelope;
mod errors;
pub mod json_escape;
pub mod legacy_names;
mod log_queue;
mod metrics;
mod monitor;
mod outgoing_blocks;
mod panics;
mod receive_queue;
mod ruby_api;
mod runtime;
pub mod server_pool;
pub mod session;
pub mod settings;
pub mod shared;
pub mod srv;
mod status_file;
mod tls;
pub mod utc;
mod wait;
pub mod x509;

/// The NATS client inside, for `client_flavour` and the start-up log line.
pub const NATS_CLIENT: &str = "async-nats 0.51.0";

#[magnus::init]
fn init(ruby: &magnus::Ruby) -> Result<(), magnus::Error> {
    ruby_api::init(ruby)
}

#[cfg(test)]
mod tests {
    #[test]
    fn nats_client_names_the_locked_async_nats_version() {
        let lock =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
                .expect("Cargo.lock at the workspace root");
        let version = lock
            .split("[[package]]")
            .find(|p| p.contains("name = \"async-nats\""))
            .and_then(|p| p.lines().find(|l| l.starts_with("version = ")))
            .map(|l| {
                l.trim_start_matches("version = ")
                    .trim_matches('"')
                    .to_string()
            })
            .expect("async-nats in Cargo.lock");
        assert_eq!(super::NATS_CLIENT, format!("async-nats {version}"));
    }
}
