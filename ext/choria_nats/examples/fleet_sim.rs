//! `fleet_sim`: a fleet of simulated `mcollectived` nodes in one process,
//! for `sim/run.rb`.
//!
//! Each node has its own verified-TLS NATS connection, made by this crate's
//! own code: `Settings` (with `InitialRetry::Forever`, as the daemon runs),
//! `ServerPool`, `Shared` and `connect::initial`, so its reconnects go through
//! the gem's reconnect callback and back-off policy, not a copy of them.
//! `--policy baseline` gives each node a bare async-nats client with the same
//! TLS setup and async-nats' default reconnect policy instead.
//!
//! Every node subscribes as a node does, to `<collective>.node.<identity>`
//! and `<collective>.broadcast.agent.<agent>`; it counts what arrives on
//! each, and answers a broadcast that has a reply subject with `replies`
//! `choria:transport:1` reply envelopes of ~600 bytes.
//!
//! ```text
//! fleet_sim --server HOST:PORT[,HOST:PORT...] --ca CA --cert CERT --key KEY --nodes N
//!           [--policy choria|baseline] [--collective mcollective] [--agent rpcutil]
//!           [--connect-timeout S] [--reconnect-initial S] [--reconnect-max S]
//!           [--reconnect-spread S] [--setup-concurrency 64] [--workers 2]
//! ```
//!
//! Several servers make each node's pool, shuffled as the gem shuffles
//! `plugin.choria.middleware_hosts` (`randomize`, on by default).
//!
//! Identities are `node00000.example.net` ... Commands, one a line on stdin,
//! each answered with one JSON line on stdout:
//!
//! ```text
//! mark                forget who came back: each node's next connect is its return
//! wait_back SECONDS [N]  when N nodes (all by default) are back since `mark`,
//!                     or SECONDS passed: the return time of each (CLOCK_MONOTONIC seconds)
//! where               the connected nodes by the broker (`host:port`) they are on,
//!                     all and those back since `mark`
//! expect D B SECONDS  when every node has received D direct and B broadcast
//!                     messages in all, or SECONDS passed: the counts
//! replies K           answer each broadcast with a reply subject K times
//! quit
//! ```
//!
//! It never calls Ruby, though the crate links libruby.

use async_nats::{Client, ConnectOptions, Event, Server};
use choria_nats::backoff::FailureKind;
use choria_nats::connect;
use choria_nats::server_pool::ServerPool;
use choria_nats::settings::{InitialRetry, Settings};
use choria_nats::shared::Shared;
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify, Semaphore};

type Result<T> = std::result::Result<T, String>;

/// CLOCK_MONOTONIC in nanoseconds: the clock Ruby's
/// `Process.clock_gettime(Process::CLOCK_MONOTONIC)` reads, so the driver
/// can compare our timestamps with its own.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid pointer given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[derive(Clone, Copy, PartialEq)]
enum Policy {
    Choria,
    Baseline,
}

struct Args {
    /// Comma-separated `host:port`s.
    server: String,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    nodes: usize,
    policy: Policy,
    collective: String,
    agent: String,
    connect_timeout: Option<f64>,
    initial: Option<f64>,
    max: Option<f64>,
    spread: Option<f64>,
    setup_concurrency: usize,
    workers: usize,
}

fn parse_args() -> Result<Args> {
    let mut values: HashMap<String, String> = HashMap::new();
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let name = flag
            .strip_prefix("--")
            .ok_or_else(|| format!("expected --option, got {flag:?}"))?;
        let value = argv
            .next()
            .ok_or_else(|| format!("--{name} needs a value"))?;
        values.insert(name.to_string(), value);
    }
    let text = |name: &str| -> Result<String> {
        values
            .get(name)
            .cloned()
            .ok_or_else(|| format!("--{name} is required"))
    };
    let number = |name: &str| -> Result<Option<f64>> {
        values
            .get(name)
            .map(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .ok_or_else(|| format!("--{name} {v:?} is not a positive number"))
            })
            .transpose()
    };
    let count = |name: &str, default: usize| -> Result<usize> {
        values.get(name).map_or(Ok(default), |v| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("--{name} {v:?} is not a positive whole number"))
        })
    };
    let known = [
        "server",
        "ca",
        "cert",
        "key",
        "nodes",
        "policy",
        "collective",
        "agent",
        "connect-timeout",
        "reconnect-initial",
        "reconnect-max",
        "reconnect-spread",
        "setup-concurrency",
        "workers",
    ];
    if let Some(unknown) = values.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("unknown option --{unknown}"));
    }
    let policy = match values.get("policy").map(String::as_str) {
        None | Some("choria") => Policy::Choria,
        Some("baseline") => Policy::Baseline,
        Some(other) => {
            return Err(format!(
                "--policy must be choria or baseline, not {other:?}"
            ))
        }
    };
    Ok(Args {
        server: text("server")?,
        ca: PathBuf::from(text("ca")?),
        cert: PathBuf::from(text("cert")?),
        key: PathBuf::from(text("key")?),
        nodes: count("nodes", 0).and_then(|n| {
            if values.contains_key("nodes") {
                Ok(n)
            } else {
                Err("--nodes is required".to_string())
            }
        })?,
        policy,
        collective: values
            .get("collective")
            .cloned()
            .unwrap_or_else(|| "mcollective".into()),
        agent: values
            .get("agent")
            .cloned()
            .unwrap_or_else(|| "rpcutil".into()),
        connect_timeout: number("connect-timeout")?,
        initial: number("reconnect-initial")?,
        max: number("reconnect-max")?,
        spread: number("reconnect-spread")?,
        setup_concurrency: count("setup-concurrency", 64)?,
        workers: count("workers", 2)?,
    })
}

/// What one node saw.
#[derive(Default)]
struct Node {
    connects: AtomicU32,
    /// Disconnects since `mark`.
    disconnects: AtomicU32,
    /// When it connected first after `mark` (ns), 0 before.
    back_at: AtomicU64,
    direct: AtomicU32,
    broadcast: AtomicU32,
}

struct Fleet {
    nodes: Vec<Node>,
    marked: AtomicBool,
    back: AtomicUsize,
    back_changed: Notify,
    replies: AtomicU32,
    replies_sent: AtomicU64,
    /// Failed reconnect attempts since `mark` by kind, for the baseline (the
    /// gem's own `Shared`s count theirs).
    baseline_failures: [AtomicU64; 3],
    /// async-nats' client errors since `mark`, by text.
    client_errors: Mutex<BTreeMap<String, u64>>,
}

impl Fleet {
    fn on_event(&self, node: usize, event: &Event) {
        let state = &self.nodes[node];
        match event {
            Event::Connected => {
                let connects = state.connects.fetch_add(1, Ordering::Relaxed) + 1;
                if connects > 1
                    && self.marked.load(Ordering::Acquire)
                    && state
                        .back_at
                        .compare_exchange(0, monotonic_ns(), Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
                {
                    // Each return wakes `wait_back`, which may wait for only
                    // the nodes of one broker.
                    self.back.fetch_add(1, Ordering::AcqRel);
                    self.back_changed.notify_one();
                }
            }
            Event::Disconnected => {
                state.disconnects.fetch_add(1, Ordering::Relaxed);
            }
            Event::ClientError(error) if self.marked.load(Ordering::Acquire) => {
                *self
                    .client_errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(error.to_string())
                    .or_default() += 1;
            }
            _ => {}
        }
    }

    /// The baseline's reconnect callback: counts the previous attempt's
    /// failure, then leaves the choice (and the delay) to async-nats.
    fn baseline_choice(&self, servers: &[Server]) {
        if !self.marked.load(Ordering::Acquire) {
            return;
        }
        for server in servers.iter().filter(|s| s.did_connect) {
            if let (true, Some(error)) = (server.failed_attempts > 0, &server.last_error) {
                let kind = FailureKind::classify(error);
                self.baseline_failures[kind as usize].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn mark(&self) {
        self.marked.store(false, Ordering::Release);
        for node in &self.nodes {
            node.back_at.store(0, Ordering::Relaxed);
            node.disconnects.store(0, Ordering::Relaxed);
        }
        for counter in &self.baseline_failures {
            counter.store(0, Ordering::Relaxed);
        }
        self.client_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.back.store(0, Ordering::Release);
        self.marked.store(true, Ordering::Release);
    }
}

fn base64_lines(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut flat = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                flat.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                flat.push('=');
            }
        }
    }
    let mut lines = String::with_capacity(flat.len() + flat.len() / 60 + 1);
    for line in flat.as_bytes().chunks(60) {
        lines.push_str(&String::from_utf8_lossy(line));
        lines.push('\n');
    }
    lines
}

fn identity(node: usize) -> String {
    format!("node{node:05}.example.net")
}

/// A reply as a node's rpcutil agent sends it through the choria security
/// plugin: ~600 bytes of `choria:transport:1` envelope.
fn reply_envelope(node: usize, n: u32) -> Vec<u8> {
    let sender = identity(node);
    let body = format!(
        "{{\"statuscode\":0,\"statusmsg\":\"OK\",\"data\":{{\"pong\":{node},\"reply\":{n}}},\"sender\":\"{sender}\",\"padding\":\"{}\"}}",
        "x".repeat(300)
    );
    let data = base64_lines(body.as_bytes()).replace('\n', "\\n");
    format!(
        "{{\"protocol\":\"choria:transport:1\",\"data\":\"{data}\",\"headers\":{{\"mc_sender\":\"{sender}\"}}}}"
    )
    .into_bytes()
}

/// One node: connects, subscribes, and serves until its subscriptions end.
async fn start_node(
    node: usize,
    args: Arc<Args>,
    fleet: Arc<Fleet>,
) -> Result<(Client, Option<Arc<Shared>>)> {
    let name = identity(node);
    let (client, shared) = match args.policy {
        Policy::Choria => {
            let servers = args
                .server
                .split(',')
                .map(|s| (s.trim().to_string(), "config".to_string()))
                .collect();
            let mut settings = Settings::new(
                servers,
                args.ca.clone(),
                args.cert.clone(),
                args.key.clone(),
            );
            settings.name = Some(name.clone());
            settings.initial_retry = InitialRetry::Forever;
            if let Some(s) = args.connect_timeout {
                settings.connect_timeout = Duration::from_secs_f64(s);
            }
            if let Some(s) = args.initial {
                settings.backoff.initial = Duration::from_secs_f64(s);
            }
            if let Some(s) = args.max {
                settings.backoff.max = Duration::from_secs_f64(s);
            }
            if let Some(s) = args.spread {
                settings.backoff.spread = Duration::from_secs_f64(s);
            }
            let pool = ServerPool::new(&settings.servers, settings.randomize, &mut rand::rng())
                .map_err(|f| f.to_string())?;
            let shared = Shared::new(pool, settings.backoff);
            let observed = Arc::clone(&fleet);
            shared.observe(Box::new(move |event| observed.on_event(node, event)));
            let connected = connect::initial(&settings, &shared)
                .await
                .map_err(|f| format!("{name}: {f}"))?;
            (connected.client, Some(shared))
        }
        Policy::Baseline => {
            let events = Arc::clone(&fleet);
            let chooser = Arc::clone(&fleet);
            let mut options = ConnectOptions::new()
                .require_tls(true)
                .add_root_certificates(args.ca.clone())
                .add_client_certificate(args.cert.clone(), args.key.clone())
                .name(&name)
                .event_callback(move |event| {
                    events.on_event(node, &event);
                    async {}
                })
                .reconnect_to_server_callback(move |servers, _info| {
                    chooser.baseline_choice(&servers);
                    async { None }
                });
            if let Some(s) = args.connect_timeout {
                options = options.connection_timeout(Duration::from_secs_f64(s));
            }
            let servers = args
                .server
                .split(',')
                .map(|s| s.trim().parse::<async_nats::ServerAddr>())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| format!("--server {:?}: {e}", args.server))?;
            let client = options
                .connect(servers)
                .await
                .map_err(|e| format!("{name}: {e}"))?;
            // async-nats sends its first Connected event only to the callback.
            (client, None)
        }
    };
    let direct_subject = format!("{}.node.{name}", args.collective);
    let broadcast_subject = format!("{}.broadcast.agent.{}", args.collective, args.agent);
    let mut direct = client
        .subscribe(direct_subject.clone())
        .await
        .map_err(|e| format!("{name}: subscribe {direct_subject}: {e}"))?;
    let mut broadcast = client
        .subscribe(broadcast_subject.clone())
        .await
        .map_err(|e| format!("{name}: subscribe {broadcast_subject}: {e}"))?;
    tokio::time::timeout(Duration::from_secs(60), client.flush())
        .await
        .map_err(|_| format!("{name}: flush timed out"))?
        .map_err(|e| format!("{name}: flush: {e}"))?;
    let replier = client.clone();
    tokio::spawn(async move {
        let state = &fleet.nodes[node];
        loop {
            tokio::select! {
                message = direct.next() => match message {
                    Some(_) => { state.direct.fetch_add(1, Ordering::Relaxed); }
                    None => break,
                },
                message = broadcast.next() => match message {
                    Some(message) => {
                        state.broadcast.fetch_add(1, Ordering::Relaxed);
                        if let Some(reply) = message.reply {
                            let k = fleet.replies.load(Ordering::Relaxed);
                            for n in 0..k {
                                if replier.publish(reply.clone(), reply_envelope(node, n).into()).await.is_ok() {
                                    fleet.replies_sent.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                    }
                    None => break,
                },
            }
        }
    });
    Ok((client, shared))
}

fn times_json(fleet: &Fleet) -> String {
    let times: Vec<String> = fleet
        .nodes
        .iter()
        .filter_map(|n| match n.back_at.load(Ordering::Acquire) {
            0 => None,
            ns => Some(format!("{:.4}", ns as f64 / 1e9)),
        })
        .collect();
    format!("[{}]", times.join(","))
}

fn failures_json(fleet: &Fleet, links: &[Arc<Shared>], before: &[u64; 3]) -> String {
    let parts: Vec<String> = FailureKind::ALL
        .iter()
        .map(|kind| {
            let n = if links.is_empty() {
                fleet.baseline_failures[*kind as usize].load(Ordering::Relaxed)
            } else {
                links.iter().map(|l| l.failures(*kind)).sum::<u64>() - before[*kind as usize]
            };
            format!("\"{}\":{n}", kind.name())
        })
        .collect();
    let errors = fleet
        .client_errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(k, v)| format!("\"{}\":{v}", k.replace('"', "'")))
        .collect::<Vec<_>>()
        .join(",");
    format!(
        "\"failures\":{{{}}},\"client_errors\":{{{errors}}}",
        parts.join(",")
    )
}

/// The connected nodes by broker, all of them and those back since `mark`.
fn where_json(fleet: &Fleet, clients: &[Client]) -> String {
    let mut all: BTreeMap<String, usize> = BTreeMap::new();
    let mut moved: BTreeMap<String, usize> = BTreeMap::new();
    for (node, client) in clients.iter().enumerate() {
        if client.connection_state() != async_nats::connection::State::Connected {
            continue;
        }
        let info = client.server_info();
        let broker = format!("{}:{}", info.host, info.port);
        if fleet.nodes[node].back_at.load(Ordering::Acquire) != 0 {
            *moved.entry(broker.clone()).or_default() += 1;
        }
        *all.entry(broker).or_default() += 1;
    }
    let object = |counts: &BTreeMap<String, usize>| {
        counts
            .iter()
            .map(|(broker, n)| format!("\"{broker}\":{n}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "{{\"event\":\"where\",\"connected\":{},\"brokers\":{{{}}},\"moved\":{{{}}}}}",
        all.values().sum::<usize>(),
        object(&all),
        object(&moved)
    )
}

async fn serve(args: Arc<Args>) -> Result<()> {
    let fleet = Arc::new(Fleet {
        nodes: (0..args.nodes).map(|_| Node::default()).collect(),
        marked: AtomicBool::new(false),
        back: AtomicUsize::new(0),
        back_changed: Notify::new(),
        replies: AtomicU32::new(1),
        replies_sent: AtomicU64::new(0),
        baseline_failures: Default::default(),
        client_errors: Mutex::new(BTreeMap::new()),
    });

    // Connect every node, a bounded number at a time: setting up is not the
    // storm being measured.
    let started = monotonic_ns();
    let gate = Arc::new(Semaphore::new(args.setup_concurrency));
    let mut starting = tokio::task::JoinSet::new();
    for node in 0..args.nodes {
        let (args, fleet, gate) = (Arc::clone(&args), Arc::clone(&fleet), Arc::clone(&gate));
        starting.spawn(async move {
            let _permit = gate.acquire_owned().await.map_err(|e| e.to_string())?;
            start_node(node, args, fleet).await.map(|c| (node, c))
        });
    }
    let mut clients: Vec<Option<Client>> = vec![None; args.nodes];
    let mut links: Vec<Arc<Shared>> = Vec::new();
    while let Some(done) = starting.join_next().await {
        let (node, (client, shared)) = done.map_err(|e| format!("a node task failed: {e}"))??;
        clients[node] = Some(client);
        links.extend(shared);
    }
    let clients: Vec<Client> = clients.into_iter().flatten().collect();
    emit(&format!(
        "{{\"event\":\"ready\",\"nodes\":{},\"policy\":\"{}\",\"seconds\":{:.3},\"first\":\"{}\",\"last\":\"{}\"}}",
        clients.len(),
        if args.policy == Policy::Choria { "choria" } else { "baseline" },
        (monotonic_ns() - started) as f64 / 1e9,
        identity(0),
        identity(args.nodes - 1)
    ));

    // The links' log lines would wait for a Ruby logger: count and drop them.
    let log_lines = Arc::new(AtomicU64::new(0));
    {
        let (links, log_lines) = (links.clone(), Arc::clone(&log_lines));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let n: usize = links.iter().map(|l| l.logs.take().len()).sum();
                log_lines.fetch_add(n as u64, Ordering::Relaxed);
            }
        });
    }

    let (tx, mut commands) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(line) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });

    let mut failures_before = [0u64; 3];
    while let Some(line) = commands.recv().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        let seconds = |i: usize| -> Duration {
            Duration::from_secs_f64(
                words
                    .get(i)
                    .and_then(|w| w.parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .unwrap_or(60.0),
            )
        };
        match words.as_slice() {
            ["mark"] => {
                for kind in FailureKind::ALL {
                    failures_before[kind as usize] = links.iter().map(|l| l.failures(kind)).sum();
                }
                fleet.mark();
                emit(&format!(
                    "{{\"event\":\"marked\",\"t\":{:.4}}}",
                    monotonic_ns() as f64 / 1e9
                ));
            }
            ["wait_back", ..] => {
                let deadline = tokio::time::Instant::now() + seconds(1);
                let wanted = words
                    .get(2)
                    .and_then(|w| w.parse::<usize>().ok())
                    .map_or(args.nodes, |n| n.min(args.nodes));
                while fleet.back.load(Ordering::Acquire) < wanted {
                    let wake = fleet.back_changed.notified();
                    if tokio::time::timeout_at(deadline, wake).await.is_err() {
                        break;
                    }
                }
                let disconnected = fleet
                    .nodes
                    .iter()
                    .filter(|n| n.disconnects.load(Ordering::Relaxed) > 0)
                    .count();
                let connected = clients
                    .iter()
                    .filter(|c| c.connection_state() == async_nats::connection::State::Connected)
                    .count();
                emit(&format!(
                    "{{\"event\":\"back\",\"nodes\":{},\"back\":{},\"disconnected\":{disconnected},\"connected\":{connected},\"log_lines\":{},{},\"times\":{}}}",
                    args.nodes,
                    fleet.back.load(Ordering::Acquire),
                    log_lines.load(Ordering::Relaxed),
                    failures_json(&fleet, &links, &failures_before),
                    times_json(&fleet)
                ));
            }
            ["where"] => emit(&where_json(&fleet, &clients)),
            ["expect", direct, broadcast, ..] => {
                let (direct, broadcast) = (
                    direct.parse::<u32>().unwrap_or(0),
                    broadcast.parse::<u32>().unwrap_or(0),
                );
                let deadline = tokio::time::Instant::now() + seconds(3);
                let complete = |f: &Fleet| {
                    let d = f
                        .nodes
                        .iter()
                        .filter(|n| n.direct.load(Ordering::Relaxed) >= direct)
                        .count();
                    let b = f
                        .nodes
                        .iter()
                        .filter(|n| n.broadcast.load(Ordering::Relaxed) >= broadcast)
                        .count();
                    (d, b)
                };
                while complete(&fleet) != (args.nodes, args.nodes)
                    && tokio::time::Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let (d, b) = complete(&fleet);
                let total = |f: fn(&Node) -> u32| -> u64 {
                    fleet.nodes.iter().map(|n| u64::from(f(n))).sum()
                };
                emit(&format!(
                    "{{\"event\":\"counts\",\"nodes\":{},\"direct_complete\":{d},\"broadcast_complete\":{b},\"direct\":{},\"broadcast\":{},\"replies_sent\":{}}}",
                    args.nodes,
                    total(|n| n.direct.load(Ordering::Relaxed)),
                    total(|n| n.broadcast.load(Ordering::Relaxed)),
                    fleet.replies_sent.load(Ordering::Relaxed)
                ));
            }
            ["replies", k] => {
                let k = k.parse::<u32>().unwrap_or(1);
                fleet.replies.store(k, Ordering::Relaxed);
                emit(&format!("{{\"event\":\"replies\",\"replies\":{k}}}"));
            }
            ["quit"] => break,
            _ => emit(&format!(
                "{{\"event\":\"error\",\"message\":\"unknown command {:?}\"}}",
                line.replace('"', "'")
            )),
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => Arc::new(args),
        Err(e) => {
            eprintln!("fleet_sim: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .thread_name("fleet-sim")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("fleet_sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(serve(args));
    // Thousands of connections need no orderly goodbye.
    std::mem::forget(runtime);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet_sim: {e}");
            emit(&format!(
                "{{\"event\":\"error\",\"message\":\"{}\"}}",
                e.replace('"', "'")
            ));
            ExitCode::FAILURE
        }
    }
}
