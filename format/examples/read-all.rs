//! Reads every record of a trace, sequentially, N times (for profiling the decoder):
//! `cargo run --release -p rhf-format --example read-all -- FILE [N]`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: read-all FILE [N]")?;
    let rounds: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let reader = rhf_format::TraceReader::open(&path)?;
    for _ in 0..rounds {
        let started = std::time::Instant::now();
        let mut n = 0u64;
        if std::env::var_os("REUSE").is_some() {
            for c in reader.chunks() {
                reader.chunk_records(c)?.for_each_ref(|_| n += 1)?;
            }
        } else {
            for r in reader.records() {
                r?;
                n += 1;
            }
        }
        println!("{n} records in {:?}", started.elapsed());
    }
    Ok(())
}
