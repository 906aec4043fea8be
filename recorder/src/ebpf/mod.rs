//! Syscall capture with eBPF (prototype): BPF programs on the syscall and scheduler
//! tracepoints join each call's entry and exit in the kernel and hand one record per call to a
//! ring buffer, with the strings, paths and socket addresses its arguments point to copied at
//! entry, plus a record per fork, exec and exit of a traced thread. This module reads the ring
//! on a timer, decodes the calls with the ptrace backend's decoder and writes the trace. Only
//! launch mode so far; docs/BACKENDS.md lists what is missing.

mod capture_table;
mod captured;
mod consumer;
mod event;
mod launch;
mod lookup;
mod probes;

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use libbpf_rs::RingBuffer;
use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use rhf_format::CaptureMode;

use crate::clock::monotonic_ns;
use crate::decode::{Decoder, DecoderOptions};
use crate::output;
use crate::ptrace::{
    signals, CaptureOptions, CaptureOutcome, Ending, SeedingSink, StopReason, Target,
};
use crate::sink;
use crate::snapshot::{self, SnapshotOptions};
use consumer::Consumer;
use probes::Probes;

/// Ring-buffer size: at ~100 bytes a record, room for ~170,000 calls between two reads.
const RINGBUF_BYTES: u32 = 16 << 20;
/// How often the ring buffer is read when no forced wake-up came (the BPF side batches
/// wake-ups, so this timer is what normally collects the records).
const TICK: Duration = Duration::from_millis(10);

/// Runs a launch-mode capture to its end.
pub fn run(opts: &CaptureOptions) -> Result<CaptureOutcome> {
    let started = Instant::now();
    let start_ts = monotonic_ns();
    let argv = supported_command(opts)?;
    let Some(program) = crate::ptrace::launch::resolve(&argv[0]) else {
        bail!(
            "cannot find the command {:?} (not a file, or not on PATH)",
            argv[0]
        );
    };
    let header = crate::cli::header(CaptureMode::Launch, "ebpf", capture_options(opts));
    let (mut writer, name) =
        output::start_trace(&opts.output, opts.force, opts.zstd_level, &header)?;
    signals::install().context("installing signal handlers")?;

    // Loaded before the fork: it is what fails when privileges or the kernel are lacking, and
    // then nothing has been started.
    let wanted: Option<Vec<u32>> = opts
        .trace
        .as_deref()
        .map(|expr| crate::ptrace::check_trace(expr).map(|s| s.x86_64_numbers().collect()))
        .transpose()?;
    let mut storage = MaybeUninit::uninit();
    let probes = probes::load(&mut storage, RINGBUF_BYTES, wanted.as_deref())?;
    let child = launch::fork_stopped(&program, argv, opts.output.as_os_str() == "-")?;
    if let Err(e) = probes.trace(child.pid().as_raw() as u32) {
        child.abort();
        return Err(e);
    }
    let snapshot_pids = if opts.host_snapshot {
        Vec::new()
    } else {
        vec![child.pid().as_raw() as u32]
    };
    let mut decoder = Decoder::with_options(DecoderOptions {
        // Buffers are not copied by the BPF program: their lengths are recorded, not their
        // content. Environments come with the exec snapshot.
        snaplen: 0,
        no_env: true,
        ..DecoderOptions::default()
    });
    let snapshot_result = snapshot::take_snapshot(
        &SnapshotOptions {
            pids: snapshot_pids,
            process_records: opts.host_snapshot,
            network_tables: opts.host_snapshot,
            ..SnapshotOptions::default()
        },
        &mut SeedingSink {
            writer: &mut writer,
            decoder: &mut decoder,
        },
        false,
    );
    if let Err(e) = snapshot_result {
        child.abort();
        return Err(e).with_context(|| format!("writing the starting snapshot to {name}"));
    }
    // The command is stopped before its exec, so its descriptors and cwd are known exactly
    // now; later /proc lookups would race with a process that runs on, or is already gone.
    // Seeded after the starting snapshot (a --host one seeds it as incomplete). The
    // recorder's own close-on-exec descriptors go at the exec, as the decoder knows.
    if let Some(state) = snapshot::read_fd_state(child.pid().as_raw() as u32) {
        decoder.seed(&state);
    }
    let (pipe, writer_thread) =
        sink::start(writer, opts.time_resolution_ns).context("starting the writer thread")?;

    let consumer = RefCell::new(Consumer::new(pipe, decoder));
    let ring = probes.ring_buffer(|bytes| {
        consumer.borrow_mut().take(bytes);
        0
    })?;
    let root = child.resume()?;
    let (reason, command_status) = follow(root, &probes, &ring, &consumer)?;
    drop(ring);

    let drops = probes.drops()?;
    let mut consumer = consumer.into_inner();
    consumer.finish(&reason, &drops, start_ts);
    let events = consumer.events;
    let (written, pipe_lost) = consumer.pipe.close(writer_thread);
    Ok(Ending {
        reason,
        events,
        lost: pipe_lost + drops.total() + consumer.malformed,
        written,
        started,
        command_status,
    }
    .into())
}

/// The command line to launch, once the options this prototype does not implement yet are
/// refused (rather than silently ignored).
fn supported_command(opts: &CaptureOptions) -> Result<&[std::ffi::OsString]> {
    let unsupported = [
        (opts.max_events.is_some(), "--max-events"),
        (opts.max_bytes.is_some(), "--max-size"),
        (opts.duration.is_some(), "--duration"),
    ];
    if let Some((_, option)) = unsupported.iter().find(|(given, _)| *given) {
        bail!("{option} is not supported by the eBPF backend yet; use --backend ptrace");
    }
    match &opts.target {
        Target::Launch(argv) if !argv.is_empty() => Ok(argv),
        Target::Launch(_) => bail!("no command to launch after --"),
        Target::Attach(_) => {
            bail!("-p (attach) is not supported by the eBPF backend yet; use --backend ptrace")
        }
    }
}

/// Reads the ring buffer every [`TICK`] until the command and every process it started have
/// exited (or a stop signal came), then reads what is left. Returns why it stopped and the
/// command's exit status (128+signal when killed), like the ptrace backend.
fn follow(
    root: Pid,
    probes: &Probes<'_>,
    ring: &RingBuffer<'_>,
    consumer: &RefCell<Consumer>,
) -> Result<(StopReason, Option<i32>)> {
    let mut status = None;
    let reason = loop {
        // Returns early on a forced wake-up (a busy ring); otherwise after TICK, and the
        // batched records are collected by the consume below.
        check_ring(ring.poll_raw(TICK), "polling")?;
        check_ring(ring.consume_raw(), "reading")?;
        consumer.borrow_mut().pipe.tick();
        if status.is_none() {
            status = match waitpid(root, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => Some(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => Some(128 + sig as i32),
                Ok(_) | Err(Errno::EINTR) => None,
                Err(e) => return Err(e).context("waiting for the command"),
            };
        }
        if let Some(sig) = signals::requested() {
            break StopReason::Signal(sig);
        }
        if consumer.borrow().pipe.failed() {
            break StopReason::WriteFailed;
        }
        // Descendants may outlive the command; the fork and exit programs keep the traced
        // set, so the capture ends when it is empty, as ptrace's ends when all exited.
        if status.is_some() && !probes.any_traced() {
            break StopReason::AllExited;
        }
    };
    // Records submitted before the last exit are all in the ring now.
    check_ring(ring.consume_raw(), "reading")?;
    Ok((reason, status))
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
        ("ringbuf_bytes".to_string(), RINGBUF_BYTES.to_string()),
        // What the decoder was given: no buffer contents, no environment arrays.
        ("snaplen".to_string(), "0".to_string()),
        ("no_env".to_string(), "true".to_string()),
    ]
    .into_iter()
    .chain(opts.trace.iter().map(|t| ("trace".to_string(), t.clone())))
    .collect()
}
