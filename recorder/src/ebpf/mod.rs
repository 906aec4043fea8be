//! Syscall capture with eBPF: BPF programs on the syscall and scheduler tracepoints join each
//! call's entry and exit in the kernel and hand one record per call to a ring buffer, with the
//! strings, paths and socket addresses its arguments point to copied at entry, plus a record
//! per fork, exec and exit of a traced thread. This module reads the ring on a timer, decodes
//! the calls with the ptrace backend's decoder and writes the trace. A launched command (and
//! its descendants), running processes (-p), one cgroup (--cgroup), or the whole host but the
//! recorder (--system). docs/BACKENDS.md says what it records and what it does not yet.

mod capture_table;
mod captured;
mod cgroup;
mod consumer;
mod event;
mod launch;
mod lookup;
mod probes;
mod wake;

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use libbpf_rs::RingBuffer;
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use rhf_format::{CaptureMode, ProcessLifecycle, Record, RecordBody};

use crate::clock::monotonic_ns;
use crate::decode::{Decoder, DecoderOptions};
use crate::output;
use crate::ptrace::{
    signals, CaptureOptions, CaptureOutcome, Ending, Limits, SeedingSink, StopReason, Target,
};
use crate::sink;
use crate::snapshot::{self, SnapshotOptions};
use consumer::Consumer;
use probes::{Probes, Scope};

/// Default ring-buffer size: at ~100 bytes a record, room for ~170,000 calls between two
/// reads.
pub const DEFAULT_RINGBUF_BYTES: u32 = 16 << 20;
/// How often the ring buffer is read when no forced wake-up came (the BPF side batches
/// wake-ups, so this timer is what normally collects the records).
const TICK: Duration = Duration::from_millis(10);

/// What the capture follows, once its processes are chosen.
enum Watched {
    /// A launched command, ours: it is killed if the capture stops before it ends.
    Launched(Pid),
    /// Running processes: they are left running.
    Attached,
    /// The whole host, or a cgroup: no natural end.
    Open,
}

/// Runs a capture to its end; `None` when `fall_back` is set and the programs could not be
/// loaded (nothing has been created or started then, and the caller uses ptrace).
pub fn run(opts: &CaptureOptions, fall_back: bool) -> Result<Option<CaptureOutcome>> {
    let started = Instant::now();
    let start_ts = monotonic_ns();
    check_options(opts)?;
    let mode = match &opts.target {
        Target::Launch(_) => CaptureMode::Launch,
        Target::Attach(_) => CaptureMode::Attach,
        // A cgroup is a part of the host chosen by where processes are, not by pid.
        Target::System | Target::Cgroup(_) => CaptureMode::System,
    };
    let program = match &opts.target {
        Target::Launch(argv) => {
            Some(crate::ptrace::launch::resolve(&argv[0]).with_context(|| {
                format!(
                    "cannot find the command {:?} (not a file, or not on PATH)",
                    argv[0]
                )
            })?)
        }
        Target::Attach(pids) => {
            if let Some(pid) = pids
                .iter()
                .find(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
            {
                bail!("there is no process {pid} to attach to");
            }
            None
        }
        Target::System | Target::Cgroup(_) => None,
    };
    let cgroup = match &opts.target {
        Target::Cgroup(path) => Some(cgroup::open(path)?),
        _ => None,
    };

    // Loaded before anything is created or started: it is what fails when privileges or the
    // kernel are lacking.
    let selection = opts
        .trace
        .as_deref()
        .map(crate::ptrace::check_trace)
        .transpose()?;
    let wanted: Option<Vec<u32>> = selection.as_ref().map(|s| s.x86_64_numbers().collect());
    let recorder = std::process::id();
    let scope = match (&opts.target, &cgroup) {
        (Target::System, _) => Scope::AllBut { recorder },
        (_, Some(c)) => Scope::Cgroup {
            dir: c.dir.as_raw_fd(),
            recorder,
        },
        _ => Scope::Chosen,
    };
    let mut storage = MaybeUninit::uninit();
    let loaded = probes::load(
        &mut storage,
        opts.ringbuf_bytes,
        wanted.as_deref(),
        scope,
        !opts.no_env,
    );
    let probes = match loaded {
        Ok(p) => p,
        Err(e) if fall_back => {
            eprintln!("rhf-record: backend ptrace (auto: the eBPF programs did not load: {e:#})");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let header = crate::cli::header(mode, "ebpf", capture_options(opts));
    let (mut writer, name) =
        output::start_trace(&opts.output, opts.force, opts.zstd_level, &header)?;
    signals::install().context("installing signal handlers")?;

    let mut launched = None;
    let snapshot_pids = match (&opts.target, program) {
        (Target::Launch(argv), Some(program)) => {
            let child = launch::fork_stopped(&program, argv, opts.output.as_os_str() == "-")?;
            if let Err(e) = probes.trace(child.pid().as_raw() as u32) {
                child.abort();
                return Err(e);
            }
            let pid = child.pid().as_raw() as u32;
            launched = Some(child);
            vec![pid]
        }
        (Target::Attach(pids), _) => {
            for pid in pids {
                probes.trace(*pid)?;
            }
            pids.clone()
        }
        _ => cgroup
            .as_ref()
            .map(|c| cgroup::pids(&c.path))
            .unwrap_or_default(),
    };
    // A launched command is snapshotted before its exec (its exec snapshot comes later); running
    // processes and the host are snapshotted whole, as the ptrace backend does.
    let whole = launched.is_none() || opts.host_snapshot;
    let mut decoder = Decoder::with_options(DecoderOptions {
        // Buffers are not copied by the BPF program: their lengths are recorded, not their
        // content. Environments come with the exec snapshot.
        snaplen: 0,
        no_env: true,
        ..DecoderOptions::default()
    });
    let snapshot_result = snapshot::take_snapshot(
        &SnapshotOptions {
            // --system and --host snapshot every process; otherwise the traced ones.
            pids: if opts.host_snapshot {
                Vec::new()
            } else {
                snapshot_pids.clone()
            },
            process_records: whole,
            network_tables: whole,
            environ: !opts.no_env,
            ..SnapshotOptions::default()
        },
        &mut SeedingSink {
            writer: &mut writer,
            decoder: &mut decoder,
        },
        false,
    );
    if let Err(e) = snapshot_result {
        if let Some(child) = launched {
            child.abort();
        }
        return Err(e).with_context(|| format!("writing the starting snapshot to {name}"));
    }
    // A launched command is stopped before its exec, so its descriptors and cwd are known
    // exactly now; later /proc lookups would race with a process that runs on, or is already
    // gone. Seeded after the starting snapshot (a --host one seeds it as incomplete). The
    // recorder's own close-on-exec descriptors go at the exec, as the decoder knows.
    if let Some(child) = &launched {
        if let Some(state) = snapshot::read_fd_state(child.pid().as_raw() as u32) {
            decoder.seed(&state);
        }
    }
    let (mut pipe, writer_thread) =
        sink::start(writer, opts.time_resolution_ns).context("starting the writer thread")?;
    if matches!(opts.target, Target::Attach(_)) {
        for pid in &snapshot_pids {
            let body = RecordBody::Lifecycle(ProcessLifecycle::Attached {
                pid: *pid,
                tid: *pid,
            });
            pipe.push(Record {
                ts: monotonic_ns(),
                body,
            });
        }
    }

    let mut consumer = Consumer::new(pipe, decoder);
    consumer.environ = !opts.no_env;
    consumer.selection = selection;
    let consumer = RefCell::new(consumer);
    let ring = probes.ring_buffer(|bytes| {
        consumer.borrow_mut().take(bytes);
        0
    })?;
    let watched = match launched {
        Some(child) => Watched::Launched(child.resume()?),
        None if matches!(opts.target, Target::System | Target::Cgroup(_)) => Watched::Open,
        None => Watched::Attached,
    };
    let limits = Limits::of(opts);
    let (reason, command_status) = follow(&watched, &probes, &ring, &consumer, &limits)?;
    drop(ring);

    let drops = probes.drops()?;
    let mut consumer = consumer.into_inner();
    let still_traced = match watched {
        Watched::Open => Vec::new(),
        _ => probes.traced(),
    };
    match watched {
        // Ours: the rest of the launched tree dies with the capture, as under ptrace.
        Watched::Launched(root) if reason != StopReason::AllExited => {
            for tgid in &still_traced {
                let _ = kill(Pid::from_raw(*tgid as i32), Signal::SIGKILL);
            }
            let _ = kill(root, Signal::SIGKILL);
            let _ = waitpid(root, None);
        }
        Watched::Attached => {
            for pid in still_traced {
                consumer.pipe.push(Record {
                    ts: monotonic_ns(),
                    body: RecordBody::Lifecycle(ProcessLifecycle::Detached { pid, tid: pid }),
                });
            }
        }
        _ => {}
    }
    drop(probes);
    consumer.finish(&reason, &drops, start_ts);
    let events = consumer.events;
    let (written, pipe_lost) = consumer.pipe.close(writer_thread);
    Ok(Some(
        Ending {
            reason,
            events,
            lost: pipe_lost + drops.total() + consumer.malformed,
            written,
            started,
            command_status,
        }
        .into(),
    ))
}

/// Refuses what this backend cannot do, rather than silently ignoring it.
fn check_options(opts: &CaptureOptions) -> Result<()> {
    if let Target::Launch(argv) = &opts.target {
        if argv.is_empty() {
            bail!("no command to launch after --");
        }
    }
    if !opts.ringbuf_bytes.is_power_of_two() || opts.ringbuf_bytes < 4096 {
        bail!(
            "--ringbuf-size must be a power of two of at least 4K (e.g. 16M, 64M), not {}",
            opts.ringbuf_bytes
        );
    }
    Ok(())
}

/// Reads the ring buffer every [`TICK`] until the capture must stop: every traced process
/// exited (not under --system), a stop signal came, a limit was reached or the writer failed;
/// then reads what is left. Returns why it stopped and the launched command's exit status
/// (128+signal when killed), like the ptrace backend.
fn follow(
    watched: &Watched,
    probes: &Probes<'_>,
    ring: &RingBuffer<'_>,
    consumer: &RefCell<Consumer>,
    limits: &Limits,
) -> Result<(StopReason, Option<i32>)> {
    let mut status = None;
    let root = match watched {
        Watched::Launched(root) => Some(root.as_raw() as u32),
        _ => None,
    };
    let wake = wake::Wake::new(ring.epoll_fd(), root)?;
    let reason = loop {
        // Returns early on a forced wake-up (a busy ring) or the command's exit; otherwise
        // after TICK, and the batched records are collected by the consume below.
        wake.wait(TICK)?;
        check_ring(ring.consume_raw(), "reading")?;
        consumer.borrow_mut().pipe.tick();
        if let (Watched::Launched(root), None) = (watched, status) {
            status = match waitpid(*root, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => Some(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => Some(128 + sig as i32),
                Ok(WaitStatus::Stopped(pid, sig)) => {
                    let_go_of_traceme(pid, sig);
                    None
                }
                Ok(_) | Err(Errno::EINTR) => None,
                Err(e) => return Err(e).context("waiting for the command"),
            };
        }
        {
            let c = consumer.borrow();
            if let Some(reason) = limits.check(c.events, &c.pipe) {
                break reason;
            }
        }
        // Descendants may outlive the command; the fork and exit programs keep the traced
        // set, so the capture ends when it is empty, as ptrace's ends when all exited.
        let ended = match watched {
            Watched::Launched(_) => status.is_some() && !probes.any_traced(),
            Watched::Attached => !probes.any_traced(),
            Watched::Open => false,
        };
        if ended {
            break StopReason::AllExited;
        }
    };
    // Records submitted before the stop are all in the ring now.
    check_ring(ring.consume_raw(), "reading")?;
    Ok((reason, status))
}

/// The launched command stopped for its tracer: it made the recorder its tracer with
/// PTRACE_TRACEME (an anti-debugging trick; the call is in the trace). This backend does not
/// trace with ptrace, so nothing would ever resume it: the recorder lets go at once and
/// delivers the signal it stopped for, and the command runs on as with no tracer. A SIGTRAP
/// is not delivered: it is the stop a traced process makes after its next execve, which
/// would kill it if delivered and does not happen without a tracer.
fn let_go_of_traceme(pid: Pid, sig: Signal) {
    let deliver = (sig != Signal::SIGTRAP).then_some(sig);
    let _ = nix::sys::ptrace::detach(pid, deliver);
}

/// libbpf's ring-buffer calls return a count or a negative errno; EINTR is a stop signal
/// arriving, which the loop looks at next.
fn check_ring(ret: i32, what: &str) -> Result<()> {
    if ret >= 0 || ret == -libc::EINTR {
        return Ok(());
    }
    Err(std::io::Error::from_raw_os_error(-ret))
        .with_context(|| format!("{what} the BPF ring buffer"))
}

/// The options recorded in the header.
fn capture_options(opts: &CaptureOptions) -> Vec<(String, String)> {
    vec![
        (
            "time_resolution_ns".to_string(),
            opts.time_resolution_ns.to_string(),
        ),
        ("ringbuf_bytes".to_string(), opts.ringbuf_bytes.to_string()),
        // What the decoder was given: no buffer contents, no environment arrays.
        ("snaplen".to_string(), "0".to_string()),
        ("no_env".to_string(), "true".to_string()),
    ]
    .into_iter()
    .chain(opts.trace.iter().map(|t| ("trace".to_string(), t.clone())))
    .collect()
}
