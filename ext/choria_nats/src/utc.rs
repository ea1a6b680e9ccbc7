//! Every piece of calendar arithmetic: seconds since the Unix epoch as the
//! UTC dates operators read, and whole days between two times. The calendar
//! is the `der` crate's, the one that reads certificate dates (`x509.rs`).

use x509_cert::der::DateTime;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// A UTC time as `2026-11-24 22:07:50 UTC`.
///
/// Certificates cannot name a time outside 1970 to 9999 (rustls and
/// `x509.rs` both refuse them), so the fallback is for impossible input only.
pub fn format_utc(unix_seconds: u64) -> String {
    written(unix_seconds, ' ', " UTC")
        .unwrap_or_else(|| format!("{unix_seconds} seconds after 1970-01-01 00:00:00 UTC"))
}

/// `YYYY-MM-DD`, `between`, `hh:mm:ss`, `suffix`; None outside 1970 to 9999.
fn written(unix_seconds: u64, between: char, suffix: &str) -> Option<String> {
    let t = DateTime::from_unix_duration(std::time::Duration::from_secs(unix_seconds)).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02}{between}{:02}:{:02}:{:02}{suffix}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minutes(),
        t.seconds()
    ))
}

/// A UTC time as RFC 3339 with a `Z`, `2026-11-24T22:07:50Z`: how Go
/// writes a `time.Time` in JSON, so tools written for go-choria read it.
pub fn format_rfc3339(unix_seconds: i64) -> String {
    written(unix_seconds.max(0) as u64, 'T', "Z")
        .unwrap_or_else(|| "9999-12-31T23:59:59Z".to_string())
}

/// [`format_utc`] for a signed time; times before 1970 read as 1970.
pub fn format_utc_signed(unix_seconds: i64) -> String {
    format_utc(unix_seconds.max(0) as u64)
}

/// The whole days from `from` to `to`, rounded down (negative when `to` is earlier).
pub fn whole_days(from: i64, to: i64) -> i64 {
    (to - from).div_euclid(DAY)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_is_what_go_writes_for_a_utc_time() {
        assert_eq!(super::format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_rfc3339(1_795_040_870), "2026-11-18T22:27:50Z");
    }

    use super::*;

    #[test]
    fn formats_unix_time_as_utc() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc(1_795_558_070), "2026-11-24 22:07:50 UTC");
        assert_eq!(format_utc(253_402_300_799), "9999-12-31 23:59:59 UTC");
        assert_eq!(
            format_utc(253_402_300_800),
            "253402300800 seconds after 1970-01-01 00:00:00 UTC"
        );
    }

    #[test]
    fn reads_times_before_1970_as_1970() {
        assert_eq!(format_utc_signed(-1), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc_signed(86_399), "1970-01-01 23:59:59 UTC");
    }

    #[test]
    fn counts_whole_days() {
        assert_eq!(whole_days(0, DAY - 1), 0);
        assert_eq!(whole_days(0, DAY), 1);
        assert_eq!(whole_days(100, 100 + 30 * DAY + 5), 30);
    }
}
