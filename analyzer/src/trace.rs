//! Opening a trace for analysis and checking it chunk by chunk in parallel.

use std::path::Path;

use anyhow::{Context, Result};
use rayon::prelude::*;
use rhf_format::{DecodedChunk, FormatError, Source, TraceEnd, TraceReader};

/// Opens `path`, naming it in every error.
pub fn open(path: &Path) -> Result<TraceReader> {
    TraceReader::open(path).with_context(|| format!("cannot read trace {}", path.display()))
}

/// The integrity of a trace as found by decoding or verifying it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Integrity {
    /// Every chunk checks out and the trailer holds the final digest.
    Intact { digest: String },
    /// The file ends early; the chunks before `offset` are intact.
    Truncated {
        complete_chunks: u32,
        offset: u64,
        detail: String,
        /// The chain value after the last complete chunk.
        digest_so_far: String,
    },
    /// A chunk (or the trailer) does not match what was written.
    Damaged {
        chunk: u32,
        offset: u64,
        reason: String,
    },
}

impl Integrity {
    /// Combines the first failing chunk (in file order) with how the file ends.
    pub fn assess<S: Source>(
        reader: &TraceReader<S>,
        first_error: Option<&FormatError>,
    ) -> Integrity {
        if let Some(FormatError::CorruptChunk {
            seq,
            offset,
            reason,
        }) = first_error
        {
            return Integrity::Damaged {
                chunk: *seq,
                offset: *offset,
                reason: reason.clone(),
            };
        }
        if let Some(other) = first_error {
            return Integrity::Damaged {
                chunk: 0,
                offset: 0,
                reason: other.to_string(),
            };
        }
        match reader.end() {
            TraceEnd::Complete { digest, .. } => Integrity::Intact {
                digest: rhf_format::hex(digest),
            },
            TraceEnd::Truncated {
                complete_chunks,
                offset,
                detail,
            } => Integrity::Truncated {
                complete_chunks: *complete_chunks,
                offset: *offset,
                detail: detail.clone(),
                digest_so_far: rhf_format::hex(
                    &reader
                        .all_chunks()
                        .last()
                        .map(|c| c.header.chain)
                        .unwrap_or_default(),
                ),
            },
            TraceEnd::Corrupt {
                seq,
                offset,
                reason,
            } => Integrity::Damaged {
                chunk: *seq,
                offset: *offset,
                reason: reason.clone(),
            },
        }
    }
}

/// Decodes every record chunk in parallel and hands each to `visit` (in any order). Returns
/// the first failing chunk's error in file order; the other chunks are still visited.
pub fn for_each_chunk<S, F>(reader: &TraceReader<S>, visit: F) -> Option<FormatError>
where
    S: Source,
    F: Fn(DecodedChunk) + Sync,
{
    reader
        .par_chunks()
        .filter_map(|r| match r {
            Ok(chunk) => {
                visit(chunk);
                None
            }
            Err(e) => Some(e),
        })
        .find_first(|_| true)
}
