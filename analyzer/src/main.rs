//! `rhf-analyze`: parse the command line, run one command, map the outcome to an exit code.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use rhf_analyzer::commands::{info, verify};
use rhf_analyzer::trace;

// The analyzer allocates and frees millions of small records per second across threads;
// mimalloc does that markedly faster than glibc's allocator (docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (verify: the trace is intact)
  1  error: the trace cannot be read (missing, not an rhf file, newer format version), or output failed
  2  invalid command line
  3  verify: the trace is damaged or was altered (a chunk, the footer or the trailer does not match)
  4  verify: the trace is truncated (the chunks before the cut are intact)";

/// Analyse rhf traces offline: what they hold, and whether they are intact.
#[derive(Parser)]
#[command(name = "rhf-analyze", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Header, host, capture time range, records per kind, chunks, sizes, integrity.
    #[command(after_help = EXIT_CODES)]
    Info {
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Recompute every checksum and the hash chain; print the digest when intact.
    #[command(after_help = EXIT_CODES)]
    Verify { file: PathBuf },
}

const EXIT_DAMAGED: u8 = 3;
const EXIT_TRUNCATED: u8 = 4;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`| head`) is not a failure.
            if err
                .chain()
                .filter_map(|c| c.downcast_ref::<std::io::Error>())
                .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("rhf-analyze: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Info { file, json } => {
            let reader = trace::open(&file)?;
            let summary = info::collect(&file.display().to_string(), &reader);
            if json {
                serde_json::to_writer_pretty(&mut out, &summary)?;
                writeln!(out)?;
            } else {
                out.write_all(info::render_text(&summary).as_bytes())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { file } => {
            let name = rhf_analyzer::escape::escape_str(&file.display().to_string());
            match verify::run_path(&file) {
                verify::Verdict::Intact(v) => {
                    writeln!(
                        out,
                        "{name}: intact: {} chunks, {} records, {} bytes\nsha256-chain {}",
                        v.chunks,
                        v.records,
                        v.bytes,
                        rhf_format::hex(&v.digest)
                    )?;
                    Ok(ExitCode::SUCCESS)
                }
                verify::Verdict::Truncated(e) => {
                    eprintln!("{name}: TRUNCATED: {e}");
                    Ok(ExitCode::from(EXIT_TRUNCATED))
                }
                verify::Verdict::Damaged(e) => {
                    eprintln!("{name}: DAMAGED: {e}");
                    Ok(ExitCode::from(EXIT_DAMAGED))
                }
                verify::Verdict::Unreadable(e) => {
                    Err(anyhow::Error::new(e).context(format!("cannot verify {name}")))
                }
            }
        }
    }
}
