//! Writes a synthetic trace (the test-data generator as a command):
//! `cargo run --release -p rhf-format --example synth -- OUT.rhf [EVENTS] [SEED]`.
//! `LEVEL` and `CHUNK` in the environment override the zstd level and chunk size.

use std::io::BufWriter;

use rhf_format::synth::{generate, synthetic_header, SynthOptions};
use rhf_format::{hex, TraceWriter, WriterOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: synth OUT.rhf [EVENTS] [SEED]")?;
    let events: u64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    let defaults = WriterOptions::default();
    let opts = WriterOptions {
        zstd_level: env("LEVEL").map_or(defaults.zstd_level, |l| l as i32),
        chunk_bytes: env("CHUNK").unwrap_or(defaults.chunk_bytes),
        ..defaults
    };
    let file = std::fs::File::create(&out)?;
    let mut w = TraceWriter::new(BufWriter::new(file), &synthetic_header(seed), opts)?;
    let started = std::time::Instant::now();
    let records = generate(
        &mut w,
        &SynthOptions {
            events,
            seed,
            ..Default::default()
        },
    )?;
    let (summary, _) = w.finish()?;
    println!(
        "{out}: {events} syscall events, {records} records, {} bytes ({:.2} bytes/event), {} chunks, {:?}, digest {}",
        summary.bytes,
        summary.bytes as f64 / events as f64,
        summary.chunks,
        started.elapsed(),
        hex(&summary.digest)
    );
    Ok(())
}
