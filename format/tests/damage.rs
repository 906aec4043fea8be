//! Damaged files: cut at every byte, one bit flipped at every byte, hostile lengths, versions.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use rhf_format::*;

/// Records the largest single allocation made by a thread that opted in, to prove hostile
/// lengths are refused before allocating (other tests run on other threads meanwhile).
struct CountingAlloc;
static LARGEST: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static TRACKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn note(size: usize) {
    if TRACKED.with(|t| t.get()) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

/// Runs `f` with this thread's allocations tracked; returns the largest one.
fn largest_allocation_in<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.store(0, Ordering::Relaxed);
    TRACKED.with(|t| t.set(true));
    let out = f();
    TRACKED.with(|t| t.set(false));
    (out, LARGEST.load(Ordering::Relaxed))
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// A small file with several record chunks.
fn small_trace(events: u64, chunk_bytes: usize) -> (WriteSummary, Vec<u8>) {
    let opts = WriterOptions {
        chunk_bytes,
        zstd_level: 1,
        ..WriterOptions::default()
    };
    let mut w = TraceWriter::new(Vec::new(), &synth::synthetic_header(5), opts).unwrap();
    synth::generate(
        &mut w,
        &synth::SynthOptions {
            events,
            processes: 3,
            seed: 5,
        },
    )
    .unwrap();
    w.finish().unwrap()
}

/// `(start, end)` byte ranges: preamble, each chunk (header chunk .. footer chunk), trailer.
fn regions(bytes: &[u8]) -> Vec<(usize, usize)> {
    let reader = TraceReader::from_source(bytes.to_vec()).unwrap();
    let mut out = vec![(0, PREAMBLE_LEN)];
    for c in reader.all_chunks() {
        out.push((
            c.offset as usize,
            (c.offset + c.header.total_len()) as usize,
        ));
    }
    out.push((bytes.len() - TRAILER_LEN, bytes.len()));
    out
}

#[test]
fn a_cut_at_every_byte_keeps_exactly_the_complete_chunks() {
    let (_, bytes) = small_trace(200, 1500);
    let full = TraceReader::from_source(bytes.clone()).unwrap();
    assert!(full.chunks().len() >= 4, "want a multi-chunk file");
    let all: Vec<Vec<Record>> = full
        .chunks()
        .iter()
        .map(|c| full.read_chunk(c).unwrap().records)
        .collect();
    for cut in 0..bytes.len() {
        let cut_bytes = bytes[..cut].to_vec();
        match TraceReader::from_source(cut_bytes) {
            Err(FormatError::Truncated { .. }) => {
                // Only a cut inside the preamble or header chunk may fail to open.
                let header_end =
                    full.all_chunks().next().unwrap().header.total_len() as usize + PREAMBLE_LEN;
                assert!(cut < header_end, "cut at {cut} refused to open");
            }
            Err(e) => panic!("cut at {cut}: unexpected error {e}"),
            Ok(reader) => {
                let complete: Vec<Vec<Record>> = full
                    .chunks()
                    .iter()
                    .zip(&all)
                    .filter(|(c, _)| (c.offset + c.header.total_len()) as usize <= cut)
                    .map(|(_, r)| r.clone())
                    .collect();
                let got: Vec<Record> = reader.records().collect::<Result<_>>().unwrap();
                assert_eq!(got, complete.concat(), "cut at {cut}");
                assert_eq!(reader.chunks().len(), complete.len(), "cut at {cut}");
                match reader.end() {
                    TraceEnd::Truncated { offset, .. } => assert!(*offset as usize <= cut),
                    other => panic!("cut at {cut}: end is {other:?}"),
                }
                assert!(verify(&reader).is_err(), "a cut file must not verify");
            }
        }
    }
    // The uncut file is complete.
    assert!(matches!(full.end(), TraceEnd::Complete { .. }));
}

#[test]
fn one_flipped_bit_anywhere_fails_verify_and_names_its_chunk() {
    let (_, bytes) = small_trace(60, 700);
    let regions = regions(&bytes);
    let last_chunk = regions.len() - 2; // index in `regions` of the footer chunk
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 1 << (i % 8);
        let region = regions.iter().position(|(s, e)| i >= *s && i < *e).unwrap();
        let result = TraceReader::from_source(damaged).and_then(|r| verify(&r));
        let err = match result {
            Ok(v) => panic!("flip at byte {i} verified with digest {}", hex(&v.digest)),
            Err(e) => e,
        };
        match (region, &err) {
            // Preamble: magic, version, or (minor/flags) the chain seed of chunk 0.
            (
                0,
                FormatError::NotRhf { .. }
                | FormatError::UnsupportedVersion { .. }
                | FormatError::UnsupportedFeatures { .. },
            ) => {}
            (0, FormatError::CorruptChunk { seq: 0, .. }) => {}
            (r, FormatError::CorruptChunk { seq, offset, .. }) if r <= last_chunk => {
                assert_eq!(*seq as usize, r - 1, "flip at {i}: {err}");
                assert_eq!(*offset as usize, regions[r].0, "flip at {i}: {err}");
            }
            // Trailer damage is reported one past the footer chunk, at the trailer's offset.
            (
                r,
                FormatError::CorruptChunk {
                    seq,
                    offset,
                    reason,
                },
            ) if r == last_chunk + 1 => {
                assert_eq!(*seq as usize, r - 1, "flip at {i}: {err}");
                assert_eq!(*offset as usize, regions[r].0);
                assert!(reason.contains("trailer"), "flip at {i}: {err}");
            }
            _ => panic!("flip at byte {i} (region {region}) gave {err}"),
        }
    }
}

#[test]
fn a_newer_major_version_is_refused_naming_both_versions() {
    let (_, mut bytes) = small_trace(10, 1 << 20);
    bytes[8..10].copy_from_slice(&2u16.to_le_bytes());
    bytes[10..12].copy_from_slice(&3u16.to_le_bytes());
    let err = TraceReader::from_source(bytes).err().expect("must refuse");
    let msg = err.to_string();
    assert!(matches!(
        err,
        FormatError::UnsupportedVersion {
            found_major: 2,
            found_minor: 3,
            ..
        }
    ));
    assert!(msg.contains("2.3"), "{msg}");
    assert!(
        msg.contains(&format!("{FORMAT_MAJOR}.{FORMAT_MINOR}")),
        "{msg}"
    );
}

#[test]
fn unknown_feature_flags_are_refused() {
    let (_, mut bytes) = small_trace(3, 1 << 20);
    bytes[12] = 1;
    let err = TraceReader::from_source(bytes).err().expect("must refuse");
    assert!(
        matches!(err, FormatError::UnsupportedFeatures { flags: 1 }),
        "{err}"
    );
}

#[test]
fn not_an_rhf_file_is_named_as_such() {
    let err = TraceReader::from_source(b"ELF\x7f not a trace at all".to_vec())
        .err()
        .unwrap();
    assert!(matches!(err, FormatError::NotRhf { .. }), "{err}");
    let err = TraceReader::from_source(Vec::new()).err().unwrap();
    assert!(matches!(err, FormatError::Truncated { .. }), "{err}");
}

/// Builds a file whose only record chunk has the given raw payload, with valid checksums and
/// chain, so only the payload's content is hostile.
fn file_with_payload(raw: &[u8], record_count: u32) -> Vec<u8> {
    let (_, good) = small_trace(1, 1 << 20);
    let reader = TraceReader::from_source(good.clone()).unwrap();
    let header_chunk = *reader.all_chunks().next().unwrap();
    let end = (header_chunk.offset + header_chunk.header.total_len()) as usize;
    let mut out = good[..end].to_vec();
    let mut h = ChunkHeader {
        chunk_type: ChunkType::Records,
        compression: Compression::None,
        seq: 1,
        record_count,
        raw_len: raw.len() as u32,
        stored_len: raw.len() as u32,
        min_ts: 0,
        max_ts: 0,
        payload_crc: crc32fast_hash(raw),
        chain: [0; 32],
    };
    h.chain = h.next_chain(&header_chunk.header.chain, raw);
    out.extend_from_slice(&h.to_bytes());
    out.extend_from_slice(raw);
    out
}

fn crc32fast_hash(b: &[u8]) -> u32 {
    // The same CRC-32 (IEEE) the format uses, computed bitwise so the test does not share code.
    let mut crc = !0u32;
    for &byte in b {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn leb(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[test]
fn a_declared_length_of_2_pow_40_is_rejected_without_allocating() {
    // Column "kinds" claims 2^40 bytes.
    let mut raw = Vec::new();
    leb(1 << 40, &mut raw);
    raw.extend_from_slice(&[16, 0, 0]);
    let reader = TraceReader::from_source(file_with_payload(&raw, 1)).unwrap();
    let (result, largest) = largest_allocation_in(|| reader.read_chunk(&reader.chunks()[0]));
    let err = result.unwrap_err();
    assert!(err.to_string().contains("column kinds length"), "{err}");
    assert!(largest < 1 << 16, "largest allocation was {largest} bytes");
    assert!(matches!(err, FormatError::CorruptChunk { seq: 1, .. }));
    // A syscall whose path argument claims 2^40 bytes.
    let mut body = vec![1u8, 3];
    leb(1 << 40, &mut body);
    let mut raw = Vec::new();
    for col in [
        vec![16u8],
        vec![0],
        vec![body.len() as u8],
        vec![1],
        vec![0],
        vec![2],
        vec![0],
        vec![0],
        vec![5],
        body,
    ] {
        leb(col.len() as u64, &mut raw);
        raw.extend_from_slice(&col);
    }
    let reader2 = TraceReader::from_source(file_with_payload(&raw, 1)).unwrap();
    let (result, largest) = largest_allocation_in(|| reader2.read_chunk(&reader2.chunks()[0]));
    let err = result.unwrap_err();
    assert!(err.to_string().contains("runs past its body"), "{err}");
    assert!(largest < 1 << 16, "largest allocation was {largest} bytes");
}

#[test]
fn a_chunk_header_declaring_more_than_the_limit_is_corruption() {
    let (_, mut bytes) = small_trace(5, 1 << 20);
    let reader = TraceReader::from_source(bytes.clone()).unwrap();
    let c = reader.chunks()[0];
    let mut h = c.header;
    h.stored_len = MAX_CHUNK_BYTES + 1;
    let at = c.offset as usize;
    bytes[at..at + CHUNK_HEADER_LEN].copy_from_slice(&h.to_bytes());
    let reader = TraceReader::from_source(bytes).unwrap();
    match reader.end() {
        TraceEnd::Corrupt { seq: 1, reason, .. } => {
            assert!(reason.contains("exceeds the limit"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_record_kinds_are_skipped() {
    let signal = SignalEvent {
        pid: 9,
        tid: 9,
        signo: 15,
        ..Default::default()
    };
    let signal_body = rmp_serde::to_vec(&signal).unwrap();
    let mut raw = Vec::new();
    let mut lens = Vec::new();
    leb(3, &mut lens);
    leb(signal_body.len() as u64, &mut lens);
    let mut bodies = vec![1, 2, 3];
    bodies.extend_from_slice(&signal_body);
    for col in [
        vec![200u8, 18],
        vec![10, 2],
        lens,
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        bodies,
    ] {
        leb(col.len() as u64, &mut raw);
        raw.extend_from_slice(&col);
    }
    // 1.1's `defs` column (no fd target here), then a column a later minor version might add,
    // which is ignored.
    leb(0, &mut raw);
    leb(2, &mut raw);
    raw.extend_from_slice(&[0xaa, 0xbb]);
    let reader = TraceReader::from_source(file_with_payload(&raw, 2)).unwrap();
    let chunk = reader.read_chunk(&reader.chunks()[0]).unwrap();
    assert_eq!(chunk.skipped_unknown, 1);
    assert_eq!(
        chunk.records,
        vec![Record {
            ts: 6,
            body: RecordBody::Signal(signal)
        }]
    );
}
