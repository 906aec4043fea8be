//! The `/proc` snapshot: every process (or the chosen ones) and the host-wide tables, pushed as
//! records in the order docs/SNAPSHOT.md gives. Used by `rhf-record snapshot` and at the start
//! of every capture.

mod exe;
mod host;
mod procdir;
mod process;

use std::collections::BTreeMap;

use rhf_format::{CaptureStats, Record, RecordBody, RecordSink, SnapshotReason};

pub use exe::ExeCache;
pub use host::host_info;

use crate::clock::monotonic_ns;

/// What to snapshot.
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// Where procfs is mounted (tests may point elsewhere).
    pub proc_root: String,
    /// Only these processes (and their threads); every process when empty.
    pub pids: Vec<u32>,
    /// Copy deleted and memfd executables into the trace, up to this many bytes each.
    pub collect_exe: Option<u64>,
    /// Write `Process` records. Off for a command about to be launched: before its exec it is
    /// a copy of the recorder itself; its exec snapshot follows instead. Its namespaces still
    /// select the network and mount tables.
    pub process_records: bool,
    /// Write the `/proc/net` tables of each namespace seen. Reading `tcp`/`tcp6` walks the
    /// kernel's whole connection hash table (milliseconds even when empty), which a launched
    /// command, with no socket yet, does not need.
    pub network_tables: bool,
    /// Read `/proc/PID/environ` (off under `--no-env`; the record then says it was not).
    pub environ: bool,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            proc_root: "/proc".into(),
            pids: Vec::new(),
            collect_exe: None,
            process_records: true,
            network_tables: true,
            environ: true,
        }
    }
}

/// What a snapshot found.
#[derive(Debug, Clone, Default)]
pub struct SnapshotSummary {
    pub processes: u64,
    pub threads: u64,
    /// Processes with a file or link the recorder was not allowed to read.
    pub denied: u64,
    /// Processes that ended while they were being read (recorded partially).
    pub exited: u64,
    /// Requested pids that did not exist.
    pub missing: Vec<u32>,
    pub executables_collected: u64,
}

/// Errors writing the snapshot out (reading problems are recorded inside the trace).
pub type SnapshotResult<T> = Result<T, rhf_format::FormatError>;

/// Takes the snapshot and pushes its records into `sink`. With `with_stats`, a closing
/// statistics record follows (a syscall capture writes its own at its end instead).
pub fn take_snapshot(
    opts: &SnapshotOptions,
    sink: &mut dyn RecordSink,
    with_stats: bool,
) -> SnapshotResult<SnapshotSummary> {
    let start_ts = monotonic_ns();
    let mut summary = SnapshotSummary::default();
    let push = |sink: &mut dyn RecordSink, body: RecordBody| {
        sink.push(&Record {
            ts: monotonic_ns(),
            body,
        })
    };
    push(sink, RecordBody::HostFiles(host::host_files()))?;
    push(sink, RecordBody::Accounts(Box::new(host::accounts())))?;

    let pids = if opts.pids.is_empty() {
        list_pids(&opts.proc_root)
    } else {
        let mut p = opts.pids.clone();
        p.sort_unstable();
        p.dedup();
        p
    };
    let mut exes = exe::ExeCache::new(opts.collect_exe);
    // First process seen in each namespace: the tables are read through it.
    let mut netns: BTreeMap<u64, u32> = BTreeMap::new();
    let mut mntns: BTreeMap<u64, u32> = BTreeMap::new();
    for pid in pids {
        if !opts.process_records {
            for (name, inode) in process::namespaces_of(&opts.proc_root, pid) {
                match name {
                    "net" => netns.entry(inode).or_insert(pid),
                    "mnt" => mntns.entry(inode).or_insert(pid),
                    _ => continue,
                };
            }
            continue;
        }
        let Some(records) = process::read_process(
            &opts.proc_root,
            pid,
            SnapshotReason::CaptureStart,
            &mut exes,
            opts.environ,
        ) else {
            if !opts.pids.is_empty() {
                summary.missing.push(pid);
            }
            continue;
        };
        summary.processes += 1;
        summary.threads += records.len() as u64 - 1;
        let errors = &records[0].errors;
        summary.denied += u64::from(
            errors
                .iter()
                .any(|e| e.contains("EACCES") || e.contains("EPERM")),
        );
        summary.exited += u64::from(errors.iter().any(|e| e == process::EXITED_DURING_SNAPSHOT));
        for (name, inode) in &records[0].namespaces {
            match name.as_str() {
                "net" => netns.entry(*inode).or_insert(pid),
                "mnt" => mntns.entry(*inode).or_insert(pid),
                _ => continue,
            };
        }
        for r in records {
            push(sink, RecordBody::Process(Box::new(r)))?;
        }
    }
    for (ns, pid) in netns.into_iter().filter(|_| opts.network_tables) {
        push(
            sink,
            RecordBody::Network(host::network_tables(&opts.proc_root, ns, pid)),
        )?;
    }
    for (ns, pid) in mntns {
        push(
            sink,
            RecordBody::Mounts(Box::new(host::mount_table(&opts.proc_root, ns, pid))),
        )?;
    }
    for exe in exes.into_collected() {
        summary.executables_collected += 1;
        push(sink, RecordBody::Executable(Box::new(exe)))?;
    }
    if with_stats {
        push(
            sink,
            RecordBody::Stats(Box::new(CaptureStats {
                processes: summary.processes,
                duration_ns: monotonic_ns().saturating_sub(start_ts),
                stop_reason: "snapshot complete".into(),
                ..Default::default()
            })),
        )?;
    }
    Ok(summary)
}

/// Numeric entries of `/proc`, ascending.
fn list_pids(proc_root: &str) -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir(proc_root)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    pids
}

/// The process `pid` as it is right after an exec: the same reading as a snapshot, tagged
/// `Exec`. `None` when it already exited.
pub fn read_process_at_exec(
    pid: u32,
    exes: &mut ExeCache,
    environ: bool,
) -> Option<Vec<rhf_format::ProcessSnapshot>> {
    process::read_process("/proc", pid, SnapshotReason::Exec, exes, environ)
}

/// The descriptors and cwd of the stopped process `pid`, to seed a decoder with (see
/// `process::read_fd_state`); not written to the trace.
pub fn read_fd_state(pid: u32) -> Option<rhf_format::ProcessSnapshot> {
    process::read_fd_state("/proc", pid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhf_format::{Record, RecordBody};

    #[derive(Default)]
    struct Collect(Vec<Record>);

    impl RecordSink for Collect {
        fn push(&mut self, record: &Record) -> rhf_format::Result<()> {
            self.0.push(record.clone());
            Ok(())
        }
    }

    /// A fake procfs: odd content, missing files and a pid that is gone are recorded, never
    /// fatal.
    #[test]
    fn odd_and_missing_proc_content_gives_partial_records() {
        let root = tempfile::tempdir().unwrap();
        let p = root.path().join("4242");
        std::fs::create_dir_all(p.join("task/4242")).unwrap();
        std::fs::create_dir_all(p.join("fd")).unwrap();
        std::fs::write(p.join("status"), "Name:\tevil\nPPid:\t1\n").unwrap();
        std::fs::write(p.join("cmdline"), b"\x1b[2J\xff\xfe\0--flag\0").unwrap();
        std::fs::write(p.join("maps"), vec![b'x'; (1 << 20) + 10]).unwrap();
        let opts = SnapshotOptions {
            proc_root: root.path().to_str().unwrap().into(),
            pids: vec![4242, 4243],
            collect_exe: None,
            process_records: true,
            network_tables: true,
            environ: true,
        };
        let mut sink = Collect::default();
        let summary = take_snapshot(&opts, &mut sink, true).unwrap();
        assert_eq!(summary.processes, 1);
        assert_eq!(summary.missing, vec![4243]);
        let snap = sink
            .0
            .iter()
            .find_map(|r| match &r.body {
                RecordBody::Process(p) => Some(p),
                _ => None,
            })
            .unwrap();
        assert_eq!(snap.ppid, 1);
        let file = |n: &str| snap.files.iter().find(|f| f.name == n).unwrap();
        assert_eq!(&file("cmdline").content[..], b"\x1b[2J\xff\xfe\0--flag\0");
        assert!(file("maps").truncated);
        assert_eq!(file("maps").full_len, Some((1 << 20) + 10));
        assert!(file("environ")
            .error
            .as_deref()
            .unwrap()
            .starts_with("ENOENT"));
        assert!(snap.errors.iter().any(|e| e.starts_with("environ: ENOENT")));
        assert!(snap.exe.as_ref().unwrap().error.is_some());
        assert!(matches!(sink.0.last().unwrap().body, RecordBody::Stats(_)));
    }
}
