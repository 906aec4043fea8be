//! `--from`/`--to` values and durations as the timeline prints them.

use chrono::{DateTime, NaiveDateTime};
use rhf_format::Header;

/// Parses a `--from`/`--to` value into a trace timestamp (monotonic ns, as records' `ts`):
///
/// - relative to the capture start (the header's `capture.start_monotonic_ns`): `+2.5s`,
///   `+150ms`, `+1m`, `+1h`, `+20us`, `+500ns`; a bare `+3` is seconds;
/// - ISO 8601 / RFC 3339: `2026-11-28T10:20:05Z`, `2026-11-28T10:20:05.123456Z`,
///   `2026-11-28T11:20:05+01:00`; without an offset, UTC;
/// - Unix seconds, as `print` shows them: `1795900516.690866`.
///
/// Times before the recorded clock's origin clamp to 0.
pub fn parse_time(text: &str, header: &Header) -> Result<u64, String> {
    let s = text.trim();
    let start_mono = header.capture.start_monotonic_ns;
    if let Some(rel) = s.strip_prefix('+') {
        let ns = parse_duration(rel).ok_or_else(|| {
            format!(
                "'{text}': a relative time is + then a number and a unit (ns, us, ms, s, m, h), \
                 e.g. +2.5s or +150ms"
            )
        })?;
        return Ok(start_mono.saturating_add(ns));
    }
    let unix_ns = if let Some(ns) = parse_unix_seconds(s) {
        ns
    } else if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
    } else if let Some(t) = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    {
        let t = t.and_utc();
        i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
    } else {
        return Err(format!(
            "'{text}' is not a time: use ISO 8601 (2026-11-28T10:20:05.5Z), Unix seconds \
             (1795900516.69) or an offset from the capture start (+2.5s, +150ms, +1m)"
        ));
    };
    let mono = unix_ns - i128::from(header.capture.start_realtime_ns) + i128::from(start_mono);
    Ok(u64::try_from(mono.max(0)).unwrap_or(u64::MAX))
}

/// Parses a `--to` value: as [`parse_time`], but an absolute time covers the whole unit of
/// its last digit, so that `--to 2026-11-28T10:20:05Z` includes 10:20:05.7 and a datetime
/// copied from the timeline's output (microseconds) includes that entry. Offsets (`+2.5s`)
/// are exact.
pub fn parse_time_end(text: &str, header: &Header) -> Result<u64, String> {
    let start = parse_time(text, header)?;
    let s = text.trim();
    if s.starts_with('+') {
        return Ok(start);
    }
    // The fraction of the seconds: after the `.` that follows the time of day (or the Unix
    // seconds), up to the first non-digit.
    let time_of_day = s.find(['T', 't', ' ']).map_or(s, |i| &s[i..]);
    let digits = time_of_day
        .split_once('.')
        .map_or(0, |(_, f)| f.bytes().take_while(u8::is_ascii_digit).count());
    let unit = 10u64.pow(9u32.saturating_sub(digits.min(9) as u32));
    Ok(start.saturating_add(unit - 1))
}

/// `2.5s`, `150ms`, `1m`: nanoseconds; `None` when malformed, negative or too large.
fn parse_duration(s: &str) -> Option<u64> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let scale: u64 = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "" | "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    };
    decimal_scaled(number, scale)
}

/// `number` (digits, at most one `.`) times `scale`, exactly (no floating point).
fn decimal_scaled(number: &str, scale: u64) -> Option<u64> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut total = whole.checked_mul(scale)?;
    let mut unit = scale;
    for d in frac.bytes() {
        unit /= 10;
        if unit == 0 {
            break;
        }
        total = total.checked_add(u64::from(d - b'0') * unit)?;
    }
    Some(total)
}

/// `1795900516.690866`: Unix seconds with an optional fraction, in ns.
fn parse_unix_seconds(s: &str) -> Option<i128> {
    if s.len() < 9 || !s.bytes().next()?.is_ascii_digit() {
        return None;
    }
    decimal_scaled(s, 1_000_000_000).map(i128::from)
}

/// A duration for people: `850ns`, `1.2µs`, `12µs`, `3.4ms`, `1.2s`, `45s`, `2m05s`, `1h02m`
/// (one decimal below 10 units, rounded).
pub fn format_span(ns: u64) -> String {
    const S: u64 = 1_000_000_000;
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    for (unit, suffix, limit) in [(1_000, "µs", 1_000), (1_000_000, "ms", 1_000), (S, "s", 60)] {
        let tenths = (u128::from(ns) * 10 + u128::from(unit) / 2) / u128::from(unit);
        if tenths < 100 {
            return format!("{}.{}{suffix}", tenths / 10, tenths % 10);
        }
        let whole = (ns + unit / 2) / unit;
        if whole < limit {
            return format!("{whole}{suffix}");
        }
    }
    let secs = (ns + S / 2) / S;
    if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs / 60) % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        let mut h = Header::default();
        h.capture.start_realtime_ns = 1_795_900_516_000_000_000;
        h.capture.start_monotonic_ns = 7_000_000_000_000;
        h
    }

    #[test]
    fn relative_times_are_offsets_from_the_capture_start() {
        let h = header();
        let start = 7_000_000_000_000;
        assert_eq!(parse_time("+2.5s", &h), Ok(start + 2_500_000_000));
        assert_eq!(parse_time("+150ms", &h), Ok(start + 150_000_000));
        assert_eq!(parse_time("+1m", &h), Ok(start + 60_000_000_000));
        assert_eq!(parse_time("+0.01s", &h), Ok(start + 10_000_000));
        assert_eq!(parse_time("+20us", &h), Ok(start + 20_000));
        assert_eq!(parse_time("+3", &h), Ok(start + 3_000_000_000));
        assert_eq!(parse_time("+1h", &h), Ok(start + 3_600_000_000_000));
        assert_eq!(parse_time("+.5s", &h), Ok(start + 500_000_000));
        for bad in ["+", "+s", "+2.5x", "+1.2.3s", "+-1s", "+ 1s"] {
            assert!(parse_time(bad, &h).is_err(), "{bad}");
        }
    }

    #[test]
    fn absolute_times_map_through_the_header_clock() {
        let h = header();
        let start = 7_000_000_000_000;
        // 2026-11-28T21:15:16Z is the capture start (1795900516 s).
        assert_eq!(parse_time("2026-11-28T21:15:16Z", &h), Ok(start));
        assert_eq!(
            parse_time("2026-11-28T21:15:16.123456Z", &h),
            Ok(start + 123_456_000)
        );
        assert_eq!(
            parse_time("2026-11-28T22:15:16.5+01:00", &h),
            Ok(start + 500_000_000)
        );
        assert_eq!(parse_time("2026-11-28T21:15:17", &h), Ok(start + S));
        assert_eq!(parse_time("1795900516.25", &h), Ok(start + 250_000_000));
        // Long before the monotonic clock's origin: clamped.
        assert_eq!(parse_time("2000-01-01T00:00:00Z", &h), Ok(0));
        assert!(parse_time("yesterday", &h).is_err());
        assert!(parse_time("2026-13-01T00:00:00Z", &h).is_err());
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn end_times_cover_their_last_digit() {
        let h = header();
        let start = 7_000_000_000_000;
        assert_eq!(
            parse_time_end("2026-11-28T21:15:16Z", &h),
            Ok(start + S - 1)
        );
        assert_eq!(
            parse_time_end("2026-11-28T21:15:16.123456Z", &h),
            Ok(start + 123_456_999)
        );
        assert_eq!(
            parse_time_end("2026-11-28T21:15:16.123456789Z", &h),
            Ok(start + 123_456_789)
        );
        assert_eq!(parse_time_end("1795900516.5", &h), Ok(start + 599_999_999));
        assert_eq!(parse_time_end("+2.5s", &h), Ok(start + 2_500_000_000));
    }

    #[test]
    fn spans_read_naturally() {
        assert_eq!(format_span(850), "850ns");
        assert_eq!(format_span(1_234), "1.2µs");
        assert_eq!(format_span(12_340), "12µs");
        assert_eq!(format_span(3_400_000), "3.4ms");
        assert_eq!(format_span(1_200_000_000), "1.2s");
        assert_eq!(format_span(45_000_000_000), "45s");
        assert_eq!(format_span(125 * S), "2m05s");
        assert_eq!(format_span(3720 * S), "1h02m");
        assert_eq!(format_span(999_960), "1.0ms");
        assert_eq!(format_span(59_700_000_000), "1m00s");
    }
}
