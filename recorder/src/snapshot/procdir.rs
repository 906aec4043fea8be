//! Reading one `/proc/PID` directory through a handle opened once, so that every file comes
//! from the same process even if its pid is reused mid-read.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::Mode;
use rhf_format::RawFile;

/// How many bytes past a cap are counted to report a file's full length.
const COUNT_PAST_CAP: u64 = 256 << 20;

/// An open `/proc/PID` (or `/proc/PID/task/TID`) directory.
pub struct ProcDir {
    fd: OwnedFd,
}

impl ProcDir {
    /// Opens `path` (e.g. `/proc/1234`) as a directory handle.
    pub fn open(path: &str) -> io::Result<ProcDir> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(ProcDir { fd })
    }

    /// Opens a subdirectory (e.g. `task/1235`) relative to this one.
    pub fn subdir(&self, name: &str) -> io::Result<ProcDir> {
        let fd = openat(
            self.fd.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(ProcDir { fd })
    }

    /// Opens a file for reading. `exe` follows the kernel's magic link, as intended.
    pub fn open_file(&self, name: &str) -> io::Result<File> {
        let fd = openat(
            self.fd.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(File::from(fd))
    }

    /// Reads a file up to `cap` bytes; the result records truncation and any error.
    pub fn read_capped(&self, name: &str, cap: usize) -> RawFile {
        let mut raw = RawFile {
            name: name.to_string(),
            ..RawFile::default()
        };
        let mut file = match self.open_file(name) {
            Ok(f) => f,
            Err(e) => {
                raw.error = Some(describe(&e));
                return raw;
            }
        };
        let mut content = Vec::with_capacity(cap.min(4096));
        if let Err(e) = (&mut file).take(cap as u64).read_to_end(&mut content) {
            raw.error = Some(describe(&e));
        }
        if content.len() == cap {
            // Count what lies past the cap (bounded), so the record says how much was cut.
            let rest =
                io::copy(&mut (&mut file).take(COUNT_PAST_CAP), &mut io::sink()).unwrap_or(0);
            if rest > 0 {
                raw.truncated = true;
                raw.full_len = Some(cap as u64 + rest);
            }
        }
        raw.content = content.into();
        raw
    }

    /// The target of a symlink in this directory (`exe`, `cwd`, `fd/3`, `ns/net`).
    pub fn readlink(&self, name: &str) -> io::Result<Vec<u8>> {
        Ok(readlinkat(self.fd.as_fd(), name)?.as_bytes().to_vec())
    }

    /// Entry names of a subdirectory (`fd`, `task`), skipping `.` and `..`.
    pub fn list(&self, name: &str) -> io::Result<Vec<String>> {
        let sub = self.subdir(name)?;
        let dir = nix::dir::Dir::from_fd(sub.fd)?;
        let mut names = Vec::new();
        for entry in dir {
            let entry = entry?;
            let n = OsStr::from_bytes(entry.file_name().to_bytes());
            if n != "." && n != ".." {
                names.push(n.to_string_lossy().into_owned());
            }
        }
        Ok(names)
    }
}

/// Names an error the way the trace records it: the errno name and its text.
pub fn describe(e: &io::Error) -> String {
    match e.raw_os_error().map(Errno::from_raw) {
        // Errno's Display is "EACCES: Permission denied": the name a responder can search for.
        Some(errno) => errno.to_string(),
        None => e.to_string(),
    }
}

/// True when an error means the process is gone.
pub fn is_gone(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(Errno::from_raw),
        Some(Errno::ENOENT | Errno::ESRCH)
    )
}
