//! Connection settings, read from the option hash the Ruby side builds
//! (`ChoriaNats::Connection.connect` validates names and types first).

use crate::backoff::{Backoff, DEFAULT_INITIAL, DEFAULT_MAX, DEFAULT_SPREAD};
use crate::errors::Failure;
use crate::tls::TlsFiles;
use magnus::{RHash, Ruby, TryConvert};
use std::path::PathBuf;
use std::time::Duration;

/// What the first connection does when no broker answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InitialRetry {
    /// Try each server once, then raise (the default).
    Once,
    /// Keep trying, with back-off, until this much time has passed.
    For(Duration),
    /// Keep trying for ever (a daemon).
    Forever,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `(address, where it came from)`.
    pub servers: Vec<(String, String)>,
    pub files: TlsFiles,
    pub user: Option<String>,
    pub password: Option<String>,
    pub name: Option<String>,
    pub connect_timeout: Duration,
    pub ping_interval: Duration,
    pub backoff: Backoff,
    pub randomize: bool,
    pub initial_retry: InitialRetry,
    /// Messages the receive queue holds before it drops (and counts, and logs).
    pub receive_capacity: usize,
    /// Bytes the receive queue holds before it drops.
    pub receive_buffer_bytes: usize,
    /// Bytes of large outgoing messages not yet written before a publish
    /// waits (`outgoing_blocks.rs`).
    pub outgoing_buffer_bytes: usize,
    /// How long a publish may wait for room in the outgoing buffer.
    pub publish_timeout: Duration,
    /// SRV names looked up again after each failed round of the first
    /// connect, and the DNS server to ask (the system's when none).
    pub srv_names: Vec<hickory_resolver::proto::rr::Name>,
    pub srv_nameserver: Option<std::net::SocketAddr>,
    /// Accept a broker certificate without subjectAltName whose common name
    /// is the host dialled (`legacy_names.rs`).
    pub legacy_certificates: bool,
}

/// Messages the receive queue holds by default.
pub const DEFAULT_RECEIVE_CAPACITY: usize = 250_000;
/// Bytes the receive queue holds by default: the per-subscription pending
/// limit nats.go uses, room for a 50,000-reply burst (docs/performance.md).
pub const DEFAULT_RECEIVE_BUFFER_BYTES: usize = 64 * 1024 * 1024;

/// Bytes of large outgoing messages not yet sent, by default.
pub const DEFAULT_OUTGOING_BUFFER_BYTES: usize = 64 * 1024 * 1024;

/// The longest connect timeout accepted.
const MAX_CONNECT_TIMEOUT: f64 = 120.0;

fn get<T: TryConvert>(ruby: &Ruby, hash: RHash, key: &str) -> Result<Option<T>, Failure> {
    hash.lookup::<_, Option<T>>(ruby.to_symbol(key))
        .map_err(|e| Failure::config(format!("The option {key} has the wrong type: {e}")))
}

fn required<T: TryConvert>(ruby: &Ruby, hash: RHash, key: &str) -> Result<T, Failure> {
    get(ruby, hash, key)?.ok_or_else(|| Failure::config(format!("The option {key} is required")))
}

fn seconds(
    ruby: &Ruby,
    hash: RHash,
    key: &str,
    default: f64,
    max: f64,
) -> Result<Duration, Failure> {
    let value = get::<f64>(ruby, hash, key)?.unwrap_or(default);
    if !value.is_finite() || value <= 0.0 || value > max {
        return Err(Failure::config(format!(
            "The option {key} must be a number of seconds above 0 and at most {max}, not {value}"
        )));
    }
    Ok(Duration::from_secs_f64(value))
}

impl Settings {
    pub fn from_hash(ruby: &Ruby, hash: RHash) -> Result<Self, Failure> {
        let servers: Vec<(String, String)> = required(ruby, hash, "servers")?;
        let files = TlsFiles {
            ca: PathBuf::from(required::<String>(ruby, hash, "ca_file")?),
            cert: PathBuf::from(required::<String>(ruby, hash, "cert_file")?),
            key: PathBuf::from(required::<String>(ruby, hash, "key_file")?),
        };
        let user: Option<String> = get(ruby, hash, "user")?;
        let password: Option<String> = get(ruby, hash, "password")?;
        if password.is_some() && user.is_none() {
            return Err(Failure::config(
                "A NATS password was given without a user name",
            ));
        }
        let backoff = Backoff {
            initial: seconds(
                ruby,
                hash,
                "reconnect_initial_delay",
                DEFAULT_INITIAL,
                3600.0,
            )?,
            max: seconds(ruby, hash, "reconnect_max_delay", DEFAULT_MAX, 3600.0)?,
            spread: seconds(ruby, hash, "reconnect_spread", DEFAULT_SPREAD, 3600.0)?,
        };
        if backoff.initial > backoff.max {
            return Err(Failure::config(
                "The option reconnect_initial_delay must not be above reconnect_max_delay",
            ));
        }
        // Seconds to keep trying; infinite for ever; absent for one round.
        let initial_retry = match get::<f64>(ruby, hash, "retry_initial_connect")? {
            None => InitialRetry::Once,
            Some(v) if v.is_infinite() && v > 0.0 => InitialRetry::Forever,
            Some(_) => InitialRetry::For(seconds(ruby, hash, "retry_initial_connect", 1.0, 1e9)?),
        };
        let receive_capacity =
            get::<usize>(ruby, hash, "receive_capacity")?.unwrap_or(DEFAULT_RECEIVE_CAPACITY);
        if receive_capacity == 0 {
            return Err(Failure::config(
                "The option receive_capacity must be at least 1",
            ));
        }
        let receive_buffer_bytes = get::<usize>(ruby, hash, "receive_buffer_bytes")?
            .unwrap_or(DEFAULT_RECEIVE_BUFFER_BYTES);
        let outgoing_buffer_bytes = get::<usize>(ruby, hash, "outgoing_buffer_bytes")?
            .unwrap_or(DEFAULT_OUTGOING_BUFFER_BYTES);
        for (name, bytes) in [
            ("receive_buffer_bytes", receive_buffer_bytes),
            ("outgoing_buffer_bytes", outgoing_buffer_bytes),
        ] {
            if bytes == 0 {
                return Err(Failure::config(format!(
                    "The option {name} must be at least 1"
                )));
            }
        }
        Ok(Settings {
            servers,
            files,
            user,
            password,
            name: get(ruby, hash, "name")?,
            connect_timeout: seconds(ruby, hash, "connect_timeout", 2.0, MAX_CONNECT_TIMEOUT)?,
            ping_interval: seconds(ruby, hash, "ping_interval", 20.0, 3600.0)?,
            backoff,
            randomize: get(ruby, hash, "randomize")?.unwrap_or(true),
            initial_retry,
            receive_capacity,
            receive_buffer_bytes,
            outgoing_buffer_bytes,
            publish_timeout: seconds(ruby, hash, "publish_timeout", 5.0, 3600.0)?,
            srv_names: crate::srv::parse_names(
                &get::<Vec<String>>(ruby, hash, "srv_names")?.unwrap_or_default(),
            )?,
            srv_nameserver: get::<String>(ruby, hash, "srv_nameserver")?
                .map(|s| crate::srv::parse_nameserver(&s))
                .transpose()?,
            legacy_certificates: get(ruby, hash, "legacy_certificates")?.unwrap_or(false),
        })
    }

    /// The settings `from_hash` gives for just these servers and files, for
    /// Rust callers without Ruby (the fleet simulation in `examples/`).
    pub fn new(servers: Vec<(String, String)>, ca: PathBuf, cert: PathBuf, key: PathBuf) -> Self {
        Settings {
            servers,
            files: TlsFiles { ca, cert, key },
            user: None,
            password: None,
            name: None,
            connect_timeout: Duration::from_secs(2),
            ping_interval: Duration::from_secs(20),
            backoff: Backoff::default(),
            randomize: true,
            initial_retry: InitialRetry::Once,
            receive_capacity: DEFAULT_RECEIVE_CAPACITY,
            receive_buffer_bytes: DEFAULT_RECEIVE_BUFFER_BYTES,
            outgoing_buffer_bytes: DEFAULT_OUTGOING_BUFFER_BYTES,
            publish_timeout: Duration::from_secs(5),
            srv_names: Vec::new(),
            srv_nameserver: None,
            legacy_certificates: false,
        }
    }
}
