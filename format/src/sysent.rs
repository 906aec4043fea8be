//! The meaning of syscall numbers and argument positions in a trace: names, argument names and
//! kinds, and strace's trace classes.
//!
//! A syscall event stores its arguments by position (`SyscallEvent::args`); this table says
//! what each position is. The recorder decodes arguments by these kinds, the analyzer names
//! and renders them. Names come from the `syscalls` crate; argument specs and classes follow
//! strace's tables (`syscallent.h`), so `--trace=%file` selects what strace selects.

use crate::record::Abi;

/// How an argument is captured and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A signed integer (sizes, counts, ids).
    Int,
    /// An unsigned integer.
    Uint,
    /// An address or opaque value, shown in hex and never dereferenced.
    Ptr,
    /// A file descriptor.
    Fd,
    /// A directory descriptor for `*at` calls (`AT_FDCWD` allowed); paths resolve against it.
    DirFd,
    /// A NUL-terminated path, read at entry, resolved against the cwd or the preceding `DirFd`.
    Path,
    /// A NUL-terminated string that is not a path.
    Str,
    /// A buffer the process hands to the kernel (`write`): read at entry; its length is the
    /// argument at index `len`.
    BufIn { len: u8 },
    /// A buffer the kernel fills (`read`): read at exit; its length is the return value.
    BufOut,
    /// A socket address the process passes (`connect`, `bind`, `sendto`): read at entry; its
    /// length is the argument at index `len`.
    SockaddrIn { len: u8 },
    /// A socket address the kernel fills (`accept`, `getsockname`): read at exit; the length
    /// is in the `socklen_t` the argument at index `len` points to.
    SockaddrOut { len: u8 },
    /// A NULL-terminated array of strings (`execve` argv, envp).
    StrArray,
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
    /// `AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH|...`
    At,
    /// `PROT_READ|PROT_WRITE|...`
    MmapProt,
    /// `MAP_PRIVATE|MAP_ANONYMOUS|...`
    MmapFlags,
    /// `CLONE_VM|CLONE_FS|...|SIGCHLD`
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
    /// Anything else: shown in hex.
    Other,
}

/// strace's trace classes, as bits.
pub mod class {
    pub const FILE: u16 = 1 << 0;
    pub const PROCESS: u16 = 1 << 1;
    pub const NETWORK: u16 = 1 << 2;
    pub const SIGNAL: u16 = 1 << 3;
    pub const IPC: u16 = 1 << 4;
    pub const DESC: u16 = 1 << 5;
    pub const MEMORY: u16 = 1 << 6;
    pub const CREDS: u16 = 1 << 7;
    pub const STAT: u16 = 1 << 8;
    pub const LSTAT: u16 = 1 << 9;
    pub const FSTAT: u16 = 1 << 10;
    pub const STAT_LIKE: u16 = 1 << 11;
    pub const STATFS: u16 = 1 << 12;
    pub const FSTATFS: u16 = 1 << 13;
    pub const STATFS_LIKE: u16 = 1 << 14;
    pub const PURE: u16 = 1 << 15;

    /// `%file` -> bit, as strace spells the classes.
    pub const NAMES: [(&str, u16); 16] = [
        ("file", FILE),
        ("process", PROCESS),
        ("network", NETWORK),
        ("net", NETWORK),
        ("signal", SIGNAL),
        ("ipc", IPC),
        ("desc", DESC),
        ("memory", MEMORY),
        ("creds", CREDS),
        ("stat", STAT),
        ("lstat", LSTAT),
        ("fstat", FSTAT),
        ("%stat", STAT_LIKE),
        ("statfs", STATFS),
        ("fstatfs", FSTATFS),
        ("%statfs", STATFS_LIKE),
    ];
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
    pub classes: u16,
    pub ret: RetKind,
}

const fn a(name: &'static str, kind: ArgKind) -> ArgSpec {
    ArgSpec { name, kind }
}

use ArgKind::*;

/// x86_64 specs, by syscall name. Syscalls missing here still have a name (from the
/// `syscalls` crate) and are recorded with their raw arguments as `Ptr`.
const X86_64: &[SyscallSpec] = &[
    SyscallSpec {
        name: "read",
        args: &[a("fd", Fd), a("buf", BufOut), a("count", Uint)],
        classes: class::DESC,
        ret: RetKind::Int,
    },
    SyscallSpec {
        name: "write",
        args: &[a("fd", Fd), a("buf", BufIn { len: 2 }), a("count", Uint)],
        classes: class::DESC,
        ret: RetKind::Int,
    },
    SyscallSpec {
        name: "openat",
        args: &[
            a("dirfd", DirFd),
            a("name", Path),
            a("flags", Flags(FlagSet::Open)),
            a("mode", Flags(FlagSet::Mode)),
        ],
        classes: class::DESC | class::FILE,
        ret: RetKind::Fd,
    },
    SyscallSpec {
        name: "close",
        args: &[a("fd", Fd)],
        classes: class::DESC,
        ret: RetKind::Int,
    },
];

/// The name of syscall `nr` in `abi`'s table.
pub fn name(abi: Abi, nr: u32) -> Option<&'static str> {
    let nr = usize::try_from(nr).ok()?;
    match abi {
        Abi::X86_64 => syscalls::x86_64::Sysno::new(nr).map(|s| s.name()),
        Abi::I386 => syscalls::x86::Sysno::new(nr).map(|s| s.name()),
        // x32 numbers are x86_64 numbers with bit 30 set.
        Abi::X32 => syscalls::x86_64::Sysno::new(nr & !(1 << 30)).map(|s| s.name()),
    }
}

/// The number of syscall `name` in `abi`'s table.
pub fn number(abi: Abi, name: &str) -> Option<u32> {
    match abi {
        Abi::X86_64 | Abi::X32 => syscalls::x86_64::Sysno::iter()
            .find(|s| s.name() == name)
            .map(|s| s.id() as u32),
        Abi::I386 => syscalls::x86::Sysno::iter()
            .find(|s| s.name() == name)
            .map(|s| s.id() as u32),
    }
}

/// The spec of syscall `nr`, when the table has one. i386 calls are looked up by name in the
/// x86_64 table: their arguments mean the same.
pub fn spec(abi: Abi, nr: u32) -> Option<&'static SyscallSpec> {
    let name = name(abi, nr)?;
    X86_64.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_agree() {
        assert_eq!(name(Abi::X86_64, 257), Some("openat"));
        assert_eq!(name(Abi::I386, 5), Some("open"));
        assert_eq!(number(Abi::X86_64, "openat"), Some(257));
        assert_eq!(spec(Abi::X86_64, 0).map(|s| s.name), Some("read"));
        assert_eq!(name(Abi::X86_64, 100_000), None);
    }
}
