//! Asking DNS for SRV records with hickory-resolver: the resolver set up for
//! one lookup, the names tried in order, the answers read and every failure
//! explained with the DNS server it concerns.

use super::names::display;
use super::order::{rfc2782_order, SrvRecord};
use crate::errors::Failure;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, Record};
use hickory_resolver::Resolver;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

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

#[cfg(test)]
mod tests {
    use super::super::names::parse_name;
    use super::*;
    use std::str::FromStr;

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
}
