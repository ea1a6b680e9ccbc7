//! Every setting of the gem, written once: its name, type, unit, default,
//! limits, the MCollective key and environment variable that set it, and a
//! line saying what it does. The native connection, the Ruby side
//! (`ChoriaNats::SETTINGS`, `PluginSettings`, `Connection.native_options`) and
//! docs/configuration.md (`rake docs:settings`) all read it from here, and
//! every check of a value and its message is made here.

use crate::errors::Failure;
use std::fmt;

/// What a setting holds, which says how it is read and checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Type {
    /// Seconds, above 0 and at most `max`.
    Seconds { max: f64 },
    /// A whole number of `unit`, above 0.
    Count { unit: &'static str },
    /// A TCP port, 1 to 65535.
    Port,
    /// true or false; a configuration file writes `1`/`0`, `yes`/`no`,
    /// `y`/`n`, `true`/`false` or `t`/`f`, as MCollective reads them.
    Flag,
    /// Text, taken as written.
    Text,
    /// A file or directory.
    Path,
    /// A list of texts.
    Names,
    /// `[host:port, source]` pairs.
    Servers,
}

/// The value a setting has when nothing sets it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultValue {
    /// None: the setting is required, or nothing is used without it.
    Nothing,
    Seconds(f64),
    Count(u64),
    Flag(bool),
    /// Worked out when it is needed (a lookup, another setting), as said here.
    Described(&'static str),
}

impl DefaultValue {
    /// The seconds of a `Seconds` default; other defaults stop the build
    /// when they are read so in a `const`.
    pub const fn seconds(self) -> f64 {
        match self {
            DefaultValue::Seconds(seconds) => seconds,
            _ => panic!("not a default in seconds"),
        }
    }

    /// The number of a `Count` default (see `seconds`).
    pub const fn count(self) -> u64 {
        match self {
            DefaultValue::Count(count) => count,
            _ => panic!("not a default count"),
        }
    }
}

/// Who reads a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An option `ChoriaNats::Connection.connect` requires.
    Required,
    /// An option `ChoriaNats::Connection.connect` takes.
    Optional,
    /// Read by the Ruby side from the MCollective configuration only.
    Plugin,
    /// MCollective's own setting, whose default the connector applies.
    MCollective,
}

/// One setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setting {
    /// The `Connection.connect` option, or the last part of the key.
    pub name: &'static str,
    pub kind: Type,
    pub default: DefaultValue,
    /// The MCollective configuration key that sets it, if one does.
    pub key: Option<&'static str>,
    /// The environment variable read when the key is not set.
    pub env: Option<&'static str>,
    pub role: Role,
    /// What it does, in a line.
    pub description: &'static str,
}

/// A value of a setting, read from Ruby or from a configuration file.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Seconds(f64),
    Count(u64),
    Flag(bool),
    Text(String),
    Names(Vec<String>),
    Servers(Vec<(String, String)>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Seconds(seconds) => write!(f, "{seconds}"),
            Value::Count(count) => write!(f, "{count}"),
            Value::Flag(flag) => write!(f, "{flag}"),
            Value::Text(text) => write!(f, "{text:?}"),
            Value::Names(names) => write!(f, "{names:?}"),
            Value::Servers(servers) => write!(f, "{servers:?}"),
        }
    }
}

const HOUR: f64 = 3600.0;

pub const SERVERS: Setting = Setting {
    name: "servers",
    kind: Type::Servers,
    default: DefaultValue::Nothing,
    key: None,
    env: None,
    role: Role::Required,
    description: "the brokers, as `host:port` or `[host:port, source]`; the connector gives `middleware_hosts` or the SRV records",
};
pub const CA_FILE: Setting = Setting {
    name: "ca_file",
    kind: Type::Path,
    default: DefaultValue::Nothing,
    key: None,
    env: None,
    role: Role::Required,
    description:
        "the CA certificate (PEM), the only trust anchor; the connector takes it from the SSL dir",
};
pub const CERT_FILE: Setting = Setting {
    name: "cert_file",
    kind: Type::Path,
    default: DefaultValue::Nothing,
    key: None,
    env: None,
    role: Role::Required,
    description: "this node's certificate (PEM), signed by that CA",
};
pub const KEY_FILE: Setting = Setting {
    name: "key_file",
    kind: Type::Path,
    default: DefaultValue::Nothing,
    key: None,
    env: None,
    role: Role::Required,
    description: "the certificate's private key (PEM)",
};
pub const USER: Setting = Setting {
    name: "user",
    kind: Type::Text,
    default: DefaultValue::Nothing,
    key: Some("plugin.nats.user"),
    env: Some("MCOLLECTIVE_NATS_USERNAME"),
    role: Role::Optional,
    description: "NATS user name, if the broker wants one",
};
pub const PASSWORD: Setting = Setting {
    name: "password",
    kind: Type::Text,
    default: DefaultValue::Nothing,
    key: Some("plugin.nats.pass"),
    env: Some("MCOLLECTIVE_NATS_PASSWORD"),
    role: Role::Optional,
    description: "NATS password (never logged, never in errors or `inspect`); needs a user name",
};
pub const NAME: Setting = Setting {
    name: "name",
    kind: Type::Text,
    default: DefaultValue::Nothing,
    key: None,
    env: None,
    role: Role::Optional,
    description: "the connection name the broker shows; the connector gives the identity",
};
pub const CONNECT_TIMEOUT: Setting = Setting {
    name: "connect_timeout",
    kind: Type::Seconds { max: 120.0 },
    default: DefaultValue::Seconds(2.0),
    key: Some("plugin.choria.network.connect_timeout"),
    env: None,
    role: Role::Optional,
    description: "time for TCP, TLS and CONNECT of one attempt",
};
pub const PING_INTERVAL: Setting = Setting {
    name: "ping_interval",
    kind: Type::Seconds { max: HOUR },
    default: DefaultValue::Seconds(20.0),
    key: None,
    env: None,
    role: Role::Optional,
    description: "time between pings; two unanswered pings end the link",
};
pub const RECONNECT_INITIAL_DELAY: Setting = Setting {
    name: "reconnect_initial_delay",
    kind: Type::Seconds { max: HOUR },
    default: DefaultValue::Seconds(0.5),
    key: Some("plugin.choria.network.reconnect_initial_delay"),
    env: None,
    role: Role::Optional,
    description: "the first wait after a failure that is neither a refusal nor an overload (DNS, certificate, credentials), doubling with each one in a row; at most `reconnect_max_delay`",
};
// Above twice the spread, so an overloaded node can wait behind the whole fleet.
pub const RECONNECT_MAX_DELAY: Setting = Setting {
    name: "reconnect_max_delay",
    kind: Type::Seconds { max: HOUR },
    default: DefaultValue::Seconds(60.0),
    key: Some("plugin.choria.network.reconnect_max_delay"),
    env: None,
    role: Role::Optional,
    description: "the longest wait between two attempts (it caps the spread too)",
};
// 10,000 nodes come back at 400 a second, which a small broker's TLS
// handshakes keep up with while doing other work: the fleet simulation
// (`rake sim`) measures it; docs/operations.md says how to size the spread.
pub const RECONNECT_SPREAD: Setting = Setting {
    name: "reconnect_spread",
    kind: Type::Seconds { max: HOUR },
    default: DefaultValue::Seconds(25.0),
    key: Some("plugin.choria.network.reconnect_spread"),
    env: None,
    role: Role::Optional,
    description: "the time over which the nodes of a broker spread their return after their links dropped, and how often they retry while it refuses them",
};
pub const RANDOMIZE: Setting = Setting {
    name: "randomize",
    kind: Type::Flag,
    default: DefaultValue::Flag(true),
    key: Some("plugin.choria.randomize_middleware_hosts"),
    env: None,
    role: Role::Optional,
    description: "shuffle the servers",
};
// A number is also its upper bound: about 30 years.
pub const RETRY_INITIAL_CONNECT: Setting = Setting {
    name: "retry_initial_connect",
    kind: Type::Seconds { max: 1e9 },
    default: DefaultValue::Described("one round over the servers"),
    key: None,
    env: None,
    role: Role::Optional,
    description: "when no broker answers the first connect: `false` tries each server once, `true` keeps trying for ever, a number keeps trying that long (the connector: for ever in mcollectived, until `connection_timeout` in mco)",
};
pub const RECEIVE_CAPACITY: Setting = Setting {
    name: "receive_capacity",
    kind: Type::Count { unit: "messages" },
    default: DefaultValue::Count(250_000),
    key: None,
    env: None,
    role: Role::Optional,
    description: "messages waiting for `receive` before new ones are dropped (counted and logged)",
};
// The per-subscription pending limit nats.go uses: room for a 50,000-reply
// burst (docs/performance.md).
pub const RECEIVE_BUFFER_BYTES: Setting = Setting {
    name: "receive_buffer_bytes",
    kind: Type::Count { unit: "bytes" },
    default: DefaultValue::Count(64 * 1024 * 1024),
    key: Some("plugin.choria.network.receive_buffer_bytes"),
    env: None,
    role: Role::Optional,
    description: "bytes of received messages waiting for `receive` before new ones are dropped (counted and logged)",
};
pub const OUTGOING_BUFFER_BYTES: Setting = Setting {
    name: "outgoing_buffer_bytes",
    kind: Type::Count { unit: "bytes" },
    default: DefaultValue::Count(64 * 1024 * 1024),
    key: Some("plugin.choria.network.outgoing_buffer_bytes"),
    env: None,
    role: Role::Optional,
    description: "bytes of large outgoing messages not yet sent before a publish waits",
};
pub const PUBLISH_TIMEOUT: Setting = Setting {
    name: "publish_timeout",
    kind: Type::Seconds { max: HOUR },
    default: DefaultValue::Seconds(5.0),
    key: None,
    env: None,
    role: Role::Optional,
    description:
        "how long a publish waits for room in the outgoing buffer, and a subscribe for the broker",
};
pub const SRV_NAMES: Setting = Setting {
    name: "srv_names",
    kind: Type::Names,
    default: DefaultValue::Nothing,
    key: None,
    env: None,
    role: Role::Optional,
    description: "SRV names looked up again after each failed round of the first connect; the connector gives those it looked up",
};
pub const SRV_NAMESERVER: Setting = Setting {
    name: "srv_nameserver",
    kind: Type::Text,
    default: DefaultValue::Described("the system's resolvers"),
    key: Some("plugin.choria.srv_nameserver"),
    env: None,
    role: Role::Optional,
    description: "`IP:PORT` of the DNS server for SRV lookups (tests, split DNS)",
};
pub const LEGACY_CERTIFICATES: Setting = Setting {
    name: "legacy_certificates",
    kind: Type::Flag,
    default: DefaultValue::Flag(false),
    key: Some("plugin.security.support_legacy_certificates"),
    env: None,
    role: Role::Optional,
    description: "also accept a broker certificate without subjectAltName (as older Puppet CAs issued them) when its common name is the host dialled; the chain to the CA, the dates and the server purpose are still verified",
};
pub const MIDDLEWARE_HOSTS: Setting = Setting {
    name: "middleware_hosts",
    kind: Type::Text,
    default: DefaultValue::Described("the SRV records, then `puppet:4222`"),
    key: Some("plugin.choria.middleware_hosts"),
    env: None,
    role: Role::Plugin,
    description: "comma-separated `host:port` list of brokers",
};
pub const SRV_DOMAIN: Setting = Setting {
    name: "srv_domain",
    kind: Type::Text,
    default: DefaultValue::Described("facter's `networking.domain`"),
    key: Some("plugin.choria.srv_domain"),
    env: None,
    role: Role::Plugin,
    description: "the domain of the SRV lookups",
};
pub const USE_SRV_RECORDS: Setting = Setting {
    name: "use_srv_records",
    kind: Type::Flag,
    default: DefaultValue::Flag(true),
    key: Some("plugin.choria.use_srv_records"),
    env: None,
    role: Role::Plugin,
    description: "look the brokers and the Puppet CA up in SRV records",
};
pub const SSLDIR: Setting = Setting {
    name: "ssldir",
    kind: Type::Path,
    default: DefaultValue::Described("Puppet's SSL dir for the user (see Certificates)"),
    key: Some("plugin.choria.ssldir"),
    env: None,
    role: Role::Plugin,
    description: "the SSL dir holding the CA, the certificate and the key",
};
pub const PUPPETCA_HOST: Setting = Setting {
    name: "puppetca_host",
    kind: Type::Text,
    default: DefaultValue::Described("SRV `_x-puppet-ca._tcp`, `_x-puppet._tcp`, then `puppet`"),
    key: Some("plugin.choria.puppetca_host"),
    env: None,
    role: Role::Plugin,
    description: "the Puppet CA `mco choria request_cert` asks",
};
pub const PUPPETCA_PORT: Setting = Setting {
    name: "puppetca_port",
    kind: Type::Port,
    default: DefaultValue::Count(8140),
    key: Some("plugin.choria.puppetca_port"),
    env: None,
    role: Role::Plugin,
    description: "its port",
};
pub const PUPPETCA_FINGERPRINT: Setting = Setting {
    name: "puppetca_fingerprint",
    kind: Type::Text,
    default: DefaultValue::Described("none: the fingerprint is shown to compare by eye"),
    key: Some("plugin.choria.puppetca_fingerprint"),
    env: None,
    role: Role::Plugin,
    description: "the SHA256 fingerprint the CA's certificate must have when `mco choria request_cert` downloads it (`--ca-fingerprint` overrides it)",
};
pub const CONNECTION_TIMEOUT: Setting = Setting {
    name: "connection_timeout",
    kind: Type::Seconds { max: 1e9 },
    default: DefaultValue::Seconds(10.0),
    key: Some("connection_timeout"),
    env: None,
    role: Role::MCollective,
    description: "MCollective's own: how long `mco` keeps trying to reach a broker",
};

pub const STATUS_FILE_PATH: Setting = Setting {
    name: "status_file_path",
    kind: Type::Path,
    default: DefaultValue::Described("none: no status file"),
    key: Some("plugin.choria.status_file_path"),
    env: None,
    role: Role::Optional,
    description: "the JSON file `mcollectived` rewrites with the link's state, its counters and the certificate's expiry (`choria-nats status --check` reads it)",
};
pub const STATUS_UPDATE_INTERVAL: Setting = Setting {
    name: "status_update_interval",
    kind: Type::Seconds { max: HOUR },
    default: DefaultValue::Seconds(30.0),
    key: Some("plugin.choria.status_update_interval"),
    env: None,
    role: Role::Optional,
    description: "time between two writes of the status file",
};
pub const STATS_PORT: Setting = Setting {
    name: "stats_port",
    kind: Type::Port,
    default: DefaultValue::Described("none: no port is opened"),
    key: Some("plugin.choria.stats_port"),
    env: None,
    role: Role::Optional,
    description: "the port where `mcollectived` serves Prometheus metrics at `/choria/metrics`",
};
pub const STATS_ADDRESS: Setting = Setting {
    name: "stats_address",
    kind: Type::Text,
    default: DefaultValue::Described("`127.0.0.1`"),
    key: Some("plugin.choria.stats_address"),
    env: None,
    role: Role::Optional,
    description: "the IP address the metrics port listens on; only with `stats_port`",
};

/// The table, in the order the documentation lists it.
pub const SETTINGS: &[Setting] = &[
    MIDDLEWARE_HOSTS,
    SRV_DOMAIN,
    USE_SRV_RECORDS,
    SRV_NAMESERVER,
    RANDOMIZE,
    SSLDIR,
    PUPPETCA_HOST,
    PUPPETCA_PORT,
    PUPPETCA_FINGERPRINT,
    USER,
    PASSWORD,
    CONNECT_TIMEOUT,
    LEGACY_CERTIFICATES,
    RECONNECT_SPREAD,
    RECONNECT_MAX_DELAY,
    RECONNECT_INITIAL_DELAY,
    RECEIVE_BUFFER_BYTES,
    OUTGOING_BUFFER_BYTES,
    CONNECTION_TIMEOUT,
    SERVERS,
    CA_FILE,
    CERT_FILE,
    KEY_FILE,
    NAME,
    PING_INTERVAL,
    RETRY_INITIAL_CONNECT,
    RECEIVE_CAPACITY,
    PUBLISH_TIMEOUT,
    SRV_NAMES,
    STATUS_FILE_PATH,
    STATUS_UPDATE_INTERVAL,
    STATS_PORT,
    STATS_ADDRESS,
];

/// The setting of this name, if there is one.
pub fn find(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|setting| setting.name == name)
}

impl Setting {
    /// How the setting is named in messages: its configuration key when it
    /// has one and the value came from there, else the option.
    pub fn label(&self, from_config: bool) -> String {
        match self.key {
            Some(key) if from_config => key.to_string(),
            _ => format!("The option {}", self.name),
        }
    }

    /// The unit of its values, if they have one.
    pub fn unit(&self) -> Option<&'static str> {
        match self.kind {
            Type::Seconds { .. } => Some("seconds"),
            Type::Count { unit } => Some(unit),
            _ => None,
        }
    }

    /// What a value must be, as the end of "… must be": the one wording of
    /// every refusal, and the limits column of the documentation.
    pub fn requirement(&self) -> Option<String> {
        match self.kind {
            Type::Seconds { max } => Some(format!("a number of seconds above 0 and at most {max}")),
            Type::Count { unit } => Some(format!("a whole number of {unit} above 0")),
            Type::Port => Some("a port number".to_string()),
            Type::Flag => Some("true or false".to_string()),
            Type::Text | Type::Path | Type::Names | Type::Servers => None,
        }
    }

    /// The limits the documentation shows: what a value must be, for the
    /// settings this gem checks (a flag's type says it all).
    pub fn limits(&self) -> Option<String> {
        match (self.role, self.kind) {
            (Role::MCollective, _) | (_, Type::Flag) => None,
            _ => self.requirement(),
        }
    }

    fn refusal(&self, from_config: bool, shown: impl fmt::Display) -> Failure {
        Failure::config(format!(
            "{} must be {}, not {shown}",
            self.label(from_config),
            self.requirement().unwrap_or_default()
        ))
    }

    /// Checks a value given to `Connection.connect` (already of its type).
    pub fn check(&self, value: &Value) -> Result<(), Failure> {
        let within = match (self.kind, value) {
            (Type::Seconds { max }, Value::Seconds(s)) => s.is_finite() && *s > 0.0 && *s <= max,
            (Type::Count { .. }, Value::Count(n)) => *n > 0,
            (Type::Port, Value::Count(n)) => (1..=65_535).contains(n),
            (Type::Flag, Value::Flag(_)) => true,
            (Type::Text | Type::Path, Value::Text(_)) => true,
            (Type::Names, Value::Names(_)) => true,
            (Type::Servers, Value::Servers(_)) => true,
            _ => {
                return Err(Failure::config(format!(
                    "{} has the wrong type: {value}",
                    self.label(false)
                )))
            }
        };
        if within {
            Ok(())
        } else {
            Err(self.refusal(false, value))
        }
    }

    /// Reads and checks the text a configuration file gives for the setting.
    pub fn parse(&self, text: &str) -> Result<Value, Failure> {
        let refused = || self.refusal(true, format!("{text:?}"));
        let trimmed = text.trim();
        match self.kind {
            Type::Seconds { max } => match trimmed.parse::<f64>() {
                Ok(s) if s.is_finite() && s > 0.0 && s <= max => Ok(Value::Seconds(s)),
                _ => Err(refused()),
            },
            Type::Count { .. } => match trimmed.parse::<u64>() {
                Ok(n) if n > 0 => Ok(Value::Count(n)),
                _ => Err(refused()),
            },
            Type::Port => match trimmed.parse::<u16>() {
                Ok(n) if n > 0 => Ok(Value::Count(u64::from(n))),
                _ => Err(refused()),
            },
            Type::Flag => match trimmed.to_ascii_lowercase().as_str() {
                "1" | "y" | "yes" | "true" | "t" => Ok(Value::Flag(true)),
                "0" | "n" | "no" | "false" | "f" => Ok(Value::Flag(false)),
                _ => Err(refused()),
            },
            Type::Text | Type::Path => Ok(Value::Text(text.to_string())),
            Type::Names | Type::Servers => Err(Failure::config(format!(
                "{} cannot be set in a configuration file",
                self.label(false)
            ))),
        }
    }

    /// The default as a value, when it is one.
    pub fn default_value(&self) -> Option<Value> {
        match self.default {
            DefaultValue::Seconds(s) => Some(Value::Seconds(s)),
            DefaultValue::Count(n) => Some(Value::Count(n)),
            DefaultValue::Flag(flag) => Some(Value::Flag(flag)),
            DefaultValue::Nothing | DefaultValue::Described(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_name_and_key_is_unique() {
        let mut names = HashSet::new();
        let mut keys = HashSet::new();
        for setting in SETTINGS {
            assert!(names.insert(setting.name), "{} twice", setting.name);
            if let Some(key) = setting.key {
                assert!(keys.insert(key), "{key} twice");
            }
        }
    }

    #[test]
    fn every_setting_is_in_the_table() {
        let all = [
            SERVERS,
            CA_FILE,
            CERT_FILE,
            KEY_FILE,
            USER,
            PASSWORD,
            NAME,
            CONNECT_TIMEOUT,
            PING_INTERVAL,
            RECONNECT_INITIAL_DELAY,
            RECONNECT_MAX_DELAY,
            RECONNECT_SPREAD,
            RANDOMIZE,
            RETRY_INITIAL_CONNECT,
            RECEIVE_CAPACITY,
            RECEIVE_BUFFER_BYTES,
            OUTGOING_BUFFER_BYTES,
            PUBLISH_TIMEOUT,
            SRV_NAMES,
            SRV_NAMESERVER,
            LEGACY_CERTIFICATES,
            MIDDLEWARE_HOSTS,
            SRV_DOMAIN,
            USE_SRV_RECORDS,
            SSLDIR,
            PUPPETCA_HOST,
            PUPPETCA_PORT,
            PUPPETCA_FINGERPRINT,
            CONNECTION_TIMEOUT,
            STATUS_FILE_PATH,
            STATUS_UPDATE_INTERVAL,
            STATS_PORT,
            STATS_ADDRESS,
        ];
        assert_eq!(all.len(), SETTINGS.len());
        for setting in all {
            assert_eq!(find(setting.name), Some(&setting));
        }
    }

    #[test]
    fn every_default_is_within_its_limits() {
        for setting in SETTINGS {
            if let Some(value) = setting.default_value() {
                assert_eq!(setting.check(&value), Ok(()), "{}", setting.name);
            }
            let text = setting.default_value().map(|v| v.to_string());
            if let (Some(text), Some(_)) = (text, setting.key) {
                assert!(setting.parse(&text).is_ok(), "{} {text}", setting.name);
            }
        }
    }

    #[test]
    fn a_required_option_has_no_default_and_no_key() {
        for setting in SETTINGS.iter().filter(|s| s.role == Role::Required) {
            assert_eq!(setting.default, DefaultValue::Nothing, "{}", setting.name);
            assert_eq!(setting.key, None, "{}", setting.name);
        }
    }

    #[test]
    fn refusals_say_what_the_value_must_be_in_one_wording() {
        fn message<T>(r: Result<T, Failure>) -> Option<String> {
            r.err().map(|f| f.message)
        }
        assert_eq!(
            message(CONNECT_TIMEOUT.parse("121")),
            Some(
                "plugin.choria.network.connect_timeout must be a number of seconds above 0 \
                 and at most 120, not \"121\""
                    .to_string()
            )
        );
        assert_eq!(
            message(CONNECT_TIMEOUT.check(&Value::Seconds(0.0))),
            Some(
                "The option connect_timeout must be a number of seconds above 0 and at most 120, not 0"
                    .to_string()
            )
        );
        assert_eq!(
            message(RECEIVE_CAPACITY.check(&Value::Count(0))),
            Some(
                "The option receive_capacity must be a whole number of messages above 0, not 0"
                    .to_string()
            )
        );
        assert_eq!(
            message(RECEIVE_BUFFER_BYTES.parse("1.5")),
            Some(
                "plugin.choria.network.receive_buffer_bytes must be a whole number of bytes above 0, \
                 not \"1.5\""
                    .to_string()
            )
        );
        assert_eq!(
            message(PUPPETCA_PORT.parse("http")),
            Some("plugin.choria.puppetca_port must be a port number, not \"http\"".to_string())
        );
        assert_eq!(
            message(USE_SRV_RECORDS.parse("maybe")),
            Some("plugin.choria.use_srv_records must be true or false, not \"maybe\"".to_string())
        );
    }

    #[test]
    fn reads_configuration_text_as_mcollective_writes_it() {
        assert_eq!(RANDOMIZE.parse(" Yes "), Ok(Value::Flag(true)));
        assert_eq!(RANDOMIZE.parse("F"), Ok(Value::Flag(false)));
        assert_eq!(RECONNECT_SPREAD.parse("0.25"), Ok(Value::Seconds(0.25)));
        assert!(RECONNECT_SPREAD.parse("0").is_err());
        assert!(RECONNECT_SPREAD.parse("inf").is_err());
        assert!(RECONNECT_SPREAD.parse("3601").is_err());
        assert_eq!(PUPPETCA_PORT.parse("8141"), Ok(Value::Count(8141)));
        assert!(PUPPETCA_PORT.parse("0").is_err());
        assert!(PUPPETCA_PORT.parse("65536").is_err());
        assert!(RECEIVE_BUFFER_BYTES.parse("-1").is_err());
        assert_eq!(USER.parse("nats"), Ok(Value::Text("nats".to_string())));
    }
}
