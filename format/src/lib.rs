//! rhf-format: the rhf trace file — record types, a streaming writer, a reader, integrity.
//!
//! A trace is a 16-byte preamble, then independently decodable chunks (a fixed 80-byte binary
//! header and one zstd frame holding the records in columns), then a footer chunk with an index
//! and a 48-byte trailer holding the final digest. A SHA-256 hash chain runs through every
//! chunk, so one changed bit anywhere is found and located; a file cut at any byte still yields
//! every complete chunk. `docs/FORMAT.md` specifies the bytes.
//!
//! This crate must never know about ptrace, `/proc` or rules: the recorder pushes
//! [`Record`]s into a [`RecordSink`], the analyzer reads them back with [`TraceReader`]. It
//! must never trust a length read from a file before bounding it, and never panic on input.
//!
//! ```
//! use rhf_format::{Header, Record, RecordBody, SignalEvent, TraceReader, TraceWriter, WriterOptions};
//!
//! let mut writer = TraceWriter::new(Vec::new(), &Header::default(), WriterOptions::default())?;
//! writer.push(&Record { ts: 42, body: RecordBody::Signal(SignalEvent { pid: 1, tid: 1, signo: 15, ..Default::default() }) })?;
//! let (summary, bytes) = writer.finish()?;
//! let reader = TraceReader::from_source(bytes)?;
//! let records: Vec<Record> = reader.records().collect::<Result<_, _>>()?;
//! assert_eq!(records.len(), 1);
//! assert_eq!(rhf_format::verify(&reader)?.digest, summary.digest);
//! # Ok::<(), rhf_format::FormatError>(())
//! ```

mod args;
mod codec;
mod error;
mod layout;
mod reader;
mod record;
pub mod synth;
pub mod sysent;
mod verify;
mod writer;

pub use codec::{ChunkIndexEntry, Footer};
pub use error::{FormatError, Result};
pub use layout::{
    chain_seed, hex, ChunkHeader, ChunkType, Compression, Preamble, CHUNK_HEADER_LEN, FORMAT_MAJOR,
    FORMAT_MINOR, MAGIC, MAX_CHUNK_BYTES, PREAMBLE_LEN, TRAILER_LEN,
};
pub use reader::{ChunkInfo, ChunkRecords, DecodedChunk, Records, Source, TraceEnd, TraceReader};
pub use record::*;
pub use verify::{verify, Verified};
pub use writer::{RecordSink, TraceWriter, WriteSummary, WriterOptions};
