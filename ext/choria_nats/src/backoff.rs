//! The reconnect back-off: exponential, capped, with jitter, so that a fleet
//! whose broker restarts does not come back as one thundering herd.

use rand::Rng;
use std::time::Duration;

/// Delays between connection attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The delay before the first retry, before jitter.
    pub initial: Duration,
    /// The largest delay, jitter included.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(20),
        }
    }
}

impl Backoff {
    /// The delay before attempt number `failures + 1`, given how many attempts
    /// in a row have failed: `initial * 2^(failures-1)`, capped at `max`, times
    /// a random factor in [0.5, 1.5), never above `max`. Zero failures give a
    /// small random delay in [0, initial) so that reconnecting clients spread out.
    pub fn delay(&self, failures: u32, rng: &mut impl Rng) -> Duration {
        if failures == 0 {
            return self.initial.mul_f64(rng.random_range(0.0..1.0));
        }
        let exponent = (failures - 1).min(30);
        let base = self.initial.saturating_mul(1u32 << exponent).min(self.max);
        base.mul_f64(rng.random_range(0.5..1.5)).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn grows_exponentially_within_jitter_bounds() {
        let backoff = Backoff::default();
        let mut rng = StdRng::seed_from_u64(7);
        for (failures, base_ms) in [(1u32, 500u64), (2, 1000), (3, 2000), (4, 4000), (5, 8000)] {
            for _ in 0..200 {
                let d = backoff.delay(failures, &mut rng).as_millis() as u64;
                assert!(d >= base_ms / 2, "{failures}: {d} < {}", base_ms / 2);
                assert!(
                    d < base_ms * 3 / 2,
                    "{failures}: {d} >= {}",
                    base_ms * 3 / 2
                );
            }
        }
    }

    #[test]
    fn never_exceeds_the_cap() {
        let backoff = Backoff::default();
        let mut rng = StdRng::seed_from_u64(1);
        for failures in 1..200 {
            assert!(backoff.delay(failures, &mut rng) <= backoff.max);
        }
    }

    #[test]
    fn first_retry_is_spread_below_initial() {
        let backoff = Backoff::default();
        let mut rng = StdRng::seed_from_u64(3);
        let delays: Vec<_> = (0..500).map(|_| backoff.delay(0, &mut rng)).collect();
        assert!(delays.iter().all(|d| *d < backoff.initial));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 400, "jitter must spread clients");
    }
}
