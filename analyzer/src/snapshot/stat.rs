//! `/proc/PID/stat`: state, flags, controlling terminal and start time of a process.

use procfs_core::FromRead;

/// `PF_KTHREAD` in the `flags` field: the task is a kernel thread.
pub const PF_KTHREAD: u32 = 0x0020_0000;

/// The fields of `stat` the views use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatFacts {
    /// The name between the parentheses, as raw bytes.
    pub comm: Vec<u8>,
    pub state: char,
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    pub session: i32,
    /// The raw `tty_nr` device number (Falco's `proc.tty`); 0 when there is none.
    pub tty_nr: i32,
    /// `(major, minor)` of the controlling terminal; `(0, 0)` when there is none.
    pub tty: (i32, i32),
    pub flags: u32,
    /// Clock ticks after boot.
    pub starttime: u64,
    pub num_threads: i64,
}

/// Parses a `stat` line. The name is taken from the raw bytes (it may hold `)`, spaces or
/// invalid UTF-8); the numeric rest goes to procfs-core's parser.
///
/// procfs-core slices the line at the parentheses without bounds checks, so it panics on some
/// malformed or cut lines. We therefore hand it a line rebuilt from parts checked here: a
/// numeric pid, a placeholder name and a non-empty ASCII rest.
pub fn parse(content: &[u8]) -> Result<StatFacts, String> {
    let open = content
        .iter()
        .position(|b| *b == b'(')
        .ok_or("no '(' before the name")?;
    let close = content
        .iter()
        .rposition(|b| *b == b')')
        .filter(|c| *c > open)
        .ok_or("no ')' after the name")?;
    let pid = content[..open].trim_ascii();
    if pid.is_empty() || !pid.iter().all(u8::is_ascii_digit) {
        return Err("the pid before the name is not a number".into());
    }
    let rest = content[close + 1..].trim_ascii();
    if rest.is_empty() || !rest.is_ascii() {
        return Err("the fields after the name are missing or not ASCII".into());
    }
    // Every byte is ASCII here, so the rebuilt line is valid UTF-8 and every index
    // procfs-core computes falls on a character boundary.
    let mut line = Vec::with_capacity(pid.len() + rest.len() + 6);
    line.extend_from_slice(pid);
    line.extend_from_slice(b" (x) ");
    line.extend_from_slice(rest);
    let stat = procfs_core::process::Stat::from_read(&line[..]).map_err(|e| e.to_string())?;
    Ok(StatFacts {
        comm: content[open + 1..close].to_vec(),
        state: stat.state,
        ppid: stat.ppid,
        pgrp: stat.pgrp,
        session: stat.session,
        tty_nr: stat.tty_nr,
        tty: stat.tty_nr(),
        flags: stat.flags,
        starttime: stat.starttime,
        num_threads: stat.num_threads,
    })
}

/// The terminal's name as `ps` shows it (`pts/3`, `tty1`, `ttyS0`), or `None` without one.
/// Devices this table does not know print as `major:minor`.
pub fn tty_name((major, minor): (i32, i32)) -> Option<String> {
    match (major, minor) {
        (0, 0) => None,
        (4, m) if m < 64 => Some(format!("tty{m}")),
        (4, m) => Some(format!("ttyS{}", m - 64)),
        // Unix98 ptys: majors 136-143 number 256 minors each.
        (136..=143, m) => Some(format!("pts/{}", (major - 136) * 256 + m)),
        (5, 0) => Some("tty".into()),
        (5, 1) => Some("console".into()),
        (5, 2) => Some("ptmx".into()),
        (major, minor) => Some(format!("{major}:{minor}")),
    }
}

/// Unix nanoseconds at which a process started: `starttime` ticks after boot.
pub fn start_unix_ns(starttime: u64, boot_time_ns: u64, clock_ticks: u64) -> Option<i128> {
    if clock_ticks == 0 || boot_time_ns == 0 {
        return None;
    }
    let after_boot = u128::from(starttime) * 1_000_000_000 / u128::from(clock_ticks);
    i128::try_from(after_boot)
        .ok()
        .and_then(|ns| ns.checked_add(i128::from(boot_time_ns)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASH: &[u8] = b"900 (bash) S 812 900 900 34819 1005 4194560 2345 12000 0 3 5 2 20 9 20 0 1 0 12345 8531968 1280 18446744073709551615 94000000000000 94000000900000 140720000000000 0 0 0 65536 3670020 1266777851 0 0 0 17 1 0 0 0 0 0 94000001000000 94000001040000 94000020000000 140720000001000 140720000001010 140720000001010 140720000003000 0\n";

    #[test]
    fn a_real_line_parses() {
        let s = parse(BASH).unwrap();
        assert_eq!(s.comm, b"bash");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 812);
        assert_eq!(s.starttime, 12345);
        assert_eq!(tty_name(s.tty).as_deref(), Some("pts/3"));
        assert_eq!(s.flags & PF_KTHREAD, 0);
    }

    #[test]
    fn a_hostile_name_with_parentheses_and_invalid_utf8_is_kept_raw() {
        let line = b"77 (a) b\xff) (x) R 1 77 77 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 50 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0";
        let s = parse(line).unwrap();
        assert_eq!(s.comm, b"a) b\xff) (x");
        assert_eq!(s.state, 'R');
    }

    #[test]
    fn every_prefix_of_a_real_line_parses_or_fails_without_panicking() {
        for cut in 0..BASH.len() {
            let _ = parse(&BASH[..cut]);
        }
        for bad in [
            &b"(x) S"[..],
            b")(",
            b"1 (x)",
            b"1 (x) ",
            b"1 (x) \xc3",
            b"x (y) S 1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn terminals_are_named_like_ps() {
        assert_eq!(tty_name((0, 0)), None);
        assert_eq!(tty_name((4, 1)).as_deref(), Some("tty1"));
        assert_eq!(tty_name((4, 64)).as_deref(), Some("ttyS0"));
        assert_eq!(tty_name((137, 2)).as_deref(), Some("pts/258"));
        assert_eq!(tty_name((5, 1)).as_deref(), Some("console"));
        assert_eq!(tty_name((99, 7)).as_deref(), Some("99:7"));
    }

    #[test]
    fn start_time_is_boot_time_plus_ticks() {
        assert_eq!(
            start_unix_ns(250, 1_700_000_000_000_000_000, 100),
            Some(1_700_000_002_500_000_000)
        );
        assert_eq!(start_unix_ns(250, 1, 0), None);
        assert!(start_unix_ns(u64::MAX, u64::MAX, 1).is_some());
    }
}
