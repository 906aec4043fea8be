//! Symbolic names of flag sets and enumerations, printed as strace prints them: names joined
//! by `|` in strace's order (`O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY`), unknown bits in hex.

use std::fmt::Write;

use rhf_format::sysent::FlagSet;

use super::signals::signal_name;
use super::xlat::*;

/// Appends the symbolic form of `value` interpreted as `set`.
pub fn render(set: FlagSet, value: u64, out: &mut String) {
    match set {
        FlagSet::Open => open_flags(value, out),
        FlagSet::Mode => mode(value, out),
        FlagSet::At => flags(value, AT_FLAGS, "AT_???", out),
        FlagSet::MmapProt => flags(value, MMAP_PROT, "PROT_???", out),
        FlagSet::MmapFlags => mmap_flags(value, out),
        FlagSet::Clone => clone_flags(value, out),
        FlagSet::SocketFamily => xval(value, ADDRESS_FAMILIES, "AF_???", out),
        FlagSet::SocketType => socket_type(value, out),
        // A C int: only the low half of the register counts.
        FlagSet::Signal => out.push_str(&signal_name(value as u32 as i32)),
        FlagSet::Fcntl => xval(value, FCNTL_COMMANDS, "F_???", out),
        FlagSet::Ptrace => xval(value, PTRACE_REQUESTS, "PTRACE_???", out),
        FlagSet::Whence => xval(value, WHENCE, "SEEK_???", out),
        FlagSet::Memfd => flags(value, MEMFD_FLAGS, "MFD_???", out),
        FlagSet::Access => flags(value, ACCESS_MODES, "?_OK", out),
        FlagSet::Ioctl => xval(value, IOCTL_REQUESTS, "_IOC_???", out),
        FlagSet::SigHow => xval(value, SIGPROCMASK_HOW, "SIG_???", out),
        FlagSet::Madvise => xval(value, MADVISE_ADVICE, "MADV_???", out),
        FlagSet::Msg => flags(value, MSG_FLAGS, "MSG_???", out),
        FlagSet::Shutdown => xval(value, SHUTDOWN_HOW, "SHUT_???", out),
        FlagSet::Wait => flags(value, WAIT_OPTIONS, "W???", out),
        FlagSet::Flock => flags(value, FLOCK_OPERATIONS, "LOCK_???", out),
        FlagSet::Rlimit => xval(value, RLIMIT_RESOURCES, "RLIMIT_???", out),
        FlagSet::Mount => mount_flags(value, out),
        FlagSet::Umount => flags(value, UMOUNT_FLAGS, "MNT_???", out),
        FlagSet::Prctl => xval(value, PRCTL_OPTIONS, "PR_???", out),
        FlagSet::ArchPrctl => xval(value, ARCH_PRCTL_CODES, "ARCH_???", out),
        FlagSet::Xattr => flags(value, XATTR_FLAGS, "XATTR_???", out),
        FlagSet::Futex => futex_op(value, out),
        FlagSet::Clock => xval(value, CLOCK_IDS, "CLOCK_???", out),
        FlagSet::Epoll => xval(value, EPOLL_CTL_OPS, "EPOLL_CTL_???", out),
        FlagSet::Rename => flags(value, RENAME_FLAGS, "RENAME_???", out),
        FlagSet::Bpf => xval(value, BPF_COMMANDS, "BPF_???", out),
        FlagSet::Other if value == 0 => out.push('0'),
        FlagSet::Other => hex(value, out),
    }
}

/// [`render`] for an argument of `syscall`: `dup3` and `pipe2` take only `O_CLOEXEC`-style
/// flags, which strace prints without an access mode (`pipe2([3, 4], O_CLOEXEC)`).
pub fn render_for(syscall: &str, set: FlagSet, value: u64, out: &mut String) {
    match (set, syscall) {
        (FlagSet::Open, "dup3" | "pipe2") => flags(value, OPEN_FLAGS, "O_???", out),
        // accept4 takes only SOCK_CLOEXEC and SOCK_NONBLOCK, no socket type.
        (FlagSet::SocketType, "accept4") if value == 0 => out.push('0'),
        (FlagSet::SocketType, "accept4") => flags(value, SOCKET_TYPE_FLAGS, "SOCK_???", out),
        _ => render(set, value, out),
    }
}

/// The name of an address family, or `None`.
pub fn address_family(family: u64) -> Option<&'static str> {
    lookup(ADDRESS_FAMILIES, family)
}

/// `O_CREAT` or `O_TMPFILE` is set: only then does `open` take (and strace print) a mode.
pub fn open_takes_mode(flags: u64) -> bool {
    const O_CREAT: u64 = 0o100;
    const O_TMPFILE: u64 = 0o20200000;
    flags & O_CREAT != 0 || flags & O_TMPFILE == O_TMPFILE
}

fn lookup(table: Xlat, value: u64) -> Option<&'static str> {
    table.iter().find(|(v, _)| *v == value).map(|(_, n)| *n)
}

fn hex(value: u64, out: &mut String) {
    let _ = write!(out, "{value:#x}");
}

/// One value of an enumeration; an unknown one in hex with a comment, as strace prints it.
fn xval(value: u64, table: Xlat, unknown: &str, out: &mut String) {
    match lookup(table, value) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "{value:#x} /* {unknown} */");
        }
    }
}

/// A bit set: names joined by `|`, leftover bits as one hex number; no known bit at all gives
/// the hex value with a comment, zero gives `0` (or the table's name for zero).
fn flags(value: u64, table: Xlat, unknown: &str, out: &mut String) {
    if value == 0 {
        out.push_str(lookup(table, 0).unwrap_or("0"));
        return;
    }
    let start = out.len();
    let rest = names(value, table, out);
    if rest != 0 {
        if out.len() > start {
            out.push('|');
            hex(rest, out);
        } else {
            let _ = write!(out, "{rest:#x} /* {unknown} */");
        }
    }
}

/// Appends the names of the flags of `table` set in `value`; returns the bits left over.
fn names(mut value: u64, table: Xlat, out: &mut String) -> u64 {
    let start = out.len();
    for &(bits, name) in table {
        if bits != 0 && value & bits == bits {
            if out.len() > start {
                out.push('|');
            }
            out.push_str(name);
            value &= !bits;
        }
    }
    value
}

/// Access mode first (`O_RDONLY` is 0 and would be lost as a bit), then the other flags.
fn open_flags(value: u64, out: &mut String) {
    out.push_str(match value & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    });
    let rest = value & !3;
    if rest != 0 {
        out.push('|');
        let start = out.len();
        let left = names(rest, OPEN_FLAGS, out);
        if left != 0 {
            if out.len() > start {
                out.push('|');
            }
            hex(left, out);
        }
    }
}

/// File modes print in octal with a leading zero (`0644`, `000`), like strace's `%#03o`.
fn mode(value: u64, out: &mut String) {
    let _ = write!(out, "{:0>3}", format!("0{value:o}"));
}

/// The mapping type (the low nibble) is an enumeration, the rest are bits.
fn mmap_flags(value: u64, out: &mut String) {
    const MAP_TYPE: u64 = 0xf;
    let start = out.len();
    match value & MAP_TYPE {
        0 => {}
        t => xval(t, MAP_TYPES, "MAP_???", out),
    }
    let rest = value & !MAP_TYPE;
    if rest == 0 {
        if out.len() == start {
            out.push('0');
        }
        return;
    }
    if out.len() > start {
        out.push('|');
    }
    flags(rest, MMAP_FLAGS, "MAP_???", out);
}

/// The low byte of clone flags is the signal sent to the parent at exit (`|SIGCHLD`).
fn clone_flags(value: u64, out: &mut String) {
    const CSIGNAL: u64 = 0xff;
    let start = out.len();
    if value & !CSIGNAL != 0 {
        flags(value & !CSIGNAL, CLONE_FLAGS, "CLONE_???", out);
    }
    let signal = value & CSIGNAL;
    if signal != 0 {
        if out.len() > start {
            out.push('|');
        }
        out.push_str(&signal_name(signal as i32));
    }
    if out.len() == start {
        out.push('0');
    }
}

/// The socket type is an enumeration in the low bits, with `SOCK_CLOEXEC` and
/// `SOCK_NONBLOCK` or-ed in.
fn socket_type(value: u64, out: &mut String) {
    const SOCK_TYPE_MASK: u64 = 0xf;
    xval(value & SOCK_TYPE_MASK, SOCKET_TYPES, "SOCK_???", out);
    let rest = value & !SOCK_TYPE_MASK;
    if rest != 0 {
        out.push('|');
        flags(rest, SOCKET_TYPE_FLAGS, "SOCK_???", out);
    }
}

/// A futex operation: the command, `_PRIVATE` when process-private, `|FUTEX_CLOCK_REALTIME`.
fn futex_op(value: u64, out: &mut String) {
    const PRIVATE: u64 = 128;
    const CLOCK_REALTIME: u64 = 256;
    const CMD_MASK: u64 = !(PRIVATE | CLOCK_REALTIME);
    xval(value & CMD_MASK, FUTEX_COMMANDS, "FUTEX_???", out);
    if value & PRIVATE != 0 {
        out.push_str("_PRIVATE");
    }
    if value & CLOCK_REALTIME != 0 {
        out.push_str("|FUTEX_CLOCK_REALTIME");
    }
}

/// Mount flags; the historical magic number in the high half prints as `MS_MGC_VAL`.
fn mount_flags(value: u64, out: &mut String) {
    const MS_MGC_MSK: u64 = 0xffff_0000;
    const MS_MGC_VAL: u64 = 0xc0ed_0000;
    if value & MS_MGC_MSK == MS_MGC_VAL {
        out.push_str("MS_MGC_VAL");
        if value & !MS_MGC_MSK != 0 {
            out.push('|');
            flags(value & !MS_MGC_MSK, MOUNT_FLAGS, "MS_???", out);
        }
    } else {
        flags(value, MOUNT_FLAGS, "MS_???", out);
    }
}

/// The strace-style name of a socket type, for descriptor targets (`UNIX-STREAM`).
pub fn socket_type_name(sock_type: u64) -> Option<&'static str> {
    lookup(SOCKET_TYPES, sock_type & 0xf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(set: FlagSet, v: u64) -> String {
        let mut s = String::new();
        render(set, v, &mut s);
        s
    }

    #[test]
    fn flag_sets_render_in_strace_order() {
        assert_eq!(r(FlagSet::Open, 0o2000000), "O_RDONLY|O_CLOEXEC");
        assert_eq!(
            r(FlagSet::Open, 0o2204000),
            "O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY"
        );
        assert_eq!(r(FlagSet::Open, 0o1101), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(r(FlagSet::Open, 0o20200002), "O_RDWR|O_TMPFILE");
        assert_eq!(r(FlagSet::Open, 0o4010001), "O_WRONLY|O_SYNC");
        assert_eq!(r(FlagSet::Open, 0x4000_0000), "O_RDONLY|0x40000000");
        assert_eq!(r(FlagSet::Mode, 0o644), "0644");
        assert_eq!(r(FlagSet::Mode, 0), "000");
        assert_eq!(r(FlagSet::Mode, 0o7), "007");
        assert_eq!(r(FlagSet::At, 0x1000), "AT_EMPTY_PATH");
        assert_eq!(r(FlagSet::At, 0), "0");
        assert_eq!(r(FlagSet::At, 0x4_0000), "0x40000 /* AT_??? */");
        assert_eq!(r(FlagSet::MmapProt, 0), "PROT_NONE");
        assert_eq!(r(FlagSet::MmapProt, 5), "PROT_READ|PROT_EXEC");
        assert_eq!(r(FlagSet::MmapFlags, 0x22), "MAP_PRIVATE|MAP_ANONYMOUS");
        assert_eq!(
            r(FlagSet::MmapFlags, 0x812),
            "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE"
        );
        assert_eq!(
            r(FlagSet::Clone, 0x1200011),
            "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"
        );
        assert_eq!(r(FlagSet::Clone, 17), "SIGCHLD");
        assert_eq!(r(FlagSet::SocketFamily, 10), "AF_INET6");
        assert_eq!(r(FlagSet::SocketFamily, 99), "0x63 /* AF_??? */");
        assert_eq!(r(FlagSet::SocketType, 0x80001), "SOCK_STREAM|SOCK_CLOEXEC");
        assert_eq!(r(FlagSet::Signal, 9), "SIGKILL");
        assert_eq!(r(FlagSet::Fcntl, 1030), "F_DUPFD_CLOEXEC");
        assert_eq!(r(FlagSet::Ptrace, 0x4206), "PTRACE_SEIZE");
        assert_eq!(r(FlagSet::Whence, 2), "SEEK_END");
        assert_eq!(r(FlagSet::Memfd, 3), "MFD_CLOEXEC|MFD_ALLOW_SEALING");
        assert_eq!(r(FlagSet::Other, 255), "0xff");
        assert!(open_takes_mode(0o100) && !open_takes_mode(0o2000000));
        assert_eq!(r(FlagSet::Access, 0), "F_OK");
        assert_eq!(r(FlagSet::Access, 6), "R_OK|W_OK");
        assert_eq!(r(FlagSet::Futex, 129), "FUTEX_WAKE_PRIVATE");
        assert_eq!(
            r(FlagSet::Futex, 0x189),
            "FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME"
        );
        assert_eq!(r(FlagSet::Ioctl, 0x5401), "TCGETS");
        assert_eq!(r(FlagSet::Ioctl, 0xc020_660b), "0xc020660b /* _IOC_??? */");
        assert_eq!(r(FlagSet::Wait, 0x4000_0001), "WNOHANG|__WALL");
        assert_eq!(r(FlagSet::Msg, 0x4040), "MSG_DONTWAIT|MSG_NOSIGNAL");
        assert_eq!(r(FlagSet::Clock, 1), "CLOCK_MONOTONIC");
        assert_eq!(r(FlagSet::Mount, 0xc0ed_1000), "MS_MGC_VAL|MS_BIND");
        assert_eq!(r(FlagSet::Signal, 0xffff_ffff_0000_0009), "SIGKILL");
        let mut s = String::new();
        render_for("pipe2", FlagSet::Open, 0o2000000, &mut s);
        assert_eq!(s, "O_CLOEXEC");
        // accept4's flags have no socket type part (strace: `SOCK_CLOEXEC`, `0`).
        for (v, want) in [
            (0o2000000, "SOCK_CLOEXEC"),
            (0, "0"),
            (0o2004000, "SOCK_CLOEXEC|SOCK_NONBLOCK"),
        ] {
            let mut s = String::new();
            render_for("accept4", FlagSet::SocketType, v, &mut s);
            assert_eq!(s, want);
        }
    }
}
