//! The reader: finds every chunk from the fixed headers, then decodes chunks on demand, one at
//! a time or in parallel, checking each chunk's checksum and its link in the hash chain.
//!
//! Opening a file never fails because it ends early or is damaged after the header chunk: the
//! chunks before the damage stay readable and [`TraceReader::end`] says what happened.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use rayon::prelude::*;

use crate::codec::{self, DecodedRecords, Footer, RecordDecoder};
use crate::error::{FormatError, Result};
use crate::layout::{
    chain_seed, ChunkHeader, ChunkType, Compression, Preamble, Trailer, CHUNK_HEADER_LEN,
    PREAMBLE_LEN, TRAILER_LEN,
};
use crate::record::{Header, Record};

/// Random access to the bytes of a trace. Implemented for files and in-memory buffers.
pub trait Source: Sync {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

impl Source for File {
    fn len(&self) -> u64 {
        self.metadata().map(|m| m.len()).unwrap_or(0)
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.read_exact_at(buf, offset)
    }
}

/// A trace held in memory (tests, fuzzing, data received on a pipe).
impl Source for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let end = start
            .checked_add(buf.len())
            .filter(|end| *end <= self.as_slice().len())
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(&self[start..end]);
        Ok(())
    }
}

/// A chunk located in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkInfo {
    pub offset: u64,
    pub header: ChunkHeader,
    /// The chain value before this chunk, to check its link without reading earlier payloads.
    pub prev_chain: [u8; 32],
}

/// How the file ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceEnd {
    /// Footer and trailer present and consistent with the chunks found.
    Complete { footer: Footer, digest: [u8; 32] },
    /// The file stops early (the recorder was killed, the disk filled, a copy was cut).
    Truncated {
        complete_chunks: u32,
        offset: u64,
        detail: String,
    },
    /// Damage was found while locating chunks; nothing after `offset` is read.
    Corrupt {
        seq: u32,
        offset: u64,
        reason: String,
    },
}

impl TraceEnd {
    /// The end as an error, or `None` when the file is complete.
    pub fn to_error(&self) -> Option<FormatError> {
        match self {
            TraceEnd::Complete { .. } => None,
            TraceEnd::Truncated {
                complete_chunks,
                offset,
                detail,
            } => Some(FormatError::Truncated {
                complete_chunks: *complete_chunks,
                offset: *offset,
                detail: detail.clone(),
            }),
            TraceEnd::Corrupt {
                seq,
                offset,
                reason,
            } => Some(FormatError::corrupt(*seq, *offset, reason.clone())),
        }
    }
}

/// One decoded chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedChunk {
    pub info: ChunkInfo,
    pub records: Vec<Record>,
    pub skipped_unknown: u32,
}

/// An open trace: header decoded, chunks located.
pub struct TraceReader<S: Source = File> {
    source: S,
    preamble: Preamble,
    header: Header,
    header_chunk: ChunkInfo,
    chunks: Vec<ChunkInfo>,
    footer_chunk: Option<ChunkInfo>,
    end: TraceEnd,
}

impl TraceReader<File> {
    /// Opens a trace file by path.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path)
            .map_err(|e| FormatError::io(format!("cannot open {}", path.display()), e))?;
        TraceReader::from_source(file)
    }
}

impl<S: Source> TraceReader<S> {
    /// Reads the preamble and header chunk, then locates every chunk that follows.
    pub fn from_source(source: S) -> Result<Self> {
        let len = source.len();
        let mut pre = [0u8; PREAMBLE_LEN];
        let have = len.min(PREAMBLE_LEN as u64) as usize;
        source
            .read_at(0, &mut pre[..have])
            .map_err(|e| FormatError::io("cannot read the preamble", e))?;
        let preamble = Preamble::parse(&pre[..have])?;
        let mut chain = chain_seed(&pre);

        let mut offset = PREAMBLE_LEN as u64;
        let header_chunk = match locate(&source, 0, offset, chain)? {
            Located::Chunk(info) => info,
            Located::End(end) => {
                return Err(end.to_error().unwrap_or_else(|| {
                    FormatError::corrupt(0, offset, "the header chunk is missing")
                }))
            }
        };
        if header_chunk.header.chunk_type != ChunkType::Header {
            return Err(FormatError::corrupt(
                0,
                offset,
                "the first chunk is not a header chunk",
            ));
        }
        let payload = read_payload(&source, &header_chunk)?;
        let header: Header = codec::decode_body(&payload)
            .map_err(|e| FormatError::corrupt(0, offset, format!("header does not decode: {e}")))?;
        chain = header_chunk.header.chain;
        offset += header_chunk.header.total_len();

        let mut chunks = Vec::new();
        let mut footer_chunk = None;
        let mut seq = 1u32;
        let end = loop {
            let info = match locate(&source, seq, offset, chain)? {
                Located::Chunk(info) => info,
                Located::End(end) => break end,
            };
            match info.header.chunk_type {
                ChunkType::Records => {
                    chunks.push(info);
                    chain = info.header.chain;
                    offset += info.header.total_len();
                    seq += 1;
                }
                ChunkType::Header => {
                    break TraceEnd::Corrupt {
                        seq,
                        offset,
                        reason: "a second header chunk".into(),
                    }
                }
                ChunkType::Footer => {
                    footer_chunk = Some(info);
                    break finish_at_footer(&source, &info, &chunks);
                }
            }
        };
        Ok(TraceReader {
            source,
            preamble,
            header,
            header_chunk,
            chunks,
            footer_chunk,
            end,
        })
    }

    pub fn preamble(&self) -> Preamble {
        self.preamble
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The record chunks found, in file order.
    pub fn chunks(&self) -> &[ChunkInfo] {
        &self.chunks
    }

    /// Header chunk, record chunks and footer chunk (when present), in file order.
    pub fn all_chunks(&self) -> impl Iterator<Item = &ChunkInfo> {
        std::iter::once(&self.header_chunk)
            .chain(self.chunks.iter())
            .chain(self.footer_chunk.iter())
    }

    pub fn end(&self) -> &TraceEnd {
        &self.end
    }

    /// Total size of the source in bytes.
    pub fn file_len(&self) -> u64 {
        self.source.len()
    }

    /// Reads, checks and decodes one record chunk.
    pub fn read_chunk(&self, info: &ChunkInfo) -> Result<DecodedChunk> {
        let decoder = self.chunk_records(info)?;
        let DecodedRecords {
            records,
            skipped_unknown,
        } = decoder
            .decoder
            .decode_all()
            .map_err(|e| FormatError::corrupt(info.header.seq, info.offset, e.0))?;
        Ok(DecodedChunk {
            info: *info,
            records,
            skipped_unknown,
        })
    }

    /// Reads and checks one record chunk, then yields its records one at a time. Consumers that
    /// handle each record and drop it (counting, folding) should prefer this to
    /// [`read_chunk`](Self::read_chunk): nothing is materialised.
    pub fn chunk_records(&self, info: &ChunkInfo) -> Result<ChunkRecords> {
        let payload = read_payload(&self.source, info)?;
        let decoder = RecordDecoder::new(payload, info.header.record_count)
            .map_err(|e| FormatError::corrupt(info.header.seq, info.offset, e.0))?;
        Ok(ChunkRecords {
            info: *info,
            decoder,
        })
    }

    /// Checks one chunk's checksum and chain link without decoding its records.
    pub fn check_chunk(&self, info: &ChunkInfo) -> Result<()> {
        read_stored(&self.source, info).map(|_| ())
    }

    /// Every record chunk decoded in parallel (rayon), in file order when collected.
    pub fn par_chunks(&self) -> impl IndexedParallelIterator<Item = Result<DecodedChunk>> + '_ {
        self.chunks.par_iter().map(move |c| self.read_chunk(c))
    }

    /// Every record in file order. A chunk that fails to decode yields one error, then the
    /// iteration goes on with the next chunk.
    pub fn records(&self) -> Records<'_, S> {
        Records {
            reader: self,
            next_chunk: 0,
            current: None,
        }
    }
}

/// The records of one chunk, decoded as they are asked for. A clone starts where the original
/// stands, without decompressing again (two passes over a chunk pay for zstd once).
#[derive(Debug, Clone)]
pub struct ChunkRecords {
    info: ChunkInfo,
    decoder: RecordDecoder,
}

impl ChunkRecords {
    pub fn info(&self) -> &ChunkInfo {
        &self.info
    }

    /// Records of unknown kinds skipped so far.
    pub fn skipped_unknown(&self) -> u32 {
        self.decoder.skipped_unknown()
    }

    /// Calls `visit` with each record in turn, decoding every record into the same buffer: the
    /// fastest way through a chunk when the caller does not keep the records.
    pub fn for_each_ref(mut self, mut visit: impl FnMut(&Record)) -> Result<()> {
        let mut record = Record {
            ts: 0,
            body: crate::RecordBody::Syscall(Default::default()),
        };
        while self
            .decoder
            .next_into(&mut record)
            .map_err(|e| FormatError::corrupt(self.info.header.seq, self.info.offset, e.0))?
        {
            visit(&record);
        }
        Ok(())
    }
}

impl ChunkRecords {
    /// Like [`Self::for_each_ref`], but syscall records are decoded whole only when
    /// `want(abi, nr)`; the others reach `visit` with their fixed fields (ids, number, result,
    /// duration) and no arguments, at a fraction of the cost. `visit` gets whether the record
    /// was decoded whole.
    pub fn for_each_selected(
        mut self,
        want: &dyn Fn(crate::Abi, u32) -> bool,
        mut visit: impl FnMut(&Record, bool),
    ) -> Result<()> {
        let mut record = Record {
            ts: 0,
            body: crate::RecordBody::Syscall(Default::default()),
        };
        while let Some(whole) = self
            .decoder
            .next_selected(&mut record, want)
            .map_err(|e| FormatError::corrupt(self.info.header.seq, self.info.offset, e.0))?
        {
            visit(&record, whole);
        }
        Ok(())
    }
}

impl ChunkRecords {
    /// Calls `visit` with the record's position among the chunk's records of known kinds, and
    /// the record, for every record that is not
    /// a syscall and every syscall `want` wants, decoded whole; the other syscalls are passed
    /// over without decoding anything of them. The cheapest walk for a pass that needs few
    /// records (the process state).
    pub fn for_each_wanted(
        mut self,
        want: &dyn Fn(crate::Abi, u32) -> bool,
        mut visit: impl FnMut(usize, &Record),
    ) -> Result<()> {
        let mut record = Record {
            ts: 0,
            body: crate::RecordBody::Syscall(Default::default()),
        };
        while let Some(index) = self
            .decoder
            .next_wanted(&mut record, want)
            .map_err(|e| FormatError::corrupt(self.info.header.seq, self.info.offset, e.0))?
        {
            visit(index, &record);
        }
        Ok(())
    }
}

impl Iterator for ChunkRecords {
    type Item = Result<Record>;

    /// After an error the iterator ends: later records of the chunk depend on earlier ones.
    fn next(&mut self) -> Option<Self::Item> {
        self.decoder.next().map(|r| {
            r.map_err(|e| FormatError::corrupt(self.info.header.seq, self.info.offset, e.0))
        })
    }
}

/// Sequential iterator over the records of a trace.
pub struct Records<'a, S: Source> {
    reader: &'a TraceReader<S>,
    next_chunk: usize,
    current: Option<ChunkRecords>,
}

impl<S: Source> Iterator for Records<'_, S> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(rec) = self.current.as_mut().and_then(Iterator::next) {
                return Some(rec);
            }
            let info = self.reader.chunks.get(self.next_chunk)?;
            self.next_chunk += 1;
            match self.reader.chunk_records(info) {
                Ok(records) => self.current = Some(records),
                Err(e) => {
                    self.current = None;
                    return Some(Err(e));
                }
            }
        }
    }
}

enum Located {
    Chunk(ChunkInfo),
    End(TraceEnd),
}

/// Reads and validates the chunk header at `offset`; reports truncation instead of failing.
fn locate<S: Source>(source: &S, seq: u32, offset: u64, prev_chain: [u8; 32]) -> Result<Located> {
    let len = source.len();
    let remaining = len.saturating_sub(offset);
    let truncated = |detail: String| {
        Ok(Located::End(TraceEnd::Truncated {
            complete_chunks: seq,
            offset,
            detail,
        }))
    };
    if remaining == 0 {
        return truncated("the file ends without a footer".into());
    }
    if remaining < CHUNK_HEADER_LEN as u64 {
        return truncated(format!(
            "only {remaining} bytes of the {CHUNK_HEADER_LEN}-byte header of chunk {seq} are present"
        ));
    }
    let mut buf = [0u8; CHUNK_HEADER_LEN];
    source
        .read_at(offset, &mut buf)
        .map_err(|e| FormatError::io(format!("cannot read chunk {seq} at offset {offset}"), e))?;
    let header = match ChunkHeader::parse(&buf, seq, offset) {
        Ok(h) => h,
        Err(FormatError::CorruptChunk {
            seq,
            offset,
            reason,
        }) => {
            return Ok(Located::End(TraceEnd::Corrupt {
                seq,
                offset,
                reason,
            }))
        }
        Err(e) => return Err(e),
    };
    if header.total_len() > remaining {
        return truncated(format!(
            "chunk {seq} needs {} bytes but only {remaining} remain",
            header.total_len()
        ));
    }
    Ok(Located::Chunk(ChunkInfo {
        offset,
        header,
        prev_chain,
    }))
}

/// Decodes the footer, checks the trailer after it and the footer's index against the chunks.
fn finish_at_footer<S: Source>(source: &S, info: &ChunkInfo, chunks: &[ChunkInfo]) -> TraceEnd {
    let seq = info.header.seq;
    let corrupt = |reason: String| TraceEnd::Corrupt {
        seq,
        offset: info.offset,
        reason,
    };
    let payload = match read_payload(source, info) {
        Ok(p) => p,
        Err(e) => return corrupt(format!("footer unreadable: {e}")),
    };
    let footer: Footer = match codec::decode_body(&payload) {
        Ok(f) => f,
        Err(e) => return corrupt(format!("footer does not decode: {e}")),
    };
    let indexed: Vec<(u64, u32)> = footer
        .chunks
        .iter()
        .map(|c| (c.offset, c.record_count))
        .collect();
    let found: Vec<(u64, u32)> = chunks
        .iter()
        .map(|c| (c.offset, c.header.record_count))
        .collect();
    // An empty index is allowed: the writer omits it when it would not fit in a chunk.
    if !indexed.is_empty() && indexed != found {
        return corrupt(format!(
            "footer index lists {} chunks that do not match the {} chunks in the file",
            indexed.len(),
            found.len()
        ));
    }
    let trailer_offset = info.offset + info.header.total_len();
    let remaining = source.len().saturating_sub(trailer_offset);
    if remaining < TRAILER_LEN as u64 {
        return TraceEnd::Truncated {
            complete_chunks: seq + 1,
            offset: trailer_offset,
            detail: format!("only {remaining} of the {TRAILER_LEN} trailer bytes are present"),
        };
    }
    let trailer_error = |reason: String| TraceEnd::Corrupt {
        seq: seq + 1,
        offset: trailer_offset,
        reason: format!("trailer: {reason}"),
    };
    if remaining > TRAILER_LEN as u64 {
        return trailer_error(format!(
            "{} unexpected bytes follow the trailer",
            remaining - TRAILER_LEN as u64
        ));
    }
    let mut buf = [0u8; TRAILER_LEN];
    if let Err(e) = source.read_at(trailer_offset, &mut buf) {
        return trailer_error(format!("unreadable: {e}"));
    }
    let trailer = match Trailer::parse(&buf, trailer_offset) {
        Ok(t) => t,
        Err(e) => return trailer_error(e.to_string()),
    };
    if trailer.footer_offset != info.offset {
        return trailer_error(format!(
            "points at offset {}, the footer chunk is at {}",
            trailer.footer_offset, info.offset
        ));
    }
    if trailer.digest != info.header.chain {
        return trailer_error("its digest differs from the footer chunk's chain value".into());
    }
    TraceEnd::Complete {
        footer,
        digest: trailer.digest,
    }
}

/// Reads a chunk's stored bytes and checks checksum and chain link.
fn read_stored<S: Source>(source: &S, info: &ChunkInfo) -> Result<Vec<u8>> {
    let h = &info.header;
    let bad = |reason: String| FormatError::corrupt(h.seq, info.offset, reason);
    // stored_len is bounded by MAX_CHUNK_BYTES and by the file size (checked in `locate`).
    let mut stored = vec![0u8; h.stored_len as usize];
    source
        .read_at(info.offset + CHUNK_HEADER_LEN as u64, &mut stored)
        .map_err(|e| bad(format!("payload unreadable: {e}")))?;
    let crc = crc32fast::hash(&stored);
    if crc != h.payload_crc {
        return Err(bad(format!(
            "payload checksum mismatch (stored {:08x}, computed {crc:08x})",
            h.payload_crc
        )));
    }
    if h.next_chain(&info.prev_chain, &stored) != h.chain {
        return Err(bad(
            "hash chain mismatch: this chunk or one before it was altered".into(),
        ));
    }
    Ok(stored)
}

/// Reads, checks and decompresses a chunk payload.
fn read_payload<S: Source>(source: &S, info: &ChunkInfo) -> Result<Vec<u8>> {
    let stored = read_stored(source, info)?;
    let h = &info.header;
    match h.compression {
        Compression::None => Ok(stored),
        Compression::Zstd => {
            let raw = zstd::bulk::decompress(&stored, h.raw_len as usize).map_err(|e| {
                FormatError::corrupt(h.seq, info.offset, format!("zstd payload: {e}"))
            })?;
            if raw.len() != h.raw_len as usize {
                return Err(FormatError::corrupt(
                    h.seq,
                    info.offset,
                    format!(
                        "payload decompresses to {} bytes, the header declares {}",
                        raw.len(),
                        h.raw_len
                    ),
                ));
            }
            Ok(raw)
        }
    }
}
