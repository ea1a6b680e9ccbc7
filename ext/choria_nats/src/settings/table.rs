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
    /// One of a few names, written exactly.
    Choice { names: &'static [&'static str] },
    /// Federated network names, comma-separated in a configuration file;
    /// each becomes one token of a NATS subject.
    Networks,
}

/// The value a setting has when nothing sets it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultValue {
    /// None: the setting is required, or nothing is used without it.
    Nothing,
    Seconds(f64),
    Count(u64),
    Flag(bool),
    /// A name or a text: a `Choice`'s name, a `Text` setting's value.
    Name(&'static str),
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

    /// The text of a `Name` default (see `seconds`).
    pub const fn name(self) -> &'static str {
        match self {
            DefaultValue::Name(name) => name,
            _ => panic!("not a default name"),
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
    /// The environment variable read when the key is not set (variables
    /// that override the key are in `ALTERNATIVES`).
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

/// The other forms a configuration file may give seconds in, as refusals name them.
const DURATION_FORMS: &str = ", or a duration such as 2s, 500ms, 1m30s or 1h";

/// Seconds as a configuration file writes them: a plain number, or a
/// duration as go-choria reads it (Go's `time.ParseDuration`): numbers each
/// followed by `h`, `m`, `s` or `ms`, as in `1m30s` or `1.5h`. Go's duration
/// grammar is this small, and matching it exactly is the point: a crate such
/// as `humantime` reads more (`2days`, `1h 30m`), which go-choria refuses.
fn parse_seconds(text: &str) -> Option<f64> {
    if let Ok(seconds) = text.parse::<f64>() {
        return Some(seconds);
    }
    let mut rest = text;
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&end| end > 0)?;
        let (number, after) = rest.split_at(number_end);
        let value: f64 = number.parse().ok()?;
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let scale = match unit {
            "h" => HOUR,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += value * scale;
        rest = after;
    }
    Some(total)
}

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
    description: "SRV names looked up again when a link drops and after each failed round over the servers (at most once per `reconnect_spread`); the connector gives those it looked up",
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
pub const FEDERATION_COLLECTIVES: Setting = Setting {
    name: "federation_collectives",
    kind: Type::Networks,
    default: DefaultValue::Described("none: not federated"),
    key: Some("plugin.choria.federation.collectives"),
    env: None,
    role: Role::Plugin,
    description: "the federated networks `mco` sends its requests to, through their federation brokers, instead of its own collective",
};
pub const FEDERATION_MIDDLEWARE_HOSTS: Setting = Setting {
    name: "federation_middleware_hosts",
    kind: Type::Text,
    default: DefaultValue::Described("SRV `_mcollective-federation_server._tcp`, `_x-puppet-mcollective_federation._tcp`, then the brokers of `middleware_hosts`"),
    key: Some("plugin.choria.federation_middleware_hosts"),
    env: None,
    role: Role::Plugin,
    description: "comma-separated `host:port` list of the brokers a federated `mco` connects to",
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
pub const SECURITY_PROVIDER: Setting = Setting {
    name: "security_provider",
    kind: Type::Choice {
        names: &["puppet", "file"],
    },
    default: DefaultValue::Name("puppet"),
    key: Some("plugin.security.provider"),
    env: None,
    role: Role::Plugin,
    description: "where the CA, certificate and key are: `puppet`, Puppet's SSL dir; `file`, the three `plugin.security.file.*` paths",
};
pub const SECURITY_FILE_CERTIFICATE: Setting = Setting {
    name: "security_file_certificate",
    kind: Type::Path,
    default: DefaultValue::Described("none: required by the `file` provider"),
    key: Some("plugin.security.file.certificate"),
    env: None,
    role: Role::Plugin,
    description:
        "the `file` provider's certificate (PEM; intermediate CA certificates may follow it)",
};
pub const SECURITY_FILE_KEY: Setting = Setting {
    name: "security_file_key",
    kind: Type::Path,
    default: DefaultValue::Described("none: required by the `file` provider"),
    key: Some("plugin.security.file.key"),
    env: None,
    role: Role::Plugin,
    description: "the `file` provider's private key for that certificate (PEM)",
};
pub const SECURITY_FILE_CA: Setting = Setting {
    name: "security_file_ca",
    kind: Type::Path,
    default: DefaultValue::Described("none: required by the `file` provider"),
    key: Some("plugin.security.file.ca"),
    env: None,
    role: Role::Plugin,
    description: "the `file` provider's CA certificates: the only ones trusted to sign the brokers' certificates and this one",
};

pub const PUPPETSERVER_HOST: Setting = Setting {
    name: "puppetserver_host",
    kind: Type::Text,
    default: DefaultValue::Described("SRV `_x-puppet._tcp`, then `puppet`"),
    key: Some("plugin.choria.puppetserver_host"),
    env: None,
    role: Role::Plugin,
    description: "the Puppet server; only `mco choria show_config` reads it here, for the Choria plugins that use it",
};
pub const PUPPETSERVER_PORT: Setting = Setting {
    name: "puppetserver_port",
    kind: Type::Port,
    default: DefaultValue::Count(8140),
    key: Some("plugin.choria.puppetserver_port"),
    env: None,
    role: Role::Plugin,
    description: "its port",
};
pub const PUPPETDB_HOST: Setting = Setting {
    name: "puppetdb_host",
    kind: Type::Text,
    default: DefaultValue::Described(
        "SRV `_x-puppet-db._tcp`, `_x-puppet._tcp` (with `puppetdb_port`), then `puppet`",
    ),
    key: Some("plugin.choria.puppetdb_host"),
    env: None,
    role: Role::Plugin,
    description:
        "PuppetDB; only `mco choria show_config` reads it here, for the Choria plugins that use it",
};
pub const PUPPETDB_PORT: Setting = Setting {
    name: "puppetdb_port",
    kind: Type::Port,
    default: DefaultValue::Count(8081),
    key: Some("plugin.choria.puppetdb_port"),
    env: None,
    role: Role::Plugin,
    description: "its port",
};

pub const CREDENTIALS: Setting = Setting {
    name: "credentials",
    kind: Type::Path,
    default: DefaultValue::Nothing,
    key: Some("plugin.nats.credentials"),
    env: Some("MCOLLECTIVE_NATS_CREDENTIALS"),
    role: Role::Optional,
    description: "a NATS credentials file (`.creds`: a user JWT and its nkey seed) for a broker with JWT accounts (operator mode), read again at each connect; mode 0600 or stricter; not with `plugin.nats.user`",
};

pub const NGS: Setting = Setting {
    name: "ngs",
    kind: Type::Flag,
    default: DefaultValue::Flag(false),
    key: Some("plugin.nats.ngs"),
    env: None,
    role: Role::Plugin,
    description: "go-choria's switch to Synadia's NGS, which trusts public CAs instead of the SSL dir's: `true` is refused (see NGS below)",
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
    default: DefaultValue::Name("127.0.0.1"),
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
    PUPPETSERVER_HOST,
    PUPPETSERVER_PORT,
    PUPPETDB_HOST,
    PUPPETDB_PORT,
    SECURITY_PROVIDER,
    SECURITY_FILE_CERTIFICATE,
    SECURITY_FILE_KEY,
    SECURITY_FILE_CA,
    CREDENTIALS,
    NGS,
    FEDERATION_COLLECTIVES,
    FEDERATION_MIDDLEWARE_HOSTS,
    STATUS_FILE_PATH,
    STATUS_UPDATE_INTERVAL,
    STATS_PORT,
    STATS_ADDRESS,
];

/// `a`, `a or b`, `a, b or c`: the names a `Choice` takes.
fn one_of(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Another spelling of a setting, Choria's (mcollective-choria's or
/// go-choria's), so that a configuration shared with Choria means the same
/// here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// A configuration key; the setting's own key wins over it.
    Key(&'static str),
    /// An environment variable that overrides the configuration file, as
    /// Choria's `CHORIA_*` variables do.
    OverridingEnv(&'static str),
}

/// A setting's other spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alternative {
    /// The `name` of the setting.
    pub setting: &'static str,
    pub spelling: Spelling,
}

/// Every other spelling, by setting.
pub const ALTERNATIVES: &[Alternative] = &[
    Alternative {
        setting: "use_srv_records",
        spelling: Spelling::Key("plugin.choria.use_srv"),
    },
    Alternative {
        setting: "srv_domain",
        spelling: Spelling::OverridingEnv("CHORIA_SRV_DOMAIN"),
    },
    Alternative {
        setting: "federation_collectives",
        spelling: Spelling::OverridingEnv("CHORIA_FED_COLLECTIVE"),
    },
];

/// The setting of this name, if there is one.
pub fn find(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|setting| setting.name == name)
}

impl Setting {
    /// Its other spellings (`ALTERNATIVES`).
    pub fn alternatives(&self) -> impl Iterator<Item = Spelling> + '_ {
        ALTERNATIVES
            .iter()
            .filter(move |a| a.setting == self.name)
            .map(|a| a.spelling)
    }

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
            Type::Choice { names } => Some(one_of(names)),
            Type::Networks => Some(
                "a comma-separated list of network names (letters, digits, `-` and `_`)"
                    .to_string(),
            ),
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
        let durations = match self.kind {
            Type::Seconds { .. } if from_config => DURATION_FORMS,
            _ => "",
        };
        Failure::config(format!(
            "{} must be {}{durations}, not {shown}",
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
            (Type::Choice { names }, Value::Text(text)) => names.contains(&text.as_str()),
            (Type::Names, Value::Names(_)) => true,
            (Type::Networks, Value::Names(names)) => names.iter().all(|n| network_name(n)),
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
            Type::Seconds { max } => match parse_seconds(trimmed) {
                Some(s) if s.is_finite() && s > 0.0 && s <= max => Ok(Value::Seconds(s)),
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
            Type::Choice { names } => match names.iter().find(|name| **name == trimmed) {
                Some(name) => Ok(Value::Text((*name).to_string())),
                None => Err(refused()),
            },
            Type::Networks => {
                let names: Vec<String> = trimmed
                    .split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(str::to_string)
                    .collect();
                if names.iter().all(|name| network_name(name)) {
                    Ok(Value::Names(names))
                } else {
                    Err(refused())
                }
            }
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
            DefaultValue::Name(name) => Some(Value::Text(name.to_string())),
            DefaultValue::Nothing | DefaultValue::Described(_) => None,
        }
    }
}

/// A network name is one token of `choria.federation.<network>.federation`:
/// a dot, a wildcard or a space would change which subject is published to.
fn network_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
    fn every_other_spelling_is_of_a_setting_and_unique() {
        let mut spellings = HashSet::new();
        for alternative in ALTERNATIVES {
            let setting = find(alternative.setting).expect(alternative.setting);
            let (Spelling::Key(text) | Spelling::OverridingEnv(text)) = alternative.spelling;
            assert!(spellings.insert(text), "{text} twice");
            assert!(
                SETTINGS
                    .iter()
                    .all(|s| s.key != Some(text) && s.env != Some(text)),
                "{text}"
            );
            assert!(setting.key.is_some(), "{} has no key", setting.name);
        }
        assert_eq!(
            USE_SRV_RECORDS.alternatives().collect::<Vec<_>>(),
            vec![Spelling::Key("plugin.choria.use_srv")]
        );
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
            PUPPETSERVER_HOST,
            PUPPETSERVER_PORT,
            PUPPETDB_HOST,
            PUPPETDB_PORT,
            SECURITY_PROVIDER,
            SECURITY_FILE_CERTIFICATE,
            SECURITY_FILE_KEY,
            SECURITY_FILE_CA,
            CREDENTIALS,
            NGS,
            FEDERATION_COLLECTIVES,
            FEDERATION_MIDDLEWARE_HOSTS,
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
            // As a configuration file writes it: a name without quotes.
            let text = setting.default_value().map(|v| match v {
                Value::Text(text) => text,
                other => other.to_string(),
            });
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
                 and at most 120, or a duration such as 2s, 500ms, 1m30s or 1h, not \"121\""
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

    #[test]
    fn a_choice_takes_only_its_names_and_lists_them_when_refused() {
        assert_eq!(
            SECURITY_PROVIDER.parse(" file "),
            Ok(Value::Text("file".to_string()))
        );
        assert_eq!(
            SECURITY_PROVIDER.default_value(),
            Some(Value::Text("puppet".to_string()))
        );
        assert_eq!(
            SECURITY_PROVIDER.parse("pkcs11").err().map(|f| f.message),
            Some("plugin.security.provider must be puppet or file, not \"pkcs11\"".to_string())
        );
        assert!(SECURITY_PROVIDER.parse("File").is_err());
        assert!(SECURITY_PROVIDER
            .check(&Value::Text("vault".to_string()))
            .is_err());
        assert_eq!(one_of(&["a", "b", "c"]), "a, b or c");
    }

    #[test]
    fn reads_federated_networks_as_choria_does() {
        let names = |list: &[&str]| Value::Names(list.iter().map(|n| n.to_string()).collect());
        assert_eq!(
            FEDERATION_COLLECTIVES.parse(" dev1, prod_2 ,,"),
            Ok(names(&["dev1", "prod_2"]))
        );
        assert_eq!(FEDERATION_COLLECTIVES.parse(" , "), Ok(names(&[])));
        for bad in ["dev.1", "dev 1", "dev*", ">", "dév"] {
            assert_eq!(
                FEDERATION_COLLECTIVES.parse(bad).err().map(|f| f.message),
                Some(format!(
                    "plugin.choria.federation.collectives must be a comma-separated list of network \
                     names (letters, digits, `-` and `_`), not {bad:?}"
                )),
            );
        }
    }

    #[test]
    fn reads_seconds_written_as_go_choria_durations() {
        for (text, seconds) in [
            ("2s", 2.0),
            (" 500ms ", 0.5),
            ("1m", 60.0),
            ("1h", 3600.0),
            ("1m30s", 90.0),
            ("1.5h", 5400.0),
            ("1h0m0.25s", 3600.25),
            ("2", 2.0),
            ("0.25", 0.25),
        ] {
            assert_eq!(
                CONNECTION_TIMEOUT.parse(text),
                Ok(Value::Seconds(seconds)),
                "{text}"
            );
        }
        for bad in [
            "2 parsecs",
            "2 s",
            "s",
            "2x",
            "1d",
            "2S",
            "-2s",
            "2s5",
            "1..5s",
            "",
            "ms",
            "0s",
            "2h",
        ] {
            let refused = RECONNECT_SPREAD.parse(bad).expect_err(bad);
            assert!(
                refused.message.contains("2s, 500ms, 1m30s or 1h"),
                "{}",
                refused.message
            );
        }
        assert_eq!(CONNECT_TIMEOUT.parse("2m"), Ok(Value::Seconds(120.0)));
        assert!(CONNECT_TIMEOUT.parse("2m1s").is_err());
    }
}
