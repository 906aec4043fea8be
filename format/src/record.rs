//! The records a trace holds: what the recorder observed, in the shape the analyzer reads.
//!
//! Byte strings that come from the traced node (paths, argv, environment, raw `/proc` files) are
//! kept as bytes, never forced into UTF-8: evidence is stored as it was, and escaping is the job
//! of whoever prints it. Every record carries a monotonic timestamp in nanoseconds (see
//! [`Record::ts`]); the header maps it to wall-clock time.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Raw bytes from the node, serialized as a MessagePack `bin` value.
pub type Bytes = serde_bytes::ByteBuf;

/// One entry of the trace body: when it happened and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Monotonic clock (`CLOCK_MONOTONIC`) in nanoseconds. For a syscall, its entry time.
    pub ts: u64,
    pub body: RecordBody,
}

/// The record kinds. Each has a stable numeric kind on disk ([`RecordBody::kind`]).
#[derive(Debug, Clone, PartialEq, Eq)]
///
/// Large, rare kinds are boxed so that a `Record` stays small (about 80 bytes): traces hold
/// millions of syscall records and they are moved around by value.
pub enum RecordBody {
    Process(Box<ProcessSnapshot>),
    Network(NetworkTables),
    Mounts(Box<MountTable>),
    Accounts(Box<Accounts>),
    HostFiles(HostFiles),
    Executable(Box<CollectedExecutable>),
    Syscall(SyscallEvent),
    Lifecycle(ProcessLifecycle),
    Signal(SignalEvent),
    Stats(Box<CaptureStats>),
    Loss(LossNotice),
}

/// The on-disk kind numbers. Unknown numbers are skipped by readers (forward compatibility).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(u8)]
pub enum RecordKind {
    Process = 1,
    Network = 2,
    Mounts = 3,
    Accounts = 4,
    HostFiles = 5,
    Executable = 6,
    Syscall = 16,
    Lifecycle = 17,
    Signal = 18,
    Stats = 32,
    Loss = 33,
}

impl RecordKind {
    /// Every kind this version knows, in kind-number order.
    pub const ALL: [RecordKind; 11] = [
        RecordKind::Process,
        RecordKind::Network,
        RecordKind::Mounts,
        RecordKind::Accounts,
        RecordKind::HostFiles,
        RecordKind::Executable,
        RecordKind::Syscall,
        RecordKind::Lifecycle,
        RecordKind::Signal,
        RecordKind::Stats,
        RecordKind::Loss,
    ];

    pub fn from_u8(kind: u8) -> Option<RecordKind> {
        RecordKind::ALL.iter().copied().find(|k| *k as u8 == kind)
    }

    /// A short lower-case name, used by `info` and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Process => "process",
            RecordKind::Network => "network",
            RecordKind::Mounts => "mounts",
            RecordKind::Accounts => "accounts",
            RecordKind::HostFiles => "host_files",
            RecordKind::Executable => "executable",
            RecordKind::Syscall => "syscall",
            RecordKind::Lifecycle => "lifecycle",
            RecordKind::Signal => "signal",
            RecordKind::Stats => "stats",
            RecordKind::Loss => "loss",
        }
    }
}

impl RecordBody {
    pub fn kind(&self) -> RecordKind {
        match self {
            RecordBody::Process(_) => RecordKind::Process,
            RecordBody::Network(_) => RecordKind::Network,
            RecordBody::Mounts(_) => RecordKind::Mounts,
            RecordBody::Accounts(_) => RecordKind::Accounts,
            RecordBody::HostFiles(_) => RecordKind::HostFiles,
            RecordBody::Executable(_) => RecordKind::Executable,
            RecordBody::Syscall(_) => RecordKind::Syscall,
            RecordBody::Lifecycle(_) => RecordKind::Lifecycle,
            RecordBody::Signal(_) => RecordKind::Signal,
            RecordBody::Stats(_) => RecordKind::Stats,
            RecordBody::Loss(_) => RecordKind::Loss,
        }
    }
}

/// The file header: who recorded what, where and when. It is the first chunk of every file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Header {
    pub host: HostInfo,
    pub capture: CaptureInfo,
}

/// Facts about the recorded node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HostInfo {
    pub hostname: Bytes,
    /// `uname -r`.
    pub kernel_release: Bytes,
    /// `uname -v`.
    pub kernel_version: Bytes,
    /// `uname -m`, e.g. `x86_64`.
    pub arch: String,
    /// `/etc/machine-id` when readable.
    pub machine_id: Option<Bytes>,
    /// Boot time as Unix time in nanoseconds (from `/proc/stat` btime or derived from clocks).
    pub boot_time_ns: u64,
    /// `sysconf(_SC_CLK_TCK)`: the unit of start times in `/proc/PID/stat`.
    pub clock_ticks: u64,
    pub page_size: u64,
}

/// How the capture was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CaptureInfo {
    pub mode: CaptureMode,
    /// The recorder's own version string.
    pub recorder_version: String,
    /// The recorder's command line, as it was typed.
    pub command_line: Vec<Bytes>,
    /// Wall clock at capture start, Unix nanoseconds.
    pub start_realtime_ns: u64,
    /// `CLOCK_MONOTONIC` at the same instant; `realtime = start_realtime_ns + (ts - this)`.
    pub start_monotonic_ns: u64,
    /// Syscall capture backend, e.g. `ptrace`; empty for snapshots.
    pub backend: String,
    /// Options that shaped what was recorded (e.g. `snaplen=64`, `trace=%file`).
    pub options: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CaptureMode {
    /// A `/proc` snapshot only.
    #[default]
    Snapshot,
    /// A command launched by the recorder and traced.
    Launch,
    /// Running processes attached to.
    Attach,
    /// Every process on the host.
    System,
    /// Synthetic data made by the test-data generator.
    Synthetic,
}

impl CaptureMode {
    pub fn name(self) -> &'static str {
        match self {
            CaptureMode::Snapshot => "snapshot",
            CaptureMode::Launch => "launch",
            CaptureMode::Attach => "attach",
            CaptureMode::System => "system",
            CaptureMode::Synthetic => "synthetic",
        }
    }
}

/// One file read from the node, kept raw so it can be re-parsed offline, with why it may be
/// incomplete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RawFile {
    /// The path as read, e.g. `status` (relative to `/proc/PID`) or `/etc/passwd`.
    pub name: String,
    pub content: Bytes,
    /// The content was cut at the recorder's cap; `full_len` tells how long it was if known.
    pub truncated: bool,
    pub full_len: Option<u64>,
    /// Why the file could not be read (fully), e.g. `ESRCH: process exited`.
    pub error: Option<String>,
}

/// One process or thread as `/proc` showed it, at capture start or at an exec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProcessSnapshot {
    /// Thread-group id.
    pub pid: u32,
    /// Thread id; equal to `pid` for the main thread.
    pub tid: u32,
    pub ppid: u32,
    /// Why this snapshot was taken.
    pub reason: SnapshotReason,
    /// Target of `/proc/PID/exe`, and facts about that executable.
    pub exe: Option<ExecutableInfo>,
    /// `cwd` and `root` link targets.
    pub cwd: Option<Bytes>,
    pub root: Option<Bytes>,
    /// Raw files under `/proc/PID` (`stat`, `status`, `cmdline`, `environ`, `cgroup`, `maps`,
    /// `limits`, `loginuid`, `sessionid`, `mountinfo`...).
    pub files: Vec<RawFile>,
    /// Namespace links (`ns/*`): name and inode.
    pub namespaces: Vec<(String, u64)>,
    /// Open file descriptors.
    pub fds: Vec<FdEntry>,
    /// Problems met while reading this process (the record is partial).
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SnapshotReason {
    /// Taken when the capture started.
    #[default]
    CaptureStart,
    /// Taken after a successful execve.
    Exec,
    /// Taken when a new process appeared during capture.
    NewProcess,
}

/// What `/proc/PID/exe` pointed at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ExecutableInfo {
    /// Link target as the kernel prints it, possibly ending in ` (deleted)`.
    pub path: Bytes,
    pub deleted: bool,
    /// SHA-256 of the content read through `/proc/PID/exe`.
    pub sha256: Option<[u8; 32]>,
    pub size: Option<u64>,
    pub inode: Option<u64>,
    pub device: Option<u64>,
    /// Unix nanoseconds.
    pub ctime_ns: Option<i64>,
    pub mtime_ns: Option<i64>,
    pub error: Option<String>,
}

/// One open file descriptor of a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FdEntry {
    pub fd: i32,
    /// The `/proc/PID/fd/N` link target, e.g. `/etc/passwd`, `socket:[1234]`.
    pub target: Bytes,
    /// The raw `fdinfo/N` content (pos, flags, mnt_id...).
    pub fdinfo: Option<Bytes>,
}

/// `/proc/net/*` tables of one network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NetworkTables {
    /// The `net` namespace inode.
    pub netns: u64,
    /// A process in that namespace, through which the tables were read.
    pub via_pid: u32,
    /// `tcp`, `tcp6`, `udp`, `udp6`, `unix`, `raw`, `raw6`, `packet`, ...
    pub files: Vec<RawFile>,
}

/// The mount table of one mount namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MountTable {
    pub mntns: u64,
    pub via_pid: u32,
    /// `/proc/PID/mountinfo`.
    pub mountinfo: RawFile,
}

/// The node's own user and group databases, so names resolve offline without NSS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Accounts {
    pub passwd: RawFile,
    pub group: RawFile,
}

/// Other host-wide files (`/proc/modules`, `/proc/uptime`, `/proc/stat`, `/etc/ld.so.preload`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HostFiles {
    pub files: Vec<RawFile>,
}

/// A copy of an executable (deleted or memfd) taken as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CollectedExecutable {
    pub pid: u32,
    pub path: Bytes,
    pub sha256: [u8; 32],
    pub full_len: u64,
    /// The first bytes up to the recorder's cap.
    pub content: Bytes,
    pub truncated: bool,
}

/// The ABI a syscall was made through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Abi {
    #[default]
    X86_64,
    /// 32-bit compat calls (`int 0x80`), whose numbers are i386's.
    I386,
    X32,
}

/// One system call: entry time is the record's `ts`, exit is `ts + duration_ns`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SyscallEvent {
    pub pid: u32,
    pub tid: u32,
    /// The syscall number in its ABI's table.
    pub nr: u32,
    pub abi: Abi,
    /// The return value as the kernel gave it: negative errno on failure.
    pub ret: i64,
    pub duration_ns: u64,
    /// Decoded arguments, in the syscall's argument order.
    pub args: Vec<Arg>,
    /// The call never returned in the trace (the thread exited or the capture ended inside it).
    pub unfinished: bool,
}

/// One decoded syscall argument. What each position means is in the analyzer's syscall table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arg {
    /// A signed integer (counts, modes, ids).
    Int(i64),
    /// An unsigned integer shown in hex by viewers (pointers, flag sets, requests).
    Hex(u64),
    /// A file descriptor and what it referred to at the time of the call. Shared, because
    /// thousands of events name the same few descriptors.
    Fd(i32, Option<Arc<FdTarget>>),
    /// A path as passed, and resolved against the dirfd or cwd when that was possible.
    Path(PathArg),
    /// A NUL-terminated string (not a path).
    Str(Captured),
    /// A buffer's first bytes.
    Buf(Captured),
    /// An argv/envp-style array.
    StrList(Vec<Bytes>, bool),
    /// A socket address.
    Sockaddr(SockAddr),
    /// The tracer could not read the argument's memory (e.g. a bad pointer).
    Unreadable(u64),
}

/// Bytes read from the tracee, capped at the snapshot length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Captured {
    pub data: Bytes,
    /// Length of the full value (the buffer length, or string length when known).
    pub full_len: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PathArg {
    /// Exactly as the process passed it (rules look for `../` here).
    pub raw: Bytes,
    /// Absolute and normalised, when the base directory was known.
    pub resolved: Option<Bytes>,
}

/// What a file descriptor referred to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FdTarget {
    File(Bytes),
    Directory(Bytes),
    Socket(SocketInfo),
    Pipe(u64),
    /// `anon_inode:[eventpoll]` and friends: the bracketed kind.
    Anon(String),
    /// `memfd:NAME`.
    Memfd(Bytes),
    /// Anything else, as the kernel named it.
    Other(Bytes),
}

/// A socket's identity and endpoints as known when the event happened.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct SocketInfo {
    pub inode: u64,
    pub family: u16,
    /// `SOCK_STREAM`, `SOCK_DGRAM`, ... (`0` when unknown).
    pub sock_type: u16,
    pub protocol: u16,
    pub local: Option<SockAddr>,
    pub remote: Option<SockAddr>,
}

/// A socket address, decoded by family.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SockAddr {
    Inet([u8; 4], u16),
    Inet6([u8; 16], u16, u32),
    /// A unix socket path; abstract names start with a NUL byte.
    Unix(Bytes),
    Netlink {
        pid: u32,
        groups: u32,
    },
    /// Another family: the family number and the raw bytes after it.
    Other(u16, Bytes),
}

/// A change in the process tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcessLifecycle {
    /// A new thread or process (`fork`, `vfork`, `clone`, `clone3`).
    Spawn {
        parent_pid: u32,
        parent_tid: u32,
        child_pid: u32,
        child_tid: u32,
        clone_flags: u64,
    },
    /// A successful `execve`/`execveat`; a fresh snapshot follows as a `Process` record.
    Exec {
        pid: u32,
        tid: u32,
        filename: Bytes,
        argv: Vec<Bytes>,
        /// The pid the process had before exec, if a non-leader thread exec'd.
        old_tid: Option<u32>,
    },
    /// A thread or process ended.
    Exit {
        pid: u32,
        tid: u32,
        /// Exit code when it exited normally.
        code: Option<i32>,
        /// Signal number when a signal killed it.
        signal: Option<i32>,
        core_dumped: bool,
    },
    /// The recorder started tracing an already-running process (attach mode).
    Attached { pid: u32, tid: u32 },
    /// The recorder stopped tracing a process that goes on running.
    Detached { pid: u32, tid: u32 },
}

/// A signal delivered to a traced thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SignalEvent {
    pub pid: u32,
    pub tid: u32,
    pub signo: i32,
    /// `si_code`.
    pub code: i32,
    /// Sending process, when the kernel says.
    pub sender_pid: Option<u32>,
    pub sender_uid: Option<u32>,
}

/// Counters the recorder keeps; written at least once at the end of a capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CaptureStats {
    pub events: u64,
    pub processes: u64,
    /// Events that were observed but could not be recorded.
    pub events_lost: u64,
    /// Per-CPU drop counters (eBPF ring buffer), CPU index order.
    pub lost_per_cpu: Vec<u64>,
    pub bytes_written: u64,
    pub duration_ns: u64,
    /// Why the capture stopped, e.g. `command exited`, `SIGINT`, `max-events`.
    pub stop_reason: String,
}

/// An explicit statement that something was not recorded, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LossNotice {
    pub pid: u32,
    pub tid: u32,
    pub events_lost: u64,
    pub reason: String,
}
