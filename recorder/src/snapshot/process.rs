//! One process (and its threads) as `/proc` shows it, read into `ProcessSnapshot` records.

use rhf_format::{FdEntry, ProcessSnapshot, RawFile, SnapshotReason};

use super::exe::ExeCache;
use super::procdir::{describe, is_gone, ProcDir};

const CAP_ARGS: usize = 256 << 10;
const CAP_MAPS: usize = 1 << 20;
const CAP_SMALL: usize = 64 << 10;
/// Descriptors recorded per process; a process with more gets an error line saying so.
pub const MAX_FDS: usize = 4096;

/// Files read for a process, with their caps (docs/SNAPSHOT.md).
const PROCESS_FILES: [(&str, usize); 11] = [
    ("stat", CAP_SMALL),
    ("status", CAP_SMALL),
    ("cmdline", CAP_ARGS),
    ("environ", CAP_ARGS),
    ("comm", CAP_SMALL),
    ("cgroup", CAP_SMALL),
    ("maps", CAP_MAPS),
    ("limits", CAP_SMALL),
    ("loginuid", CAP_SMALL),
    ("sessionid", CAP_SMALL),
    ("oom_score_adj", CAP_SMALL),
];

/// What a snapshot's environ file says under `--no-env`.
pub const NOT_RECORDED_NO_ENV: &str = "not recorded (--no-env)";

const THREAD_FILES: [(&str, usize); 3] = [
    ("stat", CAP_SMALL),
    ("status", CAP_SMALL),
    ("comm", CAP_SMALL),
];

const NAMESPACES: [&str; 9] = [
    "cgroup",
    "ipc",
    "mnt",
    "net",
    "pid",
    "pid_for_children",
    "time",
    "user",
    "uts",
];

/// Reads process `pid` from `proc_root` (normally `/proc`). Returns `None` when the process
/// no longer exists; otherwise the process record first, then one record per other thread.
pub fn read_process(
    proc_root: &str,
    pid: u32,
    reason: SnapshotReason,
    exes: &mut ExeCache,
    environ: bool,
) -> Option<Vec<ProcessSnapshot>> {
    let dir = ProcDir::open(&format!("{proc_root}/{pid}")).ok()?;
    let mut snap = ProcessSnapshot {
        pid,
        tid: pid,
        reason,
        ..Default::default()
    };
    for (name, cap) in PROCESS_FILES {
        if name == "environ" && !environ {
            // --no-env: said in the record, not silently missing.
            snap.files.push(RawFile {
                name: name.to_string(),
                error: Some(NOT_RECORDED_NO_ENV.into()),
                ..RawFile::default()
            });
            continue;
        }
        let raw = dir.read_capped(name, cap);
        note_error(&mut snap.errors, &raw);
        snap.files.push(raw);
    }
    snap.ppid = ppid_of(&snap.files);
    snap.exe = exes.inspect(&dir, pid);
    snap.cwd = link(&dir, "cwd", &mut snap.errors);
    snap.root = link(&dir, "root", &mut snap.errors);
    for ns in NAMESPACES {
        match dir.readlink(&format!("ns/{ns}")) {
            Ok(target) => {
                if let Some(inode) = ns_inode(&target) {
                    snap.namespaces.push((ns.to_string(), inode));
                }
            }
            // Older kernels lack some namespaces; only note real denials.
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EACCES as i32) => {
                snap.errors.push(format!("ns/{ns}: {}", describe(&e)));
            }
            Err(_) => {}
        }
    }
    snap.fds = read_fds(&dir, &mut snap.errors);
    let tids = match dir.list("task") {
        Ok(mut names) => {
            names.sort_by_key(|n| n.parse::<u32>().unwrap_or(u32::MAX));
            names
        }
        Err(e) => {
            snap.errors.push(format!("task: {}", describe(&e)));
            Vec::new()
        }
    };
    // Kernel threads answer ESRCH for environ and maps while alive, so whether the process
    // left mid-read is asked of the kernel once more at the end.
    if let Err(e) = dir.open_file("stat") {
        if is_gone(&e) {
            snap.errors.push(EXITED_DURING_SNAPSHOT.into());
        }
    }
    let mut out = vec![snap];
    for tid in tids
        .iter()
        .filter_map(|t| t.parse::<u32>().ok())
        .filter(|t| *t != pid)
    {
        let Ok(tdir) = dir.subdir(&format!("task/{tid}")) else {
            continue; // the thread ended between listing and opening
        };
        let mut thread = ProcessSnapshot {
            pid,
            tid,
            ppid: out[0].ppid,
            reason,
            ..Default::default()
        };
        for (name, cap) in THREAD_FILES {
            let raw = tdir.read_capped(name, cap);
            note_error(&mut thread.errors, &raw);
            thread.files.push(raw);
        }
        out.push(thread);
    }
    Some(out)
}

/// The descriptors and cwd of process `pid`, and nothing else: what the decoder is seeded with
/// for a process that is stopped (so the list is complete and exact), without the cost of a
/// whole snapshot (the executable's hash above all). Tagged `NewProcess`. `None` when the
/// process does not exist.
pub fn read_fd_state(proc_root: &str, pid: u32) -> Option<ProcessSnapshot> {
    let dir = ProcDir::open(&format!("{proc_root}/{pid}")).ok()?;
    let mut snap = ProcessSnapshot {
        pid,
        tid: pid,
        reason: SnapshotReason::NewProcess,
        ..Default::default()
    };
    snap.cwd = link(&dir, "cwd", &mut snap.errors);
    snap.fds = read_fds(&dir, &mut snap.errors);
    Some(snap)
}

/// The error line of a process that ended while it was being read.
pub const EXITED_DURING_SNAPSHOT: &str = "process exited during the snapshot";

/// The `net` and `mnt` namespace inodes of a process (empty when it is gone).
pub fn namespaces_of(proc_root: &str, pid: u32) -> Vec<(&'static str, u64)> {
    let Ok(dir) = ProcDir::open(&format!("{proc_root}/{pid}")) else {
        return Vec::new();
    };
    ["net", "mnt"]
        .into_iter()
        .filter_map(|ns| Some((ns, ns_inode(&dir.readlink(&format!("ns/{ns}")).ok()?)?)))
        .collect()
}

/// Records a file's read error on the process.
fn note_error(errors: &mut Vec<String>, raw: &RawFile) {
    if let Some(e) = &raw.error {
        errors.push(format!("{}: {e}", raw.name));
    }
}

fn link(dir: &ProcDir, name: &str, errors: &mut Vec<String>) -> Option<rhf_format::Bytes> {
    match dir.readlink(name) {
        Ok(t) => Some(t.into()),
        Err(e) => {
            errors.push(format!("{name}: {}", describe(&e)));
            None
        }
    }
}

fn read_fds(dir: &ProcDir, errors: &mut Vec<String>) -> Vec<FdEntry> {
    let names = match dir.list("fd") {
        Ok(n) => n,
        Err(e) => {
            errors.push(format!("fd: {}", describe(&e)));
            return Vec::new();
        }
    };
    let mut fds: Vec<i32> = names.iter().filter_map(|n| n.parse().ok()).collect();
    fds.sort_unstable();
    if fds.len() > MAX_FDS {
        errors.push(format!(
            "fd: {} descriptors, only the first {MAX_FDS} recorded",
            fds.len()
        ));
        fds.truncate(MAX_FDS);
    }
    fds.into_iter()
        .filter_map(|fd| {
            // A descriptor closed since the listing is simply not there any more.
            let target = dir.readlink(&format!("fd/{fd}")).ok()?;
            let info = dir.read_capped(&format!("fdinfo/{fd}"), CAP_SMALL);
            Some(FdEntry {
                fd,
                target: target.into(),
                fdinfo: info.error.is_none().then_some(info.content),
            })
        })
        .collect()
}

/// `PPid:` from the raw `status` file.
fn ppid_of(files: &[RawFile]) -> u32 {
    files
        .iter()
        .find(|f| f.name == "status")
        .and_then(|f| {
            f.content
                .split(|b| *b == b'\n')
                .find_map(|line| line.strip_prefix(b"PPid:"))
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The inode in a namespace link such as `net:[4026531840]`.
pub fn ns_inode(target: &[u8]) -> Option<u64> {
    let start = target.iter().position(|b| *b == b'[')? + 1;
    let end = target.iter().rposition(|b| *b == b']')?;
    std::str::from_utf8(target.get(start..end)?)
        .ok()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_inodes_parse() {
        assert_eq!(ns_inode(b"net:[4026531840]"), Some(4026531840));
        assert_eq!(ns_inode(b"garbage"), None);
        assert_eq!(ns_inode(b"x:[]"), None);
    }

    #[test]
    fn reads_this_process_with_threads_fds_and_exe() {
        let worker =
            std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(300)));
        let pid = std::process::id();
        let mut exes = ExeCache::new(None);
        let recs =
            read_process("/proc", pid, SnapshotReason::CaptureStart, &mut exes, true).unwrap();
        let main = &recs[0];
        assert_eq!((main.pid, main.tid), (pid, pid));
        assert!(main.ppid > 0);
        assert!(main
            .files
            .iter()
            .any(|f| f.name == "cmdline" && !f.content.is_empty()));
        let exe = main.exe.as_ref().unwrap();
        assert!(exe.sha256.is_some(), "{exe:?}");
        assert!(main.fds.iter().any(|f| f.fd == 0 || f.fd == 1 || f.fd == 2));
        assert!(main.namespaces.iter().any(|(n, _)| n == "net"));
        assert!(recs.len() >= 2, "the worker thread is recorded");
        assert!(recs[1..].iter().all(|t| t.pid == pid && t.tid != pid));
        worker.join().unwrap();
    }

    #[test]
    fn fd_state_has_the_descriptors_and_cwd_only() {
        use std::os::unix::ffi::OsStrExt;
        let file = tempfile::tempfile().unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        let state = read_fd_state("/proc", std::process::id()).unwrap();
        assert_eq!(state.reason, SnapshotReason::NewProcess);
        assert!(state.errors.is_empty(), "{:?}", state.errors);
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            state.cwd.as_ref().map(|c| &c[..]),
            Some(cwd.as_os_str().as_bytes())
        );
        let entry = state
            .fds
            .iter()
            .find(|f| f.fd == fd)
            .expect("the open file");
        assert!(entry.fdinfo.is_some(), "flags come with it");
        assert!(state.files.is_empty() && state.exe.is_none());
        assert!(read_fd_state("/proc", u32::MAX - 1).is_none());
    }

    #[test]
    fn a_missing_process_is_none() {
        let mut exes = ExeCache::new(None);
        assert!(read_process(
            "/proc",
            u32::MAX - 1,
            SnapshotReason::CaptureStart,
            &mut exes,
            true
        )
        .is_none());
    }
}
