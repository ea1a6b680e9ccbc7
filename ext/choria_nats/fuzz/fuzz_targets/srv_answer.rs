//! A DNS answer as it comes off the wire: hickory decodes the message, then
//! `srv::srv_records` takes the brokers out of it and `rfc2782_order` orders
//! them (first byte: the seed of the random order).
#![no_main]

use choria_nats::srv::{rfc2782_order, srv_records};
use hickory_resolver::proto::op::Message;
use libfuzzer_sys::fuzz_target;
use rand::{rngs::StdRng, SeedableRng};

fuzz_target!(|data: &[u8]| {
    let Some((&seed, wire)) = data.split_first() else {
        return;
    };
    let Ok(message) = Message::from_vec(wire) else {
        return;
    };
    let records = srv_records(&message.answers);
    assert!(records.iter().all(|r| !r.host.is_empty()), "{records:?}");
    let ordered = rfc2782_order(records.clone(), &mut StdRng::seed_from_u64(seed.into()));
    assert_eq!(ordered.len(), records.len());
    assert!(ordered.windows(2).all(|w| w[0].priority <= w[1].priority));
    assert!(records.iter().all(|r| ordered.contains(r)));
});
