//! What a successful syscall does to the fd tables and the cwd, by syscall name.
//!
//! Computed at most once per syscall number (see [`EffectTable`]) so that the exit path matches on a
//! small enum instead of comparing names.

use std::cell::OnceCell;

use rhf_format::sysent::{self, RetKind};
use rhf_format::Abi;

/// Whether a new descriptor is close-on-exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloexec {
    Never,
    Always,
    /// When the argument at `arg` has any bit of `mask`.
    Flag {
        arg: u8,
        mask: u64,
    },
}

const O_CLOEXEC: u64 = 0o2_000_000;

const fn flag(arg: u8, mask: u64) -> Cloexec {
    Cloexec::Flag { arg, mask }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    None,
    /// open/openat/creat/openat2: the flags are at `flags_arg` (openat2: read from `how`).
    Open {
        flags_arg: Option<u8>,
        creat: bool,
    },
    Socket,
    SocketPair,
    Connect,
    Bind,
    Accept {
        flags_arg: Option<u8>,
    },
    /// dup, dup2, dup3: the new fd is the return value.
    Dup {
        cloexec: Cloexec,
    },
    Fcntl,
    Pipe {
        cloexec: Cloexec,
    },
    Close,
    CloseRange,
    Memfd,
    /// A new anonymous-inode fd whose kind the syscall determines (no /proc lookup).
    Anon {
        kind: &'static str,
        cloexec: Cloexec,
    },
    /// A new fd whose meaning only the kernel's link name tells.
    NewFd {
        cloexec: Cloexec,
    },
    Bpf,
    Chdir,
    Fchdir,
    Exec,
    Unshare,
    /// Descriptors may arrive by a way we do not follow (SCM_RIGHTS, io_uring).
    MayAddFds,
    /// Creates a process or thread; the flags come from `raw[0]` (clone), the `clone_args`
    /// struct (clone3) or are implied (fork, vfork).
    Spawn(SpawnKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnKind {
    Fork,
    Vfork,
    Clone,
    Clone3,
}

fn effect_of(name: &str, ret: RetKind) -> Effect {
    use Effect::*;
    match name {
        "open" => Open {
            flags_arg: Some(1),
            creat: false,
        },
        "openat" => Open {
            flags_arg: Some(2),
            creat: false,
        },
        "creat" => Open {
            flags_arg: Option::None,
            creat: true,
        },
        "openat2" => Open {
            flags_arg: Option::None,
            creat: false,
        },
        "socket" => Socket,
        "socketpair" => SocketPair,
        "connect" => Connect,
        "bind" => Bind,
        "accept" => Accept {
            flags_arg: Option::None,
        },
        "accept4" => Accept { flags_arg: Some(3) },
        "dup" | "dup2" => Dup {
            cloexec: Cloexec::Never,
        },
        "dup3" => Dup {
            cloexec: flag(2, O_CLOEXEC),
        },
        "fcntl" | "fcntl64" => Fcntl,
        "pipe" => Pipe {
            cloexec: Cloexec::Never,
        },
        "pipe2" => Pipe {
            cloexec: flag(1, O_CLOEXEC),
        },
        "close" => Close,
        "close_range" => CloseRange,
        "memfd_create" => Memfd,
        "epoll_create" => Anon {
            kind: "eventpoll",
            cloexec: Cloexec::Never,
        },
        "epoll_create1" => Anon {
            kind: "eventpoll",
            cloexec: flag(0, O_CLOEXEC),
        },
        "eventfd" => Anon {
            kind: "eventfd",
            cloexec: Cloexec::Never,
        },
        "eventfd2" => Anon {
            kind: "eventfd",
            cloexec: flag(1, O_CLOEXEC),
        },
        "signalfd" => Anon {
            kind: "signalfd",
            cloexec: Cloexec::Never,
        },
        "signalfd4" => Anon {
            kind: "signalfd",
            cloexec: flag(3, O_CLOEXEC),
        },
        "timerfd_create" => Anon {
            kind: "timerfd",
            cloexec: flag(1, O_CLOEXEC),
        },
        "inotify_init" => Anon {
            kind: "inotify",
            cloexec: Cloexec::Never,
        },
        "inotify_init1" => Anon {
            kind: "inotify",
            cloexec: flag(0, O_CLOEXEC),
        },
        // FAN_CLOEXEC is 1.
        "fanotify_init" => Anon {
            kind: "fanotify",
            cloexec: flag(0, 1),
        },
        "userfaultfd" => Anon {
            kind: "userfaultfd",
            cloexec: flag(0, O_CLOEXEC),
        },
        // The kernel always sets close-on-exec on these.
        "pidfd_open" => Anon {
            kind: "pidfd",
            cloexec: Cloexec::Always,
        },
        "io_uring_setup" => Anon {
            kind: "io_uring",
            cloexec: Cloexec::Always,
        },
        // PERF_FLAG_FD_CLOEXEC is 8.
        "perf_event_open" => Anon {
            kind: "perf_event",
            cloexec: flag(4, 8),
        },
        "landlock_create_ruleset" => Anon {
            kind: "landlock-ruleset",
            cloexec: Cloexec::Always,
        },
        "bpf" => Bpf,
        "chdir" => Chdir,
        "fchdir" => Fchdir,
        "execve" | "execveat" => Exec,
        "unshare" => Unshare,
        "fork" => Spawn(SpawnKind::Fork),
        "vfork" => Spawn(SpawnKind::Vfork),
        "clone" => Spawn(SpawnKind::Clone),
        "clone3" => Spawn(SpawnKind::Clone3),
        "recvmsg" | "recvmmsg" | "recvmmsg_time64" | "io_uring_enter" => MayAddFds,
        // OPEN_TREE_CLOEXEC is O_CLOEXEC; FSOPEN/FSMOUNT/FSPICK_CLOEXEC are 1.
        "open_tree" => NewFd {
            cloexec: flag(2, O_CLOEXEC),
        },
        "fsopen" => NewFd {
            cloexec: flag(1, 1),
        },
        "fsmount" => NewFd {
            cloexec: flag(1, 1),
        },
        "fspick" => NewFd {
            cloexec: flag(2, 1),
        },
        "mq_open" => NewFd {
            cloexec: flag(1, O_CLOEXEC),
        },
        "open_by_handle_at" => NewFd {
            cloexec: flag(2, O_CLOEXEC),
        },
        "pidfd_getfd" | "memfd_secret" => NewFd {
            cloexec: Cloexec::Always,
        },
        _ if ret == RetKind::Fd => NewFd {
            cloexec: Cloexec::Never,
        },
        _ => None,
    }
}

/// Effects by syscall number, for x86_64 (also x32) and i386, each worked out the first time
/// a call of that number is decoded: matching every number's name up front cost each recorder
/// start about 0.1 ms, while a capture meets a few dozen distinct syscalls.
#[derive(Debug)]
pub struct EffectTable {
    x86_64: Vec<OnceCell<Effect>>,
    i386: Vec<OnceCell<Effect>>,
}

impl EffectTable {
    pub fn new() -> EffectTable {
        let cells = |abi: Abi| {
            let len = sysent::numbers(abi).last().map_or(0, |nr| nr as usize + 1);
            vec![OnceCell::new(); len]
        };
        EffectTable {
            x86_64: cells(Abi::X86_64),
            i386: cells(Abi::I386),
        }
    }

    pub fn get(&self, abi: Abi, nr: u32) -> Effect {
        let (table, nr) = match abi {
            Abi::X86_64 => (&self.x86_64, nr),
            Abi::X32 => (&self.x86_64, nr & !(1 << 30)),
            Abi::I386 => (&self.i386, nr),
        };
        let Some(cell) = table.get(nr as usize) else {
            return Effect::None;
        };
        *cell.get_or_init(|| {
            sysent::spec(abi, nr).map_or(Effect::None, |spec| effect_of(spec.name, spec.ret))
        })
    }
}

impl Default for EffectTable {
    fn default() -> Self {
        EffectTable::new()
    }
}
