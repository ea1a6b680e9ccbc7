//! `address::parse_address` on any text: it returns an error or an address
//! with a host and the port its `host:port` label names, and the label parses
//! back to itself.
#![no_main]

use choria_nats::address::parse_address;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let spec = String::from_utf8_lossy(data);
    match parse_address(&spec) {
        Ok((addr, label)) => {
            assert!(!addr.host().is_empty(), "no host in {addr:?} ({label})");
            assert!(
                label.ends_with(&format!(":{}", addr.port())),
                "{label} {addr:?}"
            );
            let (again, relabelled) = parse_address(&label).expect("a label parses");
            assert_eq!(relabelled, label);
            assert_eq!(again.port(), addr.port());
        }
        Err(failure) => assert!(
            failure.message.starts_with("invalid NATS server address"),
            "{}",
            failure.message
        ),
    }
});
