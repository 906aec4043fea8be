//! Ring-buffer records turned into trace records on their way to the writer thread: syscalls
//! go through the same [`Decoder`] the ptrace backend uses (entry with the captured memory,
//! then exit with the return value), so both backends decode arguments and follow
//! descriptors with one piece of code; lifecycle records keep the decoder's process state in
//! step and are written as `Lifecycle` records, an exec followed by a `Process` snapshot.
//! The decoder asks `/proc` through [`RunningLookup`], which knows the process ran on.
//!
//! Records are written in ring-buffer order, which is the order the BPF programs reserved
//! them in (docs/BACKENDS.md says what that guarantees).

use std::collections::HashMap;

use rhf_format::sysent::{self, ArgKind, SyscallSelection};
use rhf_format::{
    Abi, Arg, Bytes, CaptureStats, LossNotice, ProcessLifecycle, ProcessSnapshot, RawFile, Record,
    RecordBody, SnapshotReason,
};

use super::captured::CapturedMemory;
use super::event::{self, Capture, EventError, ExecRecord, RawCall, RingRecord};
use super::lookup::RunningLookup;
use super::probes::Drops;
use crate::clock::monotonic_ns;
use crate::decode::Decoder;
use crate::ptrace::StopReason;
use crate::sink::RecordPipe;
use crate::snapshot::{self, ExeCache};

pub struct Consumer {
    pub pipe: RecordPipe,
    /// Syscall records written.
    pub events: u64,
    /// Records that could not be parsed (a mismatch between the BPF program and this
    /// parser): counted as lost.
    pub malformed: u64,
    /// Exec snapshots read `/proc/PID/environ` (not under `--no-env`).
    pub environ: bool,
    /// `--trace`: the kernel filters x86-64 calls; 32-bit compat calls, whose numbers are
    /// i386 ones, are filtered here.
    pub selection: Option<SyscallSelection>,
    first_error: Option<EventError>,
    decoder: Decoder,
    lookup: RunningLookup,
    exes: ExeCache,
    /// The arguments of the program each thread just exec'd, from the exec record, for the
    /// execve record that follows it (the BPF program does not chase argv's pointers).
    exec_argv: HashMap<u32, Vec<Bytes>>,
}

impl Consumer {
    /// `decoder` was seeded from the starting snapshot.
    pub fn new(pipe: RecordPipe, decoder: Decoder) -> Consumer {
        Consumer {
            pipe,
            events: 0,
            malformed: 0,
            environ: true,
            selection: None,
            first_error: None,
            decoder,
            lookup: RunningLookup::default(),
            exes: ExeCache::new(None),
            exec_argv: HashMap::new(),
        }
    }

    /// Handles one ring-buffer record.
    pub fn take(&mut self, bytes: &[u8]) {
        match event::parse(bytes) {
            Ok(RingRecord::Syscall(call)) => self.on_call(call),
            Ok(RingRecord::Spawn {
                ts,
                parent_pid,
                parent_tid,
                child_pid,
                child_tid,
                shared_flags,
                parent_call,
            }) => {
                let clone_flags = parent_call
                    .and_then(|(nr, first)| {
                        self.call_spawn_flags(parent_pid, parent_tid, nr, first)
                    })
                    .unwrap_or(shared_flags);
                self.decoder
                    .on_spawn(parent_pid, child_pid, child_tid, clone_flags);
                self.lifecycle(
                    ts,
                    ProcessLifecycle::Spawn {
                        parent_pid,
                        parent_tid,
                        child_pid,
                        child_tid,
                        clone_flags,
                    },
                );
            }
            Ok(RingRecord::Exec(exec)) => self.on_exec(exec),
            Ok(RingRecord::Exit {
                ts,
                pid,
                tid,
                exit_code,
                group_dead,
            }) => {
                if group_dead {
                    self.decoder.on_exit_group(pid);
                }
                self.exec_argv.remove(&tid);
                let (code, signal, core_dumped) = wait_status(exit_code);
                self.lifecycle(
                    ts,
                    ProcessLifecycle::Exit {
                        pid,
                        tid,
                        code,
                        signal,
                        core_dumped,
                    },
                );
            }
            Err(e) => {
                self.malformed += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }

    /// The clone flags the parent's call in progress (fork, vfork, clone) made the child
    /// with, as the decoder works them out for the ptrace backend. `None` for clone3, whose
    /// flags are in memory the BPF program does not read, and for anything else.
    fn call_spawn_flags(&mut self, pid: u32, tid: u32, nr: u32, first_arg: u64) -> Option<u64> {
        let raw = [first_arg, 0, 0, 0, 0, 0];
        let mut nothing = CapturedMemory::new(&raw, &[]);
        self.decoder
            .on_entry(
                pid,
                tid,
                Abi::X86_64,
                nr,
                raw,
                &mut nothing,
                &mut self.lookup,
            )
            .spawn_flags
    }

    fn on_call(&mut self, call: RawCall<'_>) {
        let abi = if call.compat { Abi::I386 } else { Abi::X86_64 };
        if call.compat
            && self
                .selection
                .as_ref()
                .is_some_and(|s| !s.contains(abi, call.nr))
        {
            return;
        }
        let mut mem = CapturedMemory::new(&call.args, &call.captures);
        let pending = self.decoder.on_entry(
            call.pid,
            call.tid,
            abi,
            call.nr,
            call.args,
            &mut mem,
            &mut self.lookup,
        );
        let mut event = if call.unfinished {
            // No return value, and (as under ptrace) no duration.
            self.decoder.on_unfinished(pending)
        } else {
            let mut event = self
                .decoder
                .on_exit(pending, call.ret, &mut mem, &mut self.lookup);
            event.duration_ns = call.duration_ns;
            event
        };
        if event.ret == 0 && !event.unfinished && !self.exec_argv.is_empty() {
            if let Some(argv) = self.exec_argv.remove(&call.tid) {
                put_argv(abi, call.nr, &mut event.args, argv);
            }
        }
        self.events += 1;
        self.pipe.push(Record {
            ts: call.entry_ns,
            body: RecordBody::Syscall(event),
        });
    }

    /// An exec: its record, then a look at the new program (exe hash, argv, environment,
    /// credentials, fds) taken now. Unlike under ptrace the process is not stopped: the
    /// snapshot is taken as soon as the record is read, while the program already runs, and
    /// is missing when it has already exited.
    fn on_exec(&mut self, exec: ExecRecord<'_>) {
        let ExecRecord {
            ts,
            pid,
            tid,
            old_tid,
            filename,
            args_area,
            env_area,
        } = exec;
        let filename = filename.map(|c| string_of(&c)).unwrap_or_default();
        let argv = args_area.map(|c| strings_of(&c)).unwrap_or_default();
        self.exec_argv.insert(tid, argv.clone());
        self.lifecycle(
            ts,
            ProcessLifecycle::Exec {
                pid,
                tid,
                filename,
                argv,
                old_tid: (old_tid != tid).then_some(old_tid),
            },
        );
        let records = match snapshot::read_process_at_exec(pid, &mut self.exes, self.environ) {
            Some(mut records) => {
                if let (Some(first), Some(env)) = (records.first_mut(), env_area) {
                    fill_from_kernel(first, "environ", &env);
                }
                records
            }
            // Gone before /proc could be read: what the kernel handed over at the exec is
            // all there is, and it is said so.
            None => vec![kernel_exec_snapshot(pid, args_area, env_area)],
        };
        for snapshot in records {
            self.pipe.push(Record {
                ts,
                body: RecordBody::Process(Box::new(snapshot)),
            });
        }
    }

    fn lifecycle(&mut self, ts: u64, body: ProcessLifecycle) {
        self.pipe.push(Record {
            ts,
            body: RecordBody::Lifecycle(body),
        });
    }

    /// Writes what was lost and the capture's statistics at the end of the trace.
    pub fn finish(&mut self, reason: &StopReason, drops: &Drops, started: u64) {
        let mut notices = Vec::new();
        if drops.total() > 0 {
            notices.push(LossNotice {
                events_lost: drops.total(),
                reason: format!(
                    "the BPF ring buffer was full ({} records) or the map of calls in progress \
                     was full ({} calls)",
                    drops.ringbuf_per_cpu.iter().sum::<u64>(),
                    drops.pending
                ),
                ..LossNotice::default()
            });
        }
        if drops.untraced_children > 0 {
            notices.push(LossNotice {
                events_lost: 0,
                reason: format!(
                    "{} child processes could not be traced (the BPF map of traced processes \
                     was full): their calls are missing, in unknown number",
                    drops.untraced_children
                ),
                ..LossNotice::default()
            });
        }
        if let Some(e) = &self.first_error {
            notices.push(LossNotice {
                events_lost: self.malformed,
                reason: format!("ring-buffer records could not be read, the first as {e}"),
                ..LossNotice::default()
            });
        }
        for notice in notices {
            self.pipe.push(Record {
                ts: monotonic_ns(),
                body: RecordBody::Loss(notice),
            });
        }
        let stats = CaptureStats {
            events: self.events,
            events_lost: drops.total() + self.malformed + self.pipe.lost,
            lost_per_cpu: drops.ringbuf_per_cpu.clone(),
            duration_ns: monotonic_ns().saturating_sub(started),
            stop_reason: reason.describe(),
            ..CaptureStats::default()
        };
        self.pipe.push(Record {
            ts: monotonic_ns(),
            body: RecordBody::Stats(Box::new(stats)),
        });
    }
}

/// A successful execve/execveat's argv, which the decoder could not read (the BPF program
/// does not follow argv's pointers), from the exec record: put in place of the first
/// `StrArray` argument the syscall table gives, when that argument is still undecoded.
fn put_argv(abi: Abi, nr: u32, args: &mut [Arg], argv: Vec<Bytes>) {
    let Some(spec) = sysent::spec(abi, nr) else {
        return;
    };
    let Some(i) = spec.args.iter().position(|a| a.kind == ArgKind::StrArray) else {
        return;
    };
    if let Some(slot @ (Arg::Unreadable(_) | Arg::Hex(_))) = args.get_mut(i) {
        *slot = Arg::StrList(argv, false);
    }
}

/// A captured C string without its NUL.
fn string_of(c: &Capture<'_>) -> Bytes {
    let bytes = c.bytes.strip_suffix(&[0]).unwrap_or(c.bytes);
    Bytes::from(bytes.to_vec())
}

/// The NUL-separated strings of an argument area (the last one may be cut short).
fn strings_of(c: &Capture<'_>) -> Vec<Bytes> {
    let area = c.bytes.strip_suffix(&[0]).unwrap_or(c.bytes);
    if area.is_empty() {
        return Vec::new();
    }
    area.split(|b| *b == 0)
        .map(|s| Bytes::from(s.to_vec()))
        .collect()
}

/// `task->exit_code` as (exit code, signal, core dumped), the wait status layout.
fn wait_status(code: u32) -> (Option<i32>, Option<i32>, bool) {
    let signal = (code & 0x7f) as i32;
    if signal == 0 {
        (Some(((code >> 8) & 0xff) as i32), None, false)
    } else {
        (None, Some(signal), code & 0x80 != 0)
    }
}

/// Why a snapshot's file holds the kernel's copy from the exec rather than /proc's.
const FROM_KERNEL: &str = "read by the BPF program at the exec: /proc could not give it";

/// Puts the exec record's copy of `/proc/PID/NAME` into `snap` when /proc did not give it
/// (the process exited, or was exiting, before it was read).
fn fill_from_kernel(snap: &mut ProcessSnapshot, name: &str, captured: &Capture<'_>) {
    let missing = |f: &RawFile| f.name == name && (f.error.is_some() || f.content.is_empty());
    if let Some(file) = snap.files.iter_mut().find(|f| missing(f)) {
        *file = kernel_file(name, captured);
        snap.errors.push(format!("{name}: {FROM_KERNEL}"));
    }
}

/// `/proc/PID/NAME` as the exec record captured it.
fn kernel_file(name: &str, captured: &Capture<'_>) -> RawFile {
    RawFile {
        name: name.to_string(),
        content: captured.bytes.to_vec().into(),
        truncated: captured.cut,
        full_len: None,
        error: None,
    }
}

/// The snapshot of a process that exited before /proc could be read: its command line and
/// environment as the exec record carried them, and a note that nothing else was read.
fn kernel_exec_snapshot(
    pid: u32,
    args_area: Option<Capture<'_>>,
    env_area: Option<Capture<'_>>,
) -> ProcessSnapshot {
    let files = [("cmdline", args_area), ("environ", env_area)]
        .into_iter()
        .filter_map(|(name, c)| Some(kernel_file(name, &c?)))
        .collect();
    ProcessSnapshot {
        pid,
        tid: pid,
        reason: SnapshotReason::Exec,
        files,
        errors: vec![format!(
            "the process exited before /proc/{pid} could be read; cmdline and environ were {FROM_KERNEL}"
        )],
        ..ProcessSnapshot::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_and_signals_from_the_wait_status() {
        assert_eq!(wait_status(3 << 8), (Some(3), None, false));
        assert_eq!(wait_status(0), (Some(0), None, false));
        assert_eq!(wait_status(9), (None, Some(9), false));
        assert_eq!(wait_status(11 | 0x80), (None, Some(11), true));
    }

    #[test]
    fn argument_areas_split_into_strings() {
        let c = |bytes: &'static [u8], cut| Capture { arg: 1, cut, bytes };
        assert_eq!(
            strings_of(&c(b"sh\0-c\0exit 3\0", false)),
            vec![
                Bytes::from(&b"sh"[..]),
                Bytes::from(&b"-c"[..]),
                Bytes::from(&b"exit 3"[..])
            ]
        );
        assert_eq!(
            strings_of(&c(b"ls\0-l", true)),
            vec![Bytes::from(&b"ls"[..]), Bytes::from(&b"-l"[..])]
        );
        assert!(strings_of(&c(b"", false)).is_empty());
        assert_eq!(
            string_of(&c(b"/bin/true\0", false)),
            Bytes::from(&b"/bin/true"[..])
        );
    }

    #[test]
    fn exec_argv_fills_only_an_undecoded_argv() {
        let execve = sysent::number(Abi::X86_64, "execve").unwrap();
        let argv = vec![Bytes::from(&b"true"[..])];
        let mut args = vec![Arg::Hex(1), Arg::Unreadable(0x10), Arg::Hex(0x20)];
        put_argv(Abi::X86_64, execve, &mut args, argv.clone());
        assert_eq!(args[1], Arg::StrList(argv.clone(), false));
        // envp (the second array) is left alone.
        assert_eq!(args[2], Arg::Hex(0x20));
        let read = sysent::number(Abi::X86_64, "read").unwrap();
        let mut other = vec![Arg::Int(0), Arg::Hex(1), Arg::Int(2)];
        put_argv(Abi::X86_64, read, &mut other, argv);
        assert_eq!(other[1], Arg::Hex(1));
    }
}
