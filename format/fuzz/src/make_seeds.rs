//! Writes seed corpora for the fuzz targets:
//! `cargo run --release --bin make-seeds [-- CORPUS_DIR]` (default `corpus`), creating
//! `CORPUS_DIR/read_trace` (small valid, truncated and damaged traces) and
//! `CORPUS_DIR/mutate_trace` (a few edit scripts, one per mode).

use std::fs;
use std::path::Path;

use rhf_format::{Header, Record, RecordBody, SignalEvent, TraceWriter, WriterOptions};
use rhf_format_fuzz::{mutate as edit, synthetic_trace, Base};

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "corpus".into());
    let dir = Path::new(&dir);
    let read = dir.join("read_trace");
    let mutate = dir.join("mutate_trace");
    fs::create_dir_all(&read)?;
    fs::create_dir_all(&mutate)?;

    let mut seeds: Vec<(&str, Vec<u8>)> = Vec::new();

    // A header-only trace and a one-record trace, with the default writer options.
    let w = TraceWriter::new(Vec::new(), &Header::default(), WriterOptions::default()).unwrap();
    seeds.push(("empty", w.finish().unwrap().1));
    let mut w = TraceWriter::new(Vec::new(), &Header::default(), WriterOptions::default()).unwrap();
    let signal = SignalEvent {
        pid: 1,
        tid: 1,
        signo: 15,
        ..Default::default()
    };
    w.push(&Record {
        ts: 42,
        body: RecordBody::Signal(signal),
    })
    .unwrap();
    seeds.push(("one-signal", w.finish().unwrap().1));

    // Synthetic traces: one chunk, and many small chunks.
    seeds.push(("synth-20", synthetic_trace(20, 2, 1, 2 << 20)));
    let many = synthetic_trace(60, 3, 2, 1024);
    // Truncated in the middle of a chunk, and without its trailer.
    seeds.push(("synth-60-cut-half", many[..many.len() / 2].to_vec()));
    seeds.push(("synth-60-no-trailer", many[..many.len() - 48].to_vec()));
    seeds.push(("synth-60", many));
    // The base trace that mutate_trace edits.
    let base = Base::get();
    seeds.push(("mutate-base", base.file.clone()));

    for (name, bytes) in &seeds {
        fs::write(read.join(name), bytes)?;
    }

    // mutate_trace: mode byte (% 3: file / stored / raw), optional truncation, XOR patches.
    let scripts: [(&str, &[u8]); 6] = [
        ("file-unchanged", &[0]),
        ("stored-unchanged", &[1]),
        ("raw-unchanged", &[2]),
        ("file-flip", &[0, 0x40, 0x00, 0x01]),
        ("raw-flip", &[2, 0x00, 0x02, 0x80, 0x10, 0x03, 0x01]),
        ("stored-cut", &[0x81, 0x00, 0x10, 0x20, 0x01, 0xff]),
    ];
    for (name, script) in scripts {
        fs::write(mutate.join(name), script)?;
    }
    // A syscall record whose pid and tid delta are both 2^62 (their sum overflows i64):
    // the decoder must report it as out of range, not panic.
    if let Some(script) = huge_pid_tid_script(base) {
        fs::write(read.join("raw-huge-pid-tid"), edit(&script))?;
        fs::write(mutate.join("raw-huge-pid-tid"), script)?;
    }
    let raw: usize = base.chunks.iter().map(|c| c.raw.len()).sum();
    eprintln!(
        "mutate_trace base trace: {} bytes, {} chunks, {raw} bytes of decompressed payloads",
        base.file.len(),
        base.chunks.len()
    );
    eprintln!(
        "wrote {} read_trace seeds and {} mutate_trace seeds under {}",
        fs::read_dir(&read)?.count(),
        fs::read_dir(&mutate)?.count(),
        dir.display()
    );
    Ok(())
}

fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let x = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(x & 0x7f) << shift;
        if x & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// A mutate_trace script (mode 2, raw payloads) that rewrites the first syscall record of the
/// first record chunk with room for it: pid = 2^62 (a 9-byte varint), tid delta = +2^62 (a
/// 10-byte zigzag varint). Records after it are misaligned, which is fine.
fn huge_pid_tid_script(base: &Base) -> Option<Vec<u8>> {
    let last = base.chunks.len() - 1;
    let mut start = base.chunks[0].raw.len();
    for c in &base.chunks[1..last] {
        let raw = &c.raw;
        let mut pos = 0;
        let mut cols = Vec::new();
        for _ in 0..10 {
            let len = varint(raw, &mut pos)? as usize;
            cols.push((pos, len));
            pos += len;
        }
        let ((pids, pids_len), (tids, tids_len)) = (cols[3], cols[4]);
        if pids_len >= 9 && tids_len >= 10 {
            let mut want = Vec::new();
            want.extend((0..9).map(|k| (pids + k, if k < 8 { 0x80 } else { 0x40 })));
            want.extend((0..10).map(|k| (tids + k, if k < 9 { 0x80 } else { 0x01 })));
            let mut script = vec![2u8];
            for (at, byte) in want {
                let offset = u16::try_from(start + at).ok()?;
                script.extend_from_slice(&offset.to_le_bytes());
                script.push(raw[at] ^ byte);
            }
            return Some(script);
        }
        start += raw.len();
    }
    None
}
