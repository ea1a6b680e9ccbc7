//! `srv::rfc2782_order` on any list of records: 8 bytes seed the random order,
//! then every 6 bytes are one record's priority, weight and port. The order
//! keeps every record once and puts priorities in ascending order.
#![no_main]

use choria_nats::srv::{rfc2782_order, SrvRecord};
use libfuzzer_sys::fuzz_target;
use rand::{rngs::StdRng, SeedableRng};

fuzz_target!(|data: &[u8]| {
    let Some((seed, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    let u16_at = |chunk: &[u8], at: usize| u16::from_be_bytes([chunk[at], chunk[at + 1]]);
    let records: Vec<SrvRecord> = rest
        .chunks_exact(6)
        .enumerate()
        .map(|(index, chunk)| SrvRecord {
            host: format!("nats{index}.example.net"),
            priority: u16_at(chunk, 0),
            weight: u16_at(chunk, 2),
            port: u16_at(chunk, 4),
        })
        .collect();
    let ordered = rfc2782_order(
        records.clone(),
        &mut StdRng::seed_from_u64(u64::from_be_bytes(*seed)),
    );
    assert_eq!(ordered.len(), records.len());
    assert!(ordered.windows(2).all(|w| w[0].priority <= w[1].priority));
    let mut hosts: Vec<&str> = ordered.iter().map(|r| r.host.as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    assert_eq!(hosts.len(), records.len(), "a record lost or repeated");
    assert!(records.iter().all(|r| ordered.contains(r)));
});
