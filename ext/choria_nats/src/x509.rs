//! Just enough X.509 reading to describe a certificate to an operator: its
//! subject and issuer names, its DNS and IP names, and its validity period.
//!
//! Verification is not done here: the chain, signatures, validity and key
//! usage are checked by rustls' webpki verifier (see `cert_check.rs`). This
//! reader only walks DER, bounds-checked, and says `None` for anything it does
//! not understand; it never panics on bad input.

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
    /// Seconds since the Unix epoch (negative before 1970).
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

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const INTEGER: u8 = 0x02;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const VERSION: u8 = 0xA0;
const EXTENSIONS: u8 = 0xA3;
const SAN_DNS: u8 = 0x82;
const SAN_IP: u8 = 0x87;

/// 2.5.29.17, subjectAltName.
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];

/// A DER reader over a byte slice.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Der { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element: its tag, its content, and its whole encoding.
    fn next(&mut self) -> Option<(u8, &'a [u8], &'a [u8])> {
        let (&tag, after_tag) = self.rest.split_first()?;
        if tag & 0x1f == 0x1f {
            return None; // high tag numbers never appear in certificates
        }
        let (&first, mut after_len) = after_tag.split_first()?;
        let length = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || after_len.len() < count {
                return None;
            }
            let mut length = 0usize;
            for &byte in &after_len[..count] {
                length = (length << 8) | usize::from(byte);
            }
            after_len = &after_len[count..];
            length
        };
        if after_len.len() < length {
            return None;
        }
        let header = self.rest.len() - after_len.len();
        let whole = &self.rest[..header + length];
        let content = &after_len[..length];
        self.rest = &after_len[length..];
        Some((tag, content, whole))
    }

    /// The next element, which must have `tag`.
    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.next()? {
            (found, content, _) if found == tag => Some(content),
            _ => None,
        }
    }

    /// The next element's content if it has `tag`; nothing is consumed otherwise.
    fn optional(&mut self, tag: u8) -> Option<&'a [u8]> {
        if self.peek_tag() == Some(tag) {
            self.expect(tag)
        } else {
            None
        }
    }
}

/// Parses a DER certificate; `None` when it is not one this reader understands.
pub fn parse(der: &[u8]) -> Option<Certificate> {
    let certificate = Der::new(der).expect(SEQUENCE)?;
    let mut tbs = Der::new(Der::new(certificate).expect(SEQUENCE)?);
    tbs.optional(VERSION);
    tbs.expect(INTEGER)?; // serial
    tbs.expect(SEQUENCE)?; // signature algorithm
    let (_, issuer, issuer_der) = tbs.next()?;
    let mut validity = Der::new(tbs.expect(SEQUENCE)?);
    let not_before = time(&mut validity)?;
    let not_after = time(&mut validity)?;
    let (tag, subject, subject_der) = tbs.next()?;
    if tag != SEQUENCE {
        return None;
    }
    tbs.expect(SEQUENCE)?; // subject public key info
    let (dns_names, ip_addresses) = alt_names(&mut tbs).unwrap_or_default();
    Some(Certificate {
        subject: name_text(subject).unwrap_or_else(|| "(unreadable name)".to_string()),
        issuer: name_text(issuer).unwrap_or_else(|| "(unreadable name)".to_string()),
        subject_der: subject_der.to_vec(),
        issuer_der: issuer_der.to_vec(),
        common_name: common_name(subject),
        dns_names,
        ip_addresses,
        not_before,
        not_after,
    })
}

/// The DNS names and IP addresses of the subjectAltName extension.
fn alt_names(tbs: &mut Der<'_>) -> Option<(Vec<String>, Vec<String>)> {
    while !tbs.is_empty() {
        let (tag, content, _) = tbs.next()?;
        if tag != EXTENSIONS {
            continue; // issuerUniqueID, subjectUniqueID
        }
        let mut extensions = Der::new(Der::new(content).expect(SEQUENCE)?);
        while !extensions.is_empty() {
            let mut extension = Der::new(extensions.expect(SEQUENCE)?);
            let oid = extension.expect(OID)?;
            extension.optional(BOOLEAN);
            let value = extension.expect(OCTET_STRING)?;
            if oid == OID_SAN {
                return general_names(value);
            }
        }
    }
    Some((Vec::new(), Vec::new()))
}

fn general_names(value: &[u8]) -> Option<(Vec<String>, Vec<String>)> {
    let mut names = Der::new(Der::new(value).expect(SEQUENCE)?);
    let (mut dns, mut ips) = (Vec::new(), Vec::new());
    while !names.is_empty() {
        let (tag, content, _) = names.next()?;
        match tag {
            SAN_DNS => dns.push(String::from_utf8_lossy(content).into_owned()),
            SAN_IP => {
                if let Some(ip) = ip_text(content) {
                    ips.push(ip);
                }
            }
            _ => {}
        }
    }
    Some((dns, ips))
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    if let Ok(octets) = <[u8; 4]>::try_from(bytes) {
        return Some(std::net::Ipv4Addr::from(octets).to_string());
    }
    let octets = <[u8; 16]>::try_from(bytes).ok()?;
    Some(std::net::Ipv6Addr::from(octets).to_string())
}

/// Each attribute of a Name: `(short name or dotted OID, value)`.
fn attributes(name: &[u8]) -> Option<Vec<(String, String)>> {
    let mut rdns = Der::new(name);
    let mut out = Vec::new();
    while !rdns.is_empty() {
        let mut set = Der::new(rdns.expect(SET)?);
        while !set.is_empty() {
            let mut attribute = Der::new(set.expect(SEQUENCE)?);
            let oid = attribute.expect(OID)?;
            let (tag, value, _) = attribute.next()?;
            out.push((attribute_name(oid), string_value(tag, value)));
        }
    }
    Some(out)
}

fn name_text(name: &[u8]) -> Option<String> {
    let attributes = attributes(name)?;
    if attributes.is_empty() {
        return Some("(empty name)".to_string());
    }
    Some(
        attributes
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn common_name(name: &[u8]) -> Option<String> {
    attributes(name)?
        .into_iter()
        .rev()
        .find(|(key, _)| key == "CN")
        .map(|(_, value)| value)
}

fn attribute_name(oid: &[u8]) -> String {
    match oid {
        [0x55, 0x04, 0x03] => "CN".to_string(),
        [0x55, 0x04, 0x06] => "C".to_string(),
        [0x55, 0x04, 0x07] => "L".to_string(),
        [0x55, 0x04, 0x08] => "ST".to_string(),
        [0x55, 0x04, 0x0a] => "O".to_string(),
        [0x55, 0x04, 0x0b] => "OU".to_string(),
        [0x55, 0x04, 0x05] => "serialNumber".to_string(),
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress".to_string(),
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC".to_string(),
        other => dotted(other),
    }
}

/// An OID as `1.2.840.113549`.
fn dotted(oid: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for &byte in oid {
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            if parts.is_empty() {
                let first = (value / 40).min(2);
                parts.push(first);
                parts.push(value - first * 40);
            } else {
                parts.push(value);
            }
            value = 0;
        }
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// A directory string as text: UTF-8, printable, IA5 and T.61 as bytes;
/// BMP as UTF-16.
fn string_value(tag: u8, value: &[u8]) -> String {
    match tag {
        0x1e => {
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => String::from_utf8_lossy(value).into_owned(),
    }
}

fn time(der: &mut Der<'_>) -> Option<i64> {
    let (tag, content, _) = der.next()?;
    let text = std::str::from_utf8(content).ok()?;
    let text = text.strip_suffix('Z')?;
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> { text.get(range)?.parse().ok() };
    let (year, rest) = match (tag, text.len()) {
        (UTC_TIME, 12) => {
            let yy = number(0..2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (GENERALIZED_TIME, 14) => (number(0..4)?, 4),
        _ => return None,
    };
    let month = number(rest..rest + 2)?;
    let day = number(rest + 2..rest + 4)?;
    let hour = number(rest + 4..rest + 6)?;
    let minute = number(rest + 6..rest + 8)?;
    let second = number(rest + 8..rest + 10)?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_dates_both_ways() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        for secs in [0u64, 951_782_400, 1_795_558_070, 4_102_444_800] {
            let text = crate::tls::format_utc(secs);
            let y: i64 = text[0..4].parse().unwrap();
            let m: i64 = text[5..7].parse().unwrap();
            let d: i64 = text[8..10].parse().unwrap();
            assert_eq!(
                days_from_civil(y, m, d) * 86_400,
                (secs - secs % 86_400) as i64
            );
        }
    }

    #[test]
    fn reads_both_time_forms() {
        let utc = [
            UTC_TIME, 13, b'2', b'5', b'1', b'1', b'2', b'4', b'2', b'2', b'0', b'7', b'5', b'0',
            b'Z',
        ];
        assert_eq!(time(&mut Der::new(&utc)), Some(1_764_022_070));
        let old = [
            UTC_TIME, 13, b'9', b'9', b'0', b'1', b'0', b'1', b'0', b'0', b'0', b'0', b'0', b'0',
            b'Z',
        ];
        assert_eq!(time(&mut Der::new(&old)), Some(915_148_800));
        let generalized = [
            GENERALIZED_TIME,
            15,
            b'2',
            b'1',
            b'2',
            b'5',
            b'0',
            b'1',
            b'0',
            b'1',
            b'0',
            b'0',
            b'0',
            b'0',
            b'0',
            b'0',
            b'Z',
        ];
        assert_eq!(time(&mut Der::new(&generalized)), Some(4_891_363_200));
        let local = [
            UTC_TIME, 12, b'2', b'5', b'1', b'1', b'2', b'4', b'2', b'2', b'0', b'7', b'5', b'0',
        ];
        assert_eq!(time(&mut Der::new(&local)), None);
    }

    #[test]
    fn never_panics_on_truncated_or_garbage_input() {
        let der = sample();
        for end in 0..der.len() {
            let _ = parse(&der[..end]);
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

    #[test]
    fn names_dotted_oids() {
        assert_eq!(
            dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]),
            "1.2.840.113549"
        );
        assert_eq!(dotted(&[0x55, 0x1d, 0x11]), "2.5.29.17");
    }

    /// A certificate built here, DER by hand, so the test needs no files.
    fn sample() -> Vec<u8> {
        fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            let len = content.len();
            if len < 0x80 {
                out.push(len as u8);
            } else if len < 0x100 {
                out.extend_from_slice(&[0x81, len as u8]);
            } else {
                out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
            }
            out.extend_from_slice(content);
            out
        }
        fn name(parts: &[(&[u8], &str)]) -> Vec<u8> {
            let rdns: Vec<u8> = parts
                .iter()
                .flat_map(|(oid, value)| {
                    let attr = [tlv(OID, oid), tlv(0x0c, value.as_bytes())].concat();
                    tlv(SET, &tlv(SEQUENCE, &attr))
                })
                .collect();
            tlv(SEQUENCE, &rdns)
        }
        let issuer = name(&[(&[0x55, 0x04, 0x03], "Puppet CA: puppet.example.net")]);
        let subject = name(&[
            (&[0x55, 0x04, 0x0a], "Example"),
            (&[0x55, 0x04, 0x03], "node1.example.net"),
        ]);
        let validity = tlv(
            SEQUENCE,
            &[
                tlv(UTC_TIME, b"251124220750Z"),
                tlv(GENERALIZED_TIME, b"21251124220750Z"),
            ]
            .concat(),
        );
        let sans = tlv(
            SEQUENCE,
            &[
                tlv(SAN_DNS, b"node1.example.net"),
                tlv(SAN_DNS, b"alias.example.net"),
                tlv(SAN_IP, &[127, 0, 0, 1]),
                tlv(SAN_IP, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            ]
            .concat(),
        );
        let basic = tlv(
            SEQUENCE,
            &[
                tlv(OID, &[0x55, 0x1d, 0x13]),
                tlv(BOOLEAN, &[0xff]),
                tlv(OCTET_STRING, &tlv(SEQUENCE, &[])),
            ]
            .concat(),
        );
        let san_ext = tlv(
            SEQUENCE,
            &[tlv(OID, OID_SAN), tlv(OCTET_STRING, &sans)].concat(),
        );
        let extensions = tlv(EXTENSIONS, &tlv(SEQUENCE, &[basic, san_ext].concat()));
        let algorithm = tlv(
            SEQUENCE,
            &tlv(OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
        );
        let tbs = tlv(
            SEQUENCE,
            &[
                tlv(VERSION, &tlv(INTEGER, &[2])),
                tlv(INTEGER, &[0x1d, 0x40]),
                algorithm.clone(),
                issuer,
                validity,
                subject,
                tlv(SEQUENCE, &tlv(SEQUENCE, &[])),
                extensions,
            ]
            .concat(),
        );
        tlv(SEQUENCE, &[tbs, algorithm, tlv(0x03, &[0x00])].concat())
    }

    #[test]
    fn reads_names_and_validity() {
        let cert = parse(&sample()).expect("parses");
        assert_eq!(cert.subject, "O=Example, CN=node1.example.net");
        assert_eq!(cert.issuer, "CN=Puppet CA: puppet.example.net");
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
            crate::tls::format_utc(cert.not_after as u64),
            "2125-11-24 22:07:50 UTC"
        );
    }
}
