//! Syscall capture with ptrace: launch a command or attach to processes, follow every thread
//! and child, and stream decoded syscall events to the trace. The tracer thread only decodes;
//! a writer thread compresses and writes.

mod attach;
pub(crate) mod launch;
mod memory;
mod progress;
mod seccomp;
pub(crate) mod signals;
mod syscall_info;
mod tracer;
mod wait;

use std::ffi::OsString;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::ptrace::Options;
use nix::unistd::Pid;
use rhf_format::sysent::{self, SyscallSelection};
use rhf_format::{CaptureMode, Record, RecordBody, RecordSink, TraceWriter};

use crate::clock::monotonic_ns;
use crate::decode::Decoder;
use crate::output;
use crate::sink;
use crate::snapshot::{self, ExeCache, SnapshotOptions};
pub use tracer::{Limits, StopReason};
use tracer::{Resume, Tracer};
use wait::StopWaiter;

/// What to trace.
#[derive(Debug, Clone)]
pub enum Target {
    /// Launch this command line.
    Launch(Vec<OsString>),
    /// Attach to these processes.
    Attach(Vec<u32>),
    /// Every process on the host but the recorder (`--system`, eBPF only).
    System,
    /// The processes in this cgroup v2 and below it (`--cgroup`, eBPF only).
    Cgroup(std::path::PathBuf),
}

/// A capture as the command line described it.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    pub target: Target,
    pub output: std::path::PathBuf,
    pub force: bool,
    pub zstd_level: i32,
    /// strace's `--trace` expression.
    pub trace: Option<String>,
    pub snaplen: usize,
    pub no_env: bool,
    /// Event times and durations are rounded to this many nanoseconds.
    pub time_resolution_ns: u64,
    /// Snapshot the whole host at the start, not only the traced processes.
    pub host_snapshot: bool,
    pub max_events: Option<u64>,
    pub max_bytes: Option<u64>,
    pub duration: Option<Duration>,
    /// How long the tracer polls for the next stop before sleeping (zero: never).
    pub spin_wait: Duration,
    /// eBPF: the ring buffer's size in bytes (a power of two).
    pub ringbuf_bytes: u32,
}

/// How a capture ended, for the final line and the exit status.
#[derive(Debug)]
pub struct CaptureOutcome {
    pub reason: StopReason,
    pub events: u64,
    pub lost: u64,
    pub bytes: u64,
    pub digest: Option<[u8; 32]>,
    pub seconds: f64,
    /// The launched command's status (128+signal when killed), for the recorder's own exit.
    pub command_status: Option<i32>,
    pub write_error: Option<String>,
}

/// What a capture tells its caller once its writer thread is closed.
pub struct Ending {
    pub reason: StopReason,
    pub events: u64,
    pub lost: u64,
    pub written: Result<rhf_format::WriteSummary, rhf_format::FormatError>,
    pub started: Instant,
    pub command_status: Option<i32>,
}

impl From<Ending> for CaptureOutcome {
    fn from(e: Ending) -> Self {
        let (bytes, digest, write_error) = match e.written {
            Ok(summary) => (summary.bytes, Some(summary.digest), None),
            Err(err) => (0, None, Some(err.to_string())),
        };
        CaptureOutcome {
            reason: e.reason,
            events: e.events,
            lost: e.lost,
            bytes,
            digest,
            seconds: e.started.elapsed().as_secs_f64(),
            command_status: e.command_status,
            write_error,
        }
    }
}

/// Snapshot records pass through here on their way to the file, so the decoder learns the
/// starting fd tables and working directories (both backends).
pub(crate) struct SeedingSink<'a, W: std::io::Write> {
    pub writer: &'a mut TraceWriter<W>,
    pub decoder: &'a mut Decoder,
}

impl<W: std::io::Write> RecordSink for SeedingSink<'_, W> {
    fn push(&mut self, record: &Record) -> rhf_format::Result<()> {
        if let RecordBody::Process(p) = &record.body {
            self.decoder.seed(p);
        }
        self.writer.push(record)
    }
}

/// Runs a capture to its end.
pub fn run(opts: &CaptureOptions) -> Result<CaptureOutcome> {
    let started = Instant::now();
    let start_ts = monotonic_ns();
    let selection = opts
        .trace
        .as_deref()
        .map(sysent::select)
        .transpose()
        .map_err(|e| anyhow!("--trace: {e}"))?;
    let (mode, attach_mode) = match &opts.target {
        Target::Launch(_) => (CaptureMode::Launch, false),
        Target::Attach(_) => (CaptureMode::Attach, true),
        Target::System | Target::Cgroup(_) => bail!(
            "--system and --cgroup need the eBPF backend (--backend ebpf): ptrace cannot \
             follow processes it did not start or attach to"
        ),
    };
    let header = crate::cli::header(mode, "ptrace", capture_options(opts));
    let (mut writer, name) =
        output::start_trace(&opts.output, opts.force, opts.zstd_level, &header)?;
    signals::install().context("installing signal handlers")?;

    let mut options = Options::PTRACE_O_TRACESYSGOOD
        | Options::PTRACE_O_TRACEFORK
        | Options::PTRACE_O_TRACEVFORK
        | Options::PTRACE_O_TRACECLONE
        | Options::PTRACE_O_TRACEEXEC;
    // Launch mode filters in the kernel with seccomp; attach mode cannot add a filter to a
    // running process, so it filters in user space (`--help` says so).
    let use_seccomp = !attach_mode && selection.is_some();
    if use_seccomp {
        options |= Options::PTRACE_O_TRACESECCOMP;
    }
    // Forking happens before any thread is started: the child may then safely allocate.
    let mut traced: Vec<(Pid, u32)> = Vec::new();
    let mut root = None;
    match &opts.target {
        Target::Launch(argv) => {
            let Some(cmd) = argv.first() else {
                bail!("no command to launch after --")
            };
            let Some(program) = launch::resolve(cmd) else {
                bail!(
                    "cannot find the command {:?} (not a file, or not on PATH)",
                    cmd
                );
            };
            // The launched tree is ours: it dies with the recorder.
            options |= Options::PTRACE_O_EXITKILL;
            let filter = match &selection {
                Some(s) if use_seccomp => Some(seccomp::build_filter(s).map_err(|e| anyhow!(e))?),
                _ => None,
            };
            let child = launch::launch(
                &program,
                argv,
                options,
                filter.as_ref(),
                opts.output.as_os_str() == "-",
            )
            .map_err(|e| anyhow!(e))?;
            root = Some(child);
            traced.push((child, child.as_raw() as u32));
        }
        Target::Attach(pids) => {
            for pid in pids {
                let tids = attach::seize_process(*pid, options).map_err(|e| anyhow!(e))?;
                traced.extend(tids.into_iter().map(|t| (t, *pid)));
            }
        }
        Target::System | Target::Cgroup(_) => unreachable!("refused above"),
    }

    let mut decoder = Decoder::new(opts.snaplen, opts.no_env);
    let snapshot_pids: Vec<u32> = if opts.host_snapshot {
        Vec::new()
    } else {
        let mut p: Vec<u32> = traced.iter().map(|(_, pid)| *pid).collect();
        p.dedup();
        p
    };
    snapshot::take_snapshot(
        &SnapshotOptions {
            pids: snapshot_pids,
            process_records: root.is_none() || opts.host_snapshot,
            network_tables: root.is_none() || opts.host_snapshot,
            environ: !opts.no_env,
            ..SnapshotOptions::default()
        },
        &mut SeedingSink {
            writer: &mut writer,
            decoder: &mut decoder,
        },
        false,
    )
    .with_context(|| format!("writing the starting snapshot to {name}"))?;

    let (pipe, writer_thread) =
        sink::start(writer, opts.time_resolution_ns).context("starting the writer thread")?;
    let resume = if use_seccomp {
        Resume::Seccomp
    } else {
        Resume::EverySyscall
    };
    let mut tracer = Tracer::new(pipe, decoder, resume, ExeCache::new(None));
    tracer.selection = selection;
    tracer.progress = progress::Progress::on_terminal();
    tracer.root = root;
    tracer.waiter = StopWaiter::new(opts.spin_wait);
    tracer.limits = Limits::of(opts);
    for (tid, pid) in &traced {
        tracer.adopt(*tid, *pid, root.is_some());
        if attach_mode {
            tracer.note_attached(*tid, *pid);
        }
    }
    let reason = tracer.run();
    if attach_mode && reason != StopReason::AllExited {
        tracer.detach_all();
    }
    tracer.finish(&reason, start_ts);
    let events = tracer.events();
    let command_status = tracer.root_status;
    let (written, lost) = tracer.into_pipe().close(writer_thread);
    Ok(Ending {
        reason,
        events,
        lost,
        written,
        started,
        command_status,
    }
    .into())
}

/// The options recorded in the header.
fn capture_options(opts: &CaptureOptions) -> Vec<(String, String)> {
    let mut v = vec![
        ("snaplen".to_string(), opts.snaplen.to_string()),
        ("no_env".to_string(), opts.no_env.to_string()),
        (
            "time_resolution_ns".to_string(),
            opts.time_resolution_ns.to_string(),
        ),
    ];
    if let Some(t) = &opts.trace {
        v.push(("trace".into(), t.clone()));
    }
    v
}

/// The syscall selection for `--trace`, checked early so a typo fails before anything starts.
pub fn check_trace(expr: &str) -> Result<SyscallSelection> {
    sysent::select(expr).map_err(|e| anyhow!("--trace: {e}"))
}
