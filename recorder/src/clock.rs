//! The two clocks a trace needs: monotonic for event times, realtime to anchor them.

use nix::time::{clock_gettime, ClockId};

fn ns(clock: ClockId) -> u64 {
    // clock_gettime cannot fail for these clocks on Linux; 0 would only make times relative.
    clock_gettime(clock)
        .map(|t| (t.tv_sec() as u64).saturating_mul(1_000_000_000) + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// `CLOCK_MONOTONIC` in nanoseconds: the timestamp of every record.
pub fn monotonic_ns() -> u64 {
    ns(ClockId::CLOCK_MONOTONIC)
}

/// `CLOCK_REALTIME` in nanoseconds since the Unix epoch.
pub fn realtime_ns() -> u64 {
    ns(ClockId::CLOCK_REALTIME)
}

/// A (realtime, monotonic) pair read back to back, for the trace header.
pub fn anchor() -> (u64, u64) {
    let mono = monotonic_ns();
    let real = realtime_ns();
    (real, mono)
}
