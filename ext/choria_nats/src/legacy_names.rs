//! `plugin.security.support_legacy_certificates`: brokers whose
//! certificate predates subjectAltName, as old Puppet CAs issued them, are
//! accepted when the certificate's common name is the host dialled.
//!
//! Everything else stays verified: the chain to the CA file (the only trust
//! anchor), the validity dates, the TLS server purpose, the handshake
//! signatures. Only the name check gets a second chance, and only for a
//! certificate that holds no DNS or IP subjectAltName at all. This is the one
//! place that builds a rustls configuration itself; without the setting,
//! async-nats builds it from the files as usual.

use crate::errors::Failure;
use crate::tls::{self, TlsFiles};
use crate::x509;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, WebPkiServerVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::sync::Arc;

/// The client configuration for a connection that accepts legacy broker
/// certificates: the CA file as the only root, our certificate and key.
pub fn client_config(files: &TlsFiles) -> Result<ClientConfig, Failure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca = files.ca.display();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(tls::certificates("CA", &files.ca)?);
    if roots.is_empty() {
        return Err(Failure::config(format!(
            "The CA file {ca} holds no certificate usable as a trust anchor"
        )));
    }
    let roots = Arc::new(roots);
    let webpki =
        WebPkiServerVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
            .build()
            .map_err(|e| Failure::config(format!("Cannot use the CA file {ca}: {e}")))?;
    let verifier = LegacyNames {
        webpki,
        roots,
        algorithms: provider.signature_verification_algorithms,
    };
    let chain = tls::certificates("certificate", &files.cert)?;
    let key = tls::private_key(&files.key)?;
    ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .and_then(|builder| {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_client_auth_cert(chain, key)
        })
        .map_err(|e| {
            Failure::config(format!(
                "Cannot use the certificate {} with the key {}: {e}",
                files.cert.display(),
                files.key.display()
            ))
        })
}

/// rustls' own verifier, with the legacy name rule as a second chance.
#[derive(Debug)]
struct LegacyNames {
    webpki: Arc<WebPkiServerVerifier>,
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for LegacyNames {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verdict {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if legacy_name_matches(end_entity, server_name) => {
                // The chain again, on its own: acceptance must not rest on
                // the order in which webpki makes its checks.
                let parsed = ParsedCertificate::try_from(end_entity)?;
                verify_server_cert_signed_by_trust_anchor(
                    &parsed,
                    &self.roots,
                    intermediates,
                    now,
                    self.algorithms.all,
                )?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Whether `der` holds no DNS or IP subjectAltName and its common name is
/// the host dialled (ASCII case ignored for DNS names). A certificate that
/// cannot be read matches nothing.
pub fn legacy_name_matches(der: &CertificateDer<'_>, server_name: &ServerName<'_>) -> bool {
    let Some(cert) = x509::parse(der) else {
        return false;
    };
    if !cert.dns_names.is_empty() || !cert.ip_addresses.is_empty() {
        return false;
    }
    let Some(common_name) = cert.common_name else {
        return false;
    };
    match server_name {
        ServerName::DnsName(dns) => {
            let dialled = dns.as_ref().trim_end_matches('.');
            !dialled.is_empty() && common_name.eq_ignore_ascii_case(dialled)
        }
        ServerName::IpAddress(ip) => common_name == std::net::IpAddr::from(*ip).to_string(),
        _ => false,
    }
}

/// The setting to name in a refusal of a certificate that holds no names.
pub const SETTING: &str = "plugin.security.support_legacy_certificates";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::tests::openssl_certificate;

    /// A self-signed certificate with `common_name` and the DNS `sans`.
    fn certificate(common_name: &str, sans: &[&str]) -> CertificateDer<'static> {
        let names: Vec<String> = sans.iter().map(|n| format!("DNS:{n}")).collect();
        let extension = format!("subjectAltName={}", names.join(","));
        let extensions: &[&str] = if sans.is_empty() { &[] } else { &[&extension] };
        let der = openssl_certificate(&format!("/CN={common_name}"), extensions, 1);
        CertificateDer::from(der)
    }

    #[test]
    fn accepts_only_a_common_name_equal_to_the_host_without_alt_names() {
        let dialled = ServerName::try_from("broker.example.net").unwrap();
        assert!(legacy_name_matches(
            &certificate("broker.example.net", &[]),
            &dialled
        ));
        assert!(legacy_name_matches(
            &certificate("BROKER.example.net", &[]),
            &dialled
        ));
        assert!(!legacy_name_matches(
            &certificate("other.example.net", &[]),
            &dialled
        ));
        assert!(!legacy_name_matches(
            &certificate("broker.example.net", &["other.example.net"]),
            &dialled
        ));
        assert!(!legacy_name_matches(
            &certificate("*.example.net", &[]),
            &dialled
        ));
        let ip = ServerName::try_from("127.0.0.1").unwrap();
        assert!(legacy_name_matches(&certificate("127.0.0.1", &[]), &ip));
        assert!(!legacy_name_matches(&certificate("127.0.0.2", &[]), &ip));
    }

    #[test]
    fn an_ip_alternative_name_rules_out_the_common_name() {
        let der = openssl_certificate("/CN=127.0.0.1", &["subjectAltName=IP:127.0.0.2"], 1);
        let ip = ServerName::try_from("127.0.0.1").unwrap();
        assert!(!legacy_name_matches(&CertificateDer::from(der), &ip));
    }

    #[test]
    fn an_unreadable_certificate_matches_nothing() {
        let dialled = ServerName::try_from("broker.example.net").unwrap();
        assert!(!legacy_name_matches(
            &CertificateDer::from(b"broker.example.net".to_vec()),
            &dialled
        ));
    }
}
