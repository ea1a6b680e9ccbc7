//! The reconnect back-off: how long a node waits before its next connection
//! attempt, chosen so that a fleet whose broker restarts comes back spread
//! out, at a rate the broker's TLS handshakes can absorb, instead of as one
//! thundering herd.
//!
//! A broker does each TLS handshake in its own goroutine, all sharing its
//! cores: when more arrive than it can finish, every handshake slows down
//! together until they pass its TLS timeout (2 s by default) and fail, are
//! retried, and fail again. `sim/run.rb` measured ~2.2 ms of broker CPU per
//! node back (TLS 1.3, RSA 2048, client certificates), and 10,000 nodes with
//! async-nats' own back-off cost the broker 2.1 to 3.1 handshakes each (see
//! docs/performance.md, Reconnect storms).
//!
//! The wait depends on how the last attempt failed, and how many of that kind
//! failed in a row:
//!
//! | last attempt | wait |
//! |---|---|
//! | none: the link just dropped | random in `[0, spread)` |
//! | refused (nothing listens: the broker is down or restarting) | exactly `spread` |
//! | overloaded (connect timed out, or the broker cut the handshake), n in a row | random in `[0, 2^n × spread)` |
//! | anything else (DNS, certificate, credentials), n in a row | random in `[0, 2^(n-1) × initial)` |
//!
//! and never above `max`. A node cannot tell a link that dropped alone from
//! a broker restart that dropped the whole fleet with it, and the restart is
//! by far the more common, so each node picks a random moment in `spread`
//! when its link drops, and keeps that phase while the broker refuses it.
//! However long the broker stays away (a `systemctl restart` is well under a
//! second), the fleet then returns evenly spread over `spread` seconds:
//! `nodes / spread` handshakes a second. (A fresh random wait after each
//! refusal would crowd the return towards its start; a short first wait
//! lets a quick restart meet most of the fleet at once.) An overload means
//! the spread was too small for the broker: those nodes wait behind the rest
//! of the fleet. A lone node whose link dropped waits `spread / 2` on
//! average: the price of never sending a broker its whole fleet at once.

use crate::settings::table::{RECONNECT_INITIAL_DELAY, RECONNECT_MAX_DELAY, RECONNECT_SPREAD};
use rand::Rng;
use std::time::Duration;

/// How a connection attempt failed, read from async-nats' error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// Nothing listens: the broker is down or restarting.
    Refused,
    /// The broker accepted the TCP connection but the handshake timed out or
    /// was cut: it is up but has more handshakes queued than it can finish.
    Overloaded,
    /// Anything else: DNS, TLS verification, credentials, protocol.
    Other,
}

impl FailureKind {
    /// Every kind, for counters.
    pub const ALL: [FailureKind; 3] = [
        FailureKind::Refused,
        FailureKind::Overloaded,
        FailureKind::Other,
    ];

    /// Classifies async-nats' text for a failed attempt (`Server::last_error`,
    /// or a `ConnectError` turned into a string): `timed out` for its own
    /// connect timeout, `IO error: Connection refused (os error 111)`,
    /// `IO error: tls handshake eof`, `IO error: Connection reset by peer`.
    pub fn classify(error: &str) -> FailureKind {
        let error = error.to_ascii_lowercase();
        if error.contains("connection refused") {
            return FailureKind::Refused;
        }
        const CUT: [&str; 7] = [
            "timed out",
            "reset by peer",
            "handshake eof",
            "unexpected eof",
            "broken pipe",
            "connection aborted",
            "expected info, got nothing",
        ];
        if CUT.iter().any(|sign| error.contains(sign)) {
            FailureKind::Overloaded
        } else {
            FailureKind::Other
        }
    }

    /// A word for logs and counters.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Refused => "refused",
            FailureKind::Overloaded => "overloaded",
            FailureKind::Other => "other",
        }
    }
}

/// Delays between connection attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The first window after failures other than refusals and overloads
    /// (and of the first connect's retries).
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
    /// The window over which the nodes of a broker spread their return after
    /// their links dropped, and their period while it refuses them: the time
    /// a fleet takes to pass through the broker's handshakes after a restart.
    pub spread: Duration,
}

/// `Backoff::default().initial`, in seconds (the settings table holds it).
pub const DEFAULT_INITIAL: f64 = RECONNECT_INITIAL_DELAY.default.seconds();
/// `Backoff::default().max`, in seconds.
pub const DEFAULT_MAX: f64 = RECONNECT_MAX_DELAY.default.seconds();
/// `Backoff::default().spread`, in seconds.
pub const DEFAULT_SPREAD: f64 = RECONNECT_SPREAD.default.seconds();

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs_f64(DEFAULT_INITIAL),
            max: Duration::from_secs_f64(DEFAULT_MAX),
            spread: Duration::from_secs_f64(DEFAULT_SPREAD),
        }
    }
}

/// The failures in a row that end in the latest one: its kind and how many
/// of that kind came in a row. Empty after a success.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streak {
    pub kind: Option<FailureKind>,
    pub count: u32,
}

impl Streak {
    /// Adds a failed attempt.
    pub fn record(&mut self, kind: FailureKind) {
        if self.kind == Some(kind) {
            self.count = self.count.saturating_add(1);
        } else {
            *self = Streak {
                kind: Some(kind),
                count: 1,
            };
        }
    }

    /// Forgets the failures: the link is up again.
    pub fn reset(&mut self) {
        *self = Streak::default();
    }
}

impl Backoff {
    /// The delay before the next attempt after `streak`.
    pub fn next_delay(&self, streak: Streak, rng: &mut impl Rng) -> Duration {
        let full_jitter = |window: Duration, rng: &mut dyn rand::RngCore| {
            window.min(self.max).mul_f64(rng.random_range(0.0..1.0))
        };
        let doubled = |base: Duration, times: u32| base.saturating_mul(1u32 << times.min(30));
        match streak.kind {
            // A random phase when the link drops, then a steady period: the
            // fleet stays evenly spread over `spread` for as long as the
            // broker is away.
            None => full_jitter(self.spread, rng),
            Some(FailureKind::Refused) => self.spread.min(self.max),
            Some(FailureKind::Overloaded) => full_jitter(doubled(self.spread, streak.count), rng),
            Some(FailureKind::Other) => {
                full_jitter(doubled(self.initial, streak.count.saturating_sub(1)), rng)
            }
        }
    }

    /// The delay after `failures` failures of unknown kind in a row (the
    /// first connect's retries): doubling from `initial`.
    pub fn delay(&self, failures: u32, rng: &mut impl Rng) -> Duration {
        let after = Streak {
            kind: Some(FailureKind::Other),
            count: failures.max(1),
        };
        self.next_delay(after, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn streak(kind: FailureKind, count: u32) -> Streak {
        Streak {
            kind: Some(kind),
            count,
        }
    }

    /// `n` delays after `streak`, in seconds.
    fn delays(b: &Backoff, after: Streak, n: usize) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(7);
        (0..n)
            .map(|_| b.next_delay(after, &mut rng).as_secs_f64())
            .collect()
    }

    /// Asserts that `values` are spread evenly over `[0, top)`: each tenth
    /// holds about a tenth of them.
    fn assert_uniform(values: &[f64], top: f64) {
        assert!(values.iter().all(|v| (0.0..top).contains(v)), "{values:?}");
        let expected = values.len() / 10;
        for tenth in 0..10 {
            let lo = top * tenth as f64 / 10.0;
            let n = values
                .iter()
                .filter(|v| (lo..lo + top / 10.0).contains(*v))
                .count();
            assert!(
                n > expected * 3 / 4 && n < expected * 5 / 4,
                "{lo}s: {n} of {}",
                values.len()
            );
        }
    }

    #[test]
    fn classifies_what_async_nats_reports() {
        for (text, kind) in [
            (
                "IO error: Connection refused (os error 111)",
                FailureKind::Refused,
            ),
            ("timed out", FailureKind::Overloaded),
            ("IO error: tls handshake eof", FailureKind::Overloaded),
            (
                "IO error: Connection reset by peer (os error 104)",
                FailureKind::Overloaded,
            ),
            (
                "IO error: Broken pipe (os error 32)",
                FailureKind::Overloaded,
            ),
            (
                "IO error: expected INFO, got nothing",
                FailureKind::Overloaded,
            ),
            (
                "IO error: invalid peer certificate: UnknownIssuer",
                FailureKind::Other,
            ),
            (
                "DNS error: failed to lookup address information",
                FailureKind::Other,
            ),
            ("authorization violation", FailureKind::Other),
        ] {
            assert_eq!(FailureKind::classify(text), kind, "{text}");
        }
    }

    #[test]
    fn a_streak_counts_failures_of_one_kind_and_restarts_on_another() {
        let mut s = Streak::default();
        s.record(FailureKind::Refused);
        s.record(FailureKind::Refused);
        assert_eq!(s, streak(FailureKind::Refused, 2));
        s.record(FailureKind::Overloaded);
        assert_eq!(s, streak(FailureKind::Overloaded, 1));
        s.reset();
        assert_eq!(s, Streak::default());
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let b = Backoff::default();
        assert_eq!(
            (b.initial, b.spread, b.max),
            (secs(0.5), secs(25.0), secs(60.0))
        );
    }

    #[test]
    fn after_a_drop_each_node_picks_a_random_phase_over_the_spread() {
        let d = delays(&Backoff::default(), Streak::default(), 4000);
        assert_uniform(&d, 25.0);
    }

    #[test]
    fn refusals_keep_the_phase_with_a_steady_period() {
        let b = Backoff::default();
        for count in [1, 2, 3, 50, u32::MAX] {
            assert_eq!(
                delays(&b, streak(FailureKind::Refused, count), 20),
                vec![25.0; 20]
            );
        }
    }

    /// A fleet whose broker stays down for any time returns evenly: each
    /// node's first attempt after the restart falls anywhere in the spread
    /// with the same chance, never crowded at the start.
    #[test]
    fn a_fleet_returns_evenly_over_the_spread_whatever_the_outage() {
        let b = Backoff::default();
        let mut rng = StdRng::seed_from_u64(11);
        for outage in [0.0, 0.3, 1.0, 5.0, 24.0, 26.0, 95.0, 600.0] {
            let returns: Vec<f64> = (0..4000)
                .map(|_| {
                    let mut s = Streak::default();
                    let mut t = b.next_delay(s, &mut rng).as_secs_f64();
                    while t < outage {
                        s.record(FailureKind::Refused);
                        t += b.next_delay(s, &mut rng).as_secs_f64();
                    }
                    t - outage
                })
                .collect();
            assert_uniform(&returns, 25.0);
        }
    }

    #[test]
    fn an_overload_waits_behind_the_fleet_doubling_up_to_max() {
        let b = Backoff {
            max: secs(1000.0),
            ..Backoff::default()
        };
        assert_uniform(&delays(&b, streak(FailureKind::Overloaded, 1), 4000), 50.0);
        assert_uniform(&delays(&b, streak(FailureKind::Overloaded, 2), 4000), 100.0);
        let capped = delays(
            &Backoff::default(),
            streak(FailureKind::Overloaded, 3),
            4000,
        );
        assert_uniform(&capped, 60.0);
    }

    #[test]
    fn other_failures_double_from_initial_up_to_max() {
        let b = Backoff::default();
        for (count, top) in [
            (1, 0.5),
            (2, 1.0),
            (4, 4.0),
            (7, 32.0),
            (8, 60.0),
            (40, 60.0),
        ] {
            assert_uniform(&delays(&b, streak(FailureKind::Other, count), 4000), top);
        }
        // The first connect's retries, whose kind is not known.
        let mut rng = StdRng::seed_from_u64(5);
        assert!(b.delay(3, &mut rng) < secs(2.0));
    }

    #[test]
    fn max_caps_every_wait_even_below_the_spread() {
        let b = Backoff {
            initial: secs(0.1),
            max: secs(1.0),
            spread: secs(30.0),
        };
        let mut rng = StdRng::seed_from_u64(1);
        for kind in FailureKind::ALL {
            for count in [0, 1, 2, 3, 10, 31, 32, 1000, u32::MAX] {
                let after = Streak {
                    kind: (count > 0).then_some(kind),
                    count,
                };
                assert!(b.next_delay(after, &mut rng) <= secs(1.0));
            }
        }
        assert_eq!(
            b.next_delay(streak(FailureKind::Refused, 2), &mut rng),
            secs(1.0)
        );
    }
}
