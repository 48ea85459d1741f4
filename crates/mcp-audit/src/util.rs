//! Small helpers: lowercase hex and the fixed RFC 3339 UTC timestamp form used in records and
//! rotated file names (`2026-01-02T03:04:05.678Z`, `20260102T030405678Z`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Append the lowercase hex form of `bytes` to `out`.
pub(crate) fn hex_into(bytes: &[u8], out: &mut Vec<u8>) {
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0x0f)]);
    }
}

/// The lowercase hex form of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    hex_into(bytes, &mut out);
    // Only ASCII hex digits were pushed.
    String::from_utf8(out).unwrap_or_default()
}

/// Decode exactly `N` bytes of hex (either case).
pub(crate) fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// Milliseconds since the Unix epoch (0 for times before it).
pub(crate) fn unix_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    milli: u32,
}

fn civil(ms: u64) -> Civil {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Days to civil date (proleptic Gregorian), after H. Hinnant's `civil_from_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let small = |v: u64| u32::try_from(v).unwrap_or(0);
    Civil {
        year,
        month: u32::try_from(month).unwrap_or(1),
        day: u32::try_from(day).unwrap_or(1),
        hour: small(rem / 3600),
        minute: small(rem % 3600 / 60),
        second: small(rem % 60),
        milli: small(ms % 1000),
    }
}

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-01-02T03:04:05.678Z`.
pub(crate) fn rfc3339_millis(t: SystemTime) -> String {
    let c = civil(unix_millis(t));
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", c.year, c.month, c.day, c.hour, c.minute, c.second, c.milli)
}

/// [`rfc3339_millis`] that formats the date and time once per second and only the milliseconds
/// otherwise (the writer formats one timestamp per record).
#[derive(Debug, Default)]
pub(crate) struct TsCache {
    sec: Option<u64>,
    text: String,
}

impl TsCache {
    pub(crate) fn format(&mut self, t: SystemTime) -> &str {
        let ms = unix_millis(t);
        if self.sec == Some(ms / 1000) && self.text.len() == 24 {
            self.text.truncate(20);
            let milli = ms % 1000;
            for d in [milli / 100, milli / 10 % 10, milli % 10] {
                self.text.push(char::from(b'0' + u8::try_from(d).unwrap_or(0)));
            }
            self.text.push('Z');
        } else {
            self.text = rfc3339_millis(t);
            self.sec = Some(ms / 1000);
        }
        &self.text
    }
}

/// `20260102T030405678Z`: the timestamp in rotated file names (sorts as text).
pub(crate) fn compact_millis(t: SystemTime) -> String {
    let c = civil(unix_millis(t));
    format!("{:04}{:02}{:02}T{:02}{:02}{:02}{:03}Z", c.year, c.month, c.day, c.hour, c.minute, c.second, c.milli)
}

fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn from_parts(date: (&str, &str, &str), time: (&str, &str, &str, &str)) -> Option<SystemTime> {
    let (year, month, day) = (digits(date.0)?, digits(date.1)?, digits(date.2)?);
    let (hour, minute, second, milli) = (digits(time.0)?, digits(time.1)?, digits(time.2)?, digits(time.3)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = u64::try_from(days_from_civil(i64::from(year), month, day)).ok()?;
    let secs = days * 86_400 + u64::from(hour * 3600 + minute * 60 + second);
    Some(UNIX_EPOCH + Duration::from_millis(secs * 1000 + u64::from(milli)))
}

/// Parse the exact form [`rfc3339_millis`] writes.
pub(crate) fn parse_rfc3339_millis(text: &str) -> Option<SystemTime> {
    if text.len() != 24 || !text.is_ascii() || &text[23..] != "Z" {
        return None;
    }
    let b = text.as_bytes();
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'.' {
        return None;
    }
    from_parts((&text[0..4], &text[5..7], &text[8..10]), (&text[11..13], &text[14..16], &text[17..19], &text[20..23]))
}

/// Parse the exact form [`compact_millis`] writes.
pub(crate) fn parse_compact_millis(text: &str) -> Option<SystemTime> {
    if text.len() != 19 || !text.is_ascii() || &text[8..9] != "T" || &text[18..] != "Z" {
        return None;
    }
    from_parts((&text[0..4], &text[4..6], &text[6..8]), (&text[9..11], &text[11..13], &text[13..15], &text[15..18]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex(&bytes), "0001abff");
        assert_eq!(unhex::<4>("0001ABff"), Some(bytes));
        assert_eq!(unhex::<4>("0001abf"), None);
        assert_eq!(unhex::<4>("0001abfg"), None);
    }

    #[test]
    fn timestamps_round_trip() {
        let t = UNIX_EPOCH + Duration::from_millis(1_767_323_045_678);
        assert_eq!(rfc3339_millis(t), "2026-01-02T03:04:05.678Z");
        assert_eq!(compact_millis(t), "20260102T030405678Z");
        assert_eq!(parse_rfc3339_millis("2026-01-02T03:04:05.678Z"), Some(t));
        assert_eq!(parse_compact_millis("20260102T030405678Z"), Some(t));
        assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_millis(951_782_400_000);
        assert_eq!(rfc3339_millis(leap), "2000-02-29T00:00:00.000Z");
        assert_eq!(parse_rfc3339_millis("2000-02-29T00:00:00.000Z"), Some(leap));
        let mut cache = TsCache::default();
        for ms in [0u64, 7, 999, 1000, 1_767_323_045_678, 1_767_323_045_042, 1_767_323_046_000] {
            let t = UNIX_EPOCH + Duration::from_millis(ms);
            assert_eq!(cache.format(t), rfc3339_millis(t));
        }
        for bad in ["2026-13-02T03:04:05.678Z", "2026-01-02 03:04:05.678Z", "2026-01-02T03:04:05.678", "x"] {
            assert_eq!(parse_rfc3339_millis(bad), None, "{bad}");
        }
    }
}
