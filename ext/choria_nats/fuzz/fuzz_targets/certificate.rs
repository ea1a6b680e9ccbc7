//! `x509::parse` and the legacy-name rule on any bytes, as a broker's
//! certificate or the files would give them: a certificate that reads lists
//! its names without repeats, its dates format, and its common name serves as
//! a legacy name exactly when it holds no DNS or IP alternative name.
#![no_main]

use choria_nats::legacy_names::legacy_name_matches;
use choria_nats::utc::format_utc_signed;
use choria_nats::x509::parse;
use libfuzzer_sys::fuzz_target;
use rustls_pki_types::{CertificateDer, ServerName};

fuzz_target!(|data: &[u8]| {
    let Some(cert) = parse(data) else { return };
    let names = cert.names();
    for (i, name) in names.iter().enumerate() {
        assert!(
            !names[..i].iter().any(|n| n.eq_ignore_ascii_case(name)),
            "{name} twice in {names:?}"
        );
    }
    for date in [cert.not_before, cert.not_after] {
        let text = format_utc_signed(date);
        assert!(text.ends_with(" UTC"), "{text}");
    }
    let Some(common_name) = cert.common_name.as_deref() else {
        return;
    };
    let Ok(dialled) = ServerName::try_from(common_name) else {
        return;
    };
    // A name written as rustls writes it back, so the comparison is exact.
    let canonical = match &dialled {
        ServerName::DnsName(dns) => dns.as_ref() == common_name && !common_name.ends_with('.'),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string() == common_name,
        _ => false,
    };
    if canonical {
        let without_alt_names = cert.dns_names.is_empty() && cert.ip_addresses.is_empty();
        assert_eq!(
            legacy_name_matches(&CertificateDer::from(data), &dialled),
            without_alt_names,
            "{cert:?}"
        );
    }
});
