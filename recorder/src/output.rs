//! Where a trace goes: a new private file, or standard output (`-`) to stream it off the node.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rhf_format::{TraceWriter, WriterOptions};

/// Opens the trace's destination (see [`Output::create`]) and writes the preamble and
/// `header`; returns the writer and a name for the destination, for messages.
pub fn start_trace(
    path: &Path,
    force: bool,
    zstd_level: i32,
    header: &rhf_format::Header,
) -> anyhow::Result<(TraceWriter<BufWriter<Output>>, String)> {
    use anyhow::Context;
    let out = Output::create(path, force)?;
    let name = out.describe();
    let writer_opts = WriterOptions {
        zstd_level,
        ..WriterOptions::default()
    };
    let writer = TraceWriter::new(BufWriter::new(out), header, writer_opts)
        .with_context(|| format!("cannot start the trace on {name}"))?;
    Ok((writer, name))
}

/// Why the output could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path} already exists; choose another name or pass --force to replace it")]
    Exists { path: PathBuf },
    #[error("{path} is a symbolic link; refusing to write through it")]
    Symlink { path: PathBuf },
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The opened destination of a trace.
pub enum Output {
    File { file: File, path: PathBuf },
    Stdout(io::Stdout),
}

impl Output {
    /// Opens `path` for a new trace: `-` is standard output; otherwise the file is created with
    /// mode 0600, never through a symlink, and an existing file is replaced only with `force`.
    ///
    /// `force` replaces an existing regular file by unlinking it and creating a new one rather
    /// than truncating it in place: whoever holds the old trace open (a copy in progress, a
    /// reader) keeps it whole, and ext4 need not wait for the old file's pending writeback
    /// (truncating a just-written trace cost about 0.3 ms per capture here; docs/DECISIONS.md).
    /// Anything else that exists under the name (a device such as /dev/null, a FIFO) is opened
    /// and truncated as before, never unlinked.
    pub fn create(path: &Path, force: bool) -> Result<Output, OutputError> {
        if path == Path::new("-") {
            return Ok(Output::Stdout(io::stdout()));
        }
        let mut opts = OpenOptions::new();
        // O_NOFOLLOW makes the open fail on a symlink in the last component.
        opts.write(true).mode(0o600).custom_flags(libc_o_nofollow());
        if force && !replace_regular_file(path) {
            opts.create(true).truncate(true);
        } else {
            opts.create_new(true);
        }
        let file = opts.open(path).map_err(|source| {
            let path = path.to_path_buf();
            match source.kind() {
                io::ErrorKind::AlreadyExists if is_symlink(&path) => OutputError::Symlink { path },
                io::ErrorKind::AlreadyExists => OutputError::Exists { path },
                _ if source.raw_os_error() == Some(ELOOP) => OutputError::Symlink { path },
                _ => OutputError::Create { path, source },
            }
        })?;
        Ok(Output::File {
            file,
            path: path.to_path_buf(),
        })
    }

    /// How to name this output in messages.
    pub fn describe(&self) -> String {
        match self {
            Output::File { path, .. } => path.display().to_string(),
            Output::Stdout(_) => "standard output".into(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::File { file, .. } => file.write(buf),
            Output::Stdout(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::File { file, .. } => file.flush(),
            Output::Stdout(s) => s.flush(),
        }
    }
}

const ELOOP: i32 = 40;

fn libc_o_nofollow() -> i32 {
    0o400_000 // O_NOFOLLOW on Linux (x86_64 and aarch64)
}

/// Unlinks `path` when it names a regular file, so a new file can take its name; false when
/// there is nothing to unlink (no file, a symlink, a device, a FIFO) or the unlink failed, in
/// which case the caller opens the name as it is (and still refuses a symlink).
fn replace_regular_file(path: &Path) -> bool {
    match path.symlink_metadata() {
        Ok(meta) if meta.file_type().is_file() => std::fs::remove_file(path).is_ok(),
        _ => false,
    }
}

fn is_symlink(path: &Path) -> bool {
    path.symlink_metadata()
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_private_files_and_never_clobbers_or_follows_links() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("case.rhf");
        let out = Output::create(&path, false).unwrap();
        drop(out);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(
            Output::create(&path, false),
            Err(OutputError::Exists { .. })
        ));
        // --force replaces the file: a reader of the old trace keeps its content.
        std::fs::write(&path, b"old trace").unwrap();
        let reader = std::fs::File::open(&path).unwrap();
        let mut out = Output::create(&path, true).unwrap();
        out.write_all(b"new").unwrap();
        drop(out);
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(io::read_to_string(reader).unwrap(), "old trace");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A device is truncated in place, never unlinked.
        assert!(Output::create(Path::new("/dev/null"), true).is_ok());
        assert!(Path::new("/dev/null").exists());

        let target = dir.path().join("victim");
        std::fs::write(&target, b"keep me").unwrap();
        let link = dir.path().join("link.rhf");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            Output::create(&link, false),
            Err(OutputError::Symlink { .. })
        ));
        assert!(matches!(
            Output::create(&link, true),
            Err(OutputError::Symlink { .. })
        ));
        assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    }
}
