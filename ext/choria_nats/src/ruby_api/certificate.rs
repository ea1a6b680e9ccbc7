//! `ChoriaNats.check_certificates`: the pre-flight checks of `cert_check.rs`
//! as a Hash for `lib/choria_nats/certificate_check.rb` and the doctor.

use crate::cert_check::{check, Provider};
use crate::tls::TlsFiles;
use magnus::{function, scan_args::scan_args, Error, RHash, RModule, Ruby, Value};
use rustls::pki_types::UnixTime;

/// `ChoriaNats.check_certificates(ca_file, cert_file, key_file, certname = nil, provider = "puppet")`:
/// every pre-flight check, at the current time, as a Hash. `provider`
/// ("puppet" or "file") chooses what the lines say to do.
fn check_certificates(ruby: &Ruby, args: &[Value]) -> Result<RHash, Error> {
    let args = scan_args::<
        (String, String, String),
        (Option<Option<String>>, Option<String>),
        (),
        (),
        (),
        (),
    >(args)?;
    let (ca, cert, key) = args.required;
    let (certname, provider) = args.optional;
    let certname = certname.flatten();
    let provider = match provider.as_deref() {
        None | Some("puppet") => Provider::Puppet,
        Some("file") => Provider::File,
        Some(other) => {
            return Err(Error::new(
                ruby.exception_arg_error(),
                format!("no security provider is named {other:?}: puppet or file"),
            ))
        }
    };
    let files = TlsFiles {
        ca: ca.into(),
        cert: cert.into(),
        key: key.into(),
    };
    let report = check(&files, certname.as_deref(), UnixTime::now(), provider);
    let hash = ruby.hash_new();
    let checks = ruby.ary_new();
    for check in &report.checks {
        let item = ruby.hash_new();
        item.aset("check", check.name)?;
        item.aset("status", check.status.as_str())?;
        item.aset("line", check.line.as_str())?;
        checks.push(item)?;
    }
    hash.aset("ok", report.first_problem().is_none())?;
    hash.aset("checks", checks)?;
    hash.aset("chain", report.chain.clone())?;
    hash.aset("key_type", report.key_type.clone())?;
    let leaf = report.leaf.as_ref();
    hash.aset("subject", leaf.map(|l| l.subject.clone()))?;
    hash.aset("issuer", leaf.map(|l| l.issuer.clone()))?;
    hash.aset("names", leaf.map(|l| l.names()).unwrap_or_default())?;
    hash.aset("not_before", leaf.map(|l| l.not_before))?;
    hash.aset("not_after", leaf.map(|l| l.not_after))?;
    Ok(hash)
}

pub fn define(_ruby: &Ruby, module: RModule) -> Result<(), Error> {
    module.define_module_function("check_certificates", function!(check_certificates, -1))
}
