//! The brokers a connection may use, where each came from, and which to try
//! next. async-nats keeps its own pool for reconnects; this one decides, through
//! its reconnect callback, which server each attempt goes to, so that every log
//! line and error can name the server and its source.

use crate::address::parse_address;
use crate::errors::Failure;
use async_nats::ServerAddr;
use rand::seq::SliceRandom;
use rand::Rng;

/// Where a server announced by the cluster came from.
pub const SOURCE_CLUSTER: &str = "cluster";
/// Where a server from DNS SRV records came from.
pub const SOURCE_SRV: &str = "srv";
/// Where the `puppet:4222` fall-back came from.
pub const SOURCE_DEFAULT: &str = "default";

#[derive(Debug, Clone)]
pub struct Entry {
    pub addr: ServerAddr,
    /// `host:port`, as operators write it.
    pub label: String,
    /// `config`, `srv`, `default`, `cluster`, or what the caller said.
    pub source: String,
    /// Failed attempts since the last success.
    pub failures: u32,
    pub last_error: Option<String>,
}

impl Entry {
    /// `host:port (source)`.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.label, self.source)
    }
}

/// What a fresh SRV answer changed in the pool.
#[derive(Debug, Default, PartialEq)]
pub struct SrvChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Records that are not a usable address, each with why; the others are used.
    pub refused: Vec<String>,
}

#[derive(Debug)]
pub struct ServerPool {
    entries: Vec<Entry>,
    /// The server of the current or latest attempt; none before the first.
    current: Option<usize>,
    /// Failed attempts in a row, on any server.
    consecutive_failures: u32,
}

impl ServerPool {
    /// A pool of `(address, source)` pairs, shuffled when `randomize` is set so
    /// that a fleet spreads over its brokers.
    pub fn new(
        specs: &[(String, String)],
        randomize: bool,
        rng: &mut impl Rng,
    ) -> Result<Self, Failure> {
        if specs.is_empty() {
            return Err(Failure::config(
                "no NATS servers given: set plugin.choria.middleware_hosts, publish SRV records, or pass servers",
            ));
        }
        let mut entries = Vec::with_capacity(specs.len());
        for (spec, source) in specs {
            let (addr, label) = parse_address(spec)?;
            if entries.iter().any(|e: &Entry| e.addr == addr) {
                continue;
            }
            entries.push(Entry {
                addr,
                label,
                source: source.clone(),
                failures: 0,
                last_error: None,
            });
        }
        if randomize {
            entries.shuffle(rng);
        }
        Ok(ServerPool {
            entries,
            current: None,
            consecutive_failures: 0,
        })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Never true: `new` refuses an empty pool and nothing removes the last.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The server of the current or latest attempt.
    pub fn current(&self) -> &Entry {
        &self.entries[self.current.unwrap_or(0)]
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// Adds servers the cluster announced; returns the labels added.
    pub fn merge_discovered<'a>(
        &mut self,
        addrs: impl Iterator<Item = &'a ServerAddr>,
    ) -> Vec<String> {
        let mut added = Vec::new();
        for addr in addrs {
            if self.entries.iter().any(|e| &e.addr == addr) {
                continue;
            }
            let label = format!("{}:{}", addr.host(), addr.port());
            let label = if addr.host().contains(':') {
                format!("[{}]:{}", addr.host(), addr.port())
            } else {
                label
            };
            added.push(label.clone());
            self.entries.push(Entry {
                addr: addr.clone(),
                label,
                source: SOURCE_CLUSTER.to_string(),
                failures: 0,
                last_error: None,
            });
        }
        added
    }

    /// Takes a fresh SRV answer (`host:port` in order): servers that came from
    /// SRV or the default and are no longer listed leave the pool, except the
    /// current server while it has not failed since it was connected; new
    /// ones join with source `srv`; configured and announced servers stay.
    /// Returns the labels added and removed.
    /// `complete` is false when the answer is only part of what DNS lists
    /// (a name did not answer): servers are then added, never removed.
    pub fn refresh_srv(&mut self, specs: &[String], complete: bool) -> SrvChange {
        let mut change = SrvChange::default();
        let mut fresh = Vec::with_capacity(specs.len());
        for spec in specs {
            match parse_address(spec) {
                Ok(parsed) => fresh.push(parsed),
                Err(failure) => change.refused.push(failure.message),
            }
        }
        if fresh.is_empty() {
            return change;
        }
        let connected = self
            .current
            .filter(|&c| self.entries[c].failures == 0)
            .map(|c| self.entries[c].addr.clone());
        self.entries.retain(|e| {
            let stays = !complete
                || !(e.source == SOURCE_SRV || e.source == SOURCE_DEFAULT)
                || fresh.iter().any(|(addr, _)| addr == &e.addr)
                || connected.as_ref() == Some(&e.addr);
            if !stays {
                change.removed.push(e.label.clone());
            }
            stays
        });
        for (addr, label) in fresh {
            if self.entries.iter().any(|e| e.addr == addr) {
                continue;
            }
            change.added.push(label.clone());
            self.entries.push(Entry {
                addr,
                label,
                source: SOURCE_SRV.to_string(),
                failures: 0,
                last_error: None,
            });
        }
        self.current = connected.and_then(|addr| self.entries.iter().position(|e| e.addr == addr));
        change
    }

    /// Picks the server for the next attempt: the fewest failures since its
    /// last success, ties in pool order after the current one, so failing
    /// servers are tried in turn and a healthy one is preferred.
    pub fn choose(&mut self) -> &Entry {
        let n = self.entries.len();
        let start = self.current.map_or(0, |c| (c + 1) % n);
        let best = (0..n)
            .map(|i| (start + i) % n)
            .min_by_key(|&i| self.entries[i].failures)
            .unwrap_or(0);
        self.current = Some(best);
        &self.entries[best]
    }

    /// Records that the attempt on the current server failed.
    pub fn record_failure(&mut self, error: String) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let entry = &mut self.entries[self.current.unwrap_or(0)];
        entry.failures = entry.failures.saturating_add(1);
        entry.last_error = Some(error);
    }

    /// Records that the current server accepted us.
    pub fn record_success(&mut self) {
        self.consecutive_failures = 0;
        let entry = &mut self.entries[self.current.unwrap_or(0)];
        entry.failures = 0;
        entry.last_error = None;
    }

    /// `a:4222 (config), b:4222 (cluster)`, for log lines.
    pub fn describe(&self) -> String {
        self.entries
            .iter()
            .map(Entry::describe)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn pool(specs: &[&str]) -> ServerPool {
        let specs: Vec<_> = specs
            .iter()
            .map(|s| (s.to_string(), "config".to_string()))
            .collect();
        ServerPool::new(&specs, false, &mut StdRng::seed_from_u64(1)).unwrap()
    }

    #[test]
    fn refuses_an_empty_pool() {
        let err = ServerPool::new(&[], true, &mut StdRng::seed_from_u64(1)).unwrap_err();
        assert!(err.message.contains("no NATS servers"));
    }

    #[test]
    fn drops_duplicates_and_keeps_order_unless_randomized() {
        let p = pool(&["a:1", "b:1", "a:1", "c:1"]);
        let labels: Vec<_> = p.entries().iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels, ["a:1", "b:1", "c:1"]);
    }

    #[test]
    fn randomizing_spreads_first_choices() {
        let specs: Vec<_> = ["a:1", "b:1", "c:1"]
            .iter()
            .map(|s| (s.to_string(), "srv".to_string()))
            .collect();
        let mut rng = StdRng::seed_from_u64(9);
        let firsts: std::collections::HashSet<_> = (0..50)
            .map(|_| {
                let mut p = ServerPool::new(&specs, true, &mut rng).unwrap();
                p.choose().label.clone()
            })
            .collect();
        assert_eq!(firsts.len(), 3);
    }

    #[test]
    fn tries_failing_servers_in_turn_and_prefers_healthy_ones() {
        let mut p = pool(&["a:1", "b:1", "c:1"]);
        assert_eq!(p.choose().label, "a:1");
        p.record_failure("refused".into());
        assert_eq!(p.choose().label, "b:1");
        p.record_failure("refused".into());
        assert_eq!(p.choose().label, "c:1");
        p.record_failure("refused".into());
        assert_eq!(p.consecutive_failures(), 3);
        assert_eq!(p.choose().label, "a:1");
        p.record_success();
        assert_eq!(p.consecutive_failures(), 0);
        assert_eq!(p.choose().label, "a:1");
    }

    #[test]
    fn a_fresh_srv_answer_replaces_srv_and_default_servers_only() {
        let specs: Vec<_> = [
            ("puppet:4222", "default"),
            ("c:1", "config"),
            ("old:1", "srv"),
        ]
        .iter()
        .map(|(a, s)| (a.to_string(), s.to_string()))
        .collect();
        let mut p = ServerPool::new(&specs, false, &mut StdRng::seed_from_u64(1)).unwrap();
        let change = p.refresh_srv(&["new1:4222".into(), "old:1".into()], true);
        assert_eq!(change.added, vec!["new1:4222".to_string()]);
        assert_eq!(change.removed, vec!["puppet:4222".to_string()]);
        assert_eq!(p.describe(), "c:1 (config), old:1 (srv), new1:4222 (srv)");
        assert_eq!(p.refresh_srv(&[], true), SrvChange::default());
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn the_connected_server_stays_until_it_fails_even_when_dns_drops_it() {
        let specs: Vec<_> = [("a:1", "srv"), ("b:1", "srv"), ("c:1", "config")]
            .iter()
            .map(|(a, s)| (a.to_string(), s.to_string()))
            .collect();
        let mut p = ServerPool::new(&specs, false, &mut StdRng::seed_from_u64(1)).unwrap();
        assert_eq!(p.choose().label, "a:1");
        p.record_success();
        let change = p.refresh_srv(&["d:1".into()], true);
        assert_eq!(change.removed, vec!["b:1".to_string()]);
        assert_eq!(p.describe(), "a:1 (srv), c:1 (config), d:1 (srv)");
        assert_eq!(p.current().label, "a:1");
        p.record_failure("refused".into());
        let change = p.refresh_srv(&["d:1".into()], true);
        assert_eq!(change.removed, vec!["a:1".to_string()]);
        assert!(change.added.is_empty());
        assert_eq!(p.describe(), "c:1 (config), d:1 (srv)");
    }

    #[test]
    fn a_partial_answer_adds_and_never_removes() {
        let specs: Vec<_> = [("a:1", "srv"), ("b:1", "srv")]
            .iter()
            .map(|(a, s)| (a.to_string(), s.to_string()))
            .collect();
        let mut p = ServerPool::new(&specs, false, &mut StdRng::seed_from_u64(1)).unwrap();
        let change = p.refresh_srv(&["c:1".into()], false);
        assert_eq!(change.added, vec!["c:1".to_string()]);
        assert!(change.removed.is_empty());
        assert_eq!(p.describe(), "a:1 (srv), b:1 (srv), c:1 (srv)");
    }

    #[test]
    fn an_unusable_record_is_refused_alone() {
        let specs: Vec<_> = [("a:1", "srv")]
            .iter()
            .map(|(a, s)| (a.to_string(), s.to_string()))
            .collect();
        let mut p = ServerPool::new(&specs, false, &mut StdRng::seed_from_u64(1)).unwrap();
        let change = p.refresh_srv(&["bad\\name:1".into(), "b:1".into()], true);
        assert_eq!(change.refused.len(), 1, "{:?}", change.refused);
        assert_eq!(change.added, vec!["b:1".to_string()]);
        assert_eq!(p.describe(), "b:1 (srv)");
    }

    #[test]
    fn merges_announced_servers_once_as_cluster_members() {
        let mut p = pool(&["a:1"]);
        let announced: Vec<ServerAddr> =
            vec!["nats://a:1".parse().unwrap(), "nats://d:2".parse().unwrap()];
        assert_eq!(
            p.merge_discovered(announced.iter()),
            vec!["d:2".to_string()]
        );
        assert!(p.merge_discovered(announced.iter()).is_empty());
        assert_eq!(p.describe(), "a:1 (config), d:2 (cluster)");
    }
}
