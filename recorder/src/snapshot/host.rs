//! Host-wide facts: the header's host description, host files, accounts, and the network and
//! mount tables of each namespace seen.

use std::os::unix::ffi::OsStrExt;

use nix::unistd::{sysconf, SysconfVar};
use rhf_format::{Accounts, HostFiles, HostInfo, MountTable, NetworkTables, RawFile};

use super::procdir::{describe, ProcDir};

const CAP_HOST_FILE: usize = 4 << 20;
const CAP_NET_TABLE: usize = 16 << 20;

const HOST_FILES: [&str; 7] = [
    "/proc/modules",
    "/proc/uptime",
    "/proc/stat",
    "/proc/version",
    "/proc/cmdline",
    "/proc/sys/kernel/hostname",
    "/etc/ld.so.preload",
];

const NET_TABLES: [&str; 10] = [
    "tcp", "tcp6", "udp", "udp6", "raw", "raw6", "unix", "packet", "icmp", "icmp6",
];

/// Reads an absolute file with a cap, as a `RawFile` named by its path.
pub fn read_path(path: &str, cap: usize) -> RawFile {
    let (dir, name) = match path.rsplit_once('/') {
        Some(("", name)) => ("/", name),
        Some((dir, name)) => (dir, name),
        None => (".", path),
    };
    match ProcDir::open(dir) {
        Ok(d) => RawFile {
            name: path.to_string(),
            ..d.read_capped(name, cap)
        },
        Err(e) => RawFile {
            name: path.to_string(),
            error: Some(describe(&e)),
            ..Default::default()
        },
    }
}

pub fn host_info() -> HostInfo {
    let uts = nix::sys::utsname::uname().ok();
    let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        uts.as_ref()
            .map(|u| f(u).as_bytes().to_vec())
            .unwrap_or_default()
    };
    let machine_id = read_path("/etc/machine-id", 256);
    HostInfo {
        hostname: field(|u| u.nodename()).into(),
        kernel_release: field(|u| u.release()).into(),
        kernel_version: field(|u| u.version()).into(),
        arch: String::from_utf8_lossy(&field(|u| u.machine())).into_owned(),
        machine_id: machine_id
            .error
            .is_none()
            .then(|| trim_newline(&machine_id.content).to_vec().into()),
        boot_time_ns: boot_time_ns(&read_path("/proc/stat", CAP_HOST_FILE).content),
        clock_ticks: sysconf(SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as u64,
        page_size: sysconf(SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .unwrap_or(4096) as u64,
    }
}

fn trim_newline(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\n").unwrap_or(b)
}

/// `btime` of `/proc/stat`, in Unix nanoseconds (0 when absent).
fn boot_time_ns(stat: &[u8]) -> u64 {
    stat.split(|b| *b == b'\n')
        .find_map(|l| l.strip_prefix(b"btime "))
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(0, |s| s.saturating_mul(1_000_000_000))
}

pub fn host_files() -> HostFiles {
    HostFiles {
        files: HOST_FILES
            .iter()
            .map(|p| read_path(p, CAP_HOST_FILE))
            .collect(),
    }
}

/// The node's own user and group files: names resolve offline, and no NSS lookup happens on
/// the node (which could load attacker-controlled modules).
pub fn accounts() -> Accounts {
    Accounts {
        passwd: read_path("/etc/passwd", CAP_HOST_FILE),
        group: read_path("/etc/group", CAP_HOST_FILE),
    }
}

/// `/proc/PID/net/*` of the namespace `netns`, read through `pid`.
pub fn network_tables(proc_root: &str, netns: u64, pid: u32) -> NetworkTables {
    let files = match ProcDir::open(&format!("{proc_root}/{pid}/net")) {
        Ok(dir) => NET_TABLES
            .iter()
            .map(|t| dir.read_capped(t, CAP_NET_TABLE))
            .collect(),
        Err(e) => vec![RawFile {
            name: "net".into(),
            error: Some(describe(&e)),
            ..Default::default()
        }],
    };
    NetworkTables {
        netns,
        via_pid: pid,
        files,
    }
}

/// `mountinfo` of the mount namespace `mntns`, read through `pid`.
pub fn mount_table(proc_root: &str, mntns: u64, pid: u32) -> MountTable {
    let mountinfo = match ProcDir::open(&format!("{proc_root}/{pid}")) {
        Ok(dir) => dir.read_capped("mountinfo", CAP_HOST_FILE),
        Err(e) => RawFile {
            name: "mountinfo".into(),
            error: Some(describe(&e)),
            ..Default::default()
        },
    };
    MountTable {
        mntns,
        via_pid: pid,
        mountinfo,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_time_comes_from_btime() {
        assert_eq!(
            boot_time_ns(b"cpu 1 2\nbtime 1700000000\nprocesses 5\n"),
            1_700_000_000_000_000_000
        );
        assert_eq!(boot_time_ns(b"nothing"), 0);
    }

    #[test]
    fn missing_files_are_recorded_with_their_error() {
        let f = read_path("/nonexistent-dir/x", 10);
        assert_eq!(f.name, "/nonexistent-dir/x");
        assert!(
            f.error.as_deref().unwrap_or("").starts_with("ENOENT"),
            "{f:?}"
        );
    }
}
