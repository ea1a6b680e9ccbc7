//! The TLS material of a connection: the CA, certificate and key files, read
//! into what rustls takes, with a line that says what to do when one cannot
//! be read. The files are checked before any connection (`cert_check.rs`), so
//! a wrong path or key reads as one clear line, not a handshake error.
//!
//! Verification is never optional: async-nats gets the CA file (never the
//! system roots), the client certificate and key, and `require_tls`; no raw
//! rustls configuration is accepted from outside. The one built here is for
//! `plugin.security.support_legacy_certificates` (`legacy_names.rs`), and it
//! verifies as much.

use crate::errors::Failure;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::path::{Path, PathBuf};

/// The PEM files a connection presents and trusts.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[cfg(test)]
impl TlsFiles {
    /// `ca.pem`, `cert.pem` and `key.pem` in `dir`, for tests.
    pub(crate) fn in_dir(dir: &Path) -> Self {
        TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }
}

pub(crate) fn read(role: &str, path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        let hint = match e.kind() {
            io::ErrorKind::NotFound => {
                "does not exist: `mco choria request_cert` creates the certificate, key and CA files, or give the right path".to_string()
            }
            io::ErrorKind::PermissionDenied => {
                "cannot be read by this user: fix its permissions or run as its owner".to_string()
            }
            _ => format!("cannot be read: {e}"),
        };
        Failure::config(format!("The {role} file {} {hint}", path.display()))
    })
}

pub(crate) fn certificates(
    role: &str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let pem = read(role, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            Failure::config(format!(
                "The {role} file {} is not valid PEM: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Failure::config(format!(
            "The {role} file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

/// The private key in the PEM file at `path`: RSA (PKCS#1, as Puppet writes
/// it), PKCS#8 or EC.
pub(crate) fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, Failure> {
    PrivateKeyDer::from_pem_slice(&read("private key", path)?).map_err(|_| {
        Failure::config(format!(
            "The private key file {} holds no PEM private key (RSA PKCS#1, PKCS#8 or EC)",
            path.display()
        ))
    })
}
