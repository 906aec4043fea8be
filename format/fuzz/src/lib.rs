//! Shared code of the rhf-format fuzz targets (see `docs/FUZZING.md`).
//!
//! * [`exercise`] drives every read path of [`TraceReader`] over one input; it must never
//!   panic, whatever the bytes are. It also checks a few invariants that hold by construction
//!   (sequential and parallel decoding agree, a decoded chunk holds as many records as its
//!   header declares), so a violation is reported as a crash too.
//! * [`Base`] is a small valid synthetic trace taken apart into its chunks, and [`mutate`]
//!   applies fuzzer-chosen edits to it. Edits to the payloads can be *re-sealed* (payload CRC,
//!   hash chain, footer index and trailer recomputed), so the edited bytes get past the
//!   integrity checks and reach the zstd, column, argument and MessagePack decoders, which
//!   random bytes never do: a random byte flip is caught by the CRC and the SHA-256 chain.

use std::sync::OnceLock;
use std::time::Duration;

use rayon::iter::ParallelIterator;
use rhf_format::synth::{generate, synthetic_header, SynthOptions};
use rhf_format::{
    verify, ChunkHeader, ChunkType, Compression, Footer, TraceEnd, TraceReader, TraceWriter,
    WriterOptions, CHUNK_HEADER_LEN, PREAMBLE_LEN, TRAILER_LEN,
};

/// Opens `bytes` as a trace and reads everything it can. Panics only on a bug.
pub fn exercise(bytes: Vec<u8>) {
    let Ok(reader) = TraceReader::from_source(bytes) else {
        return;
    };
    let _ = reader.preamble();
    let _ = format!("{:?}", reader.header());
    let _ = reader.all_chunks().count();

    // Sequential decoding, record by record.
    let mut records = 0u64;
    let mut failed_chunks = 0usize;
    for r in reader.records() {
        match r {
            Ok(_) => records += 1,
            Err(e) => {
                failed_chunks += 1;
                let _ = e.to_string();
            }
        }
    }

    // Parallel decoding, chunk by chunk.
    let chunks: Vec<_> = reader.par_chunks().collect();
    assert_eq!(chunks.len(), reader.chunks().len());
    let mut par_records = 0u64;
    let mut par_failed = 0usize;
    for (c, info) in chunks.iter().zip(reader.chunks()) {
        match c {
            Ok(d) => {
                assert_eq!(d.info, *info);
                assert_eq!(
                    d.records.len() as u64 + u64::from(d.skipped_unknown),
                    u64::from(info.header.record_count),
                    "decoded chunk holds a different number of records than its header says"
                );
                par_records += d.records.len() as u64;
            }
            Err(e) => {
                par_failed += 1;
                let _ = e.to_string();
            }
        }
    }
    assert_eq!(records, par_records, "records() and par_chunks() disagree");
    assert_eq!(
        failed_chunks, par_failed,
        "records() and par_chunks() disagree"
    );

    // Integrity check and the end state.
    let verified = verify(&reader);
    let end = reader.end();
    let _ = end.to_error().map(|e| e.to_string());
    match (&verified, end) {
        (Ok(v), TraceEnd::Complete { digest, .. }) => {
            assert_eq!(v.digest, *digest);
            assert_eq!(v.chunks as usize, reader.chunks().len() + 2);
        }
        (Ok(_), _) => panic!("verify succeeded on a trace that is not complete"),
        (Err(e), _) => {
            let _ = e.to_string();
        }
    }
    if let TraceEnd::Complete { footer, .. } = end {
        let _ = format!("{footer:?}");
    }
}

/// One chunk of the base trace.
#[derive(Clone)]
pub struct BaseChunk {
    pub header: ChunkHeader,
    /// The payload as stored in the file (zstd or not).
    pub stored: Vec<u8>,
    /// The payload after decompression.
    pub raw: Vec<u8>,
}

/// A small valid synthetic trace, and the same trace taken apart.
pub struct Base {
    pub file: Vec<u8>,
    pub preamble: [u8; PREAMBLE_LEN],
    /// The chain value before the header chunk (the hash of the preamble).
    pub seed_chain: [u8; 32],
    /// Header chunk, record chunks, footer chunk.
    pub chunks: Vec<BaseChunk>,
    pub footer: Footer,
}

/// Syscall events in the base trace; with 2 KiB chunks it has a few dozen record chunks.
pub const BASE_EVENTS: u64 = 300;

/// Writes a synthetic trace of `events` syscall events.
pub fn synthetic_trace(events: u64, processes: u32, seed: u64, chunk_bytes: usize) -> Vec<u8> {
    let opts = WriterOptions {
        chunk_bytes,
        // Chunks are cut by size only, so the bytes do not depend on timing.
        max_chunk_age: Duration::from_secs(24 * 3600),
        zstd_level: 1,
    };
    let mut writer = TraceWriter::new(Vec::new(), &synthetic_header(seed), opts)
        .expect("writer on a Vec cannot fail");
    let synth = SynthOptions {
        events,
        processes,
        seed,
    };
    generate(&mut writer, &synth).expect("synthetic generation cannot fail");
    writer.finish().expect("finish on a Vec cannot fail").1
}

impl Base {
    pub fn get() -> &'static Base {
        static BASE: OnceLock<Base> = OnceLock::new();
        BASE.get_or_init(Base::build)
    }

    fn build() -> Base {
        let file = synthetic_trace(BASE_EVENTS, 6, 7, 2048);
        let reader = TraceReader::from_source(file.clone()).expect("base trace opens");
        let footer = match reader.end() {
            TraceEnd::Complete { footer, .. } => footer.clone(),
            other => panic!("base trace is not complete: {other:?}"),
        };
        let mut preamble = [0u8; PREAMBLE_LEN];
        preamble.copy_from_slice(&file[..PREAMBLE_LEN]);
        let mut seed_chain = None;
        let chunks = reader
            .all_chunks()
            .map(|info| {
                seed_chain.get_or_insert(info.prev_chain);
                let start = info.offset as usize + CHUNK_HEADER_LEN;
                let stored = file[start..start + info.header.stored_len as usize].to_vec();
                let raw = match info.header.compression {
                    Compression::None => stored.clone(),
                    Compression::Zstd => {
                        zstd::bulk::decompress(&stored, info.header.raw_len as usize)
                            .expect("base chunk decompresses")
                    }
                };
                BaseChunk {
                    header: info.header,
                    stored,
                    raw,
                }
            })
            .collect();
        let base = Base {
            preamble,
            seed_chain: seed_chain.expect("base trace has a header chunk"),
            chunks,
            footer,
            file,
        };
        // The re-sealing paths must reproduce a valid trace when nothing is edited, or the
        // fuzzer would only ever see broken files.
        for mode in [Mode::Stored, Mode::Raw] {
            let bytes = base.rebuild(mode, &[], None);
            let reader = TraceReader::from_source(bytes).expect("re-sealed base opens");
            let v = verify(&reader).expect("re-sealed base verifies");
            assert_eq!(v.chunks as usize, base.chunks.len());
            assert!(
                reader.records().all(|r| r.is_ok()),
                "re-sealed base decodes"
            );
        }
        base
    }

    /// Concatenation of all chunks' stored or raw payloads (the space that patches address).
    fn payloads(&self, mode: Mode) -> Vec<Vec<u8>> {
        self.chunks
            .iter()
            .map(|c| match mode {
                Mode::Stored => c.stored.clone(),
                Mode::Raw => c.raw.clone(),
                Mode::File => unreachable!(),
            })
            .collect()
    }

    /// Builds a file from edited payloads, recomputing every checksum, link, index and trailer.
    fn rebuild(&self, mode: Mode, patches: &[(u16, u8)], truncate: Option<u16>) -> Vec<u8> {
        let mut payloads = self.payloads(mode);
        let mut headers: Vec<ChunkHeader> = self.chunks.iter().map(|c| c.header).collect();
        if mode == Mode::Raw {
            // Every chunk is stored uncompressed, so the record chunks move: rewrite the index
            // before patching (XOR edits do not change lengths), then patch the new footer too.
            let mut offset = PREAMBLE_LEN as u64;
            let mut footer = self.footer.clone();
            let mut entries = footer.chunks.iter_mut();
            for (h, p) in headers.iter_mut().zip(&payloads) {
                h.compression = Compression::None;
                h.raw_len = p.len() as u32;
                h.stored_len = p.len() as u32;
                if h.chunk_type == ChunkType::Records {
                    let e = entries.next().expect("footer indexes every record chunk");
                    e.offset = offset;
                    e.raw_len = h.raw_len;
                    e.stored_len = h.stored_len;
                }
                offset += CHUNK_HEADER_LEN as u64 + u64::from(h.stored_len);
            }
            let encoded = rmp_serde::to_vec(&footer).expect("footer encodes");
            let last = headers.len() - 1;
            headers[last].raw_len = encoded.len() as u32;
            headers[last].stored_len = encoded.len() as u32;
            payloads[last] = encoded;
        }
        let total: usize = payloads.iter().map(Vec::len).sum();
        if total > 0 {
            for &(at, xor) in patches {
                let mut at = at as usize % total;
                for p in payloads.iter_mut() {
                    if at < p.len() {
                        p[at] ^= xor;
                        break;
                    }
                    at -= p.len();
                }
            }
        }
        let mut out = self.preamble.to_vec();
        let mut chain = self.seed_chain;
        let mut footer_offset = 0u64;
        for (mut h, p) in headers.into_iter().zip(&payloads) {
            if h.chunk_type == ChunkType::Footer {
                footer_offset = out.len() as u64;
            }
            h.payload_crc = crc32fast::hash(p);
            h.chain = h.next_chain(&chain, p);
            chain = h.chain;
            out.extend_from_slice(&h.to_bytes());
            out.extend_from_slice(p);
        }
        let mut trailer = [0u8; TRAILER_LEN];
        trailer[0..8].copy_from_slice(&footer_offset.to_le_bytes());
        trailer[8..40].copy_from_slice(&chain);
        trailer[40..48].copy_from_slice(b"RHFEND\r\n");
        out.extend_from_slice(&trailer);
        apply_truncation(&mut out, truncate);
        out
    }
}

/// What the fuzzer's patches edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The file's bytes as they are: the integrity checks must catch every edit.
    File,
    /// The stored (mostly zstd) payloads, re-sealed afterwards: reaches the zstd decoder with
    /// damaged frames and the raw-length checks.
    Stored,
    /// The decompressed payloads, stored uncompressed and re-sealed afterwards: reaches the
    /// column, varint, argument and MessagePack decoders with arbitrary damage.
    Raw,
}

fn apply_truncation(out: &mut Vec<u8>, truncate: Option<u16>) {
    if let Some(t) = truncate {
        let keep = t as usize % (out.len() + 1);
        out.truncate(keep);
    }
}

/// Turns a fuzzer input into an edited trace.
///
/// Layout: byte 0 picks the mode (`% 3`: 0 file, 1 stored payloads, 2 raw payloads); if its
/// bit 7 is set the next two bytes are a little-endian truncation length (taken modulo the
/// file length + 1, applied last). The rest is a list of 3-byte patches: a little-endian u16
/// offset (modulo the length of what is edited) and a byte XORed in there.
pub fn mutate(data: &[u8]) -> Vec<u8> {
    let base = Base::get();
    let Some((&mode_byte, mut rest)) = data.split_first() else {
        return base.file.clone();
    };
    let mode = match mode_byte % 3 {
        0 => Mode::File,
        1 => Mode::Stored,
        _ => Mode::Raw,
    };
    let mut truncate = None;
    if mode_byte & 0x80 != 0 && rest.len() >= 2 {
        truncate = Some(u16::from_le_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
    }
    let patches: Vec<(u16, u8)> = rest
        .chunks_exact(3)
        .map(|p| (u16::from_le_bytes([p[0], p[1]]), p[2]))
        .collect();
    match mode {
        Mode::File => {
            let mut out = base.file.clone();
            for &(at, xor) in &patches {
                let len = out.len();
                out[at as usize % len] ^= xor;
            }
            apply_truncation(&mut out, truncate);
            out
        }
        Mode::Stored | Mode::Raw => base.rebuild(mode, &patches, truncate),
    }
}
