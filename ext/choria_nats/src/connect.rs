//! Building async-nats' options (always verified TLS) and the initial connect:
//! one round over the pool, or retries with back-off until a deadline or for
//! ever, each failure explained with the server it concerns, the SRV records
//! looked up again after each failed round.

use crate::connect_errors::explain_connect_error;
use crate::credentials::Credentials;
use crate::errors::{Category, Failure};
use crate::log_queue::Level;
use crate::settings::{InitialRetry, Settings};
use crate::shared::Shared;
use async_nats::{
    Auth, AuthError, Client, ConnectError, ConnectErrorKind, ConnectOptions, ServerAddr,
};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::oneshot;

/// Messages async-nats buffers for sending (its default `client_capacity`),
/// also while reconnecting: a small bound, since replies hours old are worthless.
pub const OUTGOING_BUFFER: usize = 2048;

/// async-nats' own per-subscription buffer. The forwarding tasks empty it as
/// fast as messages arrive; the receive queue holds the backlog.
const SUBSCRIPTION_BUFFER: usize = 65_536;

/// async-nats' options before ours: with the credentials file's JWT and
/// signature when there is one. The file is read at each attempt,
/// reconnects included: operators rotate credentials files in place, and the
/// next connect takes the new one.
fn base_options(settings: &Settings) -> ConnectOptions {
    let Some(path) = settings.credentials.clone() else {
        return ConnectOptions::new();
    };
    ConnectOptions::with_auth_callback(move |nonce| {
        let signed = Credentials::read(&path).and_then(|creds| {
            let mut auth = Auth::new();
            auth.signature = Some(creds.sign(&nonce)?);
            auth.jwt = Some(creds.jwt().to_string());
            Ok(auth)
        });
        async move { signed.map_err(|failure| AuthError::new(failure.message)) }
    })
}

/// async-nats' options for one attempt. `ended` is kept by async-nats'
/// connection task for as long as that task lives: its receiver hears when
/// the task ends, for whatever reason, a panic included.
fn options(
    settings: &Settings,
    shared: &Arc<Shared>,
    ended: oneshot::Sender<()>,
) -> Result<ConnectOptions, Failure> {
    let events = Arc::clone(shared);
    let chooser = Arc::clone(shared);
    let mut options = base_options(settings)
        .require_tls(true)
        // Members announced in the INFO that precedes TLS are unauthenticated:
        // dialling them would let anyone on the path choose the broker, or
        // (with a ws:// address) turn TLS off. The pool comes from
        // configuration and SRV only; `Shared::note_announced` logs the rest.
        .ignore_discovered_servers()
        .add_root_certificates(settings.files.ca.clone())
        .add_client_certificate(settings.files.cert.clone(), settings.files.key.clone())
        .connection_timeout(settings.connect_timeout)
        .ping_interval(settings.ping_interval)
        .subscription_capacity(SUBSCRIPTION_BUFFER)
        .client_capacity(OUTGOING_BUFFER)
        .max_reconnects(None)
        .event_callback(move |event| {
            events.on_event(event);
            async {}
        })
        .reconnect_to_server_callback(move |servers, info| {
            let _alive = &ended;
            chooser.note_announced(&info);
            let chooser = Arc::clone(&chooser);
            async move { Some(chooser.next_server(&servers).await) }
        });
    if let Some(name) = &settings.name {
        options = options.name(name);
    }
    if let Some(user) = &settings.user {
        options =
            options.user_and_password(user.clone(), settings.password.clone().unwrap_or_default());
    }
    if settings.legacy_certificates {
        options = options.tls_client_config(crate::legacy_names::client_config(&settings.files)?);
    }
    Ok(options)
}

/// One line for several failures: each server and why.
fn summarize(failures: &[(String, Failure)], gave_up: &str) -> Failure {
    if let [(_, only)] = failures {
        return Failure::new(only.kind, format!("{}{gave_up}", only.message));
    }
    let kind = match failures.first() {
        Some((_, first)) if failures.iter().all(|(_, f)| f.kind == first.kind) => first.kind,
        _ => Category::Connection,
    };
    let detail = failures
        .iter()
        .map(|(_, f)| f.message.trim_end_matches('.'))
        .collect::<Vec<_>>()
        .join(" | ");
    Failure::new(
        kind,
        format!(
            "Could not connect to any of {} NATS brokers{gave_up}: {detail}",
            failures.len()
        ),
    )
}

/// A connected client, and what hears when its connection task ends.
pub struct Connected {
    pub client: Client,
    pub ended: oneshot::Receiver<()>,
}

/// Connects for the first time, as `settings.initial_retry` says.
pub async fn initial(settings: &Settings, shared: &Arc<Shared>) -> Result<Connected, Failure> {
    crate::cert_check::preflight(&settings.files)?;
    if let Some(path) = &settings.credentials {
        let creds = Credentials::read(path)?;
        shared.log(
            Level::Info,
            format!(
                "Using the NATS credentials in {} for user {}",
                path.display(),
                creds.user()
            ),
        );
    }
    let deadline = match settings.initial_retry {
        InitialRetry::For(limit) => Some(Instant::now() + limit),
        _ => None,
    };
    // The latest failure of each server, in pool order.
    let mut failures: Vec<(String, Failure)> = Vec::new();
    loop {
        let (target, addrs) = {
            let mut pool = shared.pool();
            let target = pool.choose().clone();
            let addrs: Vec<ServerAddr> = pool.entries().iter().map(|e| e.addr.clone()).collect();
            (target, addrs)
        };
        let (alive, ended) = oneshot::channel();
        // async-nats panics on some malformed broker lines; here that is one
        // failed attempt, not the end of the connect.
        let attempt = AssertUnwindSafe(options(settings, shared, alive)?.connect(addrs))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                Err(ConnectError::with_source(
                    ConnectErrorKind::Io,
                    format!(
                        "the broker sent what the NATS client could not read ({})",
                        crate::panics::message(panic.as_ref())
                    ),
                ))
            });
        match attempt {
            Ok(client) => {
                shared.pool().record_success();
                shared.log(
                    Level::Info,
                    format!("Connected to NATS {}", target.describe()),
                );
                shared.note_announced(&client.server_info());
                return Ok(Connected { client, ended });
            }
            Err(error) => {
                shared.count_failure(crate::backoff::FailureKind::classify(&error.to_string()));
                let failure = explain_connect_error(
                    &error,
                    &target.describe(),
                    &settings.files,
                    settings.credentials.as_deref(),
                    settings.connect_timeout,
                );
                let (failures_in_a_row, pool_size) = {
                    let mut pool = shared.pool();
                    pool.record_failure(failure.message.clone());
                    (pool.consecutive_failures(), pool.len() as u32)
                };
                failures.retain(|(label, _)| label != &target.label);
                failures.push((target.label.clone(), failure.clone()));
                // A daemon retrying for ever warns of each failure; a client
                // that gives up soon says it once, in the error it raises.
                let level = match settings.initial_retry {
                    InitialRetry::Forever => Level::Warn,
                    _ => Level::Debug,
                };
                if settings.initial_retry == InitialRetry::Once {
                    if failures_in_a_row >= pool_size {
                        return Err(summarize(&failures, ""));
                    }
                    shared.log(level, failure.message);
                    continue;
                }
                // DNS may not have been ready, or the brokers moved.
                if failures_in_a_row % pool_size == 0 {
                    shared.refresh_srv().await;
                }
                // The first round goes through the pool at once; then back off.
                let delay = if failures_in_a_row < pool_size {
                    std::time::Duration::ZERO
                } else {
                    settings
                        .backoff
                        .delay(failures_in_a_row - pool_size + 1, &mut rand::rng())
                };
                if let Some(deadline) = deadline {
                    if Instant::now() + delay >= deadline {
                        let limit = match settings.initial_retry {
                            InitialRetry::For(limit) => limit.as_secs_f64(),
                            _ => 0.0,
                        };
                        return Err(summarize(
                            &failures,
                            &format!(" (gave up after {limit:.1}s)"),
                        ));
                    }
                }
                shared.log(
                    level,
                    format!(
                        "{}; retrying in {:.1}s",
                        failure.message,
                        delay.as_secs_f64()
                    ),
                );
                tokio::time::sleep(delay).await;
            }
        }
    }
}
