//! `rhf-analyze report`: load the rules, build the report in a worker pool, render it, and
//! write it to standard output or to a new private file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::rules::{self, LoadOptions, RulesError, DEFAULT_RULES_NAME};
use super::scan;
use crate::redact::Redactor;
use crate::report::collect::{self, Inputs};
use crate::report::model::{Limits, Report};
use crate::report::render::{self, Format};

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Options {
    pub file: PathBuf,
    /// `-r` files or directories; empty: the built-in rules.
    pub rules: Vec<PathBuf>,
    pub format: Format,
    /// `None` or `-`: standard output.
    pub output: Option<PathBuf>,
    /// Replace an existing output file.
    pub force: bool,
    pub show_secrets: bool,
    pub threads: Option<usize>,
}

/// How the command ended, besides errors.
#[derive(Debug)]
pub enum Outcome {
    /// The report was written; its headline numbers, for the closing note.
    Written {
        to: String,
        alerts: usize,
        findings: usize,
        notes: Vec<String>,
    },
    /// The rules do not load: nothing was evaluated (exit 5, as `rules`).
    RulesInvalid(RulesError),
}

/// Runs the command, writing the report to `stdout` unless an output file is named.
pub fn run(opts: &Options, stdout: &mut dyn Write) -> Result<Outcome> {
    let to_file = opts.output.as_deref().filter(|p| *p != Path::new("-"));
    // Refuse early what the final create would refuse, before minutes of work.
    if let Some(path) = to_file {
        precheck(path, opts.force)?;
    }
    let engine = match rules::load(&LoadOptions {
        paths: opts.rules.clone(),
        ..LoadOptions::default()
    }) {
        Ok(e) => e,
        Err(e) => return Ok(Outcome::RulesInvalid(e)),
    };
    let reader = crate::trace::open(&opts.file)?;
    let name = opts.file.display().to_string();
    let inputs = Inputs {
        name: &name,
        engine: &engine,
        rules_files: if opts.rules.is_empty() {
            vec![DEFAULT_RULES_NAME.to_string()]
        } else {
            opts.rules.iter().map(|p| p.display().to_string()).collect()
        },
        redactor: Redactor::new(opts.show_secrets),
        limits: Limits::default(),
    };
    let report = build(&reader, &opts.file, &inputs, opts.threads)?;
    let text = render::render(&report, opts.format)
        .map_err(|e| anyhow::anyhow!("cannot render the report: {e:#}"))?;
    let to = match to_file {
        Some(path) => {
            let mut f = create_private(path, opts.force)?;
            f.write_all(text.as_bytes())
                .and_then(|()| f.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            path.display().to_string()
        }
        None => {
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
            "standard output".to_string()
        }
    };
    Ok(Outcome::Written {
        to,
        alerts: report.overview.alerts,
        findings: report.overview.findings,
        notes: report.notes,
    })
}

/// Why an output file cannot be created.
/// The report of the trace at `file` (opened as `reader`) on `threads` threads (default: every
/// core), with the file's SHA-256. The digest is one sequential read of the whole file: it runs
/// beside the scan rather than before it.
pub fn build(
    reader: &rhf_format::TraceReader,
    file: &Path,
    inputs: &Inputs<'_>,
    threads: Option<usize>,
) -> Result<Report> {
    let (digest, report) = std::thread::scope(|s| {
        let digest = s.spawn(|| collect::file_sha256(file).ok());
        let report = scan::in_pool(threads, || collect::collect(reader, inputs));
        (digest.join().ok().flatten(), report)
    });
    let mut report = report?;
    report.trace.file_sha256 = digest;
    Ok(report)
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{0} already exists; choose another name or pass --force to replace it")]
    Exists(PathBuf),
    #[error("{0} is a symbolic link; refusing to write through it")]
    Symlink(PathBuf),
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn precheck(path: &Path, force: bool) -> Result<(), OutputError> {
    match path.symlink_metadata() {
        Ok(m) if m.file_type().is_symlink() => Err(OutputError::Symlink(path.to_path_buf())),
        Ok(_) if !force => Err(OutputError::Exists(path.to_path_buf())),
        _ => Ok(()),
    }
}

/// Opens `path` for a report as the recorder opens a trace: created with mode 0600, never
/// through a symbolic link (`O_NOFOLLOW`), an existing file replaced only with `force` (and
/// then made 0600 too: a report holds what the trace holds).
pub fn create_private(path: &Path, force: bool) -> Result<File, OutputError> {
    let mut opts = OpenOptions::new();
    opts.write(true).mode(0o600).custom_flags(O_NOFOLLOW);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    let file = opts.open(path).map_err(|source| {
        let p = path.to_path_buf();
        let is_link = path
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink());
        match source.kind() {
            _ if is_link || source.raw_os_error() == Some(ELOOP) => OutputError::Symlink(p),
            io::ErrorKind::AlreadyExists => OutputError::Exists(p),
            _ => OutputError::Create { path: p, source },
        }
    })?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|source| OutputError::Create {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(file)
}

/// `O_NOFOLLOW` and `ELOOP` on Linux (x86_64 and aarch64); the analyzer does not link libc.
const O_NOFOLLOW: i32 = 0o400_000;
const ELOOP: i32 = 40;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_files_are_private_never_clobbered_and_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.md");
        create_private(&path, false)
            .unwrap()
            .write_all(b"x")
            .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(
            create_private(&path, false),
            Err(OutputError::Exists(_))
        ));
        assert!(matches!(
            precheck(&path, false),
            Err(OutputError::Exists(_))
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_private(&path, true).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "--force makes a replaced file private too");
        let link = dir.path().join("link.md");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(matches!(
            create_private(&link, true),
            Err(OutputError::Symlink(_))
        ));
        assert!(matches!(
            precheck(&link, true),
            Err(OutputError::Symlink(_))
        ));
        let dangling = dir.path().join("dangling.md");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(matches!(
            create_private(&dangling, false),
            Err(OutputError::Symlink(_))
        ));
        assert!(!dir.path().join("nowhere").exists());
    }
}
