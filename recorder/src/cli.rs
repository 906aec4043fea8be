//! The command line of `rhf-record` and what each command does with it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use rhf_format::{CaptureInfo, CaptureMode, Header, TraceWriter, WriterOptions};

use crate::clock;
use crate::output::Output;
use crate::snapshot::{self, SnapshotOptions};

const EXIT_CODES: &str = "\
Exit codes:
  0  the trace was written completely
  1  error: the trace could not be written (or was cut short); the message says why
  2  invalid command line
  3  snapshot: some requested --pid did not exist (everything else was written)";

/// Capture evidence on a Linux node into an rhf trace: /proc snapshots.
#[derive(Parser)]
#[command(name = "rhf-record", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Freeze what runs now: every process (or --pid), threads, executables, environments,
    /// open files and sockets, network and mount tables, modules, users and groups.
    #[command(after_help = EXIT_CODES)]
    Snapshot {
        /// Trace file to create (mode 0600), or `-` to stream it to standard output.
        #[arg(short, long)]
        output: PathBuf,
        /// Only these processes (repeat or comma-separate); default: every process.
        #[arg(short, long, value_delimiter = ',')]
        pid: Vec<u32>,
        /// Copy deleted and memfd executables into the trace as evidence.
        #[arg(long)]
        collect_exe: bool,
        /// Largest copy of one executable with --collect-exe, in bytes.
        #[arg(long, default_value_t = 20 << 20, value_name = "BYTES")]
        exe_cap: u64,
        /// Replace the output file if it exists.
        #[arg(long)]
        force: bool,
        /// zstd compression level (1-19).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=19))]
        level: i32,
    },
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Snapshot {
            output,
            pid,
            collect_exe,
            exe_cap,
            force,
            level,
        } => {
            let opts = SnapshotOptions {
                pids: pid,
                collect_exe: collect_exe.then_some(exe_cap),
                ..SnapshotOptions::default()
            };
            run_snapshot(&output, force, level, &opts)
        }
    }
}

fn run_snapshot(
    path: &std::path::Path,
    force: bool,
    level: i32,
    opts: &SnapshotOptions,
) -> Result<ExitCode> {
    let started = Instant::now();
    let out = Output::create(path, force)?;
    let name = out.describe();
    let mut options = vec![(
        "collect_exe".to_string(),
        opts.collect_exe.is_some().to_string(),
    )];
    if !opts.pids.is_empty() {
        let pids: Vec<String> = opts.pids.iter().map(u32::to_string).collect();
        options.push(("pids".into(), pids.join(",")));
    }
    let header = header(CaptureMode::Snapshot, "", options);
    let writer_opts = WriterOptions {
        zstd_level: level,
        ..WriterOptions::default()
    };
    let mut writer = TraceWriter::new(std::io::BufWriter::new(out), &header, writer_opts)
        .with_context(|| format!("cannot start the trace on {name}"))?;
    let summary = snapshot::take_snapshot(opts, &mut writer, true)
        .with_context(|| format!("writing {name}"))?;
    let (written, _) = writer
        .finish()
        .with_context(|| format!("finishing {name}"))?;
    eprintln!(
        "rhf-record: {name}: {} processes ({} more threads; {} partly denied, {} exited mid-read), {} bytes, {:.3} s, digest sha256-chain {}",
        summary.processes,
        summary.threads,
        summary.denied,
        summary.exited,
        written.bytes,
        started.elapsed().as_secs_f64(),
        rhf_format::hex(&written.digest)
    );
    if !summary.missing.is_empty() {
        let missing: Vec<String> = summary.missing.iter().map(u32::to_string).collect();
        eprintln!("rhf-record: no such process: {}", missing.join(", "));
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

/// The trace header for a capture started now by this command line.
pub fn header(mode: CaptureMode, backend: &str, options: Vec<(String, String)>) -> Header {
    let (start_realtime_ns, start_monotonic_ns) = clock::anchor();
    Header {
        host: snapshot::host_info(),
        capture: CaptureInfo {
            mode,
            recorder_version: format!("rhf-record {}", env!("CARGO_PKG_VERSION")),
            command_line: std::env::args_os()
                .map(|a| {
                    std::os::unix::ffi::OsStrExt::as_bytes(a.as_os_str())
                        .to_vec()
                        .into()
                })
                .collect(),
            start_realtime_ns,
            start_monotonic_ns,
            backend: backend.into(),
            options,
        },
    }
}
