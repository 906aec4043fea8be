//! Turning one chunk's records into entries (in parallel, one builder per chunk), and merging
//! the chunks' entries in file order, continuing collapsed runs across chunk boundaries.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use rhf_format::{
    sysent, Abi, Arg, FdTarget, FormatError, LossNotice, PathArg, ProcessLifecycle,
    ProcessSnapshot, Record, RecordBody, SnapshotReason, SyscallEvent,
};
use serde_json::Value;

use super::events::{self, Call, Op, Ops};
use super::{Collected, Entry, Fields, Kind, Options};
use crate::escape::escape_bytes;
use crate::redact::Redactor;
use crate::render::calls::{abi_of_slot, negated_errno, number_of_slot, slot, SyscallSet};
use crate::render::flags;
use crate::render::signals::signal_name;
use crate::rules::engine::{Alert, Engine};
use crate::state::{ProcState, Timeline};

/// `CLONE_THREAD`: the new task is a thread, not a process.
const CLONE_THREAD: u64 = 0x0001_0000;

/// Syscall numbers looked up densely below this.
const DENSE: u32 = 2048;

/// Everything the chunk builders share, read-only.
pub struct Shared<'a> {
    timeline: &'a Timeline,
    redactor: &'a Redactor,
    opts: &'a Options,
    scope: Option<&'a HashSet<u32>>,
    engine: Option<&'a Engine>,
    ops: Ops,
    never_fails: SyscallSet,
    /// Per ABI slot and number: decode the syscall whole (the timeline or a rule needs it).
    wanted: [Vec<bool>; 3],
    /// Numbers of the calls that lifecycle entries stand for, for `--filter`.
    clone_nr: u32,
    execve_nr: u32,
    exit_group_nr: u32,
}

impl<'a> Shared<'a> {
    pub fn new(
        timeline: &'a Timeline,
        redactor: &'a Redactor,
        opts: &'a Options,
        scope: Option<&'a HashSet<u32>>,
        engine: Option<&'a Engine>,
    ) -> Shared<'a> {
        let ops = Ops::new();
        let wanted = std::array::from_fn(|a| {
            let abi = abi_of_slot(a);
            (0..DENSE)
                .map(|i| {
                    let nr = number_of_slot(abi, i);
                    ops.get(abi, nr).is_some() || engine.is_some_and(|e| e.fires_on(abi, nr))
                })
                .collect()
        });
        let nr = |name| sysent::number(Abi::X86_64, name).unwrap_or(u32::MAX);
        Shared {
            timeline,
            redactor,
            opts,
            scope,
            engine,
            ops,
            never_fails: SyscallSet::never_fails(),
            wanted,
            clone_nr: nr("clone"),
            execve_nr: nr("execve"),
            exit_group_nr: nr("exit_group"),
        }
    }

    /// Whether syscall `nr` must be decoded whole.
    pub fn wants(&self, abi: Abi, nr: u32) -> bool {
        let (a, i) = slot(abi, nr);
        self.wanted[a].get(i as usize).copied().unwrap_or(false)
    }

    /// Within `--from`/`--to`.
    #[inline]
    fn in_time(&self, ts: u64) -> bool {
        self.opts.from.is_none_or(|f| ts >= f) && self.opts.to.is_none_or(|t| ts <= t)
    }

    /// Within `--pid` (process or thread id).
    #[inline]
    fn in_pids(&self, pid: u32, tid: u32) -> bool {
        self.scope
            .is_none_or(|s| s.contains(&pid) || s.contains(&tid))
    }

    /// Whether the `--filter` condition, if any, holds for `ev` (event number `num`).
    fn filter_holds(&self, num: u64, ts: u64, ev: &SyscallEvent, failed: bool) -> bool {
        self.opts
            .filter
            .as_ref()
            .is_none_or(|f| f.syscall(num, ts, ev, failed))
    }

    fn failed(&self, ev: &SyscallEvent) -> Option<i64> {
        if ev.unfinished || self.never_fails.contains(ev.abi, ev.nr) {
            None
        } else {
            negated_errno(ev.abi, ev.ret)
        }
    }
}

/// What collapses: one kind of transfer, on one descriptor with one target, by one thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunKey {
    kind: Kind,
    pid: u32,
    fd: i32,
    target: Option<Arc<FdTarget>>,
}

/// The process name valid for a range of event numbers.
struct NameCache {
    from: u64,
    until: u64,
    name: String,
}

/// One chunk's entries, with the run key of each (`None`: cannot continue a run).
pub struct ChunkOut {
    entries: Vec<Entry>,
    keys: Vec<Option<RunKey>>,
    error: Option<FormatError>,
}

/// Builds the entries of one chunk, record by record.
pub struct ChunkBuilder<'s, 'a> {
    s: &'s Shared<'a>,
    entries: Vec<Entry>,
    keys: Vec<Option<RunKey>>,
    /// Per thread, the index of its last entry (runs continue only from there).
    last: HashMap<u32, usize>,
    names: HashMap<u32, NameCache>,
    targets: events::TargetNames,
    alerts: Vec<Alert>,
}

impl<'s, 'a> ChunkBuilder<'s, 'a> {
    pub fn new(s: &'s Shared<'a>) -> Self {
        ChunkBuilder {
            s,
            entries: Vec::new(),
            keys: Vec::new(),
            last: HashMap::new(),
            names: HashMap::new(),
            targets: events::TargetNames::default(),
            alerts: Vec::new(),
        }
    }

    /// Handles record number `num`; `whole`: its arguments were decoded.
    pub fn visit(&mut self, num: u64, r: &Record, whole: bool) {
        let s = self.s;
        if !s.in_time(r.ts) {
            return;
        }
        match &r.body {
            RecordBody::Syscall(ev) if whole && s.in_pids(ev.pid, ev.tid) => {
                if let Some((op, name)) = s.ops.get(ev.abi, ev.nr) {
                    self.syscall(num, r.ts, ev, op, name);
                }
                if s.engine.is_some() {
                    self.alerts(num, r, Some(ev));
                }
            }
            RecordBody::Lifecycle(l) => self.lifecycle(num, r.ts, l),
            // Snapshot processes are not syscalls: a --filter cannot test them.
            RecordBody::Process(p)
                if p.reason == SnapshotReason::CaptureStart
                    && (p.tid == p.pid || p.tid == 0)
                    && s.opts.filter.is_none()
                    && s.in_pids(p.pid, p.pid) =>
            {
                self.snapshot(num, r.ts, p);
                if s.engine.is_some() {
                    self.alerts(num, r, None);
                }
            }
            // A loss without a process (pid 0) concerns every process.
            RecordBody::Loss(l) if l.pid == 0 || s.in_pids(l.pid, l.tid) => self.loss(num, r.ts, l),
            _ => {}
        }
    }

    pub fn finish(self, error: Option<FormatError>) -> ChunkOut {
        ChunkOut {
            entries: self.entries,
            keys: self.keys,
            error,
        }
    }

    fn name(&mut self, pid: u32, num: u64) -> String {
        if let Some(c) = self.names.get(&pid) {
            if c.from <= num && num < c.until {
                return c.name.clone();
            }
        }
        let v = self.s.timeline.versions(pid);
        let i = v.partition_point(|(n, _)| *n <= num);
        let until = v.get(i).map_or(u64::MAX, |(n, _)| *n);
        let (from, name) = match i.checked_sub(1).and_then(|i| v.get(i)) {
            Some((n, p)) => (*n, escape_bytes(&p.comm)),
            None => (0, String::new()),
        };
        self.names.insert(
            pid,
            NameCache {
                from,
                until,
                name: name.clone(),
            },
        );
        name
    }

    fn push(&mut self, mut e: Entry, ts: u64, num: u64, key: Option<RunKey>) {
        e.ts = ts;
        e.last_ts = ts;
        e.num = num;
        e.process = self.name(e.pid, num);
        self.last.insert(e.tid, self.entries.len());
        self.entries.push(e);
        self.keys.push(key);
    }

    fn syscall(&mut self, num: u64, ts: u64, ev: &SyscallEvent, op: Op, name: &'static str) {
        if ev.unfinished {
            return;
        }
        let errno = self.s.failed(ev);
        if !op.keeps(errno) || !self.s.filter_holds(num, ts, ev, errno.is_some()) {
            return;
        }
        let call = Call {
            ev,
            op,
            name,
            errno,
        };
        let kind = op.kind();
        if !(self.s.opts.collapse && kind.is_transfer()) {
            let e = events::syscall_entry(&call, &mut self.targets);
            self.push(e, ts, num, None);
            return;
        }
        let (fd, target) = ev
            .args
            .iter()
            .find_map(|a| match a {
                Arg::Fd(fd, t) => Some((*fd, t.clone())),
                _ => None,
            })
            .unwrap_or((-1, None));
        let key = RunKey {
            kind,
            pid: ev.pid,
            fd,
            target,
        };
        if let Some(&i) = self.last.get(&ev.tid) {
            if self.keys[i].as_ref() == Some(&key) {
                let e = &mut self.entries[i];
                e.count += 1;
                e.bytes = e.bytes.saturating_add(u64::try_from(ev.ret).unwrap_or(0));
                e.last_ts = e.last_ts.max(ts);
                return;
            }
        }
        let e = events::syscall_entry(&call, &mut self.targets);
        self.push(e, ts, num, Some(key));
    }

    /// The syscall a lifecycle record stands for, as `--filter` tests it.
    fn synthetic(&self, pid: u32, tid: u32, nr: u32) -> SyscallEvent {
        SyscallEvent {
            pid,
            tid,
            nr,
            abi: Abi::X86_64,
            ..SyscallEvent::default()
        }
    }

    fn lifecycle(&mut self, num: u64, ts: u64, l: &ProcessLifecycle) {
        let s = self.s;
        match l {
            ProcessLifecycle::Spawn {
                parent_pid,
                child_pid,
                child_tid,
                clone_flags,
                ..
            } if clone_flags & CLONE_THREAD == 0 && child_pid != parent_pid => {
                // A start belongs to the child and to the parent's story.
                if !(s.in_pids(*child_pid, *child_tid) || s.in_pids(*parent_pid, *parent_pid)) {
                    return;
                }
                if s.opts.filter.is_some() {
                    let ev = self.synthetic(*child_pid, *child_tid, s.clone_nr);
                    if !s.filter_holds(num, ts, &ev, false) {
                        return;
                    }
                }
                let child = s.timeline.at(*child_pid, num);
                let ppid = child.map_or(*parent_pid, |c| c.ppid);
                let parent_name = self.name(ppid, num);
                let mut m = format!("start, parent {ppid}");
                if !parent_name.is_empty() {
                    let _ = write!(m, " ({parent_name})");
                }
                let mut f = Fields::new();
                f.insert("ppid", Value::from(ppid));
                f.insert("parent_process", Value::from(parent_name));
                if let Some(c) = child.filter(|c| !c.argv.is_empty()) {
                    m.push_str(": ");
                    events::command_line(&c.argv, s.redactor, &mut m);
                    f.insert("argv", events::argv_field(&c.argv, s.redactor));
                }
                let mut fl = String::new();
                flags::render(rhf_format::sysent::FlagSet::Clone, *clone_flags, &mut fl);
                f.insert("clone_flags", Value::from(fl));
                let e = entry(*child_pid, *child_tid, Kind::ProcessStart, m, f);
                self.push(e, ts, num, None);
            }
            ProcessLifecycle::Exec {
                pid,
                tid,
                filename,
                argv,
                old_tid,
            } => {
                if !s.in_pids(*pid, *tid) {
                    return;
                }
                if s.opts.filter.is_some() {
                    let mut ev = self.synthetic(*pid, *tid, s.execve_nr);
                    ev.args = vec![
                        Arg::Path(PathArg {
                            raw: filename.clone(),
                            resolved: None,
                        }),
                        Arg::StrList(argv.clone(), false),
                    ];
                    if !s.filter_holds(num, ts, &ev, false) {
                        return;
                    }
                }
                let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
                let e = exec_entry(*pid, *tid, filename, &argv, *old_tid, s, num);
                self.push(e, ts, num, None);
            }
            ProcessLifecycle::Exit {
                pid,
                tid,
                code,
                signal,
                core_dumped,
            } if pid == tid => {
                if !s.in_pids(*pid, *tid) {
                    return;
                }
                if s.opts.filter.is_some() {
                    let mut ev = self.synthetic(*pid, *tid, s.exit_group_nr);
                    ev.unfinished = true;
                    if !s.filter_holds(num, ts, &ev, false) {
                        return;
                    }
                }
                let mut f = Fields::new();
                let mut m = match (code, signal) {
                    (_, Some(sig)) => {
                        let name = signal_name(*sig);
                        f.insert("signal", Value::from(name.clone()));
                        f.insert("signal_number", Value::from(*sig));
                        format!("killed by {name}")
                    }
                    (Some(c), None) => {
                        f.insert("code", Value::from(*c));
                        format!("exit {c}")
                    }
                    (None, None) => "exit".to_string(),
                };
                if *core_dumped {
                    m.push_str(" (core dumped)");
                }
                f.insert("core_dumped", Value::from(*core_dumped));
                if let Some(start) = s.timeline.spawned.get(pid).filter(|st| **st <= ts) {
                    let _ = write!(m, " after {}", super::format_span(ts - start));
                    f.insert("runtime_ns", Value::from(ts - start));
                }
                let e = entry(*pid, *tid, Kind::Exit, m, f);
                self.push(e, ts, num, None);
            }
            _ => {}
        }
    }

    fn snapshot(&mut self, num: u64, ts: u64, p: &ProcessSnapshot) {
        let Some(state) = self.s.timeline.at(p.pid, num) else {
            return;
        };
        let e = snapshot_entry(state, self.s);
        self.push(e, ts, num, None);
    }

    fn loss(&mut self, num: u64, ts: u64, l: &LossNotice) {
        let reason = crate::escape::escape_str(&l.reason);
        let m = format!("{} events were not recorded: {reason}", l.events_lost);
        let mut f = Fields::new();
        f.insert("events_lost", Value::from(l.events_lost));
        f.insert("reason", Value::from(reason));
        let e = entry(l.pid, l.tid, Kind::Loss, m, f);
        self.push(e, ts, num, None);
    }

    /// The alerts rules raise on record `r`; `ev` is its syscall (`None`: a snapshot process).
    fn alerts(&mut self, num: u64, r: &Record, ev: Option<&SyscallEvent>) {
        let s = self.s;
        let Some(engine) = s.engine else { return };
        let mut alerts = std::mem::take(&mut self.alerts);
        alerts.clear();
        engine.record_alerts(num, r, s.timeline, s.redactor, &mut alerts);
        let keep = alerts.is_empty()
            || ev.is_none_or(|ev| s.filter_holds(num, r.ts, ev, s.failed(ev).is_some()));
        if keep {
            for a in &alerts {
                let e = alert_entry(engine, a);
                self.push(e, a.ts, a.num, None);
            }
        }
        self.alerts = alerts;
    }
}

fn entry(pid: u32, tid: u32, kind: Kind, message: String, fields: Fields) -> Entry {
    Entry {
        ts: 0,
        last_ts: 0,
        num: 0,
        pid,
        tid,
        process: String::new(),
        kind,
        message,
        fields,
        count: 1,
        bytes: 0,
    }
}

fn exec_entry(
    pid: u32,
    tid: u32,
    filename: &[u8],
    argv: &[Vec<u8>],
    old_tid: Option<u32>,
    s: &Shared<'_>,
    num: u64,
) -> Entry {
    let path = escape_bytes(filename);
    let mut m = format!("exec {path}");
    let redacted = s.redactor.argv(argv);
    for a in redacted.iter().skip(1) {
        m.push(' ');
        events::shell_word(a, &mut m);
    }
    let base = filename.rsplit(|b| *b == b'/').next().unwrap_or(filename);
    if let Some(a0) = argv
        .first()
        .filter(|a| a.as_slice() != filename && a.as_slice() != base)
    {
        m.push_str(" (argv[0] ");
        events::shell_word(a0, &mut m);
        m.push(')');
    }
    let mut f = Fields::new();
    f.insert("path", Value::from(path));
    f.insert(
        "argv",
        Value::Array(
            redacted
                .iter()
                .map(|a| Value::from(escape_bytes(a)))
                .collect(),
        ),
    );
    if let Some(state) = s.timeline.at(pid, num) {
        f.insert("ppid", Value::from(state.ppid));
        if state.exe_from_memfd == Some(true) {
            m.push_str(" (from a memfd)");
            f.insert("exe_from_memfd", Value::from(true));
        }
    }
    if let Some(t) = old_tid {
        f.insert("old_tid", Value::from(t));
    }
    entry(pid, tid, Kind::Exec, m, f)
}

fn snapshot_entry(p: &ProcState, s: &Shared<'_>) -> Entry {
    let mut m = String::from("running at capture start:");
    let mut f = Fields::new();
    if !p.argv.is_empty() {
        m.push(' ');
        events::command_line(&p.argv, s.redactor, &mut m);
        f.insert("argv", events::argv_field(&p.argv, s.redactor));
    }
    let mut facts: Vec<String> = Vec::new();
    if let Some(exe) = &p.exepath {
        let exe = escape_bytes(exe);
        let mut fact = format!("exe {exe}");
        if p.exe_deleted == Some(true) {
            fact.push_str(" (deleted)");
        }
        facts.push(fact);
        f.insert("exe", Value::from(exe));
    }
    if let Some(d) = p.exe_deleted {
        f.insert("exe_deleted", Value::from(d));
    }
    if p.exe_from_memfd == Some(true) {
        facts.push("exe is a memfd".into());
        f.insert("exe_from_memfd", Value::from(true));
    }
    facts.push(format!("parent {}", p.ppid));
    f.insert("ppid", Value::from(p.ppid));
    if let Some(uid) = p.euid.or(p.uid) {
        let user = s.timeline.accounts.user(uid).map(escape_bytes);
        facts.push(match &user {
            Some(u) => format!("user {u} ({uid})"),
            None => format!("uid {uid}"),
        });
        f.insert("uid", Value::from(uid));
        if let Some(u) = user {
            f.insert("user", Value::from(u));
        }
    }
    if let Some(cwd) = &p.cwd {
        let cwd = escape_bytes(cwd);
        facts.push(format!("cwd {cwd}"));
        f.insert("cwd", Value::from(cwd));
    }
    if let Some(c) = p.container_id.as_deref().filter(|c| *c != "host") {
        facts.push(format!("container {}", escape_bytes(c.as_bytes())));
        f.insert("container_id", Value::from(escape_bytes(c.as_bytes())));
    }
    for var in ["LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT"] {
        if let Some(v) = p.env_var(var.as_bytes()) {
            let shown = escape_bytes(&s.redactor.env_value(v));
            facts.push(format!("{var}={shown}"));
            let name = match var {
                "LD_PRELOAD" => "ld_preload",
                "LD_LIBRARY_PATH" => "ld_library_path",
                _ => "ld_audit",
            };
            f.insert(name, Value::from(shown));
        }
    }
    let _ = write!(m, " ({})", facts.join(", "));
    entry(p.pid, p.pid, Kind::Snapshot, m, f)
}

fn alert_entry(engine: &Engine, a: &Alert) -> Entry {
    let rule = &engine.rules[a.rule as usize];
    let name = crate::escape::escape_str(&rule.name);
    let priority = rule.priority.as_str();
    // The output is filled escaped and redacted.
    let m = format!("alert {priority} [{name}]: {}", a.output.text);
    let mut f = Fields::new();
    f.insert("rule", Value::from(name));
    f.insert("priority", Value::from(priority));
    f.insert(
        "tags",
        Value::from(
            rule.tags
                .iter()
                .map(|t| crate::escape::escape_str(t))
                .collect::<Vec<_>>(),
        ),
    );
    f.insert("output", Value::from(a.output.text.clone()));
    f.insert(
        "output_fields",
        Value::Object(
            a.output
                .fields
                .iter()
                .cloned()
                .collect::<serde_json::Map<_, _>>(),
        ),
    );
    entry(a.pid, a.tid, Kind::Alert, m, f)
}

/// Concatenates the chunks' entries in file order. With `collapse`, a thread's first entry in
/// a chunk continues that thread's run from the chunk before when the run keys match; a chunk
/// that failed ends every run (records are missing after it).
pub fn merge(parts: Vec<ChunkOut>, collapse: bool) -> Collected {
    let mut out = Collected::default();
    let total = parts.iter().map(|p| p.entries.len()).sum();
    out.entries.reserve(total);
    let mut keys: Vec<Option<RunKey>> = Vec::with_capacity(total);
    let mut last: HashMap<u32, usize> = HashMap::new();
    let mut seen: HashSet<u32> = HashSet::new();
    for part in parts {
        seen.clear();
        for (e, k) in part.entries.into_iter().zip(part.keys) {
            let first = seen.insert(e.tid);
            if collapse && first {
                if let (Some(k), Some(&i)) = (&k, last.get(&e.tid)) {
                    if keys[i].as_ref() == Some(k) {
                        let run = &mut out.entries[i];
                        run.count += e.count;
                        run.bytes = run.bytes.saturating_add(e.bytes);
                        run.last_ts = run.last_ts.max(e.last_ts);
                        continue;
                    }
                }
            }
            last.insert(e.tid, out.entries.len());
            out.entries.push(e);
            keys.push(k);
        }
        if let Some(err) = part.error {
            out.failed_chunks.push(err);
            last.clear();
        }
    }
    out
}
