//! Syscall argument decoding and fd tracking, independent of ptrace.
//!
//! Both capture backends hand the decoder raw syscall numbers and arguments at entry and the
//! return value at exit; the decoder reads what the arguments point to through [`TraceeMemory`]
//! (the ptrace backend reads the stopped tracee's memory; the eBPF backend offers the bytes
//! its BPF program copied at the call's entry), asks `/proc` what it cannot know through
//! [`ProcLookup`], and returns a [`SyscallEvent`] whose arguments follow
//! `rhf_format::sysent`'s table. Both traits are small so tests drive
//! the decoder with fakes; [`ProcfsLookup`] is the real `/proc` side.
//!
//! The decoder also keeps, per thread group, what every descriptor refers to and the cwd, so
//! each event carries what its fd meant at the time of the call and relative paths resolve.
//! docs/DECODING.md states what is read when, the caps, and what cannot be known.
//!
//! Hot path: a `read`/`write` on a known fd costs a hash of the pid, an index into the fd
//! table, an `Arc` clone, the `Vec<Arg>` and the captured bytes — one memory read, no other
//! syscall.

mod effects;
mod entry;
mod exit;
pub mod fdtable;
pub mod memory;
pub mod path;
pub mod procfs;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use rhf_format::sysent::{self, SyscallSpec};
use rhf_format::{Abi, Arg, FdTarget, ProcessSnapshot, SnapshotReason, SockAddr, SyscallEvent};

use effects::{Effect, EffectTable, SpawnKind};
use fdtable::{FdTable, FdTables, Slot};

pub use procfs::ProcfsLookup;

/// Reads a tracee's memory (the ptrace side implements it with `process_vm_readv`; the eBPF
/// side with the bytes captured in the kernel, where every other address faults).
pub trait TraceeMemory {
    /// Reads up to `buf.len()` bytes at `addr` of `pid`'s address space into `buf` and returns
    /// how many were read; 0 on a fault. A short count means the read hit unreadable memory.
    fn read(&mut self, pid: u32, addr: u64, buf: &mut [u8]) -> usize;
}

/// What only `/proc` can tell. The decoder passes the calling thread's id as `pid`
/// (`/proc/TID/...` works for every thread and shows that thread's view).
pub trait ProcLookup {
    /// The `/proc/PID/fd/N` link target (`/etc/passwd`, `socket:[123]`, ...).
    fn fd_target(&mut self, pid: u32, fd: i32) -> Option<Vec<u8>>;
    /// The family and local and remote addresses of socket `inode`, from `/proc/PID/net/*`.
    fn socket_endpoints(
        &mut self,
        pid: u32,
        inode: u64,
    ) -> Option<(u16, Option<SockAddr>, Option<SockAddr>)>;
    /// The `/proc/PID/cwd` link target.
    fn cwd(&mut self, pid: u32) -> Option<Vec<u8>>;
}

/// What the decoder captures and how much.
#[derive(Debug, Clone)]
pub struct DecoderOptions {
    /// Buffer bytes kept per argument (`--snaplen`, default 64).
    pub snaplen: usize,
    /// Do not read `execve`'s environment (`envp` is recorded as its address).
    pub no_env: bool,
    /// Longest path or string read (bytes); longer ones are cut and marked.
    pub max_str: usize,
    /// argv/envp: at most this many strings...
    pub max_array_items: usize,
    /// ...and this many bytes in all.
    pub max_array_bytes: usize,
}

impl Default for DecoderOptions {
    fn default() -> Self {
        DecoderOptions {
            snaplen: 64,
            no_env: false,
            // PATH_MAX: the kernel refuses longer paths.
            max_str: 4096,
            max_array_items: 1024,
            max_array_bytes: 128 * 1024,
        }
    }
}

/// A syscall between its entry and its exit.
#[derive(Debug, Clone)]
pub struct PendingCall {
    pub pid: u32,
    pub tid: u32,
    pub abi: Abi,
    pub nr: u32,
    pub raw: [u64; 6],
    /// Entry timestamp: the caller's to set and use (the decoder does not read clocks).
    pub entry_ns: u64,
    /// For fork/vfork/clone/clone3: the clone flags the child will be made with, for
    /// [`Decoder::on_spawn`] (clone3's are read from its `clone_args` at entry).
    pub spawn_flags: Option<u64>,
    args: Vec<Arg>,
    spec: Option<&'static SyscallSpec>,
    effect: Effect,
    /// open flags for `Effect::Open` (openat2's come from its struct at entry).
    open_flags: u64,
}

impl PendingCall {
    /// The arguments decoded so far (entry-time values).
    pub fn args(&self) -> &[Arg] {
        &self.args
    }

    /// The sysent spec, when the number is known.
    pub fn spec(&self) -> Option<&'static SyscallSpec> {
        self.spec
    }
}

/// Decodes syscall arguments and follows descriptors. One per capture; not thread-safe by
/// design (the ptrace loop is one thread) but `Send`.
#[derive(Debug)]
pub struct Decoder {
    opts: DecoderOptions,
    tables: FdTables,
    effects: EffectTable,
}

/// The snapshot's per-process fd cap (docs/DECISIONS.md): a list this long may be cut.
const SNAPSHOT_FD_CAP: usize = 4096;

const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_THREAD: u64 = 0x1_0000;
const SIGCHLD: u64 = 17;

impl Decoder {
    /// A decoder with default caps: `snaplen` buffer bytes per argument, and `no_env` to
    /// leave execve environments unread.
    pub fn new(snaplen: usize, no_env: bool) -> Decoder {
        Decoder::with_options(DecoderOptions {
            snaplen,
            no_env,
            ..DecoderOptions::default()
        })
    }

    pub fn with_options(opts: DecoderOptions) -> Decoder {
        Decoder {
            opts,
            tables: FdTables::default(),
            effects: EffectTable::new(),
        }
    }

    pub fn options(&self) -> &DecoderOptions {
        &self.opts
    }

    /// Sets a process's descriptors and cwd from its snapshot (thread snapshots are
    /// ignored: threads share their group's table). A snapshot taken at exec or for a new
    /// process was taken while the process was stopped, so its fd list is taken as complete;
    /// a capture-start snapshot (attach mode: the process ran on meanwhile) or a capped or
    /// partial one is not, and unknown fds are then looked up in /proc when first used.
    pub fn seed(&mut self, snap: &ProcessSnapshot) {
        let complete = snap.reason != SnapshotReason::CaptureStart
            && snap.errors.is_empty()
            && snap.fds.len() < SNAPSHOT_FD_CAP;
        self.seed_with(snap, complete);
    }

    /// [`Decoder::seed`] with the completeness decided by the caller.
    pub fn seed_with(&mut self, snap: &ProcessSnapshot, complete: bool) {
        if snap.tid != snap.pid {
            return;
        }
        let mut table = FdTable::default();
        table.complete = complete;
        for entry in &snap.fds {
            let flags = entry
                .fdinfo
                .as_deref()
                .and_then(|i| path::fdinfo_flags(i))
                .unwrap_or(0);
            let target = path::parse_link(&entry.target, flags & path::O_DIRECTORY != 0);
            let cloexec = flags & path::O_CLOEXEC != 0;
            table.insert(
                entry.fd,
                Slot {
                    target: Arc::new(target),
                    cloexec,
                },
            );
        }
        let cwd = snap.cwd.as_ref().map(|c| c.to_vec());
        self.tables.reset(snap.pid, table, cwd);
    }

    /// A new thread or process `child_tid` in thread group `child_pid`, made by a thread of
    /// `parent_pid` with `clone_flags` (see [`PendingCall::spawn_flags`]). Call it before
    /// the child's first syscall is decoded when possible; if the child came first, its
    /// provisional empty table is replaced.
    pub fn on_spawn(&mut self, parent_pid: u32, child_pid: u32, child_tid: u32, clone_flags: u64) {
        let _ = child_tid;
        if clone_flags & CLONE_THREAD != 0 || child_pid == parent_pid {
            // Threads use their group's table and cwd.
            return;
        }
        self.tables.spawn(
            parent_pid,
            child_pid,
            clone_flags & CLONE_FILES != 0,
            clone_flags & CLONE_FS != 0,
        );
    }

    /// A successful execve in `pid`: the process gets a private table (if it shared one)
    /// without its close-on-exec descriptors. Idempotent; [`Decoder::on_exit`] calls it
    /// for a successful execve/execveat too.
    pub fn on_exec(&mut self, pid: u32) {
        self.tables.unshare_files(pid);
        if let Some(t) = self.tables.table_mut(pid) {
            t.drop_cloexec();
        }
    }

    /// The thread group `pid` is gone (exit_group, or killed).
    pub fn on_exit_group(&mut self, pid: u32) {
        self.tables.remove(pid);
    }

    /// The entry-time arguments of a pending call (same as [`PendingCall::args`]).
    pub fn pending_args<'a>(&self, pending: &'a PendingCall) -> &'a [Arg] {
        &pending.args
    }

    /// What `fd` of `pid` refers to now, if known (no /proc lookup).
    pub fn fd_target(&self, pid: u32, fd: i32) -> Option<Arc<FdTarget>> {
        Some(self.tables.table(pid)?.get(fd)?.target.clone())
    }

    /// Whether `fd` of `pid` is known to be close-on-exec.
    pub fn fd_cloexec(&self, pid: u32, fd: i32) -> Option<bool> {
        Some(self.tables.table(pid)?.get(fd)?.cloexec)
    }

    /// The open fds of `pid` the decoder knows, ascending.
    pub fn fds(&self, pid: u32) -> Vec<i32> {
        self.tables.table(pid).map(FdTable::fds).unwrap_or_default()
    }

    /// The cwd of `pid`, if known.
    pub fn cwd(&self, pid: u32) -> Option<&[u8]> {
        self.tables.cwd(pid)
    }

    /// How many thread groups have state.
    pub fn processes(&self) -> usize {
        self.tables.len()
    }

    /// Decodes a syscall's entry: every argument the process passes in is read now (paths,
    /// strings, input buffers, socket addresses, argv), before the kernel or another thread
    /// can change it; output arguments are read at exit.
    // The tracer has these eight values at hand at every stop; a struct would only be
    // built to be taken apart here.
    #[allow(clippy::too_many_arguments)]
    pub fn on_entry<M, L>(
        &mut self,
        pid: u32,
        tid: u32,
        abi: Abi,
        nr: u32,
        raw: [u64; 6],
        mem: &mut M,
        lookup: &mut L,
    ) -> PendingCall
    where
        M: TraceeMemory + ?Sized,
        L: ProcLookup + ?Sized,
    {
        let spec = sysent::spec(abi, nr);
        let mut call = PendingCall {
            pid,
            tid,
            abi,
            nr,
            raw,
            entry_ns: 0,
            spawn_flags: None,
            args: Vec::with_capacity(spec.map_or(6, |s| s.args.len())),
            spec,
            effect: self.effects.get(abi, nr),
            open_flags: 0,
        };
        match spec {
            Some(spec) => self.decode_entry(&mut call, spec, mem, lookup),
            // Unknown numbers: six raw values, as strace shows them.
            None => call.args.extend(raw.iter().map(|r| Arg::Hex(*r))),
        }
        call.spawn_flags = spawn_flags(&call, mem);
        call
    }

    /// The event of a call that never returned (the thread exited, or the capture ended):
    /// entry-time arguments only.
    pub fn on_unfinished(&mut self, pending: PendingCall) -> SyscallEvent {
        SyscallEvent {
            pid: pending.pid,
            tid: pending.tid,
            nr: pending.nr,
            abi: pending.abi,
            ret: 0,
            duration_ns: 0,
            args: pending.args,
            unfinished: true,
        }
    }
}

/// The clone flags of a process-creating call, when it is one.
fn spawn_flags<M: TraceeMemory + ?Sized>(call: &PendingCall, mem: &mut M) -> Option<u64> {
    let Effect::Spawn(kind) = call.effect else {
        return None;
    };
    match kind {
        SpawnKind::Fork => Some(SIGCHLD),
        SpawnKind::Vfork => Some(CLONE_VM | CLONE_VFORK | SIGCHLD),
        SpawnKind::Clone => Some(entry::Regs::of(call.abi).word(call.raw[0])),
        // struct clone_args starts with `__aligned_u64 flags`.
        SpawnKind::Clone3 => {
            let addr = entry::Regs::of(call.abi).word(call.raw[0]);
            let mut b = [0u8; 8];
            (mem.read(call.tid, addr, &mut b) == 8).then(|| u64::from_le_bytes(b))
        }
    }
}
