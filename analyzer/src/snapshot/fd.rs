//! File descriptors: what an `fd/N` link target names.

/// The kind of object behind a descriptor, from its link target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FdKind {
    /// `socket:[INODE]`.
    Socket(u64),
    /// `pipe:[INODE]`.
    Pipe(u64),
    /// `anon_inode:[eventpoll]`, `anon_inode:inotify`, `anon_inode:bpf-map`...: the kind.
    AnonInode(String),
    /// `/memfd:NAME (deleted)`: the name, without the prefix and the ` (deleted)` suffix.
    Memfd(Vec<u8>),
    /// An absolute path; `deleted` when the kernel appended ` (deleted)`.
    Path { path: Vec<u8>, deleted: bool },
    /// A namespace file (`net:[4026531840]`, `mnt:[...]`).
    Namespace(String, u64),
    /// Anything else (`/dev/...` is a `Path`), kept as printed.
    Other(Vec<u8>),
}

/// One open descriptor of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFd {
    pub fd: i32,
    /// The link target as read.
    pub target: Vec<u8>,
    pub kind: FdKind,
    /// `flags:` of `fdinfo` (the open flags, octal in the file), when recorded.
    pub flags: Option<u32>,
}

impl OpenFd {
    pub fn new(fd: i32, target: &[u8], fdinfo: Option<&[u8]>) -> OpenFd {
        OpenFd {
            fd,
            target: target.to_vec(),
            kind: classify(target),
            flags: fdinfo.and_then(open_flags),
        }
    }

    pub fn socket_inode(&self) -> Option<u64> {
        match self.kind {
            FdKind::Socket(inode) => Some(inode),
            _ => None,
        }
    }
}

/// Classifies a link target.
pub fn classify(target: &[u8]) -> FdKind {
    if let Some(inode) = bracketed_number(target, b"socket:") {
        return FdKind::Socket(inode);
    }
    if let Some(inode) = bracketed_number(target, b"pipe:") {
        return FdKind::Pipe(inode);
    }
    if let Some(kind) = target.strip_prefix(b"anon_inode:") {
        let kind = kind
            .strip_prefix(b"[")
            .and_then(|k| k.strip_suffix(b"]"))
            .unwrap_or(kind);
        return FdKind::AnonInode(String::from_utf8_lossy(kind).into_owned());
    }
    if let Some(name) = target.strip_prefix(b"/memfd:") {
        let name = name.strip_suffix(b" (deleted)").unwrap_or(name);
        return FdKind::Memfd(name.to_vec());
    }
    if target.starts_with(b"/") {
        return match target.strip_suffix(b" (deleted)") {
            Some(path) => FdKind::Path {
                path: path.to_vec(),
                deleted: true,
            },
            None => FdKind::Path {
                path: target.to_vec(),
                deleted: false,
            },
        };
    }
    if let Some(colon) = target.iter().position(|b| *b == b':') {
        let name = &target[..colon];
        if name.iter().all(u8::is_ascii_lowercase) && !name.is_empty() {
            if let Some(inode) = bracketed_number(&target[colon..], b":") {
                return FdKind::Namespace(String::from_utf8_lossy(name).into_owned(), inode);
            }
        }
    }
    FdKind::Other(target.to_vec())
}

/// `PREFIX[digits]` -> the number.
fn bracketed_number(target: &[u8], prefix: &[u8]) -> Option<u64> {
    let digits = target
        .strip_prefix(prefix)?
        .strip_prefix(b"[")?
        .strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The `flags:` line of `fdinfo`, an octal number.
fn open_flags(fdinfo: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(fdinfo).ok()?;
    let value = text.lines().find_map(|l| l.strip_prefix("flags:"))?.trim();
    u32::from_str_radix(value, 8).ok()
}

/// `O_DIRECTORY` for the architectures whose value is known (it differs between them).
pub fn o_directory(arch: &str) -> Option<u32> {
    match arch {
        "x86_64" | "i386" | "i486" | "i586" | "i686" | "riscv64" | "s390x" | "ppc64le"
        | "ppc64" | "loongarch64" => Some(0o200000),
        "aarch64" | "arm64" | "armv7l" | "armv6l" | "arm" => Some(0o40000),
        _ => None,
    }
}

/// The lsof-style TYPE of a non-socket descriptor (sockets take theirs from the tables).
/// A path cannot be told to be a regular file offline; it is `DIR` only when `fdinfo`
/// shows `O_DIRECTORY`, `CHR` under `/dev` (except the `/dev/shm` and `/dev/mqueue` file
/// systems), and `file` otherwise.
pub fn lsof_type(fd: &OpenFd, arch: &str) -> &'static str {
    match &fd.kind {
        FdKind::Socket(_) => "sock",
        FdKind::Pipe(_) => "FIFO",
        FdKind::AnonInode(_) => "a_inode",
        FdKind::Memfd(_) => "REG",
        FdKind::Namespace(..) => "nsfs",
        FdKind::Other(_) => "unknown",
        FdKind::Path { path, .. } => {
            let dir_flag = o_directory(arch);
            if let (Some(flags), Some(bit)) = (fd.flags, dir_flag) {
                if flags & bit != 0 {
                    return "DIR";
                }
            }
            if path.starts_with(b"/dev/")
                && !path.starts_with(b"/dev/shm/")
                && !path.starts_with(b"/dev/mqueue/")
            {
                "CHR"
            } else {
                "file"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_classified() {
        assert_eq!(classify(b"socket:[12345]"), FdKind::Socket(12345));
        assert_eq!(classify(b"pipe:[77]"), FdKind::Pipe(77));
        assert_eq!(
            classify(b"anon_inode:[eventpoll]"),
            FdKind::AnonInode("eventpoll".into())
        );
        assert_eq!(
            classify(b"anon_inode:inotify"),
            FdKind::AnonInode("inotify".into())
        );
        assert_eq!(
            classify(b"/memfd:x (deleted)"),
            FdKind::Memfd(b"x".to_vec())
        );
        assert_eq!(
            classify(b"/var/log/a.log (deleted)"),
            FdKind::Path {
                path: b"/var/log/a.log".to_vec(),
                deleted: true
            }
        );
        assert_eq!(
            classify(b"net:[4026531840]"),
            FdKind::Namespace("net".into(), 4026531840)
        );
        assert_eq!(
            classify(b"socket:[x]"),
            FdKind::Other(b"socket:[x]".to_vec())
        );
        assert_eq!(classify(b""), FdKind::Other(vec![]));
    }

    #[test]
    fn directories_show_through_fdinfo_flags() {
        let dir = OpenFd::new(
            3,
            b"/etc",
            Some(b"pos:\t0\nflags:\t02304000\nmnt_id:\t27\n"),
        );
        assert_eq!(lsof_type(&dir, "x86_64"), "DIR");
        assert_eq!(lsof_type(&dir, "mips"), "file");
        let file = OpenFd::new(4, b"/etc/passwd", Some(b"pos:\t0\nflags:\t02100000\n"));
        assert_eq!(lsof_type(&file, "x86_64"), "file");
        assert_eq!(
            lsof_type(&OpenFd::new(0, b"/dev/pts/3", None), "x86_64"),
            "CHR"
        );
        assert_eq!(
            lsof_type(&OpenFd::new(0, b"/dev/shm/x", None), "x86_64"),
            "file"
        );
        assert_eq!(OpenFd::new(0, b"x", Some(b"flags:\tzz\n\xff")).flags, None);
    }
}
