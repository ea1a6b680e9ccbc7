//! Why one connection attempt failed, in one line that names the server and
//! says what to do: rustls' verdicts on either side's certificate, TLS
//! alerts, time-outs, refused credentials and plain socket errors.

use crate::errors::{Category, Failure};
use crate::tls::TlsFiles;
use crate::utc::format_utc;
use rustls::{AlertDescription, CertificateError};
use std::error::Error as _;
use std::io;
use std::path::Path;

/// `wrong.example.net` from rustls' `DnsName("wrong.example.net")`, and
/// `10.0.0.1` from `IpAddress(10.0.0.1)`.
fn plain_name(presented: &str) -> &str {
    if let (Some(start), Some(end)) = (presented.find('"'), presented.rfind('"')) {
        if end > start {
            return &presented[start + 1..end];
        }
    }
    match (presented.find('('), presented.find(')')) {
        (Some(open), Some(close)) if close > open => &presented[open + 1..close],
        _ => presented,
    }
}

fn certificate_reason(error: &CertificateError, files: &TlsFiles) -> String {
    match error {
        CertificateError::UnknownIssuer => format!(
            "its certificate is not signed by the CA in {} (unknown issuer): configure the CA that signed the broker, or reissue the broker's certificate from this CA",
            files.ca.display()
        ),
        CertificateError::NotValidForNameContext { expected, presented } if presented.is_empty() => format!(
            "its certificate is not valid for the name {} that was dialled; it holds no subjectAltName, as old Puppet certificates do: reissue it with one, or set {} = true (connection option legacy_certificates) to accept a common name equal to the host dialled",
            expected.to_str(),
            crate::legacy_names::SETTING
        ),
        CertificateError::NotValidForNameContext { expected, presented } => format!(
            "its certificate is not valid for the name {} that was dialled; it holds {}: dial one of those names or reissue the broker's certificate for this name",
            expected.to_str(),
            presented.iter().map(|n| plain_name(n)).collect::<Vec<_>>().join(", ")
        ),
        CertificateError::NotValidForName => {
            "its certificate is not valid for the name that was dialled".to_string()
        }
        CertificateError::ExpiredContext { not_after, .. } => format!(
            "its certificate expired at {}: renew the broker's certificate",
            format_utc(not_after.as_secs())
        ),
        CertificateError::Expired => "its certificate has expired: renew the broker's certificate".to_string(),
        CertificateError::NotValidYetContext { not_before, .. } => format!(
            "its certificate is not valid before {}: check the clocks of this machine and the CA",
            format_utc(not_before.as_secs())
        ),
        CertificateError::NotValidYet => "its certificate is not valid yet: check the clocks".to_string(),
        CertificateError::BadSignature => "its certificate's signature does not verify".to_string(),
        CertificateError::Revoked => "its certificate is revoked".to_string(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "its certificate is not issued for TLS servers (extended key usage)".to_string()
        }
        other => format!("its certificate was rejected: {other:?}"),
    }
}

fn alert_reason(alert: &AlertDescription, files: &TlsFiles) -> String {
    match alert {
        AlertDescription::BadCertificate
        | AlertDescription::UnknownCA
        | AlertDescription::CertificateRequired
        | AlertDescription::CertificateUnknown
        | AlertDescription::CertificateExpired
        | AlertDescription::CertificateRevoked
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::DecryptError
        | AlertDescription::AccessDenied => format!(
            "it refused our client certificate {} (TLS alert {alert:?}): the certificate must be signed by the CA the broker trusts and be valid now",
            files.cert.display()
        ),
        AlertDescription::ProtocolVersion | AlertDescription::HandshakeFailure => format!(
            "it could not agree on TLS parameters (TLS alert {alert:?}): this connector needs TLS 1.2 or newer"
        ),
        other => format!("it ended the TLS session (TLS alert {other:?})"),
    }
}

/// The rustls error behind a connect failure, if any.
fn find_rustls<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current: Option<&'a (dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if let Some(tls) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return Some(tls);
            }
        }
        current = e.source();
    }
    None
}

fn find_io<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
    let mut current: Option<&'a (dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io);
        }
        current = e.source();
    }
    None
}

/// A failed authentication with a credentials file: the file could not be
/// read or used at this attempt (its own message, which names the file and
/// what is wrong), or the broker refused what it holds.
fn explain_credentials_error(
    error: &async_nats::ConnectError,
    server: &str,
    path: &Path,
) -> Failure {
    match error.source() {
        Some(source) if error.kind() == async_nats::ConnectErrorKind::Authentication => {
            let detail = source.to_string();
            Failure::config(format!(
                "Cannot log in to the NATS broker {server}: {}",
                crate::credentials::unwrap_auth_error(&detail)
            ))
        }
        _ => crate::credentials::explain_refusal(server, path),
    }
}

/// Explains why one connection attempt to `server` (`host:port (source)`)
/// failed, in one line that names the server and what to do.
pub fn explain_connect_error(
    error: &async_nats::ConnectError,
    server: &str,
    files: &TlsFiles,
    credentials: Option<&Path>,
    timeout: std::time::Duration,
) -> Failure {
    use async_nats::ConnectErrorKind as K;
    if let Some(tls) = find_rustls(error) {
        let (kind, reason) = match tls {
            rustls::Error::InvalidCertificate(cert) => (Category::Tls, certificate_reason(cert, files)),
            rustls::Error::AlertReceived(alert) => (Category::Tls, alert_reason(alert, files)),
            rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => (
                Category::Tls,
                "it did not answer with TLS: is it a plain-text NATS server? This connector only speaks verified TLS; give the broker a tls { verify: true } block".to_string(),
            ),
            other => (Category::Tls, format!("the TLS handshake failed: {other}")),
        };
        return Failure::new(
            kind,
            format!("TLS with the NATS broker {server} failed: {reason}"),
        );
    }
    if let (Some(path), K::Authentication | K::AuthorizationViolation) = (credentials, error.kind())
    {
        return explain_credentials_error(error, server, path);
    }
    match error.kind() {
        K::TimedOut => Failure::new(
            Category::Timeout,
            format!(
                "No answer from the NATS broker {server} within {:.1}s (TCP, TLS and CONNECT): check that it runs and that a firewall lets the port through",
                timeout.as_secs_f64()
            ),
        ),
        K::Authentication | K::AuthorizationViolation => Failure::new(
            Category::Authentication,
            format!(
                "The NATS broker {server} refused our credentials (authorization violation): check plugin.nats.user and plugin.nats.pass, or the broker's authorization block"
            ),
        ),
        K::Dns => Failure::connection(format!(
            "Cannot resolve the NATS broker {server}: check the host name, or set plugin.choria.middleware_hosts"
        )),
        K::Tls => Failure::new(
            Category::Tls,
            format!("TLS setup for the NATS broker {server} failed: {error}"),
        ),
        _ => match find_io(error) {
            Some(io) if io.kind() == io::ErrorKind::ConnectionRefused => Failure::connection(format!(
                "The NATS broker {server} refused the connection: is nats-server running and listening on that port?"
            )),
            Some(io)
                if matches!(
                    io.kind(),
                    io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::BrokenPipe
                ) =>
            {
                Failure::connection(format!(
                    "The NATS broker {server} closed the connection during the handshake ({io}): if it logs a TLS error, it rejected our client certificate {}",
                    files.cert.display()
                ))
            }
            _ => Failure::connection(format!("Could not connect to the NATS broker {server}: {error}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explains_a_name_mismatch_with_the_names_presented() {
        let error = async_nats::ConnectError::with_source(
            async_nats::ConnectErrorKind::Io,
            io::Error::new(
                io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                    expected: rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap(),
                    presented: vec!["DnsName(\"wrong.example.net\")".into()],
                }),
            ),
        );
        let f = explain_connect_error(
            &error,
            "127.0.0.1:4222 (config)",
            &TlsFiles::in_dir(Path::new("/x")),
            None,
            std::time::Duration::from_secs(2),
        );
        assert_eq!(f.kind, Category::Tls);
        assert!(
            f.message.contains("127.0.0.1:4222 (config)"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("it holds wrong.example.net: dial"),
            "{}",
            f.message
        );
    }

    #[test]
    fn strips_rustls_wrappers_from_presented_names() {
        assert_eq!(plain_name("DnsName(\"a.example\")"), "a.example");
        assert_eq!(plain_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(plain_name("plain"), "plain");
    }

    #[test]
    fn explains_a_refused_connection() {
        let error =
            async_nats::ConnectError::from(io::Error::from(io::ErrorKind::ConnectionRefused));
        let f = explain_connect_error(
            &error,
            "127.0.0.1:9 (config)",
            &TlsFiles::in_dir(Path::new("/x")),
            None,
            std::time::Duration::from_secs(2),
        );
        assert_eq!(f.kind, Category::Connection);
        assert!(
            f.message.contains("refused the connection"),
            "{}",
            f.message
        );
    }
}
