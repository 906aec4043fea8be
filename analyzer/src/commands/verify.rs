//! `rhf-analyze verify`: recompute the hash chain and say whether the trace is intact.

use std::path::Path;

use rhf_format::{FormatError, TraceReader};

/// The outcome of a verification; each maps to its own exit code.
pub enum Verdict {
    Intact(rhf_format::Verified),
    Truncated(FormatError),
    Damaged(FormatError),
    /// Not a trace this build can check (missing file, not rhf, newer major version).
    Unreadable(FormatError),
}

pub fn run_path(path: &Path) -> Verdict {
    match TraceReader::open(path) {
        Ok(reader) => run(&reader),
        Err(e) => classify(e),
    }
}

pub fn run(reader: &TraceReader) -> Verdict {
    match rhf_format::verify(reader) {
        Ok(v) => Verdict::Intact(v),
        Err(e) => classify(e),
    }
}

fn classify(e: FormatError) -> Verdict {
    match e {
        FormatError::Truncated { .. } => Verdict::Truncated(e),
        FormatError::CorruptChunk { .. } | FormatError::CorruptTrailer { .. } => {
            Verdict::Damaged(e)
        }
        _ => Verdict::Unreadable(e),
    }
}
