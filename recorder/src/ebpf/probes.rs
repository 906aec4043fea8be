//! The BPF programs and maps built from `src/bpf/syscalls.bpf.c`: loading and attaching them,
//! and the few operations the capture needs on their maps.

use std::mem::MaybeUninit;
use std::os::fd::RawFd;

use anyhow::{Context, Result};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, OpenObject, RingBuffer, RingBufferBuilder};

/// The skeleton libbpf-cargo generated in build.rs.
mod skel {
    include!(concat!(env!("OUT_DIR"), "/syscalls.skel.rs"));
}
use skel::{SyscallsSkel, SyscallsSkelBuilder};

/// Index of the ring-buffer drop counter in the `drops` per-CPU array.
const DROP_RINGBUF: u32 = 0;
/// Index of the counter of calls whose entry did not fit in the pending-calls map.
const DROP_PENDING: u32 = 1;
/// Index of the counter of children that could not be added to the traced set.
const DROP_CHILD: u32 = 2;

/// Calls that were made but are missing from the ring buffer, summed over CPUs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drops {
    /// The ring buffer was full, per CPU.
    pub ringbuf_per_cpu: Vec<u64>,
    /// The map of calls in progress was full (summed).
    pub pending: u64,
    /// Children of traced processes that could not be traced (the tgid map was full): all
    /// their calls are missing, in unknown number (summed).
    pub untraced_children: u64,
}

impl Drops {
    pub fn total(&self) -> u64 {
        self.ringbuf_per_cpu.iter().sum::<u64>() + self.pending
    }
}

/// The loaded and attached programs. They detach when this is dropped.
pub struct Probes<'obj> {
    skel: SyscallsSkel<'obj>,
}

/// Which processes the programs record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The thread groups added with [`Probes::trace`] and their descendants.
    Chosen,
    /// Every thread group on the host but `recorder` (the recorder's own tgid).
    AllBut { recorder: u32 },
    /// The threads in the cgroup (v2) open as `dir` or below it, but the recorder's.
    Cgroup { dir: RawFd, recorder: u32 },
}

/// Loads and attaches the programs with a ring buffer of `ringbuf_bytes` (a power of two, a
/// multiple of the page size). With `wanted`, only those x86-64 syscall numbers are recorded
/// (`--trace`, filtered in the kernel). Exec records carry the new program's environment
/// unless `capture_env` is false (`--no-env`).
pub fn load<'obj>(
    storage: &'obj mut MaybeUninit<OpenObject>,
    ringbuf_bytes: u32,
    wanted: Option<&[u32]>,
    scope: Scope,
    capture_env: bool,
) -> Result<Probes<'obj>> {
    let mut open = SyscallsSkelBuilder::default()
        .open(storage)
        .context("opening the BPF object")?;
    open.maps
        .events
        .set_max_entries(ringbuf_bytes)
        .context("sizing the ring buffer")?;
    if let Some(rodata) = open.maps.rodata_data.as_deref_mut() {
        // A quarter full: the reader is woken well before the ring can overflow, while its
        // 10 ms timer collects everything slower.
        rodata.wakeup_bytes = u64::from(ringbuf_bytes / 4);
        rodata.filter_syscalls = u8::from(wanted.is_some());
        rodata.capture_env = u8::from(capture_env);
        match scope {
            Scope::Chosen => {}
            Scope::AllBut { recorder } => {
                rodata.trace_all = 1;
                rodata.self_tgid = recorder;
            }
            Scope::Cgroup { recorder, .. } => {
                rodata.trace_cgroup = 1;
                rodata.self_tgid = recorder;
            }
        }
    }
    let mut skel = open.load().context(
        "loading the BPF programs (this needs root, or CAP_BPF and CAP_PERFMON, and a kernel \
         with BTF and BPF ring buffers, 5.8 or later)",
    )?;
    // Before attaching, so that no call is recorded without its arguments.
    for (nr, spec) in super::capture_table::entries() {
        skel.maps
            .arg_captures
            .update(&nr.to_ne_bytes(), &spec, MapFlags::ANY)
            .with_context(|| format!("filling the BPF argument-capture table (syscall {nr})"))?;
    }
    // Before attaching, so that no call is recorded against the selection.
    for nr in wanted.unwrap_or_default() {
        skel.maps
            .wanted_syscalls
            .update(&nr.to_ne_bytes(), &[1], MapFlags::ANY)
            .with_context(|| format!("selecting syscall {nr} for --trace in the BPF filter"))?;
    }
    if let Scope::Cgroup { dir, .. } = scope {
        skel.maps
            .scope_cgroup
            .update(
                &0u32.to_ne_bytes(),
                &(dir as u32).to_ne_bytes(),
                MapFlags::ANY,
            )
            .context(
                "setting the cgroup to trace in the BPF filter (is it a cgroup v2 directory?)",
            )?;
    }
    skel.attach()
        .context("attaching the BPF programs to the syscall and scheduler tracepoints")?;
    Ok(Probes { skel })
}

impl Probes<'_> {
    /// Traces thread group `tgid` (and, through the fork program, its future children).
    pub fn trace(&self, tgid: u32) -> Result<()> {
        self.skel
            .maps
            .traced_tgids
            .update(&tgid.to_ne_bytes(), &[1], MapFlags::ANY)
            .with_context(|| format!("adding process {tgid} to the BPF filter"))
    }

    /// True while some traced process is still alive.
    pub fn any_traced(&self) -> bool {
        self.skel.maps.traced_tgids.keys().next().is_some()
    }

    /// The thread groups traced now (those alive, under [`Scope::Chosen`]).
    pub fn traced(&self) -> Vec<u32> {
        self.skel
            .maps
            .traced_tgids
            .keys()
            .filter_map(|k| Some(u32::from_ne_bytes(k.as_slice().try_into().ok()?)))
            .collect()
    }

    /// A reader of the event ring buffer that hands each record to `on_record`.
    pub fn ring_buffer<'cb, F>(&self, on_record: F) -> Result<RingBuffer<'cb>>
    where
        F: FnMut(&[u8]) -> i32 + 'cb,
    {
        let mut builder = RingBufferBuilder::new();
        builder
            .add(&self.skel.maps.events, on_record)
            .context("reading the BPF ring buffer")?;
        builder.build().context("reading the BPF ring buffer")
    }

    /// The drop counters as they are now.
    pub fn drops(&self) -> Result<Drops> {
        Ok(Drops {
            ringbuf_per_cpu: self.per_cpu(DROP_RINGBUF)?,
            pending: self.per_cpu(DROP_PENDING)?.iter().sum(),
            untraced_children: self.per_cpu(DROP_CHILD)?.iter().sum(),
        })
    }

    fn per_cpu(&self, index: u32) -> Result<Vec<u64>> {
        let values = self
            .skel
            .maps
            .drops
            .lookup_percpu(&index.to_ne_bytes(), MapFlags::ANY)
            .context("reading the BPF drop counters")?
            .unwrap_or_default();
        // A counter that cannot be read must not pass for zero losses.
        values
            .iter()
            .map(|v| {
                v.as_slice()
                    .try_into()
                    .map(u64::from_ne_bytes)
                    .with_context(|| format!("a BPF drop counter of {} bytes", v.len()))
            })
            .collect()
    }
}
