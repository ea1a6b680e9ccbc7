//! Broker addresses as operators write them (`host`, `host:port`,
//! `nats://host:port`, `tls://host`, `[v6]:port`, a bare IPv6 address): put
//! in `host:port` form, refused when they hold credentials, and checked
//! before the connection dials them. The broker list in Ruby
//! (`ChoriaNats.broker_address`) and the server pool both read them here.

use crate::errors::Failure;
use async_nats::ServerAddr;

/// The port NATS listens on when an address names none.
pub const DEFAULT_PORT: u16 = 4222;

/// An address that holds a user, password or token, shown with the secret
/// masked: `nats://alice:***@host:4222`, `tls://***@host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials(pub String);

/// `entry` in `host:port` form, with `default_port` where it names none, a
/// bare IPv6 address put in brackets and the `nats://` or `tls://` scheme
/// dropped. Nothing else is checked: an entry in no form it knows comes back
/// as it is, for [`parse_address`] to explain.
pub fn normalize(entry: &str, default_port: u16) -> Result<String, Credentials> {
    let entry = entry.trim();
    if entry.contains('@') {
        return Err(Credentials(masked(entry)));
    }
    let rest = without_scheme(entry);
    let rest = if rest.matches(':').count() == 1 || rest.ends_with("]:") {
        rest.strip_suffix(':').unwrap_or(rest)
    } else {
        rest
    };
    let bracketed =
        rest.starts_with('[') && rest.ends_with(']') && rest.find(']') == Some(rest.len() - 1);
    let has_brackets = rest.contains(['[', ']']);
    Ok(if bracketed || (!rest.is_empty() && !rest.contains(':')) {
        format!("{rest}:{default_port}")
    } else if !has_brackets && rest.matches(':').count() >= 2 {
        format!("[{rest}]:{default_port}")
    } else {
        rest.to_string()
    })
}

/// `entry` without its `nats://` or `tls://` scheme.
fn without_scheme(entry: &str) -> &str {
    entry
        .strip_prefix("nats://")
        .or_else(|| entry.strip_prefix("tls://"))
        .unwrap_or(entry)
}

/// `entry` with its credentials masked: the scheme and the user stay, the
/// password or token does not.
fn masked(entry: &str) -> String {
    let (credentials, address) = entry.rsplit_once('@').unwrap_or(("", entry));
    let scheme_length = credentials
        .find("://")
        .filter(|&at| at > 0 && credentials[..at].chars().all(|c| c.is_ascii_alphabetic()))
        .map_or(0, |at| at + 3);
    let (scheme, credentials) = credentials.split_at(scheme_length);
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}{user}:***@{address}"),
        None => format!("{scheme}***@{address}"),
    }
}

/// Parses an address in any form [`normalize`] knows into a NATS address
/// and its `host:port` label, refusing what a URL's host would misread.
pub fn parse_address(spec: &str) -> Result<(ServerAddr, String), Failure> {
    let bad = |why: &str| {
        Failure::config(format!(
            "invalid NATS server address {spec:?}: {why}; write host:port, for example nats1.example.net:4222"
        ))
    };
    if without_scheme(spec.trim()).is_empty() {
        return Err(bad("it is empty"));
    }
    let normal = normalize(spec, DEFAULT_PORT).map_err(|Credentials(shown)| {
        // The address is echoed in errors and logs: never with its secret.
        Failure::config(format!(
            "invalid NATS server address \"{shown}\": credentials do not belong in a server address; set plugin.nats.user and plugin.nats.pass"
        ))
    })?;
    if normal.contains('/') || normal.contains(char::is_whitespace) {
        return Err(bad("only a host and a port are allowed"));
    }
    let (host, port) = if let Some(v6) = normal.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| bad("missing ']'"))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| bad("junk after ']'"))?;
        (host, port)
    } else {
        normal.rsplit_once(':').ok_or_else(|| bad("missing ':'"))?
    };
    if host.is_empty() {
        return Err(bad("the host is empty"));
    }
    // Only what a URL's host holds as it is: `?`, `#` or `\` would end it
    // early, and the label would name another server than the one dialled.
    let valid = if host.contains(':') {
        host.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        host.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    if !valid {
        return Err(bad(
            "the host is not a DNS name (letters, digits, '.', '-', '_') or an IP address",
        ));
    }
    let port = match port.parse::<u16>() {
        Ok(port) if port > 0 => port,
        _ => return Err(bad("the port is not a number from 1 to 65535")),
    };
    let label = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let addr: ServerAddr = format!("nats://{label}")
        .parse()
        .map_err(|e| bad(&format!("{e}")))?;
    Ok((addr, label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_the_forms_the_broker_list_accepts() {
        for (entry, normal) in [
            ("h1:4223", "h1:4223"),
            ("h2", "h2:4222"),
            ("[::1]:4333", "[::1]:4333"),
            ("[fe80::1]", "[fe80::1]:4222"),
            ("::1", "[::1]:4222"),
            ("nats://n1:5222", "n1:5222"),
            ("tls://n2", "n2:4222"),
            ("n3:", "n3:4222"),
            ("[::1]:", "[::1]:4222"),
            ("h1:abc", "h1:abc"),
            ("[::1", "[::1"),
            ("nats://", ""),
        ] {
            assert_eq!(
                normalize(entry, DEFAULT_PORT).as_deref(),
                Ok(normal),
                "{entry}"
            );
        }
        assert_eq!(normalize("ca", 8140).as_deref(), Ok("ca:8140"));
    }

    #[test]
    fn masks_the_secret_and_keeps_the_scheme_and_the_user() {
        for (entry, shown) in [
            (
                "nats://alice:s3cr3t-p@ss@nats2.example.net:4222",
                "nats://alice:***@nats2.example.net:4222",
            ),
            ("tls://t0ken-value@nats1:4222", "tls://***@nats1:4222"),
            ("u:secret@h:4222", "u:***@h:4222"),
            ("HTTP://u:secret@h", "HTTP://u:***@h"),
            ("x:y://secret@h", "x:***@h"),
        ] {
            assert_eq!(
                normalize(entry, DEFAULT_PORT),
                Err(Credentials(shown.to_string())),
                "{entry}"
            );
        }
    }

    #[test]
    fn parses_the_address_forms_operators_write() {
        for (spec, label) in [
            ("nats1.example.net", "nats1.example.net:4222"),
            ("nats1.example.net:4223", "nats1.example.net:4223"),
            ("nats://127.0.0.1:14222", "127.0.0.1:14222"),
            ("tls://broker:1", "broker:1"),
            ("[::1]:4222", "[::1]:4222"),
            ("::1", "[::1]:4222"),
            (" puppet:4222 ", "puppet:4222"),
        ] {
            assert_eq!(parse_address(spec).unwrap().1, label, "{spec}");
        }
    }

    #[test]
    fn refuses_bad_addresses_with_the_input_in_the_message() {
        for (spec, why) in [
            ("", "it is empty"),
            ("nats://", "it is empty"),
            ("host:0", "the port is not"),
            ("host:99999", "the port is not"),
            ("host:port", "the port is not"),
            ("[::1", "missing ']'"),
            ("[::1]x", "junk after ']'"),
            (":4222", "the host is empty"),
            ("h?x:4222", "the host is not a DNS name"),
            ("h:4222/x", "only a host and a port"),
        ] {
            let err = parse_address(spec).unwrap_err();
            assert!(
                err.message.contains(&format!("{spec:?}: {why}")),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn refuses_credentials_in_an_address_without_echoing_them() {
        for (spec, shown) in [
            ("nats://u:secret@h:4222", "nats://u:***@h:4222"),
            ("u:secret@h:4222", "u:***@h:4222"),
            ("tls://secret@h", "tls://***@h"),
        ] {
            let err = parse_address(spec).unwrap_err();
            assert!(!err.message.contains("secret"), "{}", err.message);
            assert!(
                err.message.contains(&format!("\"{shown}\"")),
                "{}",
                err.message
            );
            assert!(err.message.contains("plugin.nats.user"), "{}", err.message);
        }
    }
}
