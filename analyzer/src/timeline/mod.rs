//! The timeline of a trace: a chronological account of what happened on the node, built for
//! people (`rhf-analyze timeline`) and for reports (an excerpt around each alert).
//!
//! It is the security-relevant story, not every syscall: process starts, execs and exits,
//! file opens, reads and writes, renames, unlinks, mode and owner changes, links, mounts,
//! connects, accepts, binds, listens, data sent and received, privilege changes, ptrace,
//! memfd creation, kernel module loads, rule alerts, the processes running when the capture
//! started, and notices of lost events. `docs/TIMELINE.md` lists which syscalls make which
//! [`Kind`], which failed calls are kept, and the collapse rule.
//!
//! [`collect`] reads the trace once: the process state first (`crate::state`), then every
//! chunk in parallel (decoding whole only the syscalls the timeline or a rule needs); per-chunk
//! entries are merged in file order and sorted by time, so the result is the same for any
//! number of threads.
//!
//! ```no_run
//! use rhf_analyzer::{redact::Redactor, timeline};
//!
//! let reader = rhf_analyzer::trace::open("case.rhf".as_ref())?;
//! let engine = rhf_analyzer::commands::rules::load(&Default::default())?;
//! let opts = timeline::Options::default();
//! let found = timeline::collect(&reader, Some(&engine), &Redactor::new(false), &opts)?;
//! for e in timeline::around(&found.entries, found.entries[0].ts, 5, 5) {
//!     println!("{} {} {}", e.ts, e.kind.name(), e.message);
//! }
//! # Ok::<(), anyhow::Error>(())
//! ```

mod build;
mod events;
mod fields;
mod time;

use std::collections::{HashMap, HashSet};

use anyhow::Result;
use rayon::prelude::*;
use rhf_format::{FormatError, Source, TraceReader};
use serde::Serialize;

use crate::redact::Redactor;
use crate::rules::engine::Engine;
use crate::rules::filter::ConditionFilter;
use crate::state::{self, Timeline};

pub use events::timeline_syscalls;
pub use fields::Fields;
pub use time::{format_span, parse_time, parse_time_end};

/// What to put in the timeline.
#[derive(Debug)]
pub struct Options {
    /// Only this process (thread-group id) or thread; see [`Options::subtree`].
    pub pid: Option<u32>,
    /// With `pid`: also every descendant of that process.
    pub subtree: bool,
    /// Only events at or after this trace timestamp (monotonic ns, as the records' `ts`).
    pub from: Option<u64>,
    /// Only events at or before this trace timestamp (monotonic ns; see [`parse_time_end`]).
    pub to: Option<u64>,
    /// Only events this rule condition holds for (`--filter`; docs/TIMELINE.md says how
    /// entries that are not syscalls are tested).
    pub filter: Option<ConditionFilter>,
    /// Merge runs of reads, writes, sends and receives of one descriptor by one thread into
    /// one entry (docs/TIMELINE.md, "Collapsing").
    pub collapse: bool,
    /// Include rule alerts (needs an [`Engine`] passed to [`collect`]).
    pub alerts: bool,
}

impl Default for Options {
    /// Everything, collapsed, with alerts.
    fn default() -> Self {
        Options {
            pid: None,
            subtree: false,
            from: None,
            to: None,
            filter: None,
            collapse: true,
            alerts: true,
        }
    }
}

/// What an entry is. [`Kind::name`] is its stable name in JSON and CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A new process (fork, vfork, clone without `CLONE_THREAD`).
    ProcessStart,
    /// A successful execve/execveat.
    Exec,
    /// A process (thread group) ended: exit code or signal.
    Exit,
    /// open, openat, openat2, creat.
    FileOpen,
    /// read, pread64, readv, preadv, preadv2.
    FileRead,
    /// write, pwrite64, writev, pwritev, pwritev2.
    FileWrite,
    /// rename, renameat, renameat2.
    Rename,
    /// unlink, unlinkat, rmdir.
    Unlink,
    /// chmod, fchmod, fchmodat, fchmodat2.
    Chmod,
    /// chown, fchown, lchown, fchownat (and the i386 `*32` forms).
    Chown,
    /// link, linkat, symlink, symlinkat.
    Link,
    /// mount.
    Mount,
    /// connect.
    Connect,
    /// accept, accept4.
    Accept,
    /// bind.
    Bind,
    /// listen.
    Listen,
    /// sendto, sendmsg.
    Send,
    /// recvfrom, recvmsg.
    Receive,
    /// setuid, setgid, setre*id, setres*id, setfs*id, setgroups, capset.
    PrivilegeChange,
    /// ptrace.
    Ptrace,
    /// memfd_create.
    MemfdCreate,
    /// init_module, finit_module.
    ModuleLoad,
    /// A rule fired.
    Alert,
    /// A process running when the capture started (the capture-start `/proc` snapshot).
    Snapshot,
    /// The recorder says events were not recorded.
    Loss,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 25] = [
        Kind::ProcessStart,
        Kind::Exec,
        Kind::Exit,
        Kind::FileOpen,
        Kind::FileRead,
        Kind::FileWrite,
        Kind::Rename,
        Kind::Unlink,
        Kind::Chmod,
        Kind::Chown,
        Kind::Link,
        Kind::Mount,
        Kind::Connect,
        Kind::Accept,
        Kind::Bind,
        Kind::Listen,
        Kind::Send,
        Kind::Receive,
        Kind::PrivilegeChange,
        Kind::Ptrace,
        Kind::MemfdCreate,
        Kind::ModuleLoad,
        Kind::Alert,
        Kind::Snapshot,
        Kind::Loss,
    ];

    /// The stable snake_case name (`process_start`, `file_read`, ...) used in JSON and CSV.
    pub fn name(self) -> &'static str {
        match self {
            Kind::ProcessStart => "process_start",
            Kind::Exec => "exec",
            Kind::Exit => "exit",
            Kind::FileOpen => "file_open",
            Kind::FileRead => "file_read",
            Kind::FileWrite => "file_write",
            Kind::Rename => "rename",
            Kind::Unlink => "unlink",
            Kind::Chmod => "chmod",
            Kind::Chown => "chown",
            Kind::Link => "link",
            Kind::Mount => "mount",
            Kind::Connect => "connect",
            Kind::Accept => "accept",
            Kind::Bind => "bind",
            Kind::Listen => "listen",
            Kind::Send => "send",
            Kind::Receive => "receive",
            Kind::PrivilegeChange => "privilege_change",
            Kind::Ptrace => "ptrace",
            Kind::MemfdCreate => "memfd_create",
            Kind::ModuleLoad => "module_load",
            Kind::Alert => "alert",
            Kind::Snapshot => "snapshot",
            Kind::Loss => "loss",
        }
    }

    /// The kind named `name` (the inverse of [`Kind::name`]).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Data transfers, which collapse into runs.
    pub fn is_transfer(self) -> bool {
        matches!(
            self,
            Kind::FileRead | Kind::FileWrite | Kind::Send | Kind::Receive
        )
    }
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Trace timestamp (monotonic ns) of the event; of the first one for a collapsed run.
    pub ts: u64,
    /// Trace timestamp of the last event of a collapsed run; `ts` otherwise.
    pub last_ts: u64,
    /// Event number of the record (see [`state::chunk_starts`]); of the first for a run.
    /// Alerts carry the number of the event they fired on.
    pub num: u64,
    /// Process (thread-group id) and thread.
    pub pid: u32,
    pub tid: u32,
    /// The process's name (comm) at the event, escaped; empty when the trace does not say.
    pub process: String,
    pub kind: Kind,
    /// One human-readable line: node text escaped, secrets redacted, no control characters.
    pub message: String,
    /// Typed details (docs/TIMELINE.md lists the keys): `syscall`, `path`, `fd`, `target`,
    /// `argv`, `ppid`, `code`, `signal`, `rule`, `priority`, `remote`, ... Strings from the
    /// node are escaped and redacted like `message`. Serializes as a JSON object;
    /// [`Fields::to_map`] gives a `serde_json::Map`.
    pub fields: Fields,
    /// Events this entry stands for: 1, or the length of a collapsed run.
    pub count: u64,
    /// Bytes transferred (reads, writes, sends, receives), summed over a run; 0 otherwise.
    pub bytes: u64,
}

/// What [`collect`] found.
#[derive(Debug, Default)]
pub struct Collected {
    /// The entries, in time order (`ts`, then `num`; an alert follows its event's entry).
    pub entries: Vec<Entry>,
    /// Chunks that could not be decoded (wholly or in part), in file order: their records
    /// are missing or incomplete.
    pub failed_chunks: Vec<FormatError>,
    /// Problems worth telling the analyst (process state incomplete, an unknown `--pid`).
    pub notes: Vec<String>,
    /// Alerts among the entries.
    pub alerts: usize,
}

/// Builds the timeline of `reader` in the current rayon pool. `engine` supplies alerts when
/// `opts.alerts` is set (`None`: no alerts). Entries are the same whatever the pool size.
pub fn collect<S: Source>(
    reader: &TraceReader<S>,
    engine: Option<&Engine>,
    redactor: &Redactor,
    opts: &Options,
) -> Result<Collected> {
    let (timeline, kept) = state::build_keeping(reader, state::KEEP_BUDGET);
    let starts = state::chunk_starts(reader);
    let mut notes = timeline.notes.clone();
    let scope = opts.pid.map(|p| {
        if !timeline.pids().contains(&p) {
            notes.push(format!(
                "pid {p} does not appear in the trace's process records; only events of that \
                 thread or process id are shown"
            ));
        }
        scope_pids(&timeline, p, opts.subtree)
    });
    let engine = engine.filter(|_| opts.alerts);
    let shared = build::Shared::new(&timeline, redactor, opts, scope.as_ref(), engine);
    let want = |abi, nr| shared.wants(abi, nr);
    let parts: Vec<build::ChunkOut> = reader
        .chunks()
        .par_iter()
        .zip(starts.par_iter().zip(kept.into_par_iter()))
        .map(|(info, (start, kept))| {
            let mut chunk = build::ChunkBuilder::new(&shared);
            if outside_window(&info.header, opts) {
                // No record of it can make an entry: nothing to decode.
                return chunk.finish(None);
            }
            let mut num = *start;
            let records = kept.map_or_else(|| reader.chunk_records(info), Ok);
            let walked = records.and_then(|records| {
                records.for_each_selected(&want, |r, whole| {
                    chunk.visit(num, r, whole);
                    num += 1;
                })
            });
            chunk.finish(walked.err())
        })
        .collect();
    let mut out = build::merge(parts, opts.collapse);
    // Records are mostly in time order already (a syscall is stamped with its entry time and
    // written at its exit): check before paying for a sort and its buffer.
    let key = |e: &Entry| (e.ts, e.num);
    if !out.entries.is_sorted_by_key(key) {
        out.entries.par_sort_by_key(key);
    }
    out.entries.par_iter_mut().for_each(events::finish_message);
    out.alerts = out.entries.iter().filter(|e| e.kind == Kind::Alert).count();
    notes.append(&mut out.notes);
    out.notes = notes;
    Ok(out)
}

/// Whether the chunk's records all fall outside `--from`/`--to`, by the time range its header
/// declares (ignored when the header says nothing sensible).
fn outside_window(h: &rhf_format::ChunkHeader, opts: &Options) -> bool {
    let known = h.min_ts != 0 && h.min_ts <= h.max_ts;
    known && (opts.from.is_some_and(|f| h.max_ts < f) || opts.to.is_some_and(|t| h.min_ts > t))
}

/// The excerpt of `entries` (sorted as [`collect`] returns them) around time `ts`: every
/// entry at exactly `ts`, the `before` entries just before them and the `after` entries just
/// after them (fewer at either end of the timeline).
pub fn around(entries: &[Entry], ts: u64, before: usize, after: usize) -> &[Entry] {
    let lo = entries.partition_point(|e| e.ts < ts);
    let hi = entries.partition_point(|e| e.ts <= ts);
    &entries[lo.saturating_sub(before)..hi.saturating_add(after).min(entries.len())]
}

/// The pids in scope for `--pid pid [--subtree]`: `pid` and, with `subtree`, every process
/// that any recorded version shows as a descendant (a child stays one after reparenting).
pub fn scope_pids(timeline: &Timeline, pid: u32, subtree: bool) -> HashSet<u32> {
    let mut set = HashSet::from([pid]);
    if !subtree {
        return set;
    }
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in timeline.pids() {
        let mut parents: Vec<u32> = timeline.versions(p).iter().map(|(_, s)| s.ppid).collect();
        parents.sort_unstable();
        parents.dedup();
        for parent in parents.into_iter().filter(|q| *q != p) {
            children.entry(parent).or_default().push(p);
        }
    }
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for c in children.get(&p).into_iter().flatten() {
            if set.insert(*c) {
                todo.push(*c);
            }
        }
    }
    set
}

#[cfg(test)]
mod tests;
