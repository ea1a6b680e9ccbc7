//! The names an SRV lookup is given: the SRV names themselves, always fully
//! qualified, and the optional nameserver to ask.

use crate::errors::Failure;
use hickory_resolver::proto::rr::Name;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// Parses the test nameserver: `IP:PORT`, `[IPv6]:PORT`, or a bare IP (port 53).
pub fn parse_nameserver(spec: &str) -> Result<SocketAddr, Failure> {
    let trimmed = spec.trim();
    let parsed = SocketAddr::from_str(trimmed).ok().or_else(|| {
        IpAddr::from_str(trimmed)
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    });
    match parsed {
        Some(addr) if addr.port() != 0 => Ok(addr),
        _ => Err(Failure::config(format!(
            "invalid DNS nameserver {spec:?}: write IP:PORT, for example 127.0.0.1:53 or [::1]:53"
        ))),
    }
}

/// Parses SRV names (see `parse_name`).
pub fn parse_names(names: &[String]) -> Result<Vec<Name>, Failure> {
    names.iter().map(|n| parse_name(n)).collect()
}

/// Parses an SRV name as fully qualified, so that no search domain is appended.
/// A name whose last dot is escaped (`example.net\`) is not, and is refused.
pub fn parse_name(name: &str) -> Result<Name, Failure> {
    let fqdn = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    match Name::from_str(&fqdn) {
        Ok(parsed) if parsed.is_fqdn() && !name.trim().is_empty() => Ok(parsed),
        _ => Err(Failure::config(format!(
            "invalid DNS SRV name {name:?}: write a name such as _mcollective-server._tcp.example.net"
        ))),
    }
}

/// A name as messages show it, without the root dot.
pub fn display(name: &Name) -> String {
    name.to_ascii().trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::Category;

    #[test]
    fn nameservers_parse() {
        assert_eq!(
            parse_nameserver("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver(" [::1]:5353 ").unwrap(),
            "[::1]:5353".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("10.0.0.2").unwrap(),
            "10.0.0.2:53".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("::1").unwrap(),
            "[::1]:53".parse().unwrap()
        );
    }

    #[test]
    fn bad_nameservers_are_configuration_errors() {
        for bad in [
            "",
            "dns.example.net:53",
            "127.0.0.1:",
            "127.0.0.1:99999",
            "127.0.0.1:0",
            "::1:53:x",
            "[::1]",
        ] {
            let failure = parse_nameserver(bad).expect_err(bad);
            assert_eq!(failure.kind, Category::Configuration, "{bad}");
            assert!(failure.message.contains("IP:PORT"), "{}", failure.message);
        }
    }

    #[test]
    fn names_are_made_fully_qualified() {
        let name = parse_name("_mcollective-server._tcp.example.net").unwrap();
        assert!(name.is_fqdn());
        assert_eq!(display(&name), "_mcollective-server._tcp.example.net");
        assert!(parse_name("_x-puppet-mcollective._tcp.example.net.")
            .unwrap()
            .is_fqdn());
        assert_eq!(parse_name("").unwrap_err().kind, Category::Configuration);
        assert_eq!(
            parse_name("a..b").unwrap_err().kind,
            Category::Configuration
        );
        for escaped_dot in ["_mcollective-server._tcp.example.net\\", "_x\\."] {
            assert_eq!(
                parse_name(escaped_dot).unwrap_err().kind,
                Category::Configuration,
                "{escaped_dot}"
            );
        }
    }
}
