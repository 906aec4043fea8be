//! Running a view over a trace's chunks in parallel, and saying what could not be read.

use anyhow::{Context, Result};
use rhf_format::{FormatError, Source, TraceEnd, TraceReader};

/// Runs `f` in a rayon pool of `threads` threads, or in the global pool when `None`.
pub fn in_pool<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T> {
    match threads {
        None => Ok(f()),
        Some(n) => Ok(rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .context("cannot start the worker threads")?
            .install(f)),
    }
}

/// One line per problem for stderr: chunks that failed to decode (their records are left
/// out) and a trace that ends early or is damaged after its last readable chunk.
pub fn integrity_notes<S: Source>(reader: &TraceReader<S>, failed: &[FormatError]) -> Vec<String> {
    let mut notes: Vec<String> = failed
        .iter()
        .map(|e| format!("{e}; the records of that chunk are missing from this view"))
        .collect();
    match reader.end() {
        TraceEnd::Complete { .. } => {}
        TraceEnd::Truncated {
            complete_chunks,
            offset,
            detail,
        } => notes.push(format!(
            "the trace is truncated at offset {offset} after {complete_chunks} complete chunks \
             ({detail}); records after the cut are missing"
        )),
        TraceEnd::Corrupt {
            seq,
            offset,
            reason,
        } => notes.push(format!(
            "the trace is damaged at chunk {seq} (offset {offset}): {reason}; records from \
             there on are missing"
        )),
    }
    notes
        .into_iter()
        .map(|n| crate::escape::escape_str(&n))
        .collect()
}
