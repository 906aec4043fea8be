//! `/proc/PID/maps`: a summary of what a process has mapped, for the views and indicators.
//!
//! Parsed by hand, not with procfs-core's `MemoryMaps`: that parser rejects the whole file
//! when one path is not UTF-8, turns paths into `PathBuf` through `str`, and panics on a
//! mapped file whose name starts with `/SYSV` but is shorter than 13 bytes — a name any
//! process can create. Paths here stay raw bytes, and a bad line loses only itself.

use std::collections::BTreeSet;

/// One mapping line, split into its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The whole line as read, for evidence.
    pub line: Vec<u8>,
    pub perms: Vec<u8>,
    /// The pathname field (empty for anonymous mappings), including ` (deleted)`.
    pub path: Vec<u8>,
}

impl Mapping {
    pub fn executable(&self) -> bool {
        self.perms.get(2) == Some(&b'x')
    }

    pub fn is_memfd(&self) -> bool {
        self.path.starts_with(b"/memfd:")
    }

    pub fn is_deleted(&self) -> bool {
        self.path.ends_with(b" (deleted)")
    }
}

/// What the analyzer keeps of a process's maps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapsSummary {
    /// Number of mappings (lines that parsed).
    pub regions: usize,
    /// Executable mappings of memfd files.
    pub exec_memfd: Vec<Mapping>,
    /// Executable mappings of deleted (non-memfd) files.
    pub exec_deleted: Vec<Mapping>,
    /// Distinct paths of executable file-backed mappings (the binary and its libraries).
    pub exec_paths: BTreeSet<Vec<u8>>,
    /// Lines that did not look like a mapping.
    pub bad_lines: usize,
}

/// Summarises a `maps` file.
pub fn summarize(content: &[u8]) -> MapsSummary {
    let mut s = MapsSummary::default();
    for line in content.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Some(m) = parse_line(line) else {
            s.bad_lines += 1;
            continue;
        };
        s.regions += 1;
        if !m.executable() || !m.path.starts_with(b"/") {
            continue;
        }
        s.exec_paths.insert(m.path.clone());
        if m.is_memfd() {
            s.exec_memfd.push(m);
        } else if m.is_deleted() {
            s.exec_deleted.push(m);
        }
    }
    s
}

/// `address perms offset dev inode [pathname]`; the pathname is the rest of the line after
/// the padding, so it may hold spaces.
fn parse_line(line: &[u8]) -> Option<Mapping> {
    let mut rest = line;
    let mut fields: [&[u8]; 5] = [&[]; 5];
    for field in &mut fields {
        rest = rest.trim_ascii_start();
        let end = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
        *field = &rest[..end];
        rest = &rest[end..];
    }
    let [address, perms, offset, dev, inode] = fields;
    let hex = |f: &[u8]| !f.is_empty() && f.iter().all(u8::is_ascii_hexdigit);
    let well_formed = address.split(|b| *b == b'-').filter(|p| hex(p)).count() == 2
        && perms.len() == 4
        && hex(offset)
        && dev.split(|b| *b == b':').filter(|p| hex(p)).count() == 2
        && !inode.is_empty()
        && inode.iter().all(u8::is_ascii_digit);
    well_formed.then(|| Mapping {
        line: line.to_vec(),
        perms: perms.to_vec(),
        path: rest.trim_ascii_start().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &[u8] = b"\
55d0c8a00000-55d0c8a2e000 r--p 00000000 08:01 1310742                    /usr/bin/bash
55d0c8a2e000-55d0c8b0d000 r-xp 0002e000 08:01 1310742                    /usr/bin/bash
55d0c9f3e000-55d0ca0a5000 rw-p 00000000 00:00 0                          [heap]
7f1c2a400000-7f1c2a428000 r-xp 00000000 00:01 4123                       /memfd:payload (deleted)
7f1c2a600000-7f1c2a628000 r-xp 00000000 08:01 77                         /tmp/lib hook.so (deleted)
7f1c2a800000-7f1c2a828000 r-xp 00000000 08:01 78                         /SYSVab
7ffd5e1f6000-7ffd5e217000 rw-p 00000000 00:00 0                          [stack]
";

    #[test]
    fn executable_memfd_and_deleted_mappings_are_found() {
        let s = summarize(MAPS);
        assert_eq!(s.regions, 7);
        assert_eq!(s.bad_lines, 0);
        assert_eq!(s.exec_memfd.len(), 1);
        assert_eq!(s.exec_memfd[0].path, b"/memfd:payload (deleted)");
        assert_eq!(s.exec_deleted[0].path, b"/tmp/lib hook.so (deleted)");
        assert!(s.exec_paths.contains(b"/usr/bin/bash".as_slice()));
        assert!(s.exec_paths.contains(b"/SYSVab".as_slice()));
    }

    #[test]
    fn cut_and_garbage_lines_are_counted_not_fatal() {
        for cut in 0..MAPS.len() {
            let _ = summarize(&MAPS[..cut]);
        }
        let s = summarize(b"garbage\n\xff\xfe\n55d0-55d1 r-x\n0-1 r-xp 0 0:0 0 /x\xff\n");
        assert_eq!(s.bad_lines, 3);
        assert_eq!(s.regions, 1);
        assert!(s.exec_paths.contains(b"/x\xff".as_slice()));
    }
}
