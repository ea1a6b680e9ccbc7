//! The settings of one connection, built from the settings table
//! (`settings/table.rs`), which holds every default, limit and check.

pub mod table;

use crate::backoff::Backoff;
use crate::errors::Failure;
use crate::tls::TlsFiles;
use std::path::PathBuf;
use std::time::Duration;
use table::{Setting, Value};

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
    /// The NATS credentials file, read at each connect (`credentials.rs`).
    pub credentials: Option<PathBuf>,
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
    /// The status file and the metrics port (`monitor.rs`).
    pub monitoring: Monitoring,
}

/// What `mcollectived` shows of its link from outside.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitoring {
    /// The status file, when one is written.
    pub status_file: Option<PathBuf>,
    /// Time between two writes of it.
    pub status_interval: Duration,
    /// Where the Prometheus metrics are served, when they are.
    pub stats_listen: Option<std::net::SocketAddr>,
}

impl Monitoring {
    /// Whether anything is asked for.
    pub fn enabled(&self) -> bool {
        self.status_file.is_some() || self.stats_listen.is_some()
    }
}

/// The options given, each checked against its row of the table, with the
/// table's default for those not given.
struct Given<F> {
    lookup: F,
}

impl<F> Given<F>
where
    F: FnMut(&'static Setting) -> Result<Option<Value>, Failure>,
{
    /// The value given, checked, or the default.
    fn value(&mut self, setting: &'static Setting) -> Result<Option<Value>, Failure> {
        match (self.lookup)(setting)? {
            Some(value) => {
                setting.check(&value)?;
                Ok(Some(value))
            }
            None => Ok(setting.default_value()),
        }
    }

    fn wrong_type(setting: &Setting, value: &Value) -> Failure {
        Failure::config(format!(
            "{} has the wrong type: {value}",
            setting.label(false)
        ))
    }

    fn seconds(&mut self, setting: &'static Setting) -> Result<Duration, Failure> {
        match self.value(setting)? {
            Some(Value::Seconds(s)) => Ok(Duration::from_secs_f64(s)),
            Some(other) => Err(Self::wrong_type(setting, &other)),
            None => Err(Self::required(setting)),
        }
    }

    fn count(&mut self, setting: &'static Setting) -> Result<usize, Failure> {
        match self.value(setting)? {
            Some(Value::Count(n)) => usize::try_from(n).map_err(|_| {
                Failure::config(format!("{} is too large: {n}", setting.label(false)))
            }),
            Some(other) => Err(Self::wrong_type(setting, &other)),
            None => Err(Self::required(setting)),
        }
    }

    fn flag(&mut self, setting: &'static Setting) -> Result<bool, Failure> {
        match self.value(setting)? {
            Some(Value::Flag(flag)) => Ok(flag),
            Some(other) => Err(Self::wrong_type(setting, &other)),
            None => Err(Self::required(setting)),
        }
    }

    fn text(&mut self, setting: &'static Setting) -> Result<Option<String>, Failure> {
        match self.value(setting)? {
            Some(Value::Text(text)) => Ok(Some(text)),
            Some(other) => Err(Self::wrong_type(setting, &other)),
            None => Ok(None),
        }
    }

    fn path(&mut self, setting: &'static Setting) -> Result<PathBuf, Failure> {
        self.text(setting)?
            .map(PathBuf::from)
            .ok_or_else(|| Self::required(setting))
    }

    fn names(&mut self, setting: &'static Setting) -> Result<Vec<String>, Failure> {
        match self.value(setting)? {
            Some(Value::Names(names)) => Ok(names),
            Some(other) => Err(Self::wrong_type(setting, &other)),
            None => Ok(Vec::new()),
        }
    }

    fn servers(&mut self, setting: &'static Setting) -> Result<Vec<(String, String)>, Failure> {
        match self.value(setting)? {
            Some(Value::Servers(servers)) => Ok(servers),
            Some(other) => Err(Self::wrong_type(setting, &other)),
            None => Err(Self::required(setting)),
        }
    }

    fn required(setting: &Setting) -> Failure {
        Failure::config(format!("The option {} is required", setting.name))
    }

    fn monitoring(&mut self) -> Result<Monitoring, Failure> {
        let status_file = self.text(&table::STATUS_FILE_PATH)?.map(PathBuf::from);
        if status_file
            .as_ref()
            .is_some_and(|path| path.file_name().is_none())
        {
            return Err(Failure::config(format!(
                "plugin.choria.status_file_path (the option status_file_path) must name a file, not {:?}",
                status_file.unwrap_or_default()
            )));
        }
        let status_interval = self.seconds(&table::STATUS_UPDATE_INTERVAL)?;
        let port = match self.value(&table::STATS_PORT)? {
            Some(Value::Count(port)) => u16::try_from(port).ok(),
            _ => None,
        };
        let address = self.text(&table::STATS_ADDRESS)?;
        // An empty value means the default, as an unset one does.
        let text = match address.as_deref().map(str::trim) {
            None | Some("") => table::STATS_ADDRESS.default.name(),
            Some(text) => text,
        };
        let address: std::net::IpAddr = text
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| {
                Failure::config(format!(
                    "plugin.choria.stats_address (the option stats_address) must be an IP address such as 127.0.0.1 or ::1, not {text:?}"
                ))
            })?;
        Ok(Monitoring {
            status_file,
            status_interval,
            stats_listen: port.map(|port| std::net::SocketAddr::new(address, port)),
        })
    }

    /// Seconds to keep trying; infinite for ever; absent for one round.
    fn initial_retry(&mut self) -> Result<InitialRetry, Failure> {
        let setting = &table::RETRY_INITIAL_CONNECT;
        match (self.lookup)(setting)? {
            None => Ok(InitialRetry::Once),
            Some(Value::Seconds(s)) if s.is_infinite() && s > 0.0 => Ok(InitialRetry::Forever),
            Some(value) => {
                setting.check(&value)?;
                match value {
                    Value::Seconds(s) => Ok(InitialRetry::For(Duration::from_secs_f64(s))),
                    other => Err(Self::wrong_type(setting, &other)),
                }
            }
        }
    }
}

impl Settings {
    /// The settings from `lookup`, which gives the value of each option the
    /// caller set (of the option's type) and `None` for the others.
    pub fn from_values(
        lookup: impl FnMut(&'static Setting) -> Result<Option<Value>, Failure>,
    ) -> Result<Self, Failure> {
        let mut given = Given { lookup };
        let servers = given.servers(&table::SERVERS)?;
        let files = TlsFiles {
            ca: given.path(&table::CA_FILE)?,
            cert: given.path(&table::CERT_FILE)?,
            key: given.path(&table::KEY_FILE)?,
        };
        let user = given.text(&table::USER)?;
        let password = given.text(&table::PASSWORD)?;
        if password.is_some() && user.is_none() {
            return Err(Failure::config(
                "A NATS password was given without a user name",
            ));
        }
        let credentials = given.text(&table::CREDENTIALS)?.map(PathBuf::from);
        if credentials.is_some() && user.is_some() {
            return Err(Failure::config(
                "Both a NATS user name (plugin.nats.user) and a credentials file (plugin.nats.credentials) are set, and a broker takes one or the other: keep the credentials file for a broker with JWT accounts (operator mode, NGS), or the user name and password for one with an authorization block",
            ));
        }
        let backoff = Backoff {
            initial: given.seconds(&table::RECONNECT_INITIAL_DELAY)?,
            max: given.seconds(&table::RECONNECT_MAX_DELAY)?,
            spread: given.seconds(&table::RECONNECT_SPREAD)?,
        };
        if backoff.initial > backoff.max {
            return Err(Failure::config(
                "The option reconnect_initial_delay must not be above reconnect_max_delay",
            ));
        }
        Ok(Settings {
            servers,
            files,
            user,
            password,
            credentials,
            initial_retry: given.initial_retry()?,
            receive_capacity: given.count(&table::RECEIVE_CAPACITY)?,
            receive_buffer_bytes: given.count(&table::RECEIVE_BUFFER_BYTES)?,
            outgoing_buffer_bytes: given.count(&table::OUTGOING_BUFFER_BYTES)?,
            name: given.text(&table::NAME)?,
            connect_timeout: given.seconds(&table::CONNECT_TIMEOUT)?,
            ping_interval: given.seconds(&table::PING_INTERVAL)?,
            backoff,
            randomize: given.flag(&table::RANDOMIZE)?,
            publish_timeout: given.seconds(&table::PUBLISH_TIMEOUT)?,
            srv_names: crate::srv::parse_names(&given.names(&table::SRV_NAMES)?)?,
            srv_nameserver: given
                .text(&table::SRV_NAMESERVER)?
                .map(|s| crate::srv::parse_nameserver(&s))
                .transpose()?,
            legacy_certificates: given.flag(&table::LEGACY_CERTIFICATES)?,
            monitoring: given.monitoring()?,
        })
    }

    /// The settings `from_values` gives for just these servers and files, for
    /// Rust callers without Ruby (the fleet simulation in `examples/`).
    pub fn new(servers: Vec<(String, String)>, ca: PathBuf, cert: PathBuf, key: PathBuf) -> Self {
        let path = |p: &PathBuf| Value::Text(p.to_string_lossy().into_owned());
        let given = |setting: &'static Setting| {
            Ok(match setting.name {
                "servers" => Some(Value::Servers(servers.clone())),
                "ca_file" => Some(path(&ca)),
                "cert_file" => Some(path(&cert)),
                "key_file" => Some(path(&key)),
                _ => None,
            })
        };
        match Settings::from_values(given) {
            Ok(settings) => Settings {
                // Kept as given: a path need not be UTF-8.
                files: TlsFiles {
                    ca: ca.clone(),
                    cert: cert.clone(),
                    key: key.clone(),
                },
                ..settings
            },
            // Only the table's defaults are read; its tests check them.
            Err(failure) => panic!("the settings table's defaults are refused: {failure}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(
        options: Vec<(&'static str, Value)>,
    ) -> impl FnMut(&'static Setting) -> Result<Option<Value>, Failure> {
        move |setting| {
            Ok(options
                .iter()
                .find(|(name, _)| *name == setting.name)
                .map(|(_, value)| value.clone()))
        }
    }

    fn required() -> Vec<(&'static str, Value)> {
        vec![
            (
                "servers",
                Value::Servers(vec![("nats1:4222".into(), "config".into())]),
            ),
            ("ca_file", Value::Text("ca.pem".into())),
            ("cert_file", Value::Text("me.pem".into())),
            ("key_file", Value::Text("me.key".into())),
        ]
    }

    fn refusal(extra: Vec<(&'static str, Value)>) -> String {
        let mut options = required();
        options.extend(extra);
        match Settings::from_values(only(options)) {
            Ok(_) => "accepted".to_string(),
            Err(failure) => failure.message,
        }
    }

    #[test]
    fn new_takes_every_default_from_the_table() {
        let s = Settings::new(vec![], "ca".into(), "cert".into(), "key".into());
        assert_eq!(s.connect_timeout, Duration::from_secs(2));
        assert_eq!(s.ping_interval, Duration::from_secs(20));
        assert_eq!(s.backoff, Backoff::default());
        assert_eq!(
            s.receive_capacity as u64,
            table::RECEIVE_CAPACITY.default.count()
        );
        assert_eq!(
            s.receive_buffer_bytes as u64,
            table::RECEIVE_BUFFER_BYTES.default.count()
        );
        assert_eq!(
            s.outgoing_buffer_bytes as u64,
            table::OUTGOING_BUFFER_BYTES.default.count()
        );
        assert_eq!(s.publish_timeout, Duration::from_secs(5));
        assert!(s.randomize);
        assert!(!s.legacy_certificates);
        assert_eq!(s.initial_retry, InitialRetry::Once);
        assert!(!s.monitoring.enabled());
        assert_eq!(s.monitoring.status_interval, Duration::from_secs(30));
    }

    #[test]
    fn the_metrics_listen_on_loopback_unless_an_address_is_given() {
        let monitoring = |extra: Vec<(&'static str, Value)>| {
            let mut options = required();
            options.extend(extra);
            Settings::from_values(only(options)).map(|s| s.monitoring.stats_listen)
        };
        assert_eq!(monitoring(vec![]), Ok(None));
        assert_eq!(
            monitoring(vec![("stats_port", Value::Count(9100))]),
            Ok(Some("127.0.0.1:9100".parse().unwrap()))
        );
        assert_eq!(
            monitoring(vec![
                ("stats_port", Value::Count(9100)),
                ("stats_address", Value::Text("[::1]".into()))
            ]),
            Ok(Some("[::1]:9100".parse().unwrap()))
        );
        assert_eq!(
            refusal(vec![("stats_address", Value::Text("metrics.example.net".into()))]),
            "plugin.choria.stats_address (the option stats_address) must be an IP address such as 127.0.0.1 or ::1, not \"metrics.example.net\""
        );
        assert_eq!(
            refusal(vec![("stats_port", Value::Count(70000))]),
            "The option stats_port must be a port number, not 70000"
        );
        assert_eq!(
            refusal(vec![(
                "status_file_path",
                Value::Text("/var/run/..".into())
            )]),
            "plugin.choria.status_file_path (the option status_file_path) must name a file, not \"/var/run/..\""
        );
    }

    #[test]
    fn backoff_defaults_are_the_tables() {
        let b = Backoff::default();
        assert_eq!(
            b.initial.as_secs_f64(),
            table::RECONNECT_INITIAL_DELAY.default.seconds()
        );
        assert_eq!(
            b.max.as_secs_f64(),
            table::RECONNECT_MAX_DELAY.default.seconds()
        );
        assert_eq!(
            b.spread.as_secs_f64(),
            table::RECONNECT_SPREAD.default.seconds()
        );
    }

    #[test]
    fn refuses_what_the_table_refuses_and_the_combinations() {
        assert_eq!(refusal(vec![]), "accepted");
        assert_eq!(
            Settings::from_values(only(vec![])).err().map(|f| f.message),
            Some("The option servers is required".to_string())
        );
        assert_eq!(
            refusal(vec![("connect_timeout", Value::Seconds(121.0))]),
            "The option connect_timeout must be a number of seconds above 0 and at most 120, not 121"
        );
        assert_eq!(
            refusal(vec![("outgoing_buffer_bytes", Value::Count(0))]),
            "The option outgoing_buffer_bytes must be a whole number of bytes above 0, not 0"
        );
        assert_eq!(
            refusal(vec![("password", Value::Text("pw".into()))]),
            "A NATS password was given without a user name"
        );
        assert!(refusal(vec![
            ("user", Value::Text("nats".into())),
            ("credentials", Value::Text("/etc/nats/user.creds".into()))
        ])
        .starts_with("Both a NATS user name (plugin.nats.user) and a credentials file"));
        assert_eq!(
            refusal(vec![
                ("reconnect_initial_delay", Value::Seconds(30.0)),
                ("reconnect_max_delay", Value::Seconds(20.0))
            ]),
            "The option reconnect_initial_delay must not be above reconnect_max_delay"
        );
        assert_eq!(
            refusal(vec![("randomize", Value::Seconds(1.0))]),
            "The option randomize has the wrong type: 1"
        );
    }

    #[test]
    fn retry_initial_connect_is_once_for_ever_or_for_a_time() {
        let retry = |value: Option<f64>| {
            let mut options = required();
            if let Some(v) = value {
                options.push(("retry_initial_connect", Value::Seconds(v)));
            }
            Settings::from_values(only(options)).map(|s| s.initial_retry)
        };
        assert_eq!(retry(None), Ok(InitialRetry::Once));
        assert_eq!(retry(Some(f64::INFINITY)), Ok(InitialRetry::Forever));
        assert_eq!(
            retry(Some(30.0)),
            Ok(InitialRetry::For(Duration::from_secs(30)))
        );
        assert!(retry(Some(0.0)).is_err());
    }
}
