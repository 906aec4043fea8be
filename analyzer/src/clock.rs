//! Converting the trace's monotonic timestamps to wall-clock time.

use chrono::{DateTime, SecondsFormat, Utc};
use rhf_format::Header;

/// Maps `CLOCK_MONOTONIC` ns to Unix ns using the anchor pair recorded in the header.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    realtime_at_start: u64,
    monotonic_at_start: u64,
}

impl Clock {
    pub fn from_header(h: &Header) -> Self {
        Clock {
            realtime_at_start: h.capture.start_realtime_ns,
            monotonic_at_start: h.capture.start_monotonic_ns,
        }
    }

    /// Unix nanoseconds of a record timestamp.
    pub fn unix_ns(&self, ts: u64) -> i128 {
        i128::from(self.realtime_at_start) + i128::from(ts) - i128::from(self.monotonic_at_start)
    }

    /// ISO 8601 UTC with nanoseconds, e.g. `2026-11-28T19:13:33.123456789Z`.
    pub fn iso(&self, ts: u64) -> String {
        iso_from_unix_ns(self.unix_ns(ts))
    }
}

/// ISO 8601 UTC with nanoseconds; out-of-range values (a hostile header) print as a number.
pub fn iso_from_unix_ns(ns: i128) -> String {
    i64::try_from(ns)
        .ok()
        .map(DateTime::<Utc>::from_timestamp_nanos)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Nanos, true))
        .unwrap_or_else(|| format!("{ns}ns since 1970"))
}

/// ISO 8601 UTC to the second, e.g. `2026-11-28T19:13:33Z` (the START column of `ps`).
pub fn iso_seconds_from_unix_ns(ns: i128) -> String {
    i64::try_from(ns.div_euclid(1_000_000_000))
        .ok()
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| format!("{ns}ns since 1970"))
}
