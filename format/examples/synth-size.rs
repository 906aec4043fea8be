//! Prints the size per event of a synthetic trace: `cargo run --release -p rhf-format --example synth-size -- 1000000`.
use rhf_format::synth::{generate, synthetic_header, SynthOptions};
use rhf_format::{TraceWriter, WriterOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let events: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let wo = WriterOptions { zstd_level: env("LEVEL", 3) as i32, chunk_bytes: env("CHUNK", 1 << 20), ..Default::default() };
    let mut w = TraceWriter::new(Vec::new(), &synthetic_header(1), wo)?;
    let opts = SynthOptions { events, ..Default::default() };
    let t = std::time::Instant::now();
    let records = generate(&mut w, &opts)?;
    let (summary, bytes) = w.finish()?;
    let el = t.elapsed();
    println!("events={events} records={records} bytes={} bytes/event={:.2} chunks={} gen+write={:?}", bytes.len(), bytes.len() as f64 / events as f64, summary.chunks, el);
    Ok(())
}
