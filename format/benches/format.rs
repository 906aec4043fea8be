//! Write and read throughput of the trace format on a 1M-event synthetic trace, and the floor:
//! plain zstd decompression of the very same chunk payloads.
//!
//! `scripts/bench-format.sh` runs this and turns criterion's medians into the ratios recorded
//! in `docs/BENCHMARKS.md`. `RHF_BENCH_EVENTS` changes the event count.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rayon::prelude::*;
use rhf_format::synth::{generate, synthetic_header, SynthOptions};
use rhf_format::{Compression, Record, RecordSink, TraceReader, TraceWriter, WriterOptions};

// The same allocator as rhf-analyze, so the numbers are the analyzer's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Collect(Vec<Record>);

impl RecordSink for Collect {
    fn push(&mut self, record: &Record) -> rhf_format::Result<()> {
        self.0.push(record.clone());
        Ok(())
    }
}

fn events() -> u64 {
    std::env::var("RHF_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn write_all(records: &[Record]) -> Vec<u8> {
    let mut w = TraceWriter::new(
        Vec::with_capacity(16 << 20),
        &synthetic_header(1),
        WriterOptions::default(),
    )
    .unwrap();
    for r in records {
        w.push(r).unwrap();
    }
    w.finish().unwrap().1
}

fn bench(c: &mut Criterion) {
    let n = events();
    let mut sink = Collect(Vec::new());
    generate(
        &mut sink,
        &SynthOptions {
            events: n,
            ..Default::default()
        },
    )
    .unwrap();
    let records = sink.0;
    let file = write_all(&records);
    let raw_total: u64;
    let payloads: Vec<(Vec<u8>, usize)> = {
        // The stored payloads exactly as in the file, for the zstd floor.
        let reader = TraceReader::from_source(file.clone()).unwrap();
        raw_total = reader
            .chunks()
            .iter()
            .map(|c| u64::from(c.header.raw_len))
            .sum();
        reader
            .chunks()
            .iter()
            .map(|c| {
                assert_eq!(c.header.compression, Compression::Zstd);
                let start = c.offset as usize + rhf_format::CHUNK_HEADER_LEN;
                (
                    file[start..start + c.header.stored_len as usize].to_vec(),
                    c.header.raw_len as usize,
                )
            })
            .collect()
    };
    eprintln!(
        "bench input: {n} syscall events, {} records, {} file bytes ({:.2} bytes/event), {} raw payload bytes, {} chunks",
        records.len(),
        file.len(),
        file.len() as f64 / n as f64,
        raw_total,
        payloads.len()
    );

    let mut g = c.benchmark_group("format");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(records.len() as u64));
    g.bench_function("write", |b| b.iter(|| black_box(write_all(&records).len())));
    g.bench_function("zstd_floor_1thread", |b| {
        b.iter(|| {
            payloads
                .iter()
                .map(|(p, raw)| zstd::bulk::decompress(p, *raw).unwrap().len())
                .sum::<usize>()
        })
    });
    g.bench_function("read_decode_1thread", |b| {
        let reader = TraceReader::from_source(file.clone()).unwrap();
        b.iter(|| {
            reader
                .records()
                .map(|r| r.unwrap())
                .filter(|r| r.ts > 0)
                .count()
        })
    });
    g.bench_function("read_decode_1thread_reuse", |b| {
        // Every record decoded into one reused buffer (`for_each_ref`), as the analyzer's
        // folds do.
        let reader = TraceReader::from_source(file.clone()).unwrap();
        b.iter(|| {
            let mut n = 0usize;
            for c in reader.chunks() {
                reader
                    .chunk_records(c)
                    .unwrap()
                    .for_each_ref(|r| n += usize::from(r.ts > 0))
                    .unwrap();
            }
            n
        })
    });
    g.bench_function("read_decode_parallel", |b| {
        // How the analyzer reads: chunks in parallel, each decoded into a reused buffer.
        let reader = TraceReader::from_source(file.clone()).unwrap();
        b.iter(|| {
            reader
                .chunks()
                .par_iter()
                .map(|c| {
                    let mut n = 0usize;
                    reader
                        .chunk_records(c)
                        .unwrap()
                        .for_each_ref(|r| n += usize::from(r.ts > 0))
                        .unwrap();
                    n
                })
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
