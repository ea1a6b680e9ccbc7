//! The order in which SRV records are tried: RFC 2782's, ascending priority
//! and, within a priority, a weighted random order.

use rand::seq::SliceRandom;
use rand::Rng;

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
}
