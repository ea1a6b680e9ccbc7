//! Pre-flight checks of the CA, certificate and key files, made before any
//! connection and by the diagnostics (`ChoriaNats.check_certificates`, in
//! `ruby_api/certificate.rs`). Each
//! check ends in one line for an operator that names the file and says what
//! to do. The chain is verified by rustls' webpki client verifier with the CA
//! file as the only trust anchors and the certificate file's extra
//! certificates as intermediates; `x509.rs` only reads names and dates.

use crate::errors::Failure;
use crate::tls::{certificates, TlsFiles};
use crate::utc::{format_utc, format_utc_signed, whole_days};
use crate::x509;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, RootCertStore, SignatureAlgorithm};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Where the files come from, which says what a line tells the operator to
/// do: ask the Puppet CA (`mco choria request_cert`), or replace the files
/// the `file` security provider names, which nothing here can request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Puppet,
    File,
}

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Problem,
    /// Not run, because a check it needs failed.
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Problem => "problem",
            Status::Skipped => "skipped",
        }
    }
}

/// One check and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `ca`, `certificate`, `key`, `chain`, `name`, `key_match` or `validity`.
    pub name: &'static str,
    pub status: Status,
    pub line: String,
}

/// Every check, in the order a problem is reported, and what the certificate holds.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub checks: Vec<Check>,
    /// The first certificate of the certificate file, when it could be read.
    pub leaf: Option<x509::Certificate>,
    /// Subjects from the certificate up to the CA, as far as the files show.
    pub chain: Vec<String>,
    /// `RSA`, `EC` or `Ed25519`.
    pub key_type: Option<String>,
}

impl Report {
    /// The first check that found a problem.
    pub fn first_problem(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.status == Status::Problem)
    }

    fn add(&mut self, name: &'static str, result: Result<String, String>) -> bool {
        let (status, line) = match result {
            Ok(line) => (Status::Ok, line),
            Err(line) => (Status::Problem, line),
        };
        self.checks.push(Check { name, status, line });
        status == Status::Ok
    }

    fn skip(&mut self, name: &'static str, why: &str) {
        let what = match name {
            "chain" => "whether the certificate is signed by the CA",
            "name" => "whether the certificate is for the certname",
            "key_match" => "whether the key belongs to the certificate",
            _ => "when the certificate expires",
        };
        self.checks.push(Check {
            name,
            status: Status::Skipped,
            line: format!("Not checked {what}: {why}"),
        });
    }
}

fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        format!("1 {word}")
    } else {
        format!("{count} {word}s")
    }
}

/// The pre-flight checks made before any connection, which do not depend on
/// the certname: every file exists and parses, the certificate chains to the
/// CA (with any intermediates in the certificate file), the key belongs to
/// the certificate, and the certificate is valid now. RSA keys as Puppet
/// writes them (PKCS#1), PKCS#8 and EC keys are accepted. The first problem,
/// in that order, is the error.
pub fn preflight(files: &TlsFiles) -> Result<(), Failure> {
    match check(files, None, UnixTime::now(), Provider::Puppet).first_problem() {
        Some(problem) => Err(Failure::config(problem.line.clone())),
        None => Ok(()),
    }
}

/// Runs every check. `certname` adds the name check; `now` is the current
/// time; `provider` chooses what the lines say to do.
pub fn check(
    files: &TlsFiles,
    certname: Option<&str>,
    now: UnixTime,
    provider: Provider,
) -> Report {
    let mut report = Report::default();
    let ca = certificates("CA", &files.ca);
    report.add("ca", ca_line(&files.ca, &ca));
    let chain = certificates("certificate", &files.cert);
    report.leaf = chain
        .as_ref()
        .ok()
        .and_then(|c| c.first())
        .and_then(|der| x509::parse(der));
    let cert_ok = report.add("certificate", cert_line(&files.cert, &chain, &report.leaf));
    let key = load_key(&files.key);
    report.key_type = key.as_ref().ok().map(|(_, kind)| kind.clone());
    let key_line = key
        .as_ref()
        .map(|(_, kind)| format!("The private key {} is an {kind} key", files.key.display()))
        .map_err(|f| f.message.clone());
    report.add("key", key_line);

    let chain = chain.ok().filter(|_| cert_ok);
    match (ca.as_ref().ok(), chain.as_deref()) {
        (Some(ca), Some(chain)) => {
            report.chain = issuer_chain(chain, ca);
            let at = clamp_to_validity(now, report.leaf.as_ref());
            let line = verify_chain(files, ca, chain, at, &report, provider);
            report.add("chain", line);
        }
        _ => report.skip("chain", "the CA or the certificate file is not usable"),
    }
    if let Some(certname) = certname {
        match report.leaf.as_ref().filter(|_| cert_ok) {
            Some(leaf) => {
                let line = name_line(&files.cert, leaf, certname, provider);
                report.add("name", line);
            }
            None => report.skip("name", "the certificate file is not usable"),
        }
    }
    match (chain, key.ok()) {
        (Some(chain), Some((signing_key, _))) => {
            let line = key_match_line(files, chain, signing_key);
            report.add("key_match", line);
        }
        _ => report.skip("key_match", "the certificate or the key file is not usable"),
    }
    match report.leaf.as_ref().filter(|_| cert_ok) {
        Some(leaf) => {
            let line = validity_line(&files.cert, leaf, now, provider);
            report.add("validity", line);
        }
        None => report.skip("validity", "the certificate file is not usable"),
    }
    report
}

fn ca_line(
    path: &Path,
    ca: &Result<Vec<CertificateDer<'static>>, Failure>,
) -> Result<String, String> {
    let certs = ca.as_ref().map_err(|f| f.message.clone())?;
    let subjects: Vec<String> = certs
        .iter()
        .map(|der| x509::parse(der).map_or_else(|| "(unreadable)".to_string(), |c| c.subject))
        .collect();
    Ok(format!(
        "The CA file {} holds {}: {}",
        path.display(),
        plural(certs.len(), "certificate"),
        subjects.join("; ")
    ))
}

fn cert_line(
    path: &Path,
    chain: &Result<Vec<CertificateDer<'static>>, Failure>,
    leaf: &Option<x509::Certificate>,
) -> Result<String, String> {
    let certs = chain.as_ref().map_err(|f| f.message.clone())?;
    let Some(leaf) = leaf else {
        return Err(format!(
            "The certificate file {} holds a certificate that cannot be read as X.509: replace it with the PEM certificate the CA issued",
            path.display()
        ));
    };
    let extra = match certs.len() {
        1 => String::new(),
        n => format!(
            ", followed by {}",
            plural(n - 1, "intermediate CA certificate")
        ),
    };
    Ok(format!(
        "The certificate file {} holds {}, issued by {}{extra}",
        path.display(),
        leaf.subject,
        leaf.issuer
    ))
}

fn load_key(path: &Path) -> Result<(Arc<dyn rustls::sign::SigningKey>, String), Failure> {
    let key = crate::tls::private_key(path)?;
    let provider = rustls::crypto::ring::default_provider();
    let signing_key = provider.key_provider.load_private_key(key).map_err(|e| {
        Failure::config(format!(
            "The private key in {} cannot be used: {e}",
            path.display()
        ))
    })?;
    let kind = match signing_key.algorithm() {
        SignatureAlgorithm::RSA => "RSA",
        SignatureAlgorithm::ECDSA => "EC",
        SignatureAlgorithm::ED25519 => "Ed25519",
        _ => "unusual",
    };
    Ok((signing_key, kind.to_string()))
}

/// The subjects from the leaf up through the certificate file's intermediates
/// and the CA file, following issuer names.
fn issuer_chain(chain: &[CertificateDer<'_>], ca: &[CertificateDer<'_>]) -> Vec<String> {
    let parsed: Vec<x509::Certificate> = chain
        .iter()
        .chain(ca.iter())
        .filter_map(|der| x509::parse(der))
        .collect();
    let Some(mut current) = chain.first().and_then(|der| x509::parse(der)) else {
        return Vec::new();
    };
    let mut out = vec![current.subject.clone()];
    while current.issuer_der != current.subject_der && out.len() < 10 {
        match parsed.iter().find(|c| c.subject_der == current.issuer_der) {
            Some(issuer) => {
                out.push(issuer.subject.clone());
                current = issuer.clone();
            }
            None => {
                out.push(format!("{} (not in the files)", current.issuer));
                break;
            }
        }
    }
    out
}

/// A time inside the certificate's validity, so that the chain check says
/// whether the CA signed it, apart from whether it is valid now.
fn clamp_to_validity(now: UnixTime, leaf: Option<&x509::Certificate>) -> UnixTime {
    let Some(leaf) = leaf else { return now };
    let secs = now.as_secs() as i64;
    let clamped = secs.clamp(
        leaf.not_before.max(0),
        leaf.not_after.max(leaf.not_before.max(0)),
    );
    UnixTime::since_unix_epoch(Duration::from_secs(clamped as u64))
}

fn verify_chain(
    files: &TlsFiles,
    ca: &[CertificateDer<'static>],
    chain: &[CertificateDer<'static>],
    at: UnixTime,
    report: &Report,
    provider: Provider,
) -> Result<String, String> {
    let mut roots = RootCertStore::empty();
    let (_added, _ignored) = roots.add_parsable_certificates(ca.iter().cloned());
    if roots.is_empty() {
        let how = match provider {
            Provider::Puppet => {
                "replace it with the CA's certificate (`mco choria request_cert` downloads it)"
            }
            Provider::File => "set plugin.security.file.ca to the CA's certificate",
        };
        return Err(format!(
            "The CA file {} holds no certificate usable as a trust anchor: {how}",
            files.ca.display()
        ));
    }
    let crypto = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crypto)
        .build()
        .map_err(|e| format!("Cannot use the CA file {}: {e}", files.ca.display()))?;
    let cert = files.cert.display();
    let ca_file = files.ca.display();
    match verifier.verify_client_cert(&chain[0], &chain[1..], at) {
        Ok(_) => Ok(format!(
            "The certificate is signed by the CA in {ca_file}: {}",
            report.chain.join(", issued by ")
        )),
        Err(rustls::Error::InvalidCertificate(error)) => Err(match error {
            CertificateError::UnknownIssuer => format!(
                "The certificate {cert} is not signed by the CA in {ca_file}: it was issued by {}; {}",
                report.leaf.as_ref().map_or("another CA", |l| l.issuer.as_str()),
                match provider {
                    Provider::Puppet => "get a certificate from this CA (`mco choria request_cert`), or configure the CA that issued it",
                    Provider::File => "use a certificate from this CA, or set plugin.security.file.ca to the CA that issued it",
                }
            ),
            CertificateError::BadSignature => format!(
                "The certificate {cert} names the CA in {ca_file} as its issuer, but that CA's signature on it does not verify: get a new certificate from this CA"
            ),
            CertificateError::ExpiredContext { not_after, .. } => format!(
                "An intermediate CA certificate in {cert} expired at {}: get the CA's current intermediate certificate",
                format_utc(not_after.as_secs())
            ),
            CertificateError::NotValidYetContext { not_before, .. } => format!(
                "An intermediate CA certificate in {cert} is not valid before {}: check the clocks of this machine and the CA",
                format_utc(not_before.as_secs())
            ),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => format!(
                "The certificate {cert} is not issued for TLS clients (its extended key usage lacks clientAuth): request a new one from the CA"
            ),
            other => format!(
                "The certificate {cert} does not verify against the CA in {ca_file}: {other:?}"
            ),
        }),
        Err(other) => Err(format!(
            "The certificate {cert} does not verify against the CA in {ca_file}: {other}"
        )),
    }
}

fn name_line(
    path: &Path,
    leaf: &x509::Certificate,
    certname: &str,
    provider: Provider,
) -> Result<String, String> {
    let matches = leaf
        .common_name
        .iter()
        .chain(leaf.dns_names.iter())
        .any(|name| name.eq_ignore_ascii_case(certname));
    if matches {
        return Ok(format!("The certificate is for {certname}, the certname"));
    }
    let names = leaf.names();
    let held = if names.is_empty() {
        "no name".to_string()
    } else {
        names.join(", ")
    };
    let gets = match provider {
        Provider::Puppet => " (`mco choria request_cert` gets one)",
        Provider::File => "",
    };
    Err(format!(
        "The certificate {} is for {held}, not for the certname {certname}: use the certificate issued for {certname}{gets}, or set MCOLLECTIVE_CERTNAME to the name it holds",
        path.display()
    ))
}

fn key_match_line(
    files: &TlsFiles,
    chain: Vec<CertificateDer<'static>>,
    key: Arc<dyn rustls::sign::SigningKey>,
) -> Result<String, String> {
    let certified = rustls::sign::CertifiedKey::new(chain, key);
    match certified.keys_match() {
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => Err(format!(
            "The private key {} does not belong to the certificate {}: use the key the certificate was issued for",
            files.key.display(),
            files.cert.display()
        )),
        _ => Ok(format!(
            "The private key {} belongs to the certificate",
            files.key.display()
        )),
    }
}

fn validity_line(
    path: &Path,
    leaf: &x509::Certificate,
    now: UnixTime,
    provider: Provider,
) -> Result<String, String> {
    let now = now.as_secs() as i64;
    if now < leaf.not_before {
        return Err(format!(
            "The certificate {} is not valid before {} (it is {} here): check the clocks of this machine and the CA",
            path.display(),
            format_utc_signed(leaf.not_before),
            format_utc_signed(now)
        ));
    }
    if now > leaf.not_after {
        let how = match provider {
            Provider::Puppet => "get a new one from the CA (remove the certificate and key, then `mco choria request_cert`; a node's certificate is renewed by Puppet)",
            Provider::File => "replace it and its key with new ones from the CA that issued it",
        };
        return Err(format!(
            "The certificate {} expired at {}: {how}",
            path.display(),
            format_utc_signed(leaf.not_after)
        ));
    }
    Ok(format!(
        "The certificate is valid until {} ({} left)",
        format_utc_signed(leaf.not_after),
        plural(whole_days(now, leaf.not_after) as usize, "day")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::Category;

    #[test]
    fn a_missing_file_names_the_path_and_request_cert() {
        let dir = std::env::temp_dir().join(format!("choria-nats-missing-{}", std::process::id()));
        let err = preflight(&TlsFiles::in_dir(&dir)).unwrap_err();
        assert_eq!(err.kind, Category::Configuration);
        assert!(
            err.message.contains("ca.pem does not exist"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("mco choria request_cert"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        let dir = std::env::temp_dir().join(format!("choria-nats-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), "not a certificate\n").unwrap();
        let err = preflight(&TlsFiles::in_dir(&dir)).unwrap_err();
        assert!(
            err.message.contains("holds no PEM certificate"),
            "{}",
            err.message
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_files_are_each_reported_and_the_rest_skipped() {
        let dir = std::env::temp_dir().join(format!("choria-nats-report-{}", std::process::id()));
        let report = check(
            &TlsFiles::in_dir(&dir),
            Some("me.mcollective"),
            UnixTime::now(),
            Provider::Puppet,
        );
        let statuses: Vec<(&str, Status)> =
            report.checks.iter().map(|c| (c.name, c.status)).collect();
        assert_eq!(
            statuses,
            vec![
                ("ca", Status::Problem),
                ("certificate", Status::Problem),
                ("key", Status::Problem),
                ("chain", Status::Skipped),
                ("name", Status::Skipped),
                ("key_match", Status::Skipped),
                ("validity", Status::Skipped),
            ]
        );
        let first = report.first_problem().unwrap();
        assert!(
            first.line.contains("ca.pem does not exist"),
            "{}",
            first.line
        );
        assert!(report.checks[2].line.contains("key.pem does not exist"));
    }

    #[test]
    fn clamps_the_chain_check_into_the_validity() {
        let leaf = x509::Certificate {
            subject: String::new(),
            issuer: String::new(),
            subject_der: Vec::new(),
            issuer_der: Vec::new(),
            common_name: None,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            not_before: 1_000,
            not_after: 2_000,
        };
        let at = |secs| UnixTime::since_unix_epoch(Duration::from_secs(secs));
        assert_eq!(clamp_to_validity(at(5_000), Some(&leaf)).as_secs(), 2_000);
        assert_eq!(clamp_to_validity(at(10), Some(&leaf)).as_secs(), 1_000);
        assert_eq!(clamp_to_validity(at(1_500), Some(&leaf)).as_secs(), 1_500);
        assert_eq!(clamp_to_validity(at(1_500), None).as_secs(), 1_500);
    }

    #[test]
    fn names_compare_without_case_and_list_what_the_certificate_holds() {
        let leaf = x509::Certificate {
            subject: "CN=Node1.example.net".into(),
            issuer: "CN=ca".into(),
            subject_der: Vec::new(),
            issuer_der: Vec::new(),
            common_name: Some("Node1.example.net".into()),
            dns_names: vec!["node1.example.net".into(), "alias.example.net".into()],
            ip_addresses: Vec::new(),
            not_before: 0,
            not_after: 1,
        };
        let path = Path::new("/ssl/certs/x.pem");
        let puppet = Provider::Puppet;
        assert!(name_line(path, &leaf, "node1.EXAMPLE.net", puppet).is_ok());
        assert!(name_line(path, &leaf, "alias.example.net", puppet).is_ok());
        let err = name_line(path, &leaf, "me.mcollective", puppet).unwrap_err();
        assert!(
            err.starts_with("The certificate /ssl/certs/x.pem is for Node1.example.net, alias.example.net, not for the certname me.mcollective: "),
            "{err}"
        );
        assert!(err.contains("mco choria request_cert"), "{err}");
    }

    #[test]
    fn the_file_provider_is_never_told_to_request_a_certificate() {
        let leaf = x509::Certificate {
            subject: "CN=node1.example.net".into(),
            issuer: "CN=ca".into(),
            subject_der: Vec::new(),
            issuer_der: Vec::new(),
            common_name: Some("node1.example.net".into()),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            not_before: 0,
            not_after: 1,
        };
        let path = Path::new("/etc/choria/tls.crt");
        let name = name_line(path, &leaf, "me.mcollective", Provider::File).unwrap_err();
        assert_eq!(
            name,
            "The certificate /etc/choria/tls.crt is for node1.example.net, not for the certname me.mcollective: use the certificate issued for me.mcollective, or set MCOLLECTIVE_CERTNAME to the name it holds"
        );
        let now = UnixTime::since_unix_epoch(Duration::from_secs(10));
        let expired = validity_line(path, &leaf, now, Provider::File).unwrap_err();
        assert_eq!(
            expired,
            "The certificate /etc/choria/tls.crt expired at 1970-01-01 00:00:01 UTC: replace it and its key with new ones from the CA that issued it"
        );
        let puppet = validity_line(path, &leaf, now, Provider::Puppet).unwrap_err();
        assert!(puppet.contains("mco choria request_cert"), "{puppet}");
    }
}
