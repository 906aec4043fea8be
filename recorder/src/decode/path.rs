//! Lexical path resolution and the kernel's fd link names.
//!
//! Paths are resolved without touching the filesystem: the recorder must not follow a
//! tracee's symlinks (they may point anywhere, or change between the call and the lookup),
//! so `/tmp/x/../etc` becomes `/tmp/etc` even if `/tmp/x` is a symlink. The raw path is always
//! kept next to the resolved one.

use rhf_format::{Bytes, FdTarget, SocketInfo};

/// Joins `raw` onto `base` (unless `raw` is absolute) and normalises the result lexically:
/// empty and `.` components vanish, `..` removes the previous component (and stays at the
/// root, as the kernel does), no trailing slash. `None` if `raw` is relative and no base is
/// known.
pub fn resolve(base: Option<&[u8]>, raw: &[u8]) -> Option<Vec<u8>> {
    if raw.first() == Some(&b'/') {
        return Some(normalize(raw.split(|c| *c == b'/')));
    }
    let base = base?;
    Some(normalize(
        base.split(|c| *c == b'/').chain(raw.split(|c| *c == b'/')),
    ))
}

fn normalize<'a>(parts: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut stack: Vec<&[u8]> = Vec::new();
    for part in parts {
        match part {
            b"" | b"." => {}
            b".." => {
                stack.pop();
            }
            p => stack.push(p),
        }
    }
    let mut out = Vec::with_capacity(stack.iter().map(|p| p.len() + 1).sum::<usize>().max(1));
    for p in &stack {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// The directory an fd names, for resolving `*at` paths against it.
pub fn target_dir(target: &FdTarget) -> Option<&[u8]> {
    match target {
        FdTarget::File(p) | FdTarget::Directory(p) if p.first() == Some(&b'/') => Some(p),
        _ => None,
    }
}

/// `O_DIRECTORY` and `O_CLOEXEC` on x86 (octal, as the kernel prints them in fdinfo).
pub const O_DIRECTORY: u64 = 0o200_000;
pub const O_CLOEXEC: u64 = 0o2_000_000;

/// Parses a `/proc/PID/fd/N` link target (`/etc/passwd`, `socket:[123]`, `pipe:[45]`,
/// `anon_inode:[eventpoll]`, `/memfd:name (deleted)`). `directory` comes from fdinfo's
/// `O_DIRECTORY` flag when known: a link does not say whether a path is a directory.
pub fn parse_link(link: &[u8], directory: bool) -> FdTarget {
    let inode = |rest: &[u8]| -> Option<u64> {
        let digits = rest.strip_suffix(b"]")?;
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    if let Some(n) = link.strip_prefix(b"socket:[").and_then(inode) {
        return FdTarget::Socket(SocketInfo {
            inode: n,
            ..SocketInfo::default()
        });
    }
    if let Some(n) = link.strip_prefix(b"pipe:[").and_then(inode) {
        return FdTarget::Pipe(n);
    }
    if let Some(kind) = link.strip_prefix(b"anon_inode:") {
        let kind = kind
            .strip_prefix(b"[")
            .and_then(|k| k.strip_suffix(b"]"))
            .unwrap_or(kind);
        return FdTarget::Anon(String::from_utf8_lossy(kind).into_owned());
    }
    if let Some(name) = link.strip_prefix(b"/memfd:") {
        let name = name.strip_suffix(b" (deleted)").unwrap_or(name);
        return FdTarget::Memfd(Bytes::from(name.to_vec()));
    }
    if link.first() == Some(&b'/') {
        let path = Bytes::from(link.to_vec());
        return if directory {
            FdTarget::Directory(path)
        } else {
            FdTarget::File(path)
        };
    }
    FdTarget::Other(Bytes::from(link.to_vec()))
}

/// The inode in a `socket:[N]` link.
pub fn socket_inode(link: &[u8]) -> Option<u64> {
    match parse_link(link, false) {
        FdTarget::Socket(s) => Some(s.inode),
        _ => None,
    }
}

/// The `flags:` field of an fdinfo file (octal).
pub fn fdinfo_flags(fdinfo: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(fdinfo).ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix("flags:"))?;
    u64::from_str_radix(line.trim(), 8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(base: &str, raw: &str) -> Option<String> {
        resolve(Some(base.as_bytes()), raw.as_bytes())
            .map(|p| String::from_utf8_lossy(&p).into_owned())
    }

    #[test]
    fn lexical_resolution() {
        assert_eq!(r("/home/u", "a/b").as_deref(), Some("/home/u/a/b"));
        assert_eq!(
            r("/home/u", "../../etc/passwd").as_deref(),
            Some("/etc/passwd")
        );
        assert_eq!(
            r("/", "../../../etc//shadow").as_deref(),
            Some("/etc/shadow")
        );
        assert_eq!(r("/x", "/a/./b/../c/").as_deref(), Some("/a/c"));
        assert_eq!(r("/x", ".").as_deref(), Some("/x"));
        assert_eq!(r("/x", "..").as_deref(), Some("/"));
        assert_eq!(r("/x", "//").as_deref(), Some("/"));
        assert_eq!(resolve(None, b"rel"), None);
        assert_eq!(resolve(None, b"/abs/../x"), Some(b"/x".to_vec()));
    }

    #[test]
    fn links() {
        assert_eq!(parse_link(b"pipe:[42]", false), FdTarget::Pipe(42));
        assert_eq!(socket_inode(b"socket:[7]"), Some(7));
        assert_eq!(socket_inode(b"socket:[x]"), None);
        assert_eq!(
            parse_link(b"anon_inode:[eventpoll]", false),
            FdTarget::Anon("eventpoll".into())
        );
        assert_eq!(
            parse_link(b"anon_inode:inotify", false),
            FdTarget::Anon("inotify".into())
        );
        assert_eq!(
            parse_link(b"/memfd:x (deleted)", false),
            FdTarget::Memfd(Bytes::from(b"x".to_vec()))
        );
        assert_eq!(
            parse_link(b"/etc", true),
            FdTarget::Directory(Bytes::from(b"/etc".to_vec()))
        );
        assert_eq!(
            parse_link(b"net:[4026531840]", false),
            FdTarget::Other(Bytes::from(b"net:[4026531840]".to_vec()))
        );
        assert_eq!(
            fdinfo_flags(b"pos:\t0\nflags:\t02100000\nmnt_id:\t1\n"),
            Some(0o2_100_000)
        );
    }
}
