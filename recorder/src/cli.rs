//! The command line of `rhf-record` and what each command does with it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use rhf_format::{CaptureInfo, CaptureMode, Header};

use crate::clock;
use crate::ptrace::{CaptureOptions, Target};
use crate::snapshot::{self, SnapshotOptions};

const EXIT_CODES: &str = "\
Exit codes:
  0  the trace was written completely (attach mode, snapshot)
  N  launch mode: the command's own exit status (128+signal when a signal killed it)
  1  error: the trace could not be written (or was cut short); the message says why
  2  invalid command line
  3  snapshot: some requested --pid did not exist (everything else was written)";

const ABOUT: &str = "Capture evidence on a Linux node into an rhf trace: syscalls of a launched \
command, of running processes, of a cgroup or of the whole host (ptrace or eBPF), or a /proc \
snapshot.";

const CAPTURE_HELP: &str = "\
Examples:
  rhf-record -o case.rhf -- ./suspicious --flag     launch and trace a command and its children
  rhf-record -o case.rhf -p 812,900                 attach; Ctrl-C, SIGTERM or SIGHUP detach cleanly
  rhf-record -o case.rhf --trace=%file,%network -- make
  rhf-record --backend ebpf --system --duration 60s -o host.rhf     every process on the host
  rhf-record --backend ebpf --cgroup system.slice/docker-ID.scope -o c.rhf   one container

Filtering: --trace takes strace's syntax (names, %file %process %network %signal %ipc %desc
%memory %creds, !negation). Launch mode installs a seccomp-bpf filter in the command so
untraced syscalls cost nothing; attach mode cannot filter a running process in the kernel and
filters in user space (every syscall still stops). Process starts, execs and exits are always
recorded so the process tree stays whole.

Launch mode: the command and its descendants die with the recorder (PTRACE_O_EXITKILL).
With -o - the trace streams on standard output, so the command's standard output goes to
standard error instead.
Attach mode: the processes keep running when the recorder stops or is killed.";

/// Capture evidence on a Linux node into an rhf trace.
#[derive(Parser)]
#[command(
    name = "rhf-record",
    version,
    about = ABOUT,
    after_help = format!("{CAPTURE_HELP}\n\n{EXIT_CODES}"),
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    capture: CaptureArgs,
}

/// A syscall capture (the default command).
#[derive(Args)]
struct CaptureArgs {
    /// Trace file to create (mode 0600), or `-` to stream it to standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Attach to these running processes (repeat or comma-separate) instead of launching.
    #[arg(short, long = "pid", value_delimiter = ',')]
    pid: Vec<u32>,
    /// How syscalls are captured: ptrace (every feature, any user allowed to trace), ebpf
    /// (far cheaper per syscall, --system, --cgroup; paths, strings and socket addresses but
    /// no buffer contents; needs root or CAP_BPF+CAP_PERFMON, kernel BTF and a build with
    /// clang; docs/BACKENDS.md), or auto (ebpf when this build, the kernel and the privileges
    /// allow it, else ptrace; says which).
    #[arg(long, value_enum, default_value_t = Backend::Ptrace)]
    backend: Backend,
    /// Trace every process on the host but the recorder itself (eBPF only); stop with
    /// Ctrl-C, SIGTERM, or --duration. The starting snapshot covers the whole host.
    #[arg(long, conflicts_with = "pid")]
    system: bool,
    /// Trace the processes of one cgroup (v2) and of the cgroups below it, e.g. a container
    /// (eBPF only): an absolute path, or one relative to the cgroup2 mount as in the `0::`
    /// line of /proc/PID/cgroup. Stop with Ctrl-C, SIGTERM, or --duration.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["pid", "system"])]
    cgroup: Option<PathBuf>,
    /// eBPF: size of the ring buffer between the kernel and the recorder (a power of two,
    /// e.g. 16M, 64M). Larger rings ride out longer bursts; calls that find it full are
    /// counted and recorded as lost.
    #[arg(long, default_value = "16M", value_parser = parse_ringbuf_size, value_name = "SIZE")]
    ringbuf_size: u32,
    /// Syscalls to record, in strace's --trace syntax (default: all).
    #[arg(long, value_name = "SET")]
    trace: Option<String>,
    /// Bytes of each buffer argument to keep.
    #[arg(long, default_value_t = 64, value_name = "N")]
    snaplen: usize,
    /// Do not record environments (execve envp, /proc/PID/environ in snapshots, the eBPF
    /// exec records' copy).
    #[arg(long)]
    no_env: bool,
    /// Resolution of event times and durations (1ns, 100ns, 1us...). Times stay in
    /// nanoseconds; finer digits than this are dropped. A ptrace stop is observed only to a
    /// few microseconds, and the default keeps ten times strace's resolution while halving the
    /// trace (docs/DECISIONS.md).
    #[arg(long, default_value = "100ns", value_parser = parse_resolution, value_name = "TIME")]
    time_resolution: u64,
    /// How long the tracer polls for the next stop before it sleeps (0 to never poll). Waking
    /// a sleeping tracer is most of a ptrace stop's cost on virtual machines; a short poll
    /// makes syscall-heavy tracees several times cheaper to trace, and costs a quiet one at
    /// most this much CPU per stop. Off when only one CPU is usable (docs/DECISIONS.md).
    #[arg(long, default_value = "50us", value_parser = parse_spin, value_name = "TIME")]
    spin_wait: Duration,
    /// Snapshot the whole host at the start, not only the traced processes.
    #[arg(long)]
    host: bool,
    /// Stop after this long (e.g. 30s, 5m, 1h).
    #[arg(long, value_parser = parse_duration, value_name = "TIME")]
    duration: Option<Duration>,
    /// Stop after this many syscall events.
    #[arg(long, value_name = "N")]
    max_events: Option<u64>,
    /// Stop once the trace reaches this size (e.g. 500M, 2G).
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    max_size: Option<u64>,
    /// Replace the output file if it exists.
    #[arg(long)]
    force: bool,
    /// zstd compression level (1-19).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=19))]
    level: i32,
    /// The command to launch and trace, after `--`.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<std::ffi::OsString>,
}

/// The syscall capture backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Backend {
    Ptrace,
    Ebpf,
    Auto,
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
    let Some(command) = cli.command else {
        return run_capture(cli.capture);
    };
    match command {
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

fn run_capture(args: CaptureArgs) -> Result<ExitCode> {
    let target = match (args.system, args.pid.is_empty(), args.command.is_empty()) {
        _ if args.cgroup.is_some() && !args.command.is_empty() => {
            usage("--cgroup traces the processes of a cgroup: give no command")?
        }
        _ if args.cgroup.is_some() => Target::Cgroup(args.cgroup.unwrap_or_default()),
        (true, _, true) => Target::System,
        (true, _, false) => usage("--system traces every process: give no command")?,
        (false, true, false) => Target::Launch(args.command),
        (false, false, true) => Target::Attach(args.pid),
        (false, true, true) => {
            usage("give a command after `--` to launch, -p PID to attach, or --system (eBPF)")?
        }
        (false, false, false) => usage("give either -p PID or a command after `--`, not both")?,
    };
    let Some(output) = args.output else {
        usage("-o FILE is required (or -o - for standard output)")?
    };
    if let Some(expr) = &args.trace {
        crate::ptrace::check_trace(expr)?;
    }
    let opts = CaptureOptions {
        target,
        output,
        force: args.force,
        zstd_level: args.level,
        trace: args.trace,
        snaplen: args.snaplen,
        no_env: args.no_env,
        time_resolution_ns: args.time_resolution,
        host_snapshot: args.host,
        max_events: args.max_events,
        max_bytes: args.max_size,
        duration: args.duration,
        spin_wait: args.spin_wait,
        ringbuf_bytes: args.ringbuf_size,
    };
    let outcome = match args.backend {
        Backend::Ptrace => crate::ptrace::run(&opts)?,
        Backend::Ebpf => run_ebpf(&opts, false)?.context("the eBPF backend did not start")?,
        Backend::Auto => match auto_backend(&opts) {
            Ok(()) => match run_ebpf(&opts, true)? {
                Some(outcome) => outcome,
                None => crate::ptrace::run(&opts)?,
            },
            Err(why) => {
                eprintln!("rhf-record: backend ptrace (auto: {why})");
                crate::ptrace::run(&opts)?
            }
        },
    };
    let digest = outcome
        .digest
        .map(|d| format!("digest sha256-chain {}", rhf_format::hex(&d)))
        .unwrap_or_else(|| "NO DIGEST: the trace was not finished".into());
    eprintln!(
        "rhf-record: {}: {} events, {} bytes, {:.3} s, stopped: {}, {digest}",
        if opts.output.as_os_str() == "-" {
            "standard output".into()
        } else {
            opts.output.display().to_string()
        },
        outcome.events,
        outcome.bytes,
        outcome.seconds,
        outcome.reason.describe()
    );
    if outcome.lost > 0 {
        eprintln!(
            "rhf-record: {} events were LOST and are missing from the trace ({})",
            outcome.lost,
            outcome.reason.describe()
        );
    }
    if let Some(e) = outcome.write_error {
        anyhow::bail!("the trace could not be finished: {e}");
    }
    Ok(match outcome.command_status {
        Some(status) => ExitCode::from(status.clamp(0, 255) as u8),
        None => ExitCode::SUCCESS,
    })
}

#[cfg(rhf_ebpf)]
fn run_ebpf(
    opts: &CaptureOptions,
    fall_back: bool,
) -> Result<Option<crate::ptrace::CaptureOutcome>> {
    crate::ebpf::run(opts, fall_back)
}

/// This build has no eBPF backend: build.rs found no clang (or no kernel BTF) and said so.
#[cfg(not(rhf_ebpf))]
fn run_ebpf(_: &CaptureOptions, _: bool) -> Result<Option<crate::ptrace::CaptureOutcome>> {
    anyhow::bail!(
        "this rhf-record was built without the eBPF backend: clang (or the kernel's BTF, \
         /sys/kernel/btf/vmlinux) was missing when it was built, or RHF_NO_EBPF was set. Install clang, bpftool, \
         libelf-dev, zlib1g-dev and pkg-config (Debian: apt-get install clang bpftool \
         libelf-dev zlib1g-dev pkg-config) and rebuild, or use --backend ptrace"
    )
}

fn running_as_root() -> bool {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// Why `--backend auto` cannot use eBPF here, checked before anything is loaded: the build,
/// the kernel's BTF, the privileges. (Loading can still fail; the eBPF backend then falls
/// back to ptrace itself, before creating anything.) `--system` has no ptrace fallback.
fn auto_backend(opts: &CaptureOptions) -> Result<(), String> {
    let why = if !cfg!(rhf_ebpf) {
        "this rhf-record was built without the eBPF backend (no clang at build time)"
    } else if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
    } else if !running_as_root() {
        "not root (loading BPF programs needs root, or CAP_BPF and CAP_PERFMON)"
    } else {
        return Ok(());
    };
    if matches!(opts.target, Target::System | Target::Cgroup(_)) {
        return Err(format!(
            "--system and --cgroup need the eBPF backend, and {why}"
        ));
    }
    Err(why.to_string())
}

/// A usage error: printed like clap's, exit status 2.
fn usage<T>(message: &str) -> Result<T> {
    eprintln!("rhf-record: error: {message}\n\nFor more information, try '--help'.");
    std::process::exit(2)
}

/// `30s`, `5m`, `1h`, `250ms`, or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let value: f64 = num
        .parse()
        .map_err(|_| format!("not a duration: {s:?} (e.g. 30s, 5m)"))?;
    let secs = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("unknown unit in {s:?}: use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("duration out of range: {s:?}"))
}

/// `1ns`, `100ns`, `1us`, `10us`, `1ms`: a time resolution in nanoseconds (1 ns to 1 s).
fn parse_resolution(s: &str) -> Result<u64, String> {
    parse_short_time(s, "time resolution")
}

/// `100ns`, `50us`, `2ms`: from 1ns to 1000ms, in nanoseconds.
fn parse_short_time(s: &str, what: &str) -> Result<u64, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let value: u64 = num
        .parse()
        .map_err(|_| format!("not a {what}: {s:?} (e.g. 100ns, 1us)"))?;
    let mult = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        _ => return Err(format!("unknown unit in {s:?}: use ns, us or ms")),
    };
    value
        .checked_mul(mult)
        .filter(|v| (1..=1_000_000_000).contains(v))
        .ok_or_else(|| format!("{what} out of range: {s:?} (1ns to 1000ms)"))
}

/// `--spin-wait`: `0`, or a time from 1ns to 1000ms like `50us`.
fn parse_spin(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    parse_short_time(s, "spin time").map(Duration::from_nanos)
}

/// `500M`, `2G`, `64K`, or plain bytes.
/// A ring-buffer size: a power of two between 4K and 1G.
fn parse_ringbuf_size(s: &str) -> Result<u32, String> {
    let bytes = parse_size(s)?;
    match u32::try_from(bytes) {
        Ok(b) if b.is_power_of_two() && (4096..=1 << 30).contains(&b) => Ok(b),
        _ => Err(format!(
            "{s:?} is not a power of two between 4K and 1G (e.g. 16M, 64M)"
        )),
    }
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let value: u64 = num
        .parse()
        .map_err(|_| format!("not a size: {s:?} (e.g. 500M)"))?;
    let mult = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(format!("unknown unit in {s:?}: use K, M or G")),
    };
    value
        .checked_mul(mult)
        .ok_or_else(|| format!("size out of range: {s:?}"))
}

fn run_snapshot(
    path: &std::path::Path,
    force: bool,
    level: i32,
    opts: &SnapshotOptions,
) -> Result<ExitCode> {
    let started = Instant::now();
    let mut options = vec![(
        "collect_exe".to_string(),
        opts.collect_exe.is_some().to_string(),
    )];
    if !opts.pids.is_empty() {
        let pids: Vec<String> = opts.pids.iter().map(u32::to_string).collect();
        options.push(("pids".into(), pids.join(",")));
    }
    let header = header(CaptureMode::Snapshot, "", options);
    let (mut writer, name) = crate::output::start_trace(path, force, level, &header)?;
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
