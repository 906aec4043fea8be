//! The executable behind `/proc/PID/exe`: link target, file facts, SHA-256, and on request a
//! copy of deleted or memfd executables. Each distinct file is read once.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;

use rhf_format::{CollectedExecutable, ExecutableInfo};
use sha2::{Digest, Sha256};

use super::procdir::{describe, ProcDir};

/// Identifies a file content without reading it: device, inode, size, mtime.
type FileKey = (u64, u64, u64, i64);

/// Hashes each distinct executable once and keeps the copies asked for.
pub struct ExeCache {
    hashes: HashMap<FileKey, [u8; 32]>,
    collect: Option<u64>,
    collected: HashMap<FileKey, CollectedExecutable>,
}

impl ExeCache {
    /// `collect`: copy deleted and memfd executables, up to this many bytes each.
    pub fn new(collect: Option<u64>) -> Self {
        ExeCache {
            hashes: HashMap::new(),
            collect,
            collected: HashMap::new(),
        }
    }

    /// Reads what `exe` of `dir` points at. Kernel threads have no exe: that is an error
    /// note, not a failure.
    pub fn inspect(&mut self, dir: &ProcDir, pid: u32) -> Option<ExecutableInfo> {
        let path = match dir.readlink("exe") {
            Ok(p) => p,
            Err(e) => {
                return Some(ExecutableInfo {
                    error: Some(format!("exe: {}", describe(&e))),
                    ..Default::default()
                })
            }
        };
        let deleted = path.ends_with(b" (deleted)");
        let memfd = path.starts_with(b"/memfd:");
        let mut info = ExecutableInfo {
            path: path.clone().into(),
            deleted,
            ..Default::default()
        };
        let mut file = match dir.open_file("exe") {
            Ok(f) => f,
            Err(e) => {
                info.error = Some(format!("exe content: {}", describe(&e)));
                return Some(info);
            }
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => {
                info.error = Some(format!("exe fstat: {}", describe(&e)));
                return Some(info);
            }
        };
        info.size = Some(meta.size());
        info.inode = Some(meta.ino());
        info.device = Some(meta.dev());
        info.ctime_ns = Some(meta.ctime() * 1_000_000_000 + meta.ctime_nsec());
        info.mtime_ns = Some(meta.mtime() * 1_000_000_000 + meta.mtime_nsec());
        let key = (
            meta.dev(),
            meta.ino(),
            meta.size(),
            meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        );
        if let Some(hash) = self.hashes.get(&key) {
            info.sha256 = Some(*hash);
            return Some(info);
        }
        let keep = match self.collect {
            Some(cap) if deleted || memfd => Some(cap),
            _ => None,
        };
        match hash_file(&mut file, keep) {
            Ok((hash, copy)) => {
                info.sha256 = Some(hash);
                self.hashes.insert(key, hash);
                if let Some(content) = copy {
                    let truncated = (content.len() as u64) < meta.size();
                    self.collected.insert(
                        key,
                        CollectedExecutable {
                            pid,
                            path: path.into(),
                            sha256: hash,
                            full_len: meta.size(),
                            content: content.into(),
                            truncated,
                        },
                    );
                }
            }
            Err(e) => info.error = Some(format!("exe read: {}", describe(&e))),
        }
        Some(info)
    }

    /// The copies taken, in a stable order.
    pub fn into_collected(self) -> Vec<CollectedExecutable> {
        let mut v: Vec<_> = self.collected.into_values().collect();
        v.sort_by_key(|c| c.pid);
        v
    }
}

/// SHA-256 of the whole file, and its first `keep` bytes when asked.
fn hash_file(
    file: &mut std::fs::File,
    keep: Option<u64>,
) -> std::io::Result<([u8; 32], Option<Vec<u8>>)> {
    let mut hasher = Sha256::new();
    let mut copy = keep.map(|_| Vec::new());
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let (Some(copy), Some(cap)) = (copy.as_mut(), keep) {
            let room = (cap as usize).saturating_sub(copy.len());
            copy.extend_from_slice(&buf[..n.min(room)]);
        }
    }
    Ok((hasher.finalize().into(), copy))
}
