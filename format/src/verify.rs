//! Integrity verification: recompute every chunk's checksum and chain link, check the trailer.

use rayon::prelude::*;

use crate::error::{FormatError, Result};
use crate::reader::{Source, TraceEnd, TraceReader};

/// What an intact file proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The final chain value, equal to what the recorder printed when it stopped.
    pub digest: [u8; 32],
    /// Every chunk, header and footer included.
    pub chunks: u32,
    pub records: u64,
    pub bytes: u64,
}

/// Checks the whole file. The error names the first bad chunk in file order and its offset,
/// or the truncation point.
pub fn verify<S: Source>(reader: &TraceReader<S>) -> Result<Verified> {
    // Hash chunks in parallel; the links were recorded per chunk, so order does not matter
    // until we pick the first failure.
    let first_bad = reader
        .chunks()
        .par_iter()
        .map(|c| reader.check_chunk(c))
        .find_first(|r| r.is_err());
    if let Some(Err(e)) = first_bad {
        return Err(e);
    }
    match reader.end() {
        TraceEnd::Complete { digest, .. } => Ok(Verified {
            digest: *digest,
            chunks: reader.chunks().len() as u32 + 2,
            records: reader
                .chunks()
                .iter()
                .map(|c| u64::from(c.header.record_count))
                .sum(),
            bytes: reader.file_len(),
        }),
        end => Err(end
            .to_error()
            .unwrap_or_else(|| FormatError::corrupt(0, 0, "unknown end state"))),
    }
}
