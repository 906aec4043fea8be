//! Building syscall traces by hand (and from the synthetic generator) and running the binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rhf_format::sysent;
use rhf_format::{
    Abi, Arg, CaptureInfo, CaptureMode, FdTarget, Header, PathArg, Record, RecordBody,
    SyscallEvent, TraceWriter, WriterOptions,
};

/// `CLOCK_MONOTONIC` at capture start.
pub const START_MONO: u64 = 5_000_000_000_000;
/// Wall clock at capture start: 1795890830.000000.
pub const START_REAL: u64 = 1_795_890_830_000_000_000;

pub fn header() -> Header {
    Header {
        capture: CaptureInfo {
            mode: CaptureMode::Launch,
            start_realtime_ns: START_REAL,
            start_monotonic_ns: START_MONO,
            backend: "ptrace".into(),
            ..CaptureInfo::default()
        },
        ..Header::default()
    }
}

/// A trace file in its own temporary directory.
pub struct TraceFile {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl TraceFile {
    pub fn arg(&self) -> &str {
        self.path.to_str().expect("temporary paths are UTF-8")
    }
}

/// Writes `records` with chunks cut every `chunk_bytes` raw bytes (small values give many
/// chunks, which exercises the parallel merge).
pub fn write(records: &[Record], chunk_bytes: usize) -> TraceFile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.rhf");
    let file = std::fs::File::create(&path).unwrap();
    let opts = WriterOptions {
        chunk_bytes,
        ..WriterOptions::default()
    };
    let mut w = TraceWriter::new(std::io::BufWriter::new(file), &header(), opts).unwrap();
    for r in records {
        w.push(r).unwrap();
    }
    w.finish().unwrap();
    TraceFile { _dir: dir, path }
}

/// A synthetic trace of `events` syscalls, in chunks of 256 KiB (about 5,000 events each:
/// dozens of chunks for the parallel paths to split and merge).
pub fn synthetic(events: u64, seed: u64) -> TraceFile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synth.rhf");
    let file = std::fs::File::create(&path).unwrap();
    let mut w = TraceWriter::new(
        std::io::BufWriter::new(file),
        &rhf_format::synth::synthetic_header(seed),
        WriterOptions {
            chunk_bytes: 256 << 10,
            ..WriterOptions::default()
        },
    )
    .unwrap();
    let opts = rhf_format::synth::SynthOptions {
        events,
        processes: 64,
        seed,
    };
    rhf_format::synth::generate(&mut w, &opts).unwrap();
    w.finish().unwrap();
    TraceFile { _dir: dir, path }
}

/// The number of `name` in `abi`.
pub fn nr(abi: Abi, name: &str) -> u32 {
    sysent::number(abi, name).unwrap_or_else(|| panic!("no syscall {name} in {abi:?}"))
}

/// A finished x86_64 syscall of process `pid` (main thread) at `µs` after capture start.
pub fn call(us: u64, pid: u32, name: &str, ret: i64, dur_ns: u64, args: Vec<Arg>) -> Record {
    Record {
        ts: START_MONO + us * 1000,
        body: RecordBody::Syscall(SyscallEvent {
            pid,
            tid: pid,
            nr: nr(Abi::X86_64, name),
            abi: Abi::X86_64,
            ret,
            duration_ns: dur_ns,
            args,
            unfinished: false,
        }),
    }
}

pub fn path(p: &str) -> Arg {
    Arg::Path(PathArg {
        raw: p.as_bytes().to_vec().into(),
        resolved: None,
    })
}

pub fn fd(n: i32, target: FdTarget) -> Arg {
    Arg::Fd(n, Some(Arc::new(target)))
}

pub fn file(p: &str) -> FdTarget {
    FdTarget::File(p.as_bytes().to_vec().into())
}

/// Output of one run of `rhf-analyze`.
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
}

pub fn analyze(args: &[&str]) -> Run {
    let o = Command::new(env!("CARGO_BIN_EXE_rhf-analyze"))
        .args(args)
        .output()
        .unwrap();
    Run {
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code(),
    }
}

/// Runs and expects success, returning stdout.
pub fn ok(args: &[&str]) -> String {
    let r = analyze(args);
    assert_eq!(r.code, Some(0), "{args:?}: {}", r.stderr);
    r.stdout
}

pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rhf-analyze"))
}
