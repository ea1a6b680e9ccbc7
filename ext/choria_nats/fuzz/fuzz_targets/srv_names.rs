//! What configuration hands to the SRV lookup: the names (one a line here) and
//! the nameserver. Accepted names are fully qualified; an accepted nameserver
//! has a port and reads back from its own display.
#![no_main]

use choria_nats::srv::{parse_names, parse_nameserver};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    match parse_nameserver(&text) {
        Ok(addr) => {
            assert_ne!(addr.port(), 0);
            assert_eq!(parse_nameserver(&addr.to_string()).ok(), Some(addr));
        }
        Err(failure) => assert!(failure.message.contains("IP:PORT"), "{}", failure.message),
    }

    let names: Vec<String> = text.split('\n').map(str::to_string).collect();
    match parse_names(&names) {
        Ok(parsed) => {
            assert_eq!(parsed.len(), names.len());
            assert!(parsed.iter().all(|name| name.is_fqdn()));
        }
        Err(failure) => assert!(
            failure.message.starts_with("invalid DNS SRV name"),
            "{}",
            failure.message
        ),
    }
});
