//! errno names and messages: `-1 ENOENT (No such file or directory)` as strace prints it.
//!
//! Names are the kernel's (from the `syscalls` crate: `EAGAIN`, not `EWOULDBLOCK`); messages
//! are glibc's `strerror` text, which is what strace prints (the kernel's own comments differ:
//! "Try again" where glibc says "Resource temporarily unavailable").

/// The kernel's name of errno `n`, e.g. `ENOENT`; `ERRNO_n` when it has none.
pub fn name(n: i64) -> String {
    i32::try_from(n)
        .ok()
        .and_then(|n| syscalls::Errno::new(n).name())
        .map_or_else(|| format!("ERRNO_{n}"), str::to_string)
}

/// glibc's `strerror(n)`, including its `Unknown error n` for the kernel-internal codes.
pub fn message(n: i64) -> String {
    usize::try_from(n)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| MESSAGES.get(i))
        .filter(|m| !m.is_empty())
        .map_or_else(|| format!("Unknown error {n}"), |m| (*m).to_string())
}

/// The kernel's restart codes never reach the process: strace shows them with `?` and its own
/// explanation instead of `-1`.
pub fn restart_text(n: i64) -> Option<&'static str> {
    match n {
        512 => Some("ERESTARTSYS (To be restarted if SA_RESTART is set)"),
        513 => Some("ERESTARTNOINTR (To be restarted)"),
        514 => Some("ERESTARTNOHAND (To be restarted if no handler)"),
        516 => Some("ERESTART_RESTARTBLOCK (Interrupted by signal)"),
        _ => None,
    }
}

/// glibc 2.36 `strerror` for errno 1..=133 (41 and 58 are unused on Linux).
const MESSAGES: [&str; 133] = [
    "Operation not permitted",
    "No such file or directory",
    "No such process",
    "Interrupted system call",
    "Input/output error",
    "No such device or address",
    "Argument list too long",
    "Exec format error",
    "Bad file descriptor",
    "No child processes",
    "Resource temporarily unavailable",
    "Cannot allocate memory",
    "Permission denied",
    "Bad address",
    "Block device required",
    "Device or resource busy",
    "File exists",
    "Invalid cross-device link",
    "No such device",
    "Not a directory",
    "Is a directory",
    "Invalid argument",
    "Too many open files in system",
    "Too many open files",
    "Inappropriate ioctl for device",
    "Text file busy",
    "File too large",
    "No space left on device",
    "Illegal seek",
    "Read-only file system",
    "Too many links",
    "Broken pipe",
    "Numerical argument out of domain",
    "Numerical result out of range",
    "Resource deadlock avoided",
    "File name too long",
    "No locks available",
    "Function not implemented",
    "Directory not empty",
    "Too many levels of symbolic links",
    "",
    "No message of desired type",
    "Identifier removed",
    "Channel number out of range",
    "Level 2 not synchronized",
    "Level 3 halted",
    "Level 3 reset",
    "Link number out of range",
    "Protocol driver not attached",
    "No CSI structure available",
    "Level 2 halted",
    "Invalid exchange",
    "Invalid request descriptor",
    "Exchange full",
    "No anode",
    "Invalid request code",
    "Invalid slot",
    "",
    "Bad font file format",
    "Device not a stream",
    "No data available",
    "Timer expired",
    "Out of streams resources",
    "Machine is not on the network",
    "Package not installed",
    "Object is remote",
    "Link has been severed",
    "Advertise error",
    "Srmount error",
    "Communication error on send",
    "Protocol error",
    "Multihop attempted",
    "RFS specific error",
    "Bad message",
    "Value too large for defined data type",
    "Name not unique on network",
    "File descriptor in bad state",
    "Remote address changed",
    "Can not access a needed shared library",
    "Accessing a corrupted shared library",
    ".lib section in a.out corrupted",
    "Attempting to link in too many shared libraries",
    "Cannot exec a shared library directly",
    "Invalid or incomplete multibyte or wide character",
    "Interrupted system call should be restarted",
    "Streams pipe error",
    "Too many users",
    "Socket operation on non-socket",
    "Destination address required",
    "Message too long",
    "Protocol wrong type for socket",
    "Protocol not available",
    "Protocol not supported",
    "Socket type not supported",
    "Operation not supported",
    "Protocol family not supported",
    "Address family not supported by protocol",
    "Address already in use",
    "Cannot assign requested address",
    "Network is down",
    "Network is unreachable",
    "Network dropped connection on reset",
    "Software caused connection abort",
    "Connection reset by peer",
    "No buffer space available",
    "Transport endpoint is already connected",
    "Transport endpoint is not connected",
    "Cannot send after transport endpoint shutdown",
    "Too many references: cannot splice",
    "Connection timed out",
    "Connection refused",
    "Host is down",
    "No route to host",
    "Operation already in progress",
    "Operation now in progress",
    "Stale file handle",
    "Structure needs cleaning",
    "Not a XENIX named type file",
    "No XENIX semaphores available",
    "Is a named type file",
    "Remote I/O error",
    "Disk quota exceeded",
    "No medium found",
    "Wrong medium type",
    "Operation canceled",
    "Required key not available",
    "Key has expired",
    "Key has been revoked",
    "Key was rejected by service",
    "Owner died",
    "State not recoverable",
    "Operation not possible due to RF-kill",
    "Memory page has hardware error",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_messages() {
        assert_eq!(name(2), "ENOENT");
        assert_eq!(message(2), "No such file or directory");
        assert_eq!(name(11), "EAGAIN");
        assert_eq!(message(11), "Resource temporarily unavailable");
        assert_eq!(message(25), "Inappropriate ioctl for device");
        assert_eq!(name(95), "EOPNOTSUPP");
        assert_eq!(message(133), "Memory page has hardware error");
        assert_eq!(message(41), "Unknown error 41");
        assert_eq!(name(515), "ENOIOCTLCMD");
        assert_eq!(message(515), "Unknown error 515");
        assert_eq!(name(4000), "ERRNO_4000");
        assert!(restart_text(512).is_some() && restart_text(4).is_none());
    }
}
