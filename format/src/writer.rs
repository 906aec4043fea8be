//! The streaming writer: records in, chunks out, never seeking back (so it works on a pipe).

use std::io::Write;
use std::time::{Duration, Instant};

use crate::codec::{self, ChunkIndexEntry, Columns, Footer};
use crate::error::{FormatError, Result};
use crate::layout::{
    chain_seed, ChunkHeader, ChunkType, Compression, Preamble, Trailer, MAX_CHUNK_BYTES,
};
use crate::record::{Header, Record};

/// When chunks are cut and how hard they are compressed.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// A chunk is flushed once its raw payload reaches this many bytes.
    pub chunk_bytes: usize,
    /// A chunk is flushed once its oldest record has waited this long (checked on each push
    /// and by [`TraceWriter::flush_if_due`]), which bounds what a crash can lose.
    pub max_chunk_age: Duration,
    /// zstd level (1-22; 3 is zstd's default).
    pub zstd_level: i32,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            chunk_bytes: 2 << 20,
            max_chunk_age: Duration::from_secs(1),
            zstd_level: 3,
        }
    }
}

/// Where records go. The recorder writes to this trait, so it never depends on file details.
pub trait RecordSink {
    fn push(&mut self, record: &Record) -> Result<()>;
}

/// What a finished (or failed) file contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteSummary {
    /// The final chain value: the digest a responder writes in the case notes.
    pub digest: [u8; 32],
    pub bytes: u64,
    /// Chunks including the header and footer chunks.
    pub chunks: u32,
    pub records: u64,
}

/// Writes a trace: preamble and header chunk at creation, record chunks as they fill, footer
/// and trailer at [`finish`](TraceWriter::finish).
pub struct TraceWriter<W: Write> {
    out: W,
    opts: WriterOptions,
    compressor: zstd::bulk::Compressor<'static>,
    /// Records of the chunk being built.
    pending: Columns,
    pending_count: u32,
    pending_min_ts: u64,
    pending_max_ts: u64,
    pending_since: Option<Instant>,
    payload: Vec<u8>,
    compressed: Vec<u8>,
    chain: [u8; 32],
    next_seq: u32,
    offset: u64,
    index: Vec<ChunkIndexEntry>,
    counts: [u64; 256],
    records: u64,
}

impl<W: Write> TraceWriter<W> {
    /// Writes the preamble and the header chunk.
    pub fn new(out: W, header: &Header, opts: WriterOptions) -> Result<Self> {
        let compressor = zstd::bulk::Compressor::new(opts.zstd_level)
            .map_err(|e| FormatError::io("cannot create zstd compressor", e))?;
        let preamble = Preamble::current().to_bytes();
        let mut w = TraceWriter {
            out,
            compressor,
            pending: Columns::default(),
            pending_count: 0,
            pending_min_ts: u64::MAX,
            pending_max_ts: 0,
            pending_since: None,
            payload: Vec::with_capacity(opts.chunk_bytes + 4096),
            compressed: Vec::new(),
            chain: chain_seed(&preamble),
            next_seq: 0,
            offset: 0,
            index: Vec::new(),
            counts: [0; 256],
            records: 0,
            opts,
        };
        w.write_all(&preamble, "preamble")?;
        let mut body = Vec::new();
        codec::encode_body(header, &mut body).map_err(|reason| FormatError::Encode {
            what: "header",
            reason,
        })?;
        w.write_chunk(ChunkType::Header, &body, 1, 0, 0)?;
        // The header reaches a pipe or disk at once, so even an immediate crash leaves a file
        // that says what it is.
        w.out
            .flush()
            .map_err(|e| FormatError::io("cannot flush trace output", e))?;
        Ok(w)
    }

    /// Adds one record, flushing a chunk when it is full or old enough.
    pub fn push(&mut self, record: &Record) -> Result<()> {
        let mark = self.pending.mark();
        let before = self.pending.encoded_len();
        let encoded = self.pending.push(record);
        if let Err(reason) = encoded {
            // Only a record that failed to serialize gets here; the columns are unchanged
            // because bodies are serialized before any column is touched.
            return Err(FormatError::Encode {
                what: "record",
                reason,
            });
        }
        let after = self.pending.encoded_len();
        if after > MAX_CHUNK_BYTES as usize {
            self.pending.rollback(&mark);
            if self.pending_count == 0 {
                return Err(FormatError::RecordTooLarge {
                    len: after - before,
                    max: MAX_CHUNK_BYTES as usize,
                });
            }
            // Flush what came before, then put this record in a chunk of its own.
            self.flush_chunk()?;
            return self.push(record);
        }
        self.pending_count += 1;
        self.pending_min_ts = self.pending_min_ts.min(record.ts);
        self.pending_max_ts = self.pending_max_ts.max(record.ts);
        self.counts[record.body.kind() as usize] += 1;
        self.records += 1;
        let now = Instant::now();
        let since = *self.pending_since.get_or_insert(now);
        if after >= self.opts.chunk_bytes || now.duration_since(since) >= self.opts.max_chunk_age {
            self.flush_chunk()?;
        }
        Ok(())
    }

    /// Flushes the pending chunk if its oldest record is older than the configured age. A
    /// recorder calls this periodically so a quiet capture still reaches the disk.
    pub fn flush_if_due(&mut self, now: Instant) -> Result<bool> {
        match self.pending_since {
            Some(since) if now.duration_since(since) >= self.opts.max_chunk_age => {
                self.flush_chunk()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Compresses and writes the pending records as one chunk (no-op when there are none).
    pub fn flush_chunk(&mut self) -> Result<()> {
        if self.pending_count == 0 {
            return Ok(());
        }
        let mut payload = std::mem::take(&mut self.payload);
        self.pending.write_payload(&mut payload);
        let result = self.write_chunk(
            ChunkType::Records,
            &payload,
            self.pending_count,
            self.pending_min_ts,
            self.pending_max_ts,
        );
        self.payload = payload;
        self.pending.clear();
        self.pending_count = 0;
        self.pending_min_ts = u64::MAX;
        self.pending_max_ts = 0;
        self.pending_since = None;
        result?;
        self.out
            .flush()
            .map_err(|e| FormatError::io("cannot flush trace output", e))
    }

    /// Records pushed but not yet in a written chunk (lost if the process dies now).
    pub fn pending_records(&self) -> u32 {
        self.pending_count
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    /// Records accepted so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The chain value after the last written chunk.
    pub fn digest_so_far(&self) -> [u8; 32] {
        self.chain
    }

    /// Flushes the last chunk, writes footer and trailer, and returns the summary and output.
    pub fn finish(mut self) -> Result<(WriteSummary, W)> {
        self.flush_chunk()?;
        let footer_offset = self.offset;
        let footer = Footer {
            chunks: std::mem::take(&mut self.index),
            record_counts: (0..=255u8)
                .filter(|k| self.counts[*k as usize] > 0)
                .map(|k| (k, self.counts[k as usize]))
                .collect(),
        };
        let mut body = Vec::new();
        codec::encode_body(&footer, &mut body).map_err(|reason| FormatError::Encode {
            what: "footer",
            reason,
        })?;
        if body.len() > MAX_CHUNK_BYTES as usize {
            // Millions of chunks: the index would not fit a chunk, and readers do not need it
            // (they find chunks from their headers), so it is left out.
            body.clear();
            let without_index = Footer {
                chunks: Vec::new(),
                ..footer
            };
            codec::encode_body(&without_index, &mut body).map_err(|reason| {
                FormatError::Encode {
                    what: "footer",
                    reason,
                }
            })?;
        }
        self.write_chunk(ChunkType::Footer, &body, 0, 0, 0)?;
        let trailer = Trailer {
            footer_offset,
            digest: self.chain,
        };
        self.write_all(&trailer.to_bytes(), "trailer")?;
        self.out
            .flush()
            .map_err(|e| FormatError::io("cannot flush trace output", e))?;
        let summary = WriteSummary {
            digest: self.chain,
            bytes: self.offset,
            chunks: self.next_seq,
            records: self.records,
        };
        Ok((summary, self.out))
    }

    fn write_chunk(
        &mut self,
        chunk_type: ChunkType,
        raw: &[u8],
        record_count: u32,
        min_ts: u64,
        max_ts: u64,
    ) -> Result<()> {
        let bound = zstd::zstd_safe::compress_bound(raw.len());
        self.compressed.clear();
        self.compressed.reserve(bound);
        self.compressor
            .compress_to_buffer(raw, &mut self.compressed)
            .map_err(|e| FormatError::io("zstd compression failed", e))?;
        // Incompressible payloads are stored as they are.
        let (compression, stored): (Compression, &[u8]) = if self.compressed.len() < raw.len() {
            (Compression::Zstd, &self.compressed)
        } else {
            (Compression::None, raw)
        };
        let mut header = ChunkHeader {
            chunk_type,
            compression,
            seq: self.next_seq,
            record_count,
            raw_len: raw.len() as u32,
            stored_len: stored.len() as u32,
            min_ts: if record_count == 0 { 0 } else { min_ts },
            max_ts,
            payload_crc: crc32fast::hash(stored),
            chain: [0; 32],
        };
        header.chain = header.next_chain(&self.chain, stored);
        let offset = self.offset;
        let header_bytes = header.to_bytes();
        // Write header and payload; a failure leaves the chain where it was.
        write_counted(
            &mut self.out,
            &mut self.offset,
            &header_bytes,
            "chunk header",
        )?;
        write_counted(&mut self.out, &mut self.offset, stored, "chunk payload")?;
        self.chain = header.chain;
        self.next_seq += 1;
        if chunk_type == ChunkType::Records {
            self.index.push(ChunkIndexEntry {
                offset,
                record_count,
                raw_len: header.raw_len,
                stored_len: header.stored_len,
                min_ts: header.min_ts,
                max_ts: header.max_ts,
            });
        }
        Ok(())
    }

    fn write_all(&mut self, bytes: &[u8], what: &str) -> Result<()> {
        write_counted(&mut self.out, &mut self.offset, bytes, what)
    }
}

fn write_counted<W: Write>(out: &mut W, offset: &mut u64, bytes: &[u8], what: &str) -> Result<()> {
    out.write_all(bytes)
        .map_err(|e| FormatError::io(format!("cannot write {what} at offset {offset}"), e))?;
    *offset += bytes.len() as u64;
    Ok(())
}

impl<W: Write> RecordSink for TraceWriter<W> {
    fn push(&mut self, record: &Record) -> Result<()> {
        TraceWriter::push(self, record)
    }
}
