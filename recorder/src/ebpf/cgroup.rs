//! `--cgroup PATH`: the cgroup (v2) whose processes a capture records, e.g. one container's.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// `CGROUP2_SUPER_MAGIC`: the file system type of a cgroup v2 hierarchy.
const CGROUP2_MAGIC: i64 = 0x6367_7270;
/// At most this many processes are listed for the starting snapshot (a bound on hostile
/// input, far above any container's count).
const MAX_PIDS: usize = 65_536;

/// An opened cgroup v2 directory.
pub struct Cgroup {
    pub path: PathBuf,
    pub dir: File,
}

/// Opens `path`: an absolute path to a cgroup v2 directory, or a path relative to the host's
/// cgroup v2 mount (e.g. `system.slice/docker-ID.scope`, as in `/proc/PID/cgroup`'s `0::` line).
pub fn open(path: &Path) -> Result<Cgroup> {
    let path = if path.is_absolute() && path.exists() {
        path.to_path_buf()
    } else {
        let mount = cgroup2_mount().context(
            "--cgroup: no cgroup v2 hierarchy is mounted here (the eBPF backend needs one)",
        )?;
        mount.join(path.strip_prefix("/").unwrap_or(path))
    };
    let dir =
        File::open(&path).with_context(|| format!("--cgroup: cannot open {}", path.display()))?;
    let fs = nix::sys::statfs::fstatfs(&dir)
        .with_context(|| format!("--cgroup: cannot stat {}", path.display()))?;
    if fs.filesystem_type().0 as i64 != CGROUP2_MAGIC {
        bail!(
            "--cgroup: {} is not in a cgroup v2 hierarchy (give a path under the cgroup2 mount, \
             or relative to it as in the `0::` line of /proc/PID/cgroup)",
            path.display()
        );
    }
    Ok(Cgroup { path, dir })
}

/// The processes in the cgroup and below it now, ascending (for the starting snapshot).
pub fn pids(cgroup: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    let mut dirs = vec![cgroup.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        if pids.len() >= MAX_PIDS {
            break;
        }
        if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            pids.extend(procs.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
        }
        if let Ok(entries) = std::fs::read_dir(&dir) {
            dirs.extend(
                entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
    }
    pids.truncate(MAX_PIDS);
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Where the cgroup v2 hierarchy is mounted, from /proc/self/mountinfo.
fn cgroup2_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let fstype = after.split_whitespace().next()?;
        let mount_point = before.split_whitespace().nth(4)?;
        (fstype == "cgroup2").then(|| PathBuf::from(mount_point))
    })
}
