//! The fixed binary pieces of a file: preamble, chunk header, trailer, and the hash chain.
//!
//! Everything here is little-endian and fixed-size, so a reader in any language can find chunk
//! boundaries without decoding MessagePack. `docs/FORMAT.md` is the normative description.

use sha2::{Digest, Sha256};

use crate::error::{FormatError, Result};

/// First eight bytes of every trace. The high byte and CR/LF/^Z catch text-mode mangling.
pub const MAGIC: [u8; 8] = *b"\x89RHF\r\n\x1a\n";
/// Major version: a reader refuses files with a higher major.
pub const FORMAT_MAJOR: u16 = 1;
/// Minor version: additions that older readers of the same major can skip.
pub const FORMAT_MINOR: u16 = 1;
pub const PREAMBLE_LEN: usize = 16;

/// Marks the start of every chunk header (helps humans and resynchronisation).
pub const CHUNK_MAGIC: [u8; 4] = *b"RHFC";
pub const CHUNK_HEADER_LEN: usize = 80;
/// The part of a chunk header covered by the chunk digest (everything before the chain hash).
const DIGESTED_HEADER_LEN: usize = 44;

/// The largest compressed or raw chunk a reader accepts; larger declared lengths are corruption.
pub const MAX_CHUNK_BYTES: u32 = 64 << 20;

pub const TRAILER_MAGIC: [u8; 8] = *b"RHFEND\r\n";
pub const TRAILER_LEN: usize = 48;

/// Domain separation for the first link of the hash chain.
const CHAIN_SEED_PREFIX: &[u8] = b"rhf-chain-v1\0";

/// What a chunk holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChunkType {
    /// Chunk 0: the [`Header`](crate::Header).
    Header,
    /// Records.
    Records,
    /// The last chunk: the [`Footer`](crate::Footer) index.
    Footer,
}

impl ChunkType {
    fn to_u8(self) -> u8 {
        match self {
            ChunkType::Header => 1,
            ChunkType::Records => 2,
            ChunkType::Footer => 3,
        }
    }

    fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(ChunkType::Header),
            2 => Some(ChunkType::Records),
            3 => Some(ChunkType::Footer),
            _ => None,
        }
    }
}

/// How a chunk payload is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Zstd,
}

/// The 16-byte preamble: magic, version, flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preamble {
    pub major: u16,
    pub minor: u16,
    pub flags: u32,
}

impl Preamble {
    pub fn current() -> Self {
        Preamble {
            major: FORMAT_MAJOR,
            minor: FORMAT_MINOR,
            flags: 0,
        }
    }

    pub fn to_bytes(self) -> [u8; PREAMBLE_LEN] {
        let mut b = [0u8; PREAMBLE_LEN];
        b[..8].copy_from_slice(&MAGIC);
        b[8..10].copy_from_slice(&self.major.to_le_bytes());
        b[10..12].copy_from_slice(&self.minor.to_le_bytes());
        b[12..16].copy_from_slice(&self.flags.to_le_bytes());
        b
    }

    /// Parses and checks the preamble. `bytes` may be short (a truncated file).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let magic_len = bytes.len().min(8);
        if bytes[..magic_len] != MAGIC[..magic_len] {
            return Err(FormatError::NotRhf {
                found: bytes[..magic_len].to_vec(),
                expected: MAGIC,
            });
        }
        if bytes.len() < PREAMBLE_LEN {
            return Err(FormatError::Truncated {
                complete_chunks: 0,
                offset: 0,
                detail: format!(
                    "the file is {} bytes long, shorter than the {PREAMBLE_LEN}-byte preamble",
                    bytes.len()
                ),
            });
        }
        let major = u16::from_le_bytes([bytes[8], bytes[9]]);
        let minor = u16::from_le_bytes([bytes[10], bytes[11]]);
        let flags = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
        if major != FORMAT_MAJOR {
            // Older majors do not exist yet; a future change keeps their readers here.
            return Err(FormatError::UnsupportedVersion {
                found_major: major,
                found_minor: minor,
                supported_major: FORMAT_MAJOR,
                supported_minor: FORMAT_MINOR,
            });
        }
        if flags != 0 {
            // No flag is defined in 1.x; a set flag means a feature this reader cannot honour.
            return Err(FormatError::UnsupportedFeatures { flags });
        }
        Ok(Preamble {
            major,
            minor,
            flags,
        })
    }
}

/// The fixed 80-byte header in front of every chunk payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    pub chunk_type: ChunkType,
    pub compression: Compression,
    /// Position in the file: 0 for the header chunk, then 1, 2, ...
    pub seq: u32,
    pub record_count: u32,
    /// Payload length after decompression.
    pub raw_len: u32,
    /// Payload length on disk.
    pub stored_len: u32,
    /// Smallest and largest record timestamp in the chunk (0 when it holds none).
    pub min_ts: u64,
    pub max_ts: u64,
    /// CRC-32 (IEEE) of the stored payload.
    pub payload_crc: u32,
    /// The hash chain value after this chunk.
    pub chain: [u8; 32],
}

impl ChunkHeader {
    pub fn to_bytes(&self) -> [u8; CHUNK_HEADER_LEN] {
        let mut b = [0u8; CHUNK_HEADER_LEN];
        b[0..4].copy_from_slice(&CHUNK_MAGIC);
        b[4] = self.chunk_type.to_u8();
        b[5] = match self.compression {
            Compression::None => 0,
            Compression::Zstd => 1,
        };
        // b[6..8] reserved, zero.
        b[8..12].copy_from_slice(&self.seq.to_le_bytes());
        b[12..16].copy_from_slice(&self.record_count.to_le_bytes());
        b[16..20].copy_from_slice(&self.raw_len.to_le_bytes());
        b[20..24].copy_from_slice(&self.stored_len.to_le_bytes());
        b[24..32].copy_from_slice(&self.min_ts.to_le_bytes());
        b[32..40].copy_from_slice(&self.max_ts.to_le_bytes());
        b[40..44].copy_from_slice(&self.payload_crc.to_le_bytes());
        b[44..76].copy_from_slice(&self.chain);
        let crc = crc32fast::hash(&b[..76]);
        b[76..80].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses a header found at `offset` where chunk number `expected_seq` should start.
    pub fn parse(b: &[u8; CHUNK_HEADER_LEN], expected_seq: u32, offset: u64) -> Result<Self> {
        let bad = |reason: String| FormatError::corrupt(expected_seq, offset, reason);
        if b[0..4] != CHUNK_MAGIC {
            return Err(bad(format!(
                "chunk header magic is {:02x?}, expected {:02x?} (\"RHFC\")",
                &b[0..4],
                CHUNK_MAGIC
            )));
        }
        let stored_crc = u32::from_le_bytes([b[76], b[77], b[78], b[79]]);
        let crc = crc32fast::hash(&b[..76]);
        if crc != stored_crc {
            return Err(bad(format!(
                "chunk header checksum mismatch (stored {stored_crc:08x}, computed {crc:08x})"
            )));
        }
        let le32 = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let le64 = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        if b[6..8] != [0, 0] {
            return Err(bad(format!(
                "reserved header bytes are {:02x?}, must be zero",
                &b[6..8]
            )));
        }
        let chunk_type =
            ChunkType::from_u8(b[4]).ok_or_else(|| bad(format!("unknown chunk type {}", b[4])))?;
        let compression = match b[5] {
            0 => Compression::None,
            1 => Compression::Zstd,
            other => return Err(bad(format!("unknown compression {other}"))),
        };
        let seq = le32(8);
        if seq != expected_seq {
            return Err(bad(format!(
                "chunk sequence number is {seq}, expected {expected_seq} (chunks missing or reordered)"
            )));
        }
        let header = ChunkHeader {
            chunk_type,
            compression,
            seq,
            record_count: le32(12),
            raw_len: le32(16),
            stored_len: le32(20),
            min_ts: le64(24),
            max_ts: le64(32),
            payload_crc: le32(40),
            chain: {
                let mut c = [0u8; 32];
                c.copy_from_slice(&b[44..76]);
                c
            },
        };
        for (name, len) in [("raw", header.raw_len), ("stored", header.stored_len)] {
            if len > MAX_CHUNK_BYTES {
                return Err(bad(format!(
                    "declared {name} length {len} exceeds the limit of {MAX_CHUNK_BYTES} bytes"
                )));
            }
        }
        if header.compression == Compression::None && header.raw_len != header.stored_len {
            return Err(bad(format!(
                "uncompressed chunk declares raw length {} but stored length {}",
                header.raw_len, header.stored_len
            )));
        }
        Ok(header)
    }

    /// Total bytes of this chunk on disk, header included.
    pub fn total_len(&self) -> u64 {
        CHUNK_HEADER_LEN as u64 + u64::from(self.stored_len)
    }

    /// The chain value that must follow `previous` for this header and payload.
    pub fn next_chain(&self, previous: &[u8; 32], payload: &[u8]) -> [u8; 32] {
        let bytes = self.to_bytes();
        let mut chunk_digest = Sha256::new();
        chunk_digest.update(&bytes[..DIGESTED_HEADER_LEN]);
        chunk_digest.update(payload);
        let mut link = Sha256::new();
        link.update(previous);
        link.update(chunk_digest.finalize());
        link.finalize().into()
    }
}

/// The first link of the chain: a hash of the preamble, so version bytes are protected too.
pub fn chain_seed(preamble: &[u8; PREAMBLE_LEN]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(CHAIN_SEED_PREFIX);
    h.update(preamble);
    h.finalize().into()
}

/// The last 48 bytes of a complete file: where the footer chunk starts and the final digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub footer_offset: u64,
    pub digest: [u8; 32],
}

impl Trailer {
    pub fn to_bytes(self) -> [u8; TRAILER_LEN] {
        let mut b = [0u8; TRAILER_LEN];
        b[0..8].copy_from_slice(&self.footer_offset.to_le_bytes());
        b[8..40].copy_from_slice(&self.digest);
        b[40..48].copy_from_slice(&TRAILER_MAGIC);
        b
    }

    pub fn parse(b: &[u8; TRAILER_LEN], offset: u64) -> Result<Self> {
        if b[40..48] != TRAILER_MAGIC {
            return Err(FormatError::CorruptTrailer {
                offset,
                reason: format!(
                    "trailer magic is {:02x?}, expected \"RHFEND\\r\\n\"",
                    &b[40..48]
                ),
            });
        }
        let mut off = [0u8; 8];
        off.copy_from_slice(&b[0..8]);
        let mut digest = [0u8; 32];
        digest.copy_from_slice(&b[8..40]);
        Ok(Trailer {
            footer_offset: u64::from_le_bytes(off),
            digest,
        })
    }
}

/// Lower-case hex of a digest, as printed to users.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
