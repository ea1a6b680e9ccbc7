//! DNS SRV lookups for the broker list (`ChoriaNats.srv_lookup`), with
//! hickory-resolver on a small current-thread runtime made for the call, the
//! GVL released and the wait interruptible. Records come back in RFC 2782
//! order: ascending priority, and within a priority a weighted random order.

use crate::errors::{raise, Failure, Kind};
use crate::gvl::{without_gvl, Ran};
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, Record};
use hickory_resolver::Resolver;
use magnus::{function, scan_args::scan_args, Error, RModule, Ruby, Value};
use rand::seq::SliceRandom;
use rand::Rng;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// The whole lookup's deadline when the caller gives none.
const DEFAULT_TIMEOUT: f64 = 5.0;
/// The longest deadline a caller may ask for.
const MAX_TIMEOUT: f64 = 120.0;

/// One SRV record, its target without the trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    pub host: String,
    pub port: u16,
    pub priority: u16,
    pub weight: u16,
}

/// Orders records per RFC 2782: ascending priority; within a priority, each
/// next record is drawn at random with a chance proportional to its weight,
/// weight-0 records first in the running sum, so that they are picked only when
/// the draw is 0 (a small chance), and in random order when all weights are 0.
pub fn rfc2782_order<R: Rng + ?Sized>(mut records: Vec<SrvRecord>, rng: &mut R) -> Vec<SrvRecord> {
    records.shuffle(rng);
    // Stable: the shuffled order survives within (priority, zero-or-not).
    records.sort_by_key(|r| (r.priority, r.weight != 0));
    let mut ordered = Vec::with_capacity(records.len());
    let mut rest = records.into_iter().peekable();
    while let Some(first) = rest.next() {
        let mut group = vec![first];
        while let Some(next) = rest.next_if(|r| r.priority == group[0].priority) {
            group.push(next);
        }
        while !group.is_empty() {
            let total: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
            let draw = rng.random_range(0..=total);
            let mut running = 0u64;
            let index = group
                .iter()
                .position(|r| {
                    running += u64::from(r.weight);
                    running >= draw
                })
                .unwrap_or(0);
            ordered.push(group.remove(index));
        }
    }
    ordered
}

/// Parses the test nameserver: `IP:PORT`, `[IPv6]:PORT`, or a bare IP (port 53).
pub fn parse_nameserver(spec: &str) -> Result<SocketAddr, Failure> {
    let trimmed = spec.trim();
    let parsed = SocketAddr::from_str(trimmed).ok().or_else(|| {
        IpAddr::from_str(trimmed)
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    });
    match parsed {
        Some(addr) if addr.port() != 0 => Ok(addr),
        _ => Err(Failure::config(format!(
            "invalid DNS nameserver {spec:?}: write IP:PORT, for example 127.0.0.1:53 or [::1]:53"
        ))),
    }
}

/// Parses SRV names (see `parse_name`).
pub fn parse_names(names: &[String]) -> Result<Vec<Name>, Failure> {
    names.iter().map(|n| parse_name(n)).collect()
}

/// Looks `names` up in order within `timeout` and returns the records of the
/// first that has any, in RFC 2782 order; empty when none has.
pub async fn resolve(
    names: &[Name],
    nameserver: Option<SocketAddr>,
    timeout: Duration,
) -> Result<Vec<SrvRecord>, Failure> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let (config, opts, servers) = resolver_config(nameserver, timeout)?;
    let current = AtomicUsize::new(0);
    let deadline = tokio::time::Instant::now() + timeout;
    let records = match tokio::time::timeout_at(
        deadline,
        lookup_first(names, config, opts, &servers, &current),
    )
    .await
    {
        Ok(result) => result?,
        Err(_) => {
            return Err(Failure::timeout(format!(
                "Cannot look up SRV {}: the DNS server {servers} did not answer within {:.1}s",
                display(&names[current.load(Ordering::Relaxed)]),
                timeout.as_secs_f64()
            )))
        }
    };
    Ok(rfc2782_order(records, &mut rand::rng()))
}

/// Parses an SRV name as fully qualified, so that no search domain is appended.
/// A name whose last dot is escaped (`example.net\`) is not, and is refused.
fn parse_name(name: &str) -> Result<Name, Failure> {
    let fqdn = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    match Name::from_str(&fqdn) {
        Ok(parsed) if parsed.is_fqdn() && !name.trim().is_empty() => Ok(parsed),
        _ => Err(Failure::config(format!(
            "invalid DNS SRV name {name:?}: write a name such as _mcollective-server._tcp.example.net"
        ))),
    }
}

/// The resolver configuration: only `nameserver` (UDP and TCP) when given,
/// else `/etc/resolv.conf`; and how to name the servers in messages.
fn resolver_config(
    nameserver: Option<SocketAddr>,
    timeout: Duration,
) -> Result<(ResolverConfig, ResolverOpts, String), Failure> {
    let (config, mut opts, servers) = match nameserver {
        Some(addr) => {
            let mut server = NameServerConfig::udp_and_tcp(addr.ip());
            for connection in &mut server.connections {
                connection.port = addr.port();
            }
            let config = ResolverConfig::from_name_servers(vec![server]);
            (config, ResolverOpts::default(), addr.to_string())
        }
        None => {
            let (config, opts) =
                hickory_resolver::system_conf::read_system_conf().map_err(|e| {
                    Failure::connection(format!(
                        "Cannot look up SRV records: no usable DNS server in /etc/resolv.conf ({e})"
                    ))
                })?;
            let listed: Vec<String> = config
                .name_servers()
                .iter()
                .map(|s| SocketAddr::new(s.ip, 53).to_string())
                .collect();
            let servers = format!("{} (from /etc/resolv.conf)", listed.join(", "));
            (config, opts, servers)
        }
    };
    // Two tries fit in the caller's deadline; nothing is kept between calls.
    opts.timeout = (timeout / 2).max(Duration::from_millis(50));
    opts.attempts = 2;
    opts.cache_size = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.try_tcp_on_error = true;
    Ok((config, opts, servers))
}

/// The SRV records among `answers`; a target of `.` says that the service is
/// not offered under that name (RFC 2782), so it names no broker.
pub fn srv_records(answers: &[Record]) -> Vec<SrvRecord> {
    answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::SRV(srv) if !srv.target.is_root() => Some(SrvRecord {
                host: srv.target.to_ascii().trim_end_matches('.').to_string(),
                port: srv.port,
                priority: srv.priority,
                weight: srv.weight,
            }),
            _ => None,
        })
        .collect()
}

/// What the server said about one name.
enum Answer {
    Records(Vec<SrvRecord>),
    /// NXDOMAIN, or the name exists without SRV records.
    None,
    /// The server answered with an error code (REFUSED, SERVFAIL...).
    Refused(String),
}

fn classify(
    result: Result<hickory_resolver::lookup::Lookup, NetError>,
) -> Result<Answer, NetError> {
    match result {
        Ok(lookup) => {
            let records = srv_records(lookup.answers());
            Ok(if records.is_empty() {
                Answer::None
            } else {
                Answer::Records(records)
            })
        }
        Err(e) if e.is_no_records_found() => Ok(Answer::None),
        Err(NetError::Dns(DnsError::ResponseCode(code))) => Ok(Answer::Refused(match code {
            ResponseCode::Refused => "REFUSED".to_string(),
            ResponseCode::ServFail => "SERVFAIL".to_string(),
            other => format!("{other} (rcode {})", u16::from(other)),
        })),
        Err(e) => Err(e),
    }
}

/// Looks the names up in order; the records of the first that has any.
/// `current` tells the caller which name was being looked up.
async fn lookup_first(
    names: &[Name],
    config: ResolverConfig,
    opts: ResolverOpts,
    servers: &str,
    current: &AtomicUsize,
) -> Result<Vec<SrvRecord>, Failure> {
    let resolver = Resolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts)
        .build()
        .map_err(|e| Failure::connection(format!("Cannot set up the DNS resolver: {e}")))?;
    let mut refused = None;
    for (index, name) in names.iter().enumerate() {
        current.store(index, Ordering::Relaxed);
        let shown = display(name);
        match classify(resolver.srv_lookup(name.clone()).await) {
            Ok(Answer::Records(records)) => return Ok(records),
            Ok(Answer::None) => {}
            Ok(Answer::Refused(code)) => {
                refused.get_or_insert(format!(
                    "The DNS server {servers} answered {code} to the SRV query for {shown} instead of records or NXDOMAIN: check plugin.choria.srv_domain and that DNS server"
                ));
            }
            Err(NetError::Timeout) => {
                return Err(Failure::timeout(format!(
                    "Cannot look up SRV {shown}: the DNS server {servers} did not answer"
                )))
            }
            Err(e) => {
                return Err(Failure::connection(format!(
                    "Cannot look up SRV {shown}: the DNS server {servers} cannot be reached ({e})"
                )))
            }
        }
    }
    match refused {
        Some(message) => Err(Failure::connection(message)),
        None => Ok(Vec::new()),
    }
}

fn display(name: &Name) -> String {
    name.to_ascii().trim_end_matches('.').to_string()
}

/// `ChoriaNats.srv_lookup(names, nameserver = nil, timeout = 5.0)`: the records
/// of the first name that has any, as `[[host, port, priority, weight], ...]`
/// in RFC 2782 order; `[]` when none has (NXDOMAIN, no SRV data). Raises
/// `ChoriaNats::TimeoutError` (a `ConnectionError`) when the DNS server does not
/// answer within `timeout` seconds (for all the names together), and
/// `ConnectionError` when it cannot be reached or answers every name with an
/// error code such as REFUSED or SERVFAIL.
fn srv_lookup(ruby: &Ruby, args: &[Value]) -> Result<Vec<(String, u16, u16, u16)>, Error> {
    let args =
        scan_args::<(Vec<String>,), (Option<Option<String>>, Option<Option<f64>>), (), (), (), ()>(
            args,
        )?;
    let (names,) = args.required;
    let (nameserver, timeout) = args.optional;
    let names = parse_names(&names).map_err(raise(ruby))?;
    let nameserver = nameserver
        .flatten()
        .map(|s| parse_nameserver(&s))
        .transpose()
        .map_err(raise(ruby))?;
    let timeout = timeout.flatten().unwrap_or(DEFAULT_TIMEOUT);
    if !timeout.is_finite() || timeout <= 0.0 || timeout > MAX_TIMEOUT {
        return Err(Failure::config(format!(
            "The SRV lookup timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT}, not {timeout}"
        ))
        .into_error(ruby));
    }
    let timeout = Duration::from_secs_f64(timeout);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::connection(format!("Cannot start the DNS lookup: {e}")).into_error(ruby)
        })?;
    let looking = resolve(&names, nameserver, timeout);
    let mut looking = pin!(looking);
    let result = loop {
        let interrupt = Notify::new();
        let ran = without_gvl(&interrupt, || {
            runtime.block_on(async {
                tokio::select! {
                    biased;
                    _ = interrupt.notified() => None,
                    out = &mut looking => Some(out),
                }
            })
        });
        match ran {
            Ran::Done(Some(out)) => break out,
            Ran::Done(None) | Ran::Skipped => ruby.thread_check_ints()?,
            Ran::Panicked(message) => {
                return Err(Failure::new(
                    Kind::Internal,
                    format!("Internal error in choria-nats (please report it): {message}"),
                )
                .into_error(ruby))
            }
        }
    };
    let records = result.map_err(raise(ruby))?;
    Ok(records
        .into_iter()
        .map(|r| (r.host, r.port, r.priority, r.weight))
        .collect())
}

pub fn define(_ruby: &Ruby, module: RModule) -> Result<(), Error> {
    module.define_module_function("srv_lookup", function!(srv_lookup, -1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn record(host: &str, priority: u16, weight: u16) -> SrvRecord {
        SrvRecord {
            host: host.to_string(),
            port: 4222,
            priority,
            weight,
        }
    }

    fn hosts(records: &[SrvRecord]) -> Vec<&str> {
        records.iter().map(|r| r.host.as_str()).collect()
    }

    #[test]
    fn priority_order_always_holds() {
        let records = vec![
            record("c", 30, 5),
            record("a1", 10, 0),
            record("b", 20, 100),
            record("a2", 10, 60),
            record("a3", 10, 40),
            record("b2", 20, 0),
        ];
        for seed in 0..500 {
            let ordered = rfc2782_order(records.clone(), &mut StdRng::seed_from_u64(seed));
            assert_eq!(ordered.len(), records.len());
            let priorities: Vec<u16> = ordered.iter().map(|r| r.priority).collect();
            assert_eq!(priorities, vec![10, 10, 10, 20, 20, 30], "seed {seed}");
            let mut seen = hosts(&ordered);
            seen.sort_unstable();
            assert_eq!(seen, vec!["a1", "a2", "a3", "b", "b2", "c"]);
        }
    }

    #[test]
    fn weights_bias_the_order() {
        let records = vec![record("light", 1, 10), record("heavy", 1, 90)];
        let mut rng = StdRng::seed_from_u64(2782);
        let runs = 10_000;
        let heavy_first = (0..runs)
            .filter(|_| rfc2782_order(records.clone(), &mut rng)[0].host == "heavy")
            .count();
        // Expected 90/101 of the time (the draw is in 0..=100, "light" takes 0..=10).
        let share = heavy_first as f64 / runs as f64;
        assert!((0.86..0.92).contains(&share), "heavy first in {share}");
    }

    #[test]
    fn weight_zero_has_a_small_chance() {
        let records = vec![record("zero", 1, 0), record("some", 1, 50)];
        let mut rng = StdRng::seed_from_u64(7);
        let runs = 20_000;
        let zero_first = (0..runs)
            .filter(|_| rfc2782_order(records.clone(), &mut rng)[0].host == "zero")
            .count();
        // Expected 1/51 (about 2%): rare, but not never.
        assert!(zero_first > 0, "a weight-0 record is never first");
        assert!(zero_first < runs / 25, "weight 0 first {zero_first} times");
    }

    #[test]
    fn all_zero_weights_give_every_record_a_fair_turn() {
        let records = vec![record("a", 1, 0), record("b", 1, 0), record("c", 1, 0)];
        let mut rng = StdRng::seed_from_u64(42);
        let runs = 9_000;
        let mut firsts = std::collections::HashMap::new();
        for _ in 0..runs {
            let first = rfc2782_order(records.clone(), &mut rng)[0].host.clone();
            *firsts.entry(first).or_insert(0) += 1;
        }
        for host in ["a", "b", "c"] {
            let count = firsts[host];
            assert!(
                (2_600..3_400).contains(&count),
                "{host} first {count} times"
            );
        }
    }

    #[test]
    fn ordering_keeps_nothing_and_loses_nothing() {
        let mut rng = StdRng::seed_from_u64(1);
        assert!(rfc2782_order(Vec::new(), &mut rng).is_empty());
        let one = vec![record("only", 0, 0)];
        assert_eq!(rfc2782_order(one.clone(), &mut rng), one);
    }

    #[test]
    fn nameservers_parse() {
        assert_eq!(
            parse_nameserver("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver(" [::1]:5353 ").unwrap(),
            "[::1]:5353".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("10.0.0.2").unwrap(),
            "10.0.0.2:53".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("::1").unwrap(),
            "[::1]:53".parse().unwrap()
        );
    }

    #[test]
    fn bad_nameservers_are_configuration_errors() {
        for bad in [
            "",
            "dns.example.net:53",
            "127.0.0.1:",
            "127.0.0.1:99999",
            "127.0.0.1:0",
            "::1:53:x",
            "[::1]",
        ] {
            let failure = parse_nameserver(bad).expect_err(bad);
            assert_eq!(failure.kind, Kind::Configuration, "{bad}");
            assert!(failure.message.contains("IP:PORT"), "{}", failure.message);
        }
    }

    #[test]
    fn srv_answers_give_their_targets_without_the_root_dot() {
        use hickory_resolver::proto::rr::rdata::{A, SRV};
        let owner = parse_name("_mcollective-server._tcp.example.net").unwrap();
        let srv = |priority, weight, port, target: &str| {
            Record::from_rdata(
                owner.clone(),
                60,
                RData::SRV(SRV::new(
                    priority,
                    weight,
                    port,
                    Name::from_str(target).unwrap(),
                )),
            )
        };
        let answers = vec![
            srv(10, 5, 4222, "nats1.example.net."),
            Record::from_rdata(owner.clone(), 60, RData::A(A::new(127, 0, 0, 1))),
            srv(0, 0, 4222, "."),
            srv(20, 0, 4223, "nats2.example.net"),
        ];
        assert_eq!(
            srv_records(&answers),
            vec![
                SrvRecord {
                    host: "nats1.example.net".to_string(),
                    port: 4222,
                    priority: 10,
                    weight: 5,
                },
                SrvRecord {
                    host: "nats2.example.net".to_string(),
                    port: 4223,
                    priority: 20,
                    weight: 0,
                },
            ]
        );
    }

    #[test]
    fn names_are_made_fully_qualified() {
        let name = parse_name("_mcollective-server._tcp.example.net").unwrap();
        assert!(name.is_fqdn());
        assert_eq!(display(&name), "_mcollective-server._tcp.example.net");
        assert!(parse_name("_x-puppet-mcollective._tcp.example.net.")
            .unwrap()
            .is_fqdn());
        assert_eq!(parse_name("").unwrap_err().kind, Kind::Configuration);
        assert_eq!(parse_name("a..b").unwrap_err().kind, Kind::Configuration);
        for escaped_dot in ["_mcollective-server._tcp.example.net\\", "_x\\."] {
            assert_eq!(
                parse_name(escaped_dot).unwrap_err().kind,
                Kind::Configuration,
                "{escaped_dot}"
            );
        }
    }
}
