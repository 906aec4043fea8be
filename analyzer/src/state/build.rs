//! Building the [`Timeline`] from a trace: decode chunks in parallel, keep the records that
//! change processes, fold them in file order.

use rayon::prelude::*;
use rhf_format::{
    Arg, ChunkRecords, FdTarget, Header, ProcessLifecycle, Record, RecordBody, Source, TraceReader,
};

use super::{ExitInfo, ProcState, Timeline};
use crate::clock::Clock;
use crate::render::calls::{negated_errno, syscall_name, SyscallSet};
use crate::snapshot::accounts::AccountDb;
use crate::snapshot::net::{self, Proto};
use crate::snapshot::process::{NodeClock, Process};

/// `CLONE_THREAD`: the new task is a thread of the caller's process.
const CLONE_THREAD: u64 = 0x0001_0000;
/// `CLONE_PARENT`: the new process gets the caller's parent.
const CLONE_PARENT: u64 = 0x0000_8000;

/// Syscalls that change what a process is, beyond the lifecycle records.
const IDENTITY_CALLS: &[&str] = &[
    "chdir",
    "fchdir",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setsid",
    "setpgid",
];

/// The first event number of each record chunk (in `reader.chunks()` order); numbers start
/// at 1 and count every record, so they are stable whatever decodes.
pub fn chunk_starts<S: Source>(reader: &TraceReader<S>) -> Vec<u64> {
    let mut next = 1u64;
    reader
        .chunks()
        .iter()
        .map(|c| {
            let start = next;
            next += u64::from(c.header.record_count);
            start
        })
        .collect()
}

/// Reads the trace's state-changing records and folds them into a [`Timeline`].
pub fn build<S: Source>(reader: &TraceReader<S>) -> Timeline {
    build_keeping(reader, 0).0
}

/// Decompressed chunks a second pass may keep, in bytes of raw payload: a 1M-event trace
/// needs about 40 MB; beyond the budget, chunks are read again.
pub const KEEP_BUDGET: u64 = 512 << 20;

/// [`build`], also returning the decoders of the first chunks (up to `budget` bytes of raw
/// payload) positioned at their start, so a second pass over them skips decompression.
pub fn build_keeping<S: Source>(
    reader: &TraceReader<S>,
    budget: u64,
) -> (Timeline, Vec<Option<ChunkRecords>>) {
    let identity = identity_calls();
    let starts = chunk_starts(reader);
    let mut left = budget;
    let keep: Vec<bool> = reader
        .chunks()
        .iter()
        .map(|c| {
            let raw = u64::from(c.header.raw_len);
            let k = raw <= left;
            if k {
                left -= raw;
            }
            k
        })
        .collect();
    type Kept = (Vec<(u64, Record)>, Option<ChunkRecords>);
    let kept: Vec<Result<Kept, String>> = reader
        .chunks()
        .par_iter()
        .zip(starts.par_iter().zip(keep.par_iter()))
        .map(|(info, (start, keep))| {
            let mut mine = Vec::new();
            let records = reader.chunk_records(info).map_err(|e| e.to_string())?;
            let copy = keep.then(|| records.clone());
            let want = |abi, nr| identity.contains(abi, nr);
            records
                .for_each_wanted(&want, |index, r| {
                    if changes_state(r, &identity) {
                        mine.push((*start + index as u64, r.clone()));
                    }
                })
                .map_err(|e| e.to_string())?;
            Ok((mine, copy))
        })
        .collect();
    let header = reader.header();
    let mut t = Timeline::for_header(header);
    let mut folder = Folder::for_header(&mut t, header);
    let mut notes = Vec::new();
    let mut decoders = Vec::with_capacity(kept.len());
    for chunk in kept {
        match chunk {
            Ok((records, copy)) => {
                for (num, r) in records {
                    folder.fold(num, &r);
                }
                decoders.push(copy);
            }
            Err(e) => {
                notes.push(format!("process state is incomplete: {e}"));
                decoders.push(None);
            }
        }
    }
    t.notes = notes;
    (t, decoders)
}

/// The syscalls [`Folder::fold`] applies.
fn identity_calls() -> SyscallSet {
    SyscallSet::from_names(IDENTITY_CALLS).unwrap_or_default()
}

impl Timeline {
    /// An empty timeline for the node `header` describes.
    pub fn for_header(header: &Header) -> Timeline {
        Timeline {
            hostname: crate::escape::escape_bytes(&header.host.hostname),
            clock: Some(Clock::from_header(header)),
            ..Timeline::default()
        }
    }
}

fn changes_state(r: &Record, identity: &SyscallSet) -> bool {
    match &r.body {
        RecordBody::Process(_)
        | RecordBody::Accounts(_)
        | RecordBody::Lifecycle(_)
        | RecordBody::Network(_) => true,
        RecordBody::Syscall(ev) => identity.contains(ev.abi, ev.nr),
        _ => false,
    }
}

/// Applies records, in file order, to a timeline.
pub struct Folder<'a> {
    pub t: &'a mut Timeline,
    pub node: NodeClock,
    /// Byte order of the node (the socket tables print addresses in it).
    pub little_endian: bool,
}

impl<'a> Folder<'a> {
    /// A folder into `t` for the node `header` describes.
    pub fn for_header(t: &'a mut Timeline, header: &Header) -> Folder<'a> {
        Folder {
            t,
            node: NodeClock {
                boot_time_ns: header.host.boot_time_ns,
                clock_ticks: header.host.clock_ticks,
            },
            little_endian: crate::snapshot::net::little_endian(&header.host.arch),
        }
    }

    pub fn fold(&mut self, num: u64, r: &Record) {
        match &r.body {
            RecordBody::Process(p) if p.tid == p.pid || p.tid == 0 => {
                let snap = Process::from_record(r.ts, p, self.node);
                let mut s = ProcState::from_snapshot(&snap);
                if let Some(prev) = self.t.latest(p.pid) {
                    if s.ppid == 0 {
                        s.ppid = prev.ppid;
                    }
                    if s.start_unix_ns.is_none() {
                        s.start_unix_ns = prev.start_unix_ns;
                    }
                    if !s.env_known && prev.env_known {
                        s.env = prev.env.clone();
                        s.env_known = true;
                    }
                    if p.reason == rhf_format::SnapshotReason::Exec {
                        s.keep_what_the_exec_said(prev);
                    }
                }
                if p.reason == rhf_format::SnapshotReason::CaptureStart {
                    self.t.procinfo.push((num, p.pid));
                }
                self.t.push(num, s);
            }
            RecordBody::Accounts(a) => self.t.accounts = AccountDb::from_record(a),
            RecordBody::Network(tables) => {
                for sock in net::parse(tables, self.little_endian).sockets {
                    self.t
                        .socket_types
                        .insert(sock.inode, socket_type(sock.proto));
                }
            }
            RecordBody::Lifecycle(l) => self.lifecycle(num, r.ts, l),
            RecordBody::Syscall(ev) => {
                if ev.unfinished || negated_errno(ev.abi, ev.ret).is_some() {
                    return;
                }
                let name = syscall_name(ev.abi, ev.nr);
                let Some(mut s) = self.t.latest(ev.pid).cloned() else {
                    return;
                };
                if identity_change(&mut s, &name, &ev.args) {
                    self.t.push(num, s);
                }
            }
            _ => {}
        }
    }

    fn lifecycle(&mut self, num: u64, ts: u64, l: &ProcessLifecycle) {
        match l {
            ProcessLifecycle::Spawn {
                parent_pid,
                child_pid,
                clone_flags,
                ..
            } if clone_flags & CLONE_THREAD == 0 && child_pid != parent_pid => {
                let parent = self
                    .t
                    .latest(*parent_pid)
                    .cloned()
                    .unwrap_or_else(|| ProcState::unknown(*parent_pid, 0));
                let ppid = if clone_flags & CLONE_PARENT != 0 {
                    parent.ppid
                } else {
                    *parent_pid
                };
                let start = self.t.clock.map(|c| c.unix_ns(ts));
                self.t.spawned.entry(*child_pid).or_insert(ts);
                // A vfork child may exec (and be recorded) before its parent's spawn record:
                // a child already known, and not a reused pid of a process that exited, keeps
                // its newer state and only learns its parent.
                let reused = self.t.exits.get(child_pid).is_some_and(|e| e.ts <= ts);
                if let Some(known) = self.t.latest(*child_pid).filter(|_| !reused) {
                    if known.ppid == 0 {
                        let mut s = known.clone();
                        s.ppid = ppid;
                        s.start_unix_ns = s.start_unix_ns.or(start);
                        self.t.push(num, s);
                    }
                    return;
                }
                self.t.exits.remove(child_pid);
                let child = ProcState::forked(&parent, *child_pid, ppid, start);
                self.t.push(num, child);
                self.t.spawned.insert(*child_pid, ts);
            }
            ProcessLifecycle::Exec {
                pid,
                filename,
                argv,
                ..
            } => {
                let mut s = self
                    .t
                    .latest(*pid)
                    .cloned()
                    .unwrap_or_else(|| ProcState::unknown(*pid, 0));
                let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
                s.exec(filename, &argv);
                self.t.push(num, s);
            }
            ProcessLifecycle::Exit {
                pid,
                tid,
                code,
                signal,
                core_dumped,
            } if pid == tid => {
                self.t.exits.insert(
                    *pid,
                    ExitInfo {
                        ts,
                        code: *code,
                        signal: *signal,
                        core_dumped: *core_dumped,
                    },
                );
            }
            _ => {}
        }
    }
}

/// Falco's fd type of a socket-table protocol.
fn socket_type(p: Proto) -> &'static str {
    match p {
        Proto::Tcp | Proto::Udp | Proto::Raw | Proto::Icmp => "ipv4",
        Proto::Tcp6 | Proto::Udp6 | Proto::Raw6 | Proto::Icmp6 => "ipv6",
        Proto::Unix => "unix",
        Proto::Packet => "packet",
    }
}

/// Applies a successful identity-changing call to `s`; false when nothing changed.
fn identity_change(s: &mut ProcState, name: &str, args: &[Arg]) -> bool {
    let int = |i: usize| match args.get(i) {
        Some(Arg::Int(v)) => Some(*v),
        Some(Arg::Hex(v)) => Some(*v as i64),
        _ => None,
    };
    // An id argument of -1 means "leave unchanged"; ids are 32-bit.
    let id = |i: usize| {
        int(i)
            .filter(|v| *v != -1 && *v != 0xffff_ffff)
            .map(|v| v as u32)
    };
    match name {
        "chdir" => match args.first() {
            Some(Arg::Path(p)) => {
                let path = p
                    .resolved
                    .as_ref()
                    .map(|r| r.to_vec())
                    .or_else(|| p.raw.starts_with(b"/").then(|| p.raw.to_vec()));
                s.cwd = path;
                true
            }
            _ => false,
        },
        "fchdir" => match args.first() {
            Some(Arg::Fd(_, Some(t))) => match &**t {
                FdTarget::Directory(p) | FdTarget::File(p) => {
                    s.cwd = Some(p.to_vec());
                    true
                }
                _ => false,
            },
            _ => false,
        },
        "setuid" => {
            let Some(u) = id(0) else { return false };
            s.uid = Some(u);
            s.euid = Some(u);
            true
        }
        "setgid" => {
            let Some(g) = id(0) else { return false };
            s.gid = Some(g);
            s.egid = Some(g);
            true
        }
        "setreuid" | "setresuid" => {
            if let Some(r) = id(0) {
                s.uid = Some(r);
            }
            if let Some(e) = id(1) {
                s.euid = Some(e);
            }
            true
        }
        "setregid" | "setresgid" => {
            if let Some(r) = id(0) {
                s.gid = Some(r);
            }
            if let Some(e) = id(1) {
                s.egid = Some(e);
            }
            true
        }
        "setsid" => {
            s.sid = Some(s.pid);
            s.pgid = Some(s.pid);
            true
        }
        "setpgid" => {
            let target = int(0).unwrap_or(0);
            if target != 0 && target != i64::from(s.pid) {
                return false;
            }
            let pgid = int(1).unwrap_or(0);
            s.pgid = Some(if pgid == 0 { s.pid } else { pgid as u32 });
            true
        }
        _ => false,
    }
}
