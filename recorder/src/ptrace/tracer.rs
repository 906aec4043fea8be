//! The ptrace event loop: one `waitpid` for every thread of every traced process, each stop
//! turned into records, each thread resumed as fast as possible.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use rhf_format::sysent::SyscallSelection;
use rhf_format::{
    Arg, CaptureStats, LossNotice, ProcessLifecycle, Record, RecordBody, SignalEvent, SyscallEvent,
};

use super::memory::ProcessMemory;
use super::signals;
use super::syscall_info::{syscall_stop, SyscallStop};
use super::wait::StopWaiter;
use crate::clock::monotonic_ns;
use crate::decode::{Decoder, PendingCall, ProcfsLookup};
use crate::sink::RecordPipe;
use crate::snapshot::ExeCache;

const PTRACE_EVENT_FORK: i32 = 1;
const PTRACE_EVENT_VFORK: i32 = 2;
const PTRACE_EVENT_CLONE: i32 = 3;
const PTRACE_EVENT_EXEC: i32 = 4;
const PTRACE_EVENT_SECCOMP: i32 = 7;
const PTRACE_EVENT_STOP: i32 = 128;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_THREAD: u64 = 0x10000;

/// Why a capture ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Every traced process exited.
    AllExited,
    /// SIGINT, SIGTERM or SIGHUP.
    Signal(Signal),
    MaxEvents,
    MaxSize,
    Duration,
    /// The writer failed (e.g. disk full); events were lost.
    WriteFailed,
}

impl StopReason {
    pub fn describe(&self) -> String {
        match self {
            StopReason::AllExited => "all traced processes exited".into(),
            StopReason::Signal(s) => format!("{s}"),
            StopReason::MaxEvents => "--max-events reached".into(),
            StopReason::MaxSize => "--max-size reached".into(),
            StopReason::Duration => "--duration elapsed".into(),
            StopReason::WriteFailed => "writing the trace failed".into(),
        }
    }
}

/// Limits that end a capture cleanly.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub max_events: Option<u64>,
    pub max_bytes: Option<u64>,
    pub deadline: Option<Instant>,
}

impl Limits {
    /// The limits of a capture's options, the deadline counted from now.
    pub fn of(opts: &super::CaptureOptions) -> Limits {
        Limits {
            max_events: opts.max_events,
            max_bytes: opts.max_bytes,
            deadline: opts.duration.map(|d| Instant::now() + d),
        }
    }

    /// Why the capture must stop now, if it must: a stop signal, a failed writer, or a limit
    /// reached after `events` events (both backends ask this between events).
    pub fn check(&self, events: u64, pipe: &RecordPipe) -> Option<StopReason> {
        if let Some(sig) = signals::requested() {
            return Some(StopReason::Signal(sig));
        }
        if pipe.failed() {
            return Some(StopReason::WriteFailed);
        }
        if self.max_events.is_some_and(|m| events >= m) {
            return Some(StopReason::MaxEvents);
        }
        let bytes = pipe
            .progress
            .bytes
            .load(std::sync::atomic::Ordering::Relaxed);
        if self.max_bytes.is_some_and(|m| bytes >= m) {
            return Some(StopReason::MaxSize);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(StopReason::Duration);
        }
        None
    }
}

/// How tracees are resumed between syscalls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// `PTRACE_SYSCALL`: every syscall stops twice.
    EverySyscall,
    /// `PTRACE_CONT` between syscalls: only seccomp-selected syscalls stop (launch mode).
    Seccomp,
}

/// Per-thread state.
#[derive(Debug, Default)]
struct Thread {
    /// Thread-group id.
    pid: u32,
    /// The syscall this thread is inside, with its entry time; `None` for calls not recorded.
    pending: Option<(PendingCall, u64)>,
    /// Inside a syscall that is not recorded (filtered out in user space).
    in_unrecorded: bool,
    /// The launched command before its first exec: its syscalls are the recorder's own setup.
    pre_exec: bool,
}

/// Everything the event loop needs.
pub struct Tracer {
    pub pipe: RecordPipe,
    pub decoder: Decoder,
    pub selection: Option<SyscallSelection>,
    pub resume: Resume,
    pub limits: Limits,
    pub exes: ExeCache,
    /// The launched command, whose exit status the recorder returns.
    pub root: Option<Pid>,
    memory: ProcessMemory,
    lookup: ProcfsLookup,
    threads: HashMap<i32, Thread>,
    events: u64,
    pub root_status: Option<i32>,
    pub progress: Option<super::progress::Progress>,
    pub waiter: StopWaiter,
}

impl Tracer {
    pub fn new(pipe: RecordPipe, decoder: Decoder, resume: Resume, exes: ExeCache) -> Self {
        Tracer {
            pipe,
            decoder,
            selection: None,
            resume,
            limits: Limits::default(),
            exes,
            root: None,
            memory: ProcessMemory,
            lookup: ProcfsLookup::default(),
            threads: HashMap::new(),
            events: 0,
            root_status: None,
            progress: None,
            waiter: StopWaiter::new(Duration::ZERO),
        }
    }

    /// Registers a thread already under ptrace (attached, or the launched command).
    pub fn adopt(&mut self, tid: Pid, pid: u32, pre_exec: bool) {
        self.threads.insert(
            tid.as_raw(),
            Thread {
                pid,
                pre_exec,
                ..Thread::default()
            },
        );
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    /// Records that tracing of an already-running thread began.
    pub fn note_attached(&mut self, tid: Pid, pid: u32) {
        self.emit(
            monotonic_ns(),
            RecordBody::Lifecycle(ProcessLifecycle::Attached {
                pid,
                tid: tid.as_raw() as u32,
            }),
        );
    }

    /// Gives the record pipe back, to close it after the capture.
    pub fn into_pipe(self) -> RecordPipe {
        self.pipe
    }

    fn emit(&mut self, ts: u64, body: RecordBody) {
        self.pipe.push(Record { ts, body });
    }

    /// Runs until every tracee is gone or a stop condition holds.
    pub fn run(&mut self) -> StopReason {
        loop {
            if self.threads.is_empty() {
                return StopReason::AllExited;
            }
            if let Some(reason) = self.should_stop() {
                return reason;
            }
            self.pipe.tick();
            if let Some(progress) = &mut self.progress {
                let bytes = self
                    .pipe
                    .progress
                    .bytes
                    .load(std::sync::atomic::Ordering::Relaxed);
                progress.update(self.events, bytes);
            }
            let status = match self.waiter.next() {
                Ok(s) => s,
                Err(Errno::EINTR) => continue,
                Err(Errno::ECHILD) => return StopReason::AllExited,
                Err(_) => continue,
            };
            self.handle(status);
        }
    }

    fn should_stop(&self) -> Option<StopReason> {
        self.limits.check(self.events, &self.pipe)
    }

    fn handle(&mut self, status: WaitStatus) {
        match status {
            WaitStatus::PtraceSyscall(tid) => {
                self.on_syscall_stop(tid);
                self.resume(tid, None);
            }
            WaitStatus::PtraceEvent(tid, sig, event) => self.on_event(tid, sig, event),
            WaitStatus::Stopped(tid, sig) => self.on_signal(tid, sig),
            WaitStatus::Exited(tid, code) => self.on_gone(tid, Some(code), None, false),
            WaitStatus::Signaled(tid, sig, core) => self.on_gone(tid, None, Some(sig as i32), core),
            _ => {}
        }
    }

    /// The thread's state, created on first sight (a new child can stop before its parent's
    /// clone event is seen).
    fn thread(&mut self, tid: Pid) -> &mut Thread {
        self.threads.entry(tid.as_raw()).or_insert_with(|| Thread {
            pid: tgid_of(tid).unwrap_or(tid.as_raw() as u32),
            ..Thread::default()
        })
    }

    fn selected(&self, abi: rhf_format::Abi, nr: u32) -> bool {
        self.selection.as_ref().is_none_or(|s| s.contains(abi, nr))
    }

    fn on_syscall_stop(&mut self, tid: Pid) {
        let Ok(stop) = syscall_stop(tid) else { return };
        match stop {
            SyscallStop::Entry { abi, nr, args } => self.on_entry(tid, abi, nr, args),
            SyscallStop::Exit { ret } => self.on_exit(tid, ret),
            SyscallStop::None => {}
        }
    }

    fn on_entry(&mut self, tid: Pid, abi: rhf_format::Abi, nr: u32, args: [u64; 6]) {
        let ts = monotonic_ns();
        let selected = self.selected(abi, nr);
        let thread = self.thread(tid);
        if thread.pending.is_some() || thread.in_unrecorded {
            // The syscall-entry stop that follows a seccomp stop for the same call.
            return;
        }
        // Before its exec, the launched command runs the recorder's own setup (the stop, the
        // seccomp filter); its execve is the first call that belongs to the trace.
        let setup = thread.pre_exec && !is_exec(abi, nr);
        if setup || !selected {
            thread.in_unrecorded = true;
            return;
        }
        let pid = thread.pid;
        let pending = self.decoder.on_entry(
            pid,
            tid.as_raw() as u32,
            abi,
            nr,
            args,
            &mut self.memory,
            &mut self.lookup,
        );
        self.thread(tid).pending = Some((pending, ts));
    }

    fn on_exit(&mut self, tid: Pid, ret: i64) {
        let now = monotonic_ns();
        let thread = self.thread(tid);
        thread.in_unrecorded = false;
        let Some((pending, entry)) = thread.pending.take() else {
            return;
        };
        let mut event = self
            .decoder
            .on_exit(pending, ret, &mut self.memory, &mut self.lookup);
        event.duration_ns = now.saturating_sub(entry);
        self.record_syscall(entry, event);
    }

    fn record_syscall(&mut self, entry: u64, event: SyscallEvent) {
        self.events += 1;
        self.emit(entry, RecordBody::Syscall(event));
    }

    fn resume(&mut self, tid: Pid, sig: Option<Signal>) {
        let inside = self
            .threads
            .get(&tid.as_raw())
            .is_some_and(|t| t.pending.is_some() || t.in_unrecorded);
        let result = match self.resume {
            Resume::Seccomp if !inside => ptrace::cont(tid, sig),
            _ => ptrace::syscall(tid, sig),
        };
        // ESRCH: the thread was killed meanwhile; its exit arrives through waitpid.
        let _ = result;
    }

    fn on_event(&mut self, tid: Pid, sig: Signal, event: i32) {
        match event {
            PTRACE_EVENT_FORK | PTRACE_EVENT_VFORK | PTRACE_EVENT_CLONE => {
                self.on_spawn(tid, event);
                self.resume(tid, None);
            }
            PTRACE_EVENT_EXEC => {
                self.on_exec(tid);
                self.resume(tid, None);
            }
            PTRACE_EVENT_SECCOMP => {
                // A seccomp stop is the entry of a selected syscall.
                self.on_syscall_stop(tid);
                self.resume(tid, None);
            }
            PTRACE_EVENT_STOP => {
                if matches!(
                    sig,
                    Signal::SIGSTOP | Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU
                ) {
                    // A group-stop: leave the tracee stopped until SIGCONT, as without us.
                    // SAFETY: PTRACE_LISTEN takes no pointers.
                    unsafe { libc::ptrace(libc::PTRACE_LISTEN, tid.as_raw(), 0, 0) };
                } else {
                    // The first stop of a new child, or our own interrupt.
                    self.thread(tid);
                    self.resume(tid, None);
                }
            }
            _ => self.resume(tid, None),
        }
    }

    fn on_spawn(&mut self, parent: Pid, event: i32) {
        let Ok(new) = ptrace::getevent(parent) else {
            return;
        };
        let child_tid = new as i32;
        let parent_pid = self.thread(parent).pid;
        // The flags of the clone that made it, when it was recorded, else what the event says.
        let flags = self
            .threads
            .get(&parent.as_raw())
            .and_then(|t| t.pending.as_ref())
            .and_then(|(p, _)| p.spawn_flags)
            .unwrap_or(match event {
                PTRACE_EVENT_VFORK => CLONE_VFORK | libc::SIGCHLD as u64,
                PTRACE_EVENT_FORK => libc::SIGCHLD as u64,
                _ => 0,
            });
        let child_pid = if event == PTRACE_EVENT_CLONE {
            tgid_of(Pid::from_raw(child_tid)).unwrap_or(if flags & CLONE_THREAD != 0 {
                parent_pid
            } else {
                child_tid as u32
            })
        } else {
            child_tid as u32
        };
        self.threads.entry(child_tid).or_default().pid = child_pid;
        self.decoder
            .on_spawn(parent_pid, child_pid, child_tid as u32, flags);
        self.emit(
            monotonic_ns(),
            RecordBody::Lifecycle(ProcessLifecycle::Spawn {
                parent_pid,
                parent_tid: parent.as_raw() as u32,
                child_pid,
                child_tid: child_tid as u32,
                clone_flags: flags,
            }),
        );
    }

    fn on_exec(&mut self, tid: Pid) {
        let ts = monotonic_ns();
        // A non-leader thread that execs takes the leader's tid; the others are gone.
        let former = ptrace::getevent(tid).ok().map(|f| f as i32);
        if let Some(former) = former.filter(|f| *f != tid.as_raw()) {
            if let Some(state) = self.threads.remove(&former) {
                self.threads.insert(tid.as_raw(), state);
            }
        }
        let pid = tid.as_raw() as u32;
        let thread = self.thread(tid);
        thread.pid = pid;
        thread.pre_exec = false;
        let (filename, argv) = thread
            .pending
            .as_ref()
            .map(|(p, _)| exec_args(p.args()))
            .unwrap_or_default();
        self.decoder.on_exec(pid);
        self.emit(
            ts,
            RecordBody::Lifecycle(ProcessLifecycle::Exec {
                pid,
                tid: pid,
                filename,
                argv,
                old_tid: former.filter(|f| *f != tid.as_raw()).map(|f| f as u32),
            }),
        );
        // A fresh look at the new program: exe hash, argv, environment, fds.
        if let Some(records) = crate::snapshot::read_process_at_exec(
            pid,
            &mut self.exes,
            !self.decoder.options().no_env,
        ) {
            for snapshot in records {
                self.emit(ts, RecordBody::Process(Box::new(snapshot)));
            }
        }
    }

    fn on_signal(&mut self, tid: Pid, sig: Signal) {
        let info = ptrace::getsiginfo(tid).ok();
        let pid = self.thread(tid).pid;
        let (code, sender_pid, sender_uid) = info
            // SAFETY: si_pid/si_uid are read from the kernel-filled siginfo; for signals
            // without a sender they hold zero.
            .map(|i| unsafe { (i.si_code, Some(i.si_pid() as u32), Some(i.si_uid())) })
            .unwrap_or((0, None, None));
        self.emit(
            monotonic_ns(),
            RecordBody::Signal(SignalEvent {
                pid,
                tid: tid.as_raw() as u32,
                signo: sig as i32,
                code,
                sender_pid,
                sender_uid,
            }),
        );
        // Deliver it, as if we were not there.
        self.resume(tid, Some(sig));
    }

    fn on_gone(&mut self, tid: Pid, code: Option<i32>, signal: Option<i32>, core_dumped: bool) {
        let now = monotonic_ns();
        let Some(mut thread) = self.threads.remove(&tid.as_raw()) else {
            return;
        };
        // A call the thread never returned from (exit_group, or killed inside a syscall).
        if let Some((pending, entry)) = thread.pending.take() {
            let mut event = self.decoder.on_unfinished(pending);
            event.unfinished = true;
            event.duration_ns = 0;
            self.record_syscall(entry, event);
        }
        if tid.as_raw() as u32 == thread.pid {
            self.decoder.on_exit_group(thread.pid);
        }
        self.emit(
            now,
            RecordBody::Lifecycle(ProcessLifecycle::Exit {
                pid: thread.pid,
                tid: tid.as_raw() as u32,
                code,
                signal,
                core_dumped,
            }),
        );
        if Some(tid) == self.root {
            self.root_status = Some(match (code, signal) {
                (Some(c), _) => c,
                (None, Some(s)) => 128 + s,
                _ => 1,
            });
        }
    }

    /// Detaches from every thread (attach mode) so the processes run on unharmed: each is
    /// interrupted, and detached at its next stop with any signal it was about to receive.
    pub fn detach_all(&mut self) {
        let tids: Vec<i32> = self.threads.keys().copied().collect();
        for tid in &tids {
            let _ = ptrace::interrupt(Pid::from_raw(*tid));
        }
        let deadline = Instant::now() + std::time::Duration::from_secs(3);
        while !self.threads.is_empty() && Instant::now() < deadline {
            let status = match waitpid(None, Some(WaitPidFlag::__WALL)) {
                Ok(s) => s,
                Err(Errno::EINTR) => continue,
                Err(_) => break,
            };
            let (tid, deliver) = match status {
                WaitStatus::Exited(tid, code) => {
                    self.on_gone(tid, Some(code), None, false);
                    continue;
                }
                WaitStatus::Signaled(tid, sig, core) => {
                    self.on_gone(tid, None, Some(sig as i32), core);
                    continue;
                }
                WaitStatus::Stopped(tid, sig) => (tid, Some(sig)),
                WaitStatus::PtraceEvent(tid, _, _) | WaitStatus::PtraceSyscall(tid) => (tid, None),
                _ => continue,
            };
            self.detach_one(tid, deliver);
        }
        // Anything left (e.g. a thread that never reported): try once more directly.
        let left: Vec<i32> = self.threads.keys().copied().collect();
        for tid in left {
            self.detach_one(Pid::from_raw(tid), None);
        }
    }

    fn detach_one(&mut self, tid: Pid, deliver: Option<Signal>) {
        let Some(mut thread) = self.threads.remove(&tid.as_raw()) else {
            let _ = ptrace::detach(tid, deliver);
            return;
        };
        if let Some((pending, entry)) = thread.pending.take() {
            let mut event = self.decoder.on_unfinished(pending);
            event.unfinished = true;
            event.duration_ns = 0;
            self.record_syscall(entry, event);
        }
        let _ = ptrace::detach(tid, deliver);
        self.emit(
            monotonic_ns(),
            RecordBody::Lifecycle(ProcessLifecycle::Detached {
                pid: thread.pid,
                tid: tid.as_raw() as u32,
            }),
        );
    }

    /// Closing records: statistics, and a loss notice when events were lost.
    pub fn finish(&mut self, reason: &StopReason, started: u64) {
        if let Some(progress) = &self.progress {
            progress.finish();
        }
        let lost = self.pipe.lost;
        if lost > 0 {
            self.emit(
                monotonic_ns(),
                RecordBody::Loss(LossNotice {
                    events_lost: lost,
                    reason: reason.describe(),
                    ..Default::default()
                }),
            );
        }
        let stats = CaptureStats {
            events: self.events,
            events_lost: lost,
            duration_ns: monotonic_ns().saturating_sub(started),
            stop_reason: reason.describe(),
            ..Default::default()
        };
        self.emit(monotonic_ns(), RecordBody::Stats(Box::new(stats)));
    }
}

/// The thread group of `tid`, from `/proc/TID/status`.
fn tgid_of(tid: Pid) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// execve or execveat, in either ABI.
fn is_exec(abi: rhf_format::Abi, nr: u32) -> bool {
    matches!(
        rhf_format::sysent::name(abi, nr),
        Some("execve" | "execveat")
    )
}

/// Filename and argv of a pending execve/execveat.
fn exec_args(args: &[Arg]) -> (rhf_format::Bytes, Vec<rhf_format::Bytes>) {
    let mut filename = rhf_format::Bytes::default();
    let mut argv = Vec::new();
    for arg in args {
        match arg {
            Arg::Path(p) if filename.is_empty() => filename = p.raw.clone(),
            Arg::StrList(items, _) if argv.is_empty() => argv = items.clone(),
            _ => {}
        }
    }
    (filename, argv)
}
