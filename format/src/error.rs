//! Typed errors of the format crate: each names what went wrong and where in the file.

use std::io;

/// Where and why a trace could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The first bytes are not the rhf magic.
    #[error("not an rhf trace file: the first bytes are {found:02x?}, expected the rhf magic {expected:02x?}")]
    NotRhf { found: Vec<u8>, expected: [u8; 8] },

    /// The file was written by a newer, incompatible format version.
    #[error(
        "unsupported trace format version {found_major}.{found_minor}: this build reads \
         {supported_major}.x (up to {supported_major}.{supported_minor}); upgrade rhf-analyze"
    )]
    UnsupportedVersion {
        found_major: u16,
        found_minor: u16,
        supported_major: u16,
        supported_minor: u16,
    },

    /// The preamble sets feature flags this version does not know.
    #[error("the trace uses format features (flags {flags:#010x}) this build does not know; upgrade rhf-analyze")]
    UnsupportedFeatures { flags: u32 },

    /// A chunk's bytes are not what the writer wrote.
    #[error("corrupt chunk {seq} at offset {offset}: {reason}")]
    CorruptChunk {
        seq: u32,
        offset: u64,
        reason: String,
    },

    /// The file ends early: everything before `offset` is usable.
    #[error("truncated after {complete_chunks} complete chunks at offset {offset}: {detail}")]
    Truncated {
        complete_chunks: u32,
        offset: u64,
        detail: String,
    },

    /// The closing trailer does not match the footer it should point at.
    #[error("corrupt trailer at offset {offset}: {reason}")]
    CorruptTrailer { offset: u64, reason: String },

    /// A record cannot be written because it exceeds the largest chunk a reader accepts.
    #[error("record of {len} bytes exceeds the format's limit of {max} bytes per chunk")]
    RecordTooLarge { len: usize, max: usize },

    /// A value could not be serialized (a bug in the caller's data, not in the file).
    #[error("cannot encode {what}: {reason}")]
    Encode { what: &'static str, reason: String },

    /// Reading or writing the underlying file failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl FormatError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        FormatError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn corrupt(seq: u32, offset: u64, reason: impl Into<String>) -> Self {
        FormatError::CorruptChunk {
            seq,
            offset,
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = FormatError> = std::result::Result<T, E>;
