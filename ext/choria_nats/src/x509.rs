//! What a certificate says about itself, for messages and diagnostics: its
//! subject and issuer names, its DNS and IP names, and its validity period,
//! read with the `x509-cert` crate.
//!
//! Verification is not done here: the chain, signatures, validity and key
//! usage are checked by rustls' webpki verifier (see `cert_check.rs`). A
//! certificate that `x509-cert` cannot decode is `None`. Its `Raw` profile
//! reads serial numbers as leniently as webpki does: old CAs wrote some
//! longer than RFC 5280 allows.

use x509_cert::certificate::{CertificateInner, Raw};
use x509_cert::der::oid::AssociatedOid;
use x509_cert::der::{asn1::ObjectIdentifier, Decode, Encode, Tag, Tagged};
use x509_cert::ext::pkix::{name::GeneralName, SubjectAltName};
use x509_cert::name::Name;

/// What a certificate says about itself, for messages and diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The subject as `CN=name, O=org`, in the order written.
    pub subject: String,
    /// The issuer, written like the subject.
    pub issuer: String,
    /// The DER of the subject name, to match against issuers.
    pub subject_der: Vec<u8>,
    /// The DER of the issuer name.
    pub issuer_der: Vec<u8>,
    /// The subject's common name, if it has one.
    pub common_name: Option<String>,
    /// The DNS names of the subjectAltName extension.
    pub dns_names: Vec<String>,
    /// The IP addresses of the subjectAltName extension, as text.
    pub ip_addresses: Vec<String>,
    /// Seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
}

impl Certificate {
    /// The names the certificate holds: the common name, then the
    /// subjectAltName DNS names and IPs, without repeats.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let all = self
            .common_name
            .iter()
            .chain(self.dns_names.iter())
            .chain(self.ip_addresses.iter());
        for name in all {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                names.push(name.clone());
            }
        }
        names
    }
}

/// Reads a DER certificate; `None` when it is not one.
pub fn parse(der: &[u8]) -> Option<Certificate> {
    let certificate = CertificateInner::<Raw>::from_der(der).ok()?;
    let tbs = certificate.tbs_certificate();
    let validity = tbs.validity();
    // The first subjectAltName counts, as webpki reads it; one that does not
    // decode holds no names we could show.
    let alt_names = tbs
        .extensions()
        .into_iter()
        .flatten()
        .find(|extension| extension.extn_id == SubjectAltName::OID)
        .and_then(|extension| SubjectAltName::from_der(extension.extn_value.as_bytes()).ok())
        .map(|names| names.0)
        .unwrap_or_default();
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    for name in &alt_names {
        match name {
            GeneralName::DnsName(dns) => dns_names.push(dns.to_string()),
            GeneralName::IpAddress(ip) => ip_addresses.extend(ip_text(ip.as_bytes())),
            _ => {}
        }
    }
    Some(Certificate {
        subject: name_text(tbs.subject()),
        issuer: name_text(tbs.issuer()),
        subject_der: tbs.subject().to_der().ok()?,
        issuer_der: tbs.issuer().to_der().ok()?,
        common_name: common_name(tbs.subject()),
        dns_names,
        ip_addresses,
        not_before: seconds(validity.not_before),
        not_after: seconds(validity.not_after),
    })
}

fn seconds(time: x509_cert::time::Time) -> i64 {
    i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    if let Ok(octets) = <[u8; 4]>::try_from(bytes) {
        return Some(std::net::Ipv4Addr::from(octets).to_string());
    }
    let octets = <[u8; 16]>::try_from(bytes).ok()?;
    Some(std::net::Ipv6Addr::from(octets).to_string())
}

/// Each attribute of a Name, in the order written: `(short name or dotted OID, value)`.
fn attributes(name: &Name) -> impl Iterator<Item = (String, String)> + '_ {
    name.iter().map(|attribute| {
        let value = &attribute.value;
        (
            attribute_name(&attribute.oid),
            string_value(value.tag(), value.value()),
        )
    })
}

fn name_text(name: &Name) -> String {
    if name.is_empty() {
        return "(empty name)".to_string();
    }
    attributes(name)
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The last common name written, the most specific one.
fn common_name(name: &Name) -> Option<String> {
    attributes(name)
        .filter(|(key, _)| key == "CN")
        .last()
        .map(|(_, value)| value)
}

/// The short names OpenSSL prints for the attributes certificates use.
fn attribute_name(oid: &ObjectIdentifier) -> String {
    match oid.as_bytes() {
        [0x55, 0x04, 0x03] => "CN".to_string(),
        [0x55, 0x04, 0x06] => "C".to_string(),
        [0x55, 0x04, 0x07] => "L".to_string(),
        [0x55, 0x04, 0x08] => "ST".to_string(),
        [0x55, 0x04, 0x0a] => "O".to_string(),
        [0x55, 0x04, 0x0b] => "OU".to_string(),
        [0x55, 0x04, 0x05] => "serialNumber".to_string(),
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress".to_string(),
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC".to_string(),
        _ => oid.to_string(),
    }
}

/// A directory string as text: BMP as UTF-16, any other string type
/// (UTF-8, printable, IA5, T.61) as UTF-8 bytes, invalid ones replaced.
fn string_value(tag: Tag, value: &[u8]) -> String {
    match tag {
        Tag::BmpString => {
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => String::from_utf8_lossy(value).into_owned(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    /// A self-signed certificate from the openssl command (bin/setup installs
    /// it), with `subject` as openssl's `-subj` and `-addext` lines, valid for
    /// `days` from now.
    pub(crate) fn openssl_certificate(subject: &str, extensions: &[&str], days: u32) -> Vec<u8> {
        let mut command = std::process::Command::new("openssl");
        command.args(["req", "-x509", "-newkey", "ec", "-pkeyopt"]);
        command.args(["ec_paramgen_curve:P-256", "-nodes", "-keyout", "/dev/null"]);
        command.args(["-subj", subject, "-days", &days.to_string()]);
        for extension in extensions {
            command.args(["-addext", extension]);
        }
        let output = command.output().expect("openssl runs");
        assert!(
            output.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        CertificateDer::from_pem_slice(&output.stdout)
            .expect("a PEM certificate")
            .to_vec()
    }

    /// `der` with the first time of type `tag` replaced by `text`, of the
    /// same length (the signature no longer verifies, which reading ignores).
    fn with_time(mut der: Vec<u8>, tag: u8, text: &[u8]) -> Vec<u8> {
        let header = [tag, text.len() as u8];
        let at = der
            .windows(2)
            .position(|w| w == header)
            .expect("a time of that type")
            + 2;
        der[at..at + text.len()].copy_from_slice(text);
        der
    }

    #[test]
    fn reads_names_and_validity() {
        let der = openssl_certificate(
            "/O=Example/CN=node1.example.net",
            &["subjectAltName=DNS:node1.example.net,DNS:alias.example.net,IP:127.0.0.1,IP:::1"],
            40_000,
        );
        // UTCTime before 2050, GeneralizedTime after: both forms.
        let der = with_time(der, 0x17, b"251124220750Z");
        let der = with_time(der, 0x18, b"21251124220750Z");
        let cert = parse(&der).expect("parses");
        assert_eq!(cert.subject, "O=Example, CN=node1.example.net");
        assert_eq!(cert.issuer, "O=Example, CN=node1.example.net");
        assert_eq!(cert.subject_der, cert.issuer_der);
        assert_eq!(cert.common_name.as_deref(), Some("node1.example.net"));
        assert_eq!(
            cert.dns_names,
            vec!["node1.example.net", "alias.example.net"]
        );
        assert_eq!(cert.ip_addresses, vec!["127.0.0.1", "::1"]);
        assert_eq!(
            cert.names(),
            vec!["node1.example.net", "alias.example.net", "127.0.0.1", "::1"]
        );
        assert_eq!(cert.not_before, 1_764_022_070);
        assert_eq!(
            crate::utc::format_utc(cert.not_after as u64),
            "2125-11-24 22:07:50 UTC"
        );
    }

    #[test]
    fn names_unusual_attributes_and_takes_the_last_common_name() {
        let der = openssl_certificate(
            "/DC=net/DC=example/emailAddress=ops@example.net/2.5.4.12=Broker/CN=first/CN=second",
            &[],
            1,
        );
        let cert = parse(&der).expect("parses");
        assert_eq!(
            cert.subject,
            "DC=net, DC=example, emailAddress=ops@example.net, 2.5.4.12=Broker, CN=first, CN=second"
        );
        assert_eq!(cert.common_name.as_deref(), Some("second"));
        assert!(cert.dns_names.is_empty() && cert.ip_addresses.is_empty());
    }

    #[test]
    fn the_first_alternative_name_extension_counts() {
        let der = openssl_certificate(
            "/CN=broker.example.net",
            &[
                "subjectAltName=DNS:other.example.net",
                "issuerAltName=DNS:broker.example.net",
            ],
            1,
        );
        // The issuerAltName's OID (2.5.29.18) made a second subjectAltName (2.5.29.17).
        let issuer_alt_name = [0x06, 0x03, 0x55, 0x1d, 0x12];
        let at = der
            .windows(5)
            .position(|w| w == issuer_alt_name)
            .expect("an issuerAltName");
        let mut twice = der.clone();
        twice[at + 4] = 0x11;
        let cert = parse(&twice).expect("parses");
        assert_eq!(cert.dns_names, vec!["other.example.net"]);
    }

    #[test]
    fn reads_bmp_strings_as_utf16() {
        assert_eq!(string_value(Tag::BmpString, &[0, b'h', 0x00, 0xe9]), "hé");
        assert_eq!(string_value(Tag::Utf8String, "hé".as_bytes()), "hé");
        assert_eq!(string_value(Tag::PrintableString, &[0xff]), "\u{fffd}");
    }

    #[test]
    fn refuses_truncated_or_garbage_input_without_panicking() {
        let der = openssl_certificate("/CN=node1.example.net", &[], 1);
        assert!(parse(&der).is_some());
        for end in 0..der.len() {
            assert!(parse(&der[..end]).is_none());
        }
        let mut flipped = der.clone();
        for i in 0..flipped.len() {
            flipped[i] ^= 0xff;
            let _ = parse(&flipped);
            flipped[i] ^= 0xff;
        }
        assert!(parse(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(parse(&[0x3f, 0x00]).is_none());
    }
}
