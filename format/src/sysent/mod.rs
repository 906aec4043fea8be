//! The meaning of syscall numbers and argument positions in a trace: names, argument names and
//! kinds, and strace's trace classes.
//!
//! A syscall event stores its arguments by position (`SyscallEvent::args`); this table says
//! what each position is. The recorder decodes arguments by these kinds, the analyzer names
//! and renders them. Names come from the `syscalls` crate; argument counts and classes follow
//! strace's tables (`syscallent.h`), so `--trace=%file` selects what strace selects (a test
//! checks this against the installed strace). Argument names are the kernel prototype's, or
//! Falco's where its rules know the argument by another name (`openat(dirfd, name, flags,
//! mode)`, `connect(fd, addr, addrlen)`).
//!
//! The x86_64 table covers every syscall of the `syscalls` crate's x86_64 list. i386 calls are
//! looked up by name: first in a small table of i386-only calls and of calls whose i386
//! argument layout differs (`mmap` takes one pointer, `clone` swaps `tls` and `child_tid`,
//! 64-bit offsets come as two halves), then in the x86_64 table.

mod filter;
mod table_0;
mod table_1;
mod table_2;
mod table_3;
mod table_i386;

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::record::Abi;

pub use filter::{select, SyscallSelection};

/// How an argument is captured and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A C `int` (pid, uid, signal number, count): the low 32 bits, sign-extended, because
    /// the kernel ignores the upper half of an `int` register (`kill(-1, ...)` may arrive as
    /// `0xffffffff`).
    Int,
    /// A 64-bit signed value (`long`, `off_t`, `loff_t`).
    Long,
    /// An unsigned value (`size_t`, lengths).
    Uint,
    /// An address or opaque value, shown in hex and never dereferenced.
    Ptr,
    /// A file descriptor.
    Fd,
    /// A directory descriptor for `*at` calls (`AT_FDCWD` allowed); paths resolve against it.
    DirFd,
    /// A NUL-terminated path, read at entry, resolved against the cwd or the preceding `DirFd`.
    Path,
    /// A NUL-terminated string that is not a path (also symlink targets, which are relative
    /// to the link's directory, not to the cwd).
    Str,
    /// A buffer the process hands to the kernel (`write`): read at entry; its length is the
    /// argument at index `len`.
    BufIn { len: u8 },
    /// A buffer the kernel fills (`read`): read at exit; its length is the return value.
    BufOut,
    /// An iovec array the process hands to the kernel (`writev`): read at entry, the buffers
    /// concatenated; the array's count is the argument at index `len`.
    IovecIn { len: u8 },
    /// An iovec array the kernel fills (`readv`): read at exit, up to the return value; the
    /// array's count is the next argument.
    IovecOut,
    /// A socket address the process passes (`connect`, `bind`, `sendto`): read at entry; its
    /// length is the argument at index `len`.
    SockaddrIn { len: u8 },
    /// A socket address the kernel fills (`accept`, `getsockname`): read at exit; the length
    /// is in the `socklen_t` the argument at index `len` points to.
    SockaddrOut { len: u8 },
    /// A NULL-terminated array of strings (`execve` argv, envp).
    StrArray,
    /// An `int[2]` the kernel fills with two new descriptors (`pipe`, `socketpair`): read at
    /// exit and stored as an 8-byte buffer (two little-endian `i32`).
    FdPair,
    /// A flag set or enumerated value, shown symbolically by viewers.
    Flags(FlagSet),
}

/// Named flag sets and enumerations viewers render symbolically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagSet {
    /// `O_RDONLY|O_CLOEXEC|...`
    Open,
    /// File mode bits, shown in octal.
    Mode,
    /// `AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH|AT_REMOVEDIR|...`
    At,
    /// `PROT_READ|PROT_WRITE|...`
    MmapProt,
    /// `MAP_PRIVATE|MAP_ANONYMOUS|...`
    MmapFlags,
    /// `CLONE_VM|CLONE_FS|...|SIGCHLD` (also `unshare` and `setns`, which take `CLONE_NEW*`).
    Clone,
    /// `AF_INET`, `AF_UNIX`, ...
    SocketFamily,
    /// `SOCK_STREAM|SOCK_CLOEXEC`, ...
    SocketType,
    /// `SIGTERM`, ...
    Signal,
    /// `F_GETFL`, `F_DUPFD`, ...
    Fcntl,
    /// `PTRACE_ATTACH`, ...
    Ptrace,
    /// `SEEK_SET`, ...
    Whence,
    /// `MFD_CLOEXEC|...`
    Memfd,
    /// `F_OK`, `R_OK|W_OK|X_OK`.
    Access,
    /// ioctl request numbers (`TCGETS`, `FIONREAD`, ...).
    Ioctl,
    /// `SIG_BLOCK`, `SIG_UNBLOCK`, `SIG_SETMASK`.
    SigHow,
    /// `MADV_DONTNEED`, ...
    Madvise,
    /// `MSG_DONTWAIT|MSG_NOSIGNAL|...`
    Msg,
    /// `SHUT_RD`, `SHUT_WR`, `SHUT_RDWR`.
    Shutdown,
    /// `WNOHANG|__WALL|...`
    Wait,
    /// `LOCK_EX|LOCK_NB|...`
    Flock,
    /// `RLIMIT_NOFILE`, ...
    Rlimit,
    /// `MS_BIND|MS_REMOUNT|...`
    Mount,
    /// `MNT_FORCE|MNT_DETACH|...`
    Umount,
    /// `PR_SET_NAME`, `PR_SET_DUMPABLE`, ...
    Prctl,
    /// `ARCH_SET_FS`, ...
    ArchPrctl,
    /// `XATTR_CREATE`, `XATTR_REPLACE`.
    Xattr,
    /// `FUTEX_WAIT_PRIVATE`, ...
    Futex,
    /// `CLOCK_MONOTONIC`, ...
    Clock,
    /// `EPOLL_CTL_ADD`, ...
    Epoll,
    /// `RENAME_NOREPLACE|RENAME_EXCHANGE|RENAME_WHITEOUT`.
    Rename,
    /// `BPF_PROG_LOAD`, `BPF_MAP_CREATE`, ...
    Bpf,
    /// Anything else: shown in hex.
    Other,
}

/// strace's trace classes, as bits.
pub mod class {
    pub const FILE: u32 = 1 << 0;
    pub const PROCESS: u32 = 1 << 1;
    pub const NETWORK: u32 = 1 << 2;
    pub const SIGNAL: u32 = 1 << 3;
    pub const IPC: u32 = 1 << 4;
    pub const DESC: u32 = 1 << 5;
    pub const MEMORY: u32 = 1 << 6;
    pub const CREDS: u32 = 1 << 7;
    pub const STAT: u32 = 1 << 8;
    pub const LSTAT: u32 = 1 << 9;
    pub const FSTAT: u32 = 1 << 10;
    pub const STAT_LIKE: u32 = 1 << 11;
    pub const STATFS: u32 = 1 << 12;
    pub const FSTATFS: u32 = 1 << 13;
    pub const STATFS_LIKE: u32 = 1 << 14;
    pub const PURE: u32 = 1 << 15;
    pub const CLOCK: u32 = 1 << 16;

    /// The class names strace accepts in `-e trace=`, with the bits they select. A syscall
    /// is selected when it has every bit of the class (the `all` pseudo-class has none, so it
    /// selects everything). The names without `%` are strace's legacy spellings; strace has
    /// no legacy form for `creds`, `net` or the stat classes, and neither do we.
    pub const NAMES: [(&str, u32); 25] = [
        ("%desc", DESC),
        ("%file", FILE),
        ("%memory", MEMORY),
        ("%process", PROCESS),
        ("%creds", CREDS),
        ("%signal", SIGNAL),
        ("%ipc", IPC),
        ("%net", NETWORK),
        ("%network", NETWORK),
        ("%stat", STAT),
        ("%lstat", LSTAT),
        ("%fstat", FSTAT),
        ("%%stat", STAT_LIKE),
        ("%statfs", STATFS),
        ("%fstatfs", FSTATFS),
        ("%%statfs", STATFS_LIKE),
        ("%pure", PURE),
        ("%clock", CLOCK),
        ("all", 0),
        ("desc", DESC),
        ("file", FILE),
        ("memory", MEMORY),
        ("process", PROCESS),
        ("signal", SIGNAL),
        ("ipc", IPC),
    ];

    /// The bits of class `name` as spelled in a `--trace` expression (`%file`, `file`).
    pub fn by_name(name: &str) -> Option<u32> {
        NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, bits)| *bits)
    }
}

/// How the return value is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetKind {
    /// A number or `-1 ERRNO`.
    Int,
    /// A new file descriptor.
    Fd,
    /// An address (`mmap`, `brk`): hex.
    Ptr,
    /// Does not return on success (`execve`, `exit`).
    NoReturn,
}

/// One argument: its name (as in the kernel's prototype and Falco's `evt.arg.NAME`) and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgSpec {
    pub name: &'static str,
    pub kind: ArgKind,
}

/// What a syscall number means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyscallSpec {
    pub name: &'static str,
    pub args: &'static [ArgSpec],
    /// A set of [`class`] bits.
    pub classes: u32,
    pub ret: RetKind,
}

/// The name of syscall `nr` in `abi`'s table.
pub fn name(abi: Abi, nr: u32) -> Option<&'static str> {
    let nr = usize::try_from(nr).ok()?;
    let name = match abi {
        Abi::X86_64 => syscalls::x86_64::Sysno::new(nr).map(|s| s.name()),
        Abi::I386 => syscalls::x86::Sysno::new(nr).map(|s| s.name()),
        // x32 numbers are x86_64 numbers with bit 30 set.
        Abi::X32 => syscalls::x86_64::Sysno::new(nr & !(1 << 30)).map(|s| s.name()),
    }?;
    // The crate spells the Rust keyword as a raw identifier (i386 `break` is `r#break`).
    Some(name.trim_start_matches("r#"))
}

/// The number of syscall `name` in `abi`'s table.
pub fn number(abi: Abi, name: &str) -> Option<u32> {
    let abi = if abi == Abi::X32 { Abi::X86_64 } else { abi };
    numbers(abi).find(|nr| self::name(abi, *nr) == Some(name))
}

/// Every syscall number of `abi`'s table (x32: the x86_64 numbers), ascending. The crate's
/// own `Sysno::iter` stops before the last syscall, so this walks the number range instead.
pub fn numbers(abi: Abi) -> impl Iterator<Item = u32> {
    let last = match abi {
        Abi::X86_64 | Abi::X32 => syscalls::x86_64::Sysno::last().id(),
        Abi::I386 => syscalls::x86::Sysno::last().id(),
    };
    (0..=last as u32).filter(move |nr| name(abi, *nr).is_some())
}

/// The spec of syscall `nr`, when the table has one. This is an array index after the first
/// call (the decoder calls it for every event).
pub fn spec(abi: Abi, nr: u32) -> Option<&'static SyscallSpec> {
    let (index, nr) = match abi {
        Abi::X86_64 => (x86_64_index(), nr),
        Abi::X32 => (x86_64_index(), nr & !(1 << 30)),
        Abi::I386 => (i386_index(), nr),
    };
    index.get(usize::try_from(nr).ok()?).copied().flatten()
}

/// The x86_64 spec named `name` (also the fallback for i386 calls).
pub fn spec_by_name(name: &str) -> Option<&'static SyscallSpec> {
    x86_64_by_name().get(name).copied()
}

type ByName = HashMap<&'static str, &'static SyscallSpec>;

/// x86_64 specs by name: the number indexes are built from it once per process, and a linear
/// search per number made that cost a recorder start about 0.1 ms.
fn x86_64_by_name() -> &'static ByName {
    static BY_NAME: OnceLock<ByName> = OnceLock::new();
    BY_NAME.get_or_init(|| first_by_name(x86_64_table()))
}

/// Every x86_64 spec, in table order (not number order).
pub fn x86_64_table() -> impl Iterator<Item = &'static SyscallSpec> {
    [
        table_0::TABLE,
        table_1::TABLE,
        table_2::TABLE,
        table_3::TABLE,
    ]
    .into_iter()
    .flatten()
}

/// The i386 spec named `name`: the i386-specific entry when there is one, else x86_64's.
fn i386_spec_by_name(name: &str) -> Option<&'static SyscallSpec> {
    static BY_NAME: OnceLock<ByName> = OnceLock::new();
    let own = BY_NAME.get_or_init(|| first_by_name(table_i386::TABLE.iter()));
    own.get(name).copied().or_else(|| spec_by_name(name))
}

/// The first spec of each name, as a search in table order would find it.
fn first_by_name(specs: impl Iterator<Item = &'static SyscallSpec>) -> ByName {
    let mut map = ByName::new();
    for spec in specs {
        map.entry(spec.name).or_insert(spec);
    }
    map
}

type Index = Vec<Option<&'static SyscallSpec>>;

fn x86_64_index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| build_index(Abi::X86_64, spec_by_name))
}

fn i386_index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| build_index(Abi::I386, i386_spec_by_name))
}

fn build_index(abi: Abi, lookup: fn(&str) -> Option<&'static SyscallSpec>) -> Index {
    let mut index: Index = Vec::new();
    for nr in numbers(abi) {
        let nr_usize = nr as usize;
        if index.len() <= nr_usize {
            index.resize(nr_usize + 1, None);
        }
        index[nr_usize] = name(abi, nr).and_then(lookup);
    }
    index
}

/// Shorthands the table files share; the class names are strace's (`TD`, `TF`, ...) so the
/// tables read like strace's `syscallent.h` they were checked against.
mod prelude {
    pub use super::class::*;
    pub use super::ArgKind::*;
    pub use super::FlagSet as F;
    pub use super::RetKind::{Fd as RFd, Int as RInt, NoReturn as RNone, Ptr as RPtr};
    pub use super::{ArgSpec, SyscallSpec};

    pub const TD: u32 = DESC;
    pub const TF: u32 = FILE;
    pub const TI: u32 = IPC;
    pub const TN: u32 = NETWORK;
    pub const TP: u32 = PROCESS;
    pub const TS: u32 = SIGNAL;
    pub const TM: u32 = MEMORY;
    pub const TC: u32 = CREDS;
    pub const TCL: u32 = CLOCK;
    pub const PU: u32 = PURE;
    pub const TST: u32 = STAT;
    pub const TLST: u32 = LSTAT;
    pub const TFST: u32 = FSTAT;
    pub const TSTA: u32 = STAT_LIKE;
    pub const TSF: u32 = STATFS;
    pub const TFSF: u32 = FSTATFS;
    pub const TSFA: u32 = STATFS_LIKE;

    pub const fn a(name: &'static str, kind: super::ArgKind) -> ArgSpec {
        ArgSpec { name, kind }
    }

    pub const fn s(
        name: &'static str,
        classes: u32,
        ret: super::RetKind,
        args: &'static [ArgSpec],
    ) -> SyscallSpec {
        SyscallSpec {
            name,
            args,
            classes,
            ret,
        }
    }
}

#[cfg(test)]
mod tests;
