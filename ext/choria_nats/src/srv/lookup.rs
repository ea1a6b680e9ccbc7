//! Asking DNS for SRV records with hickory-resolver: the resolver set up for
//! one lookup, every name asked at once and their records merged, the answer
//! capped, and every failure explained with the DNS server it concerns.

use super::names::display;
use super::order::{rfc2782_order, SrvRecord};
use crate::errors::{Category, Failure};
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, Record};
use hickory_resolver::Resolver;
use std::net::SocketAddr;
use std::time::Duration;

/// The most SRV records taken from one lookup: DNS can lie, and a forged
/// answer must not grow the server pool without bound.
pub const MAX_RECORDS: usize = 32;

/// The records of one lookup, and those left out.
#[derive(Debug, Default, PartialEq)]
pub struct Answer {
    /// In RFC 2782 order, at most `MAX_RECORDS`.
    pub records: Vec<SrvRecord>,
    /// `host:port` of the records beyond `MAX_RECORDS`, in the order they would have been tried.
    pub ignored: Vec<String>,
    /// Why a name gave no answer while another did: the records are then
    /// only part of what DNS lists.
    pub partial: Option<String>,
}

/// Looks every name of `names` up within `timeout` and returns their
/// records together (see `merge`); empty when none has any. A name whose
/// server refuses it, or that has not answered by the deadline, is left out
/// when another name gave records.
pub async fn resolve(
    names: &[Name],
    nameserver: Option<SocketAddr>,
    timeout: Duration,
) -> Result<Answer, Failure> {
    if names.is_empty() {
        return Ok(Answer::default());
    }
    let (config, opts, servers) = resolver_config(nameserver, timeout)?;
    let resolver = Resolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts)
        .build()
        .map_err(|e| Failure::connection(format!("Cannot set up the DNS resolver: {e}")))?;
    let deadline = tokio::time::Instant::now() + timeout;
    let answers = futures_util::future::join_all(names.iter().map(|name| {
        let resolver = &resolver;
        let servers = servers.as_str();
        async move {
            match tokio::time::timeout_at(deadline, ask(resolver, name, servers)).await {
                Ok(result) => result,
                Err(_) => Err(Failure::timeout(format!(
                    "Cannot look up SRV {}: the DNS server {servers} did not answer within {:.1}s",
                    display(name),
                    timeout.as_secs_f64()
                ))),
            }
        }
    }))
    .await;
    let mut records = Vec::new();
    let mut first_failure = None;
    for answer in answers {
        match answer {
            Ok(found) => records.push(found),
            // A timeout says more than a refusal: the server is not there.
            Err(failure) => match &first_failure {
                Some(Failure {
                    kind: Category::Timeout,
                    ..
                }) => {}
                Some(_) if failure.kind != Category::Timeout => {}
                _ => first_failure = Some(failure),
            },
        }
    }
    let merged = merge(records);
    match first_failure {
        Some(failure) if merged.is_empty() => Err(failure),
        partial => Ok(Answer {
            partial: partial.map(|failure| failure.message),
            ..take(rfc2782_order(merged, &mut rand::rng()))
        }),
    }
}

/// The records of several names as one set: a `host:port` listed more than
/// once is kept once, with its lowest priority and, at that priority, its
/// highest weight.
pub fn merge(answers: Vec<Vec<SrvRecord>>) -> Vec<SrvRecord> {
    let mut merged: Vec<SrvRecord> = Vec::new();
    for record in answers.into_iter().flatten() {
        match merged
            .iter_mut()
            .find(|r| r.host.eq_ignore_ascii_case(&record.host) && r.port == record.port)
        {
            Some(kept) => {
                if (record.priority, u16::MAX - record.weight)
                    < (kept.priority, u16::MAX - kept.weight)
                {
                    *kept = record;
                }
            }
            None => merged.push(record),
        }
    }
    merged
}

/// The first `MAX_RECORDS` of ordered records, and the rest named.
fn take(mut ordered: Vec<SrvRecord>) -> Answer {
    let rest = ordered.split_off(ordered.len().min(MAX_RECORDS));
    Answer {
        records: ordered,
        ignored: rest
            .iter()
            .map(|r| format!("{}:{}", r.host, r.port))
            .collect(),
        partial: None,
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
enum Said {
    Records(Vec<SrvRecord>),
    /// NXDOMAIN, or the name exists without SRV records.
    None,
    /// The server answered with an error code (REFUSED, SERVFAIL...).
    Refused(String),
}

fn classify(result: Result<hickory_resolver::lookup::Lookup, NetError>) -> Result<Said, NetError> {
    match result {
        Ok(lookup) => {
            let records = srv_records(lookup.answers());
            Ok(if records.is_empty() {
                Said::None
            } else {
                Said::Records(records)
            })
        }
        Err(e) if e.is_no_records_found() => Ok(Said::None),
        Err(NetError::Dns(DnsError::ResponseCode(code))) => Ok(Said::Refused(match code {
            ResponseCode::Refused => "REFUSED".to_string(),
            ResponseCode::ServFail => "SERVFAIL".to_string(),
            other => format!("{other} (rcode {})", u16::from(other)),
        })),
        Err(e) => Err(e),
    }
}

/// The records of one name; none for NXDOMAIN or no SRV data.
async fn ask(
    resolver: &Resolver<TokioRuntimeProvider>,
    name: &Name,
    servers: &str,
) -> Result<Vec<SrvRecord>, Failure> {
    let shown = display(name);
    match classify(resolver.srv_lookup(name.clone()).await) {
        Ok(Said::Records(records)) => Ok(records),
        Ok(Said::None) => Ok(Vec::new()),
        Ok(Said::Refused(code)) => Err(Failure::connection(format!(
            "The DNS server {servers} answered {code} to the SRV query for {shown} instead of records or NXDOMAIN: check plugin.choria.srv_domain and that DNS server"
        ))),
        Err(NetError::Timeout) => Err(Failure::timeout(format!(
            "Cannot look up SRV {shown}: the DNS server {servers} did not answer"
        ))),
        Err(e) => Err(Failure::connection(format!(
            "Cannot look up SRV {shown}: the DNS server {servers} cannot be reached ({e})"
        ))),
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

    fn record(host: &str, port: u16, priority: u16, weight: u16) -> SrvRecord {
        SrvRecord {
            host: host.to_string(),
            port,
            priority,
            weight,
        }
    }

    #[test]
    fn the_records_of_every_name_are_merged_and_a_duplicate_kept_once() {
        let merged = merge(vec![
            vec![
                record("a.example.net", 4222, 10, 5),
                record("b.example.net", 4222, 10, 5),
            ],
            vec![
                record("A.example.net", 4222, 20, 50),
                record("b.example.net", 4222, 10, 60),
                record("c.example.net", 4222, 30, 0),
                record("a.example.net", 4223, 10, 5),
            ],
        ]);
        assert_eq!(
            merged,
            vec![
                record("a.example.net", 4222, 10, 5),
                record("b.example.net", 4222, 10, 60),
                record("c.example.net", 4222, 30, 0),
                record("a.example.net", 4223, 10, 5),
            ]
        );
    }

    #[test]
    fn at_most_max_records_are_taken_and_the_rest_named() {
        let ordered: Vec<_> = (0..MAX_RECORDS as u16 + 3)
            .map(|i| record(&format!("h{i}"), 4222, i, 0))
            .collect();
        let answer = take(ordered);
        assert_eq!(answer.records.len(), MAX_RECORDS);
        assert_eq!(answer.records[0].host, "h0");
        assert_eq!(answer.ignored, vec!["h32:4222", "h33:4222", "h34:4222"]);
        assert!(take(vec![record("only", 1, 0, 0)]).ignored.is_empty());
    }
}
