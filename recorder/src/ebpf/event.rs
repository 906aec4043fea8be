//! The ring buffer's records (`struct rhf_event`, optionally followed by a `struct rhf_tail`
//! and captured bytes, in `src/bpf/syscalls.h`) parsed into borrowed, typed records. The bytes
//! are parsed field by field rather than cast, and every length is checked against the
//! record's size, so a short, long or foreign record is rejected instead of read past its end.

/// `sizeof(struct rhf_event)`.
pub const EVENT_SIZE: usize = 88;
/// `sizeof(struct rhf_tail)`.
pub const TAIL_SIZE: usize = 16;
/// `RHF_MAX_CAPTURES`.
pub const MAX_CAPTURES: usize = 3;
/// `RHF_DATA_MAX` (`RHF_STR_MAX + RHF_ARGV_MAX + RHF_ENV_MAX`): no record carries more
/// captured bytes.
pub const DATA_MAX: usize = 256 + 512 + 1024;

const KIND_SYSCALL: u16 = 1;
const KIND_SPAWN: u16 = 2;
const KIND_EXEC: u16 = 3;
const KIND_EXIT: u16 = 4;
/// `RHF_FLAG_UNFINISHED`: the thread exited inside the call.
const FLAG_UNFINISHED: u16 = 1;
/// `RHF_FLAG_COMPAT`: a 32-bit compat call (i386 number and argument registers).
const FLAG_COMPAT: u16 = 4;
/// `RHF_FLAG_GROUP_DEAD`: the exiting thread was the last of its group.
const FLAG_GROUP_DEAD: u16 = 2;
/// `RHF_CAPTURE_CUT`: the memory went on past what was captured.
const CAPTURE_CUT: u8 = 1;

/// Why a ring-buffer record could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("a ring-buffer record of {0} bytes (shorter than the {EVENT_SIZE}-byte header)")]
    Short(usize),
    #[error("a ring-buffer record of unknown kind {0}")]
    Kind(u16),
    #[error("a kind-{kind} ring-buffer record of {len} bytes (that kind has a fixed size)")]
    Size { kind: u16, len: usize },
    #[error("a capture table of {0} entries (at most {MAX_CAPTURES})")]
    Count(u8),
    #[error("a captured argument index of {0}")]
    ArgIndex(u8),
    #[error("captured bytes of {declared} bytes in a tail of {actual}")]
    Length { declared: usize, actual: usize },
}

/// Memory behind one argument, read by the BPF program at the call's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capture<'a> {
    /// The argument's index (0-5).
    pub arg: u8,
    /// The memory went on past `bytes` (for a string: no NUL within the cap).
    pub cut: bool,
    /// A string's bytes end with its NUL unless `cut`.
    pub bytes: &'a [u8],
}

/// A finished (or unfinished) syscall as the BPF program saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCall<'a> {
    pub entry_ns: u64,
    pub duration_ns: u64,
    pub pid: u32,
    pub tid: u32,
    pub nr: u32,
    pub ret: i64,
    pub args: [u64; 6],
    pub unfinished: bool,
    /// A 32-bit compat call: `nr` is an i386 number (no memory is captured for it).
    pub compat: bool,
    pub captures: Vec<Capture<'a>>,
}

/// A `sched_process_exec` record: a traced process runs a new program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRecord<'a> {
    pub ts: u64,
    pub pid: u32,
    pub tid: u32,
    /// The thread id before the exec (differs when a non-leader thread exec'd).
    pub old_tid: u32,
    pub filename: Option<Capture<'a>>,
    /// The new program's argument area: NUL-separated strings.
    pub args_area: Option<Capture<'a>>,
    /// Its environment area: NUL-separated `NAME=value` strings (absent under --no-env).
    pub env_area: Option<Capture<'a>>,
}

/// One ring-buffer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RingRecord<'a> {
    Syscall(RawCall<'a>),
    /// `sched_process_fork`: a new thread or process of a traced group.
    Spawn {
        ts: u64,
        parent_pid: u32,
        parent_tid: u32,
        child_pid: u32,
        child_tid: u32,
        /// Reconstructed from what parent and child share; see `syscalls.h`.
        shared_flags: u64,
        /// The parent's syscall in progress (number, first argument), when it was recorded.
        parent_call: Option<(u32, u64)>,
    },
    /// `sched_process_exec`: a traced process runs a new program.
    Exec(ExecRecord<'a>),
    /// `sched_process_exit`: a traced thread ended.
    Exit {
        ts: u64,
        pid: u32,
        tid: u32,
        /// `task->exit_code`, in wait-status layout.
        exit_code: u32,
        group_dead: bool,
    },
}

/// Little cursor over native-endian fields; every caller checked the length first.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let n = N.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head.try_into().unwrap_or([0; N])
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_ne_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_ne_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_ne_bytes(self.take())
    }
}

/// Parses one ring-buffer record.
pub fn parse(bytes: &[u8]) -> Result<RingRecord<'_>, EventError> {
    if bytes.len() < EVENT_SIZE {
        return Err(EventError::Short(bytes.len()));
    }
    let (head, tail) = bytes.split_at(EVENT_SIZE);
    let mut f = Fields(head);
    let entry_ns = f.u64();
    let duration_ns = f.u64();
    let pid = f.u32();
    let tid = f.u32();
    let nr = f.u32();
    let kind = f.u16();
    let flags = f.u16();
    let ret = f.u64() as i64;
    let args: [u64; 6] = std::array::from_fn(|_| f.u64());
    let fixed = |record: RingRecord<'static>| {
        if tail.is_empty() {
            Ok(record)
        } else {
            Err(EventError::Size {
                kind,
                len: bytes.len(),
            })
        }
    };
    match kind {
        KIND_SYSCALL => Ok(RingRecord::Syscall(RawCall {
            entry_ns,
            duration_ns,
            pid,
            tid,
            nr,
            ret,
            args,
            unfinished: flags & FLAG_UNFINISHED != 0,
            compat: flags & FLAG_COMPAT != 0,
            captures: parse_tail(tail)?,
        })),
        KIND_EXEC => {
            let captures = parse_tail(tail)?;
            let find = |arg: u8| captures.iter().find(|c| c.arg == arg).copied();
            Ok(RingRecord::Exec(ExecRecord {
                ts: entry_ns,
                pid,
                tid,
                old_tid: args[0] as u32,
                filename: find(0),
                args_area: find(1),
                env_area: find(2),
            }))
        }
        KIND_SPAWN => fixed(RingRecord::Spawn {
            ts: entry_ns,
            parent_pid: pid,
            parent_tid: tid,
            child_pid: args[0] as u32,
            child_tid: args[1] as u32,
            shared_flags: args[2],
            parent_call: args[3]
                .checked_sub(1)
                .and_then(|nr| u32::try_from(nr).ok())
                .map(|nr| (nr, args[4])),
        }),
        KIND_EXIT => fixed(RingRecord::Exit {
            ts: entry_ns,
            pid,
            tid,
            exit_code: args[0] as u32,
            group_dead: flags & FLAG_GROUP_DEAD != 0,
        }),
        other => Err(EventError::Kind(other)),
    }
}

/// The capture table and bytes after the header; empty when the record has none. The bytes
/// must add up to exactly what the table declares.
fn parse_tail(tail: &[u8]) -> Result<Vec<Capture<'_>>, EventError> {
    if tail.is_empty() {
        return Ok(Vec::new());
    }
    if tail.len() < TAIL_SIZE {
        return Err(EventError::Length {
            declared: TAIL_SIZE,
            actual: tail.len(),
        });
    }
    let (table, mut data) = tail.split_at(TAIL_SIZE);
    let mut f = Fields(table);
    let count = f.u8();
    if usize::from(count) > MAX_CAPTURES {
        return Err(EventError::Count(count));
    }
    let _pad: [u8; 3] = f.take();
    let entries: [(u8, u8, u16); MAX_CAPTURES] = std::array::from_fn(|_| (f.u8(), f.u8(), f.u16()));
    let declared: usize = entries[..usize::from(count)]
        .iter()
        .map(|e| usize::from(e.2))
        .sum();
    if declared != data.len() || declared > DATA_MAX {
        return Err(EventError::Length {
            declared,
            actual: data.len(),
        });
    }
    let mut captures = Vec::with_capacity(usize::from(count));
    for &(arg, flags, len) in &entries[..usize::from(count)] {
        if arg >= 6 {
            return Err(EventError::ArgIndex(arg));
        }
        let (bytes, rest) = data.split_at(usize::from(len));
        data = rest;
        captures.push(Capture {
            arg,
            cut: flags & CAPTURE_CUT != 0,
            bytes,
        });
    }
    Ok(captures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: u16, flags: u16, ret: i64, args: [u64; 6]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&1_000u64.to_ne_bytes());
        b.extend_from_slice(&250u64.to_ne_bytes());
        b.extend_from_slice(&10u32.to_ne_bytes());
        b.extend_from_slice(&11u32.to_ne_bytes());
        b.extend_from_slice(&257u32.to_ne_bytes());
        b.extend_from_slice(&kind.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&ret.to_ne_bytes());
        for a in args {
            b.extend_from_slice(&a.to_ne_bytes());
        }
        b
    }

    /// A tail with `entries` (arg, flags, bytes).
    fn tail(entries: &[(u8, u8, &[u8])]) -> Vec<u8> {
        let mut b = vec![entries.len() as u8, 0, 0, 0];
        for i in 0..MAX_CAPTURES {
            let (arg, flags, bytes) = entries.get(i).copied().unwrap_or((0, 0, &[]));
            b.push(arg);
            b.push(flags);
            b.extend_from_slice(&(bytes.len() as u16).to_ne_bytes());
        }
        for (_, _, bytes) in entries {
            b.extend_from_slice(bytes);
        }
        b
    }

    #[test]
    fn parses_a_syscall_without_captures() {
        let bytes = header(
            KIND_SYSCALL,
            0,
            -2,
            [0xffff_ff9c, 0x7fff_0000, 0x80000, 0, 7, 7],
        );
        let RingRecord::Syscall(call) = parse(&bytes).expect("parse") else {
            panic!("not a syscall")
        };
        assert_eq!((call.entry_ns, call.duration_ns), (1_000, 250));
        assert_eq!((call.pid, call.tid, call.nr, call.ret), (10, 11, 257, -2));
        assert_eq!(call.args[1], 0x7fff_0000);
        assert!(!call.unfinished);
        assert!(!call.compat);
        assert!(call.captures.is_empty());
        let compat = header(KIND_SYSCALL, FLAG_COMPAT, 0, [0; 6]);
        let Ok(RingRecord::Syscall(call)) = parse(&compat) else {
            panic!("not a syscall")
        };
        assert!(call.compat && !call.unfinished);
    }

    #[test]
    fn parses_captured_arguments_in_table_order() {
        let mut bytes = header(KIND_SYSCALL, FLAG_UNFINISHED, 0, [0; 6]);
        bytes.extend(tail(&[
            (1, 0, b"/etc/hostname\0"),
            (3, CAPTURE_CUT, b"abc"),
        ]));
        let RingRecord::Syscall(call) = parse(&bytes).expect("parse") else {
            panic!("not a syscall")
        };
        assert!(call.unfinished);
        assert_eq!(
            call.captures,
            vec![
                Capture {
                    arg: 1,
                    cut: false,
                    bytes: b"/etc/hostname\0"
                },
                Capture {
                    arg: 3,
                    cut: true,
                    bytes: b"abc"
                }
            ]
        );
    }

    #[test]
    fn parses_lifecycle_records() {
        let spawn = header(KIND_SPAWN, 0, 0, [20, 21, 0x11, 57, 0, 0]);
        assert_eq!(
            parse(&spawn),
            Ok(RingRecord::Spawn {
                ts: 1_000,
                parent_pid: 10,
                parent_tid: 11,
                child_pid: 20,
                child_tid: 21,
                shared_flags: 0x11,
                parent_call: Some((56, 0)),
            })
        );
        let outside = header(KIND_SPAWN, 0, 0, [20, 21, 0x11, 0, 5, 0]);
        assert!(matches!(
            parse(&outside),
            Ok(RingRecord::Spawn {
                parent_call: None,
                ..
            })
        ));
        let exit = header(KIND_EXIT, FLAG_GROUP_DEAD, 0, [3 << 8, 0, 0, 0, 0, 0]);
        assert_eq!(
            parse(&exit),
            Ok(RingRecord::Exit {
                ts: 1_000,
                pid: 10,
                tid: 11,
                exit_code: 3 << 8,
                group_dead: true
            })
        );
        let mut exec = header(KIND_EXEC, 0, 0, [12, 0, 0, 0, 0, 0]);
        exec.extend(tail(&[
            (0, 0, b"/bin/true\0"),
            (1, 0, b"true\0-x\0"),
            (2, 0, b"LD_PRELOAD=/x.so\0"),
        ]));
        let Ok(RingRecord::Exec(ExecRecord {
            old_tid,
            filename,
            args_area,
            env_area,
            ..
        })) = parse(&exec)
        else {
            panic!("not an exec")
        };
        assert_eq!(old_tid, 12);
        assert_eq!(filename.map(|c| c.bytes), Some(&b"/bin/true\0"[..]));
        assert_eq!(args_area.map(|c| c.bytes), Some(&b"true\0-x\0"[..]));
        assert_eq!(env_area.map(|c| c.bytes), Some(&b"LD_PRELOAD=/x.so\0"[..]));
    }

    #[test]
    fn rejects_short_garbage_and_inconsistent_records() {
        assert_eq!(parse(&[0; 12]), Err(EventError::Short(12)));
        assert_eq!(parse(&[]), Err(EventError::Short(0)));
        let mut bytes = header(KIND_SYSCALL, 0, 0, [0; 6]);
        bytes[28] = 9;
        assert_eq!(parse(&bytes), Err(EventError::Kind(9)));
        // A fixed-size kind with bytes after it.
        let mut spawn = header(KIND_SPAWN, 0, 0, [0; 6]);
        spawn.push(0);
        assert!(matches!(parse(&spawn), Err(EventError::Size { .. })));
        // A tail shorter than its table.
        let mut short = header(KIND_SYSCALL, 0, 0, [0; 6]);
        short.extend_from_slice(&[1, 0, 0]);
        assert!(matches!(parse(&short), Err(EventError::Length { .. })));
        // Lengths that claim more bytes than follow, or fewer.
        let good = {
            let mut b = header(KIND_SYSCALL, 0, 0, [0; 6]);
            b.extend(tail(&[(1, 0, b"abcd")]));
            b
        };
        assert!(parse(&good).is_ok());
        assert!(matches!(
            parse(&good[..good.len() - 1]),
            Err(EventError::Length { .. })
        ));
        let mut longer = good.clone();
        longer.push(0);
        assert!(matches!(parse(&longer), Err(EventError::Length { .. })));
        // Too many entries, and an argument index past the six registers.
        let mut many = good.clone();
        many[EVENT_SIZE] = 4;
        assert_eq!(parse(&many), Err(EventError::Count(4)));
        let mut index = good.clone();
        index[EVENT_SIZE + 4] = 6;
        assert_eq!(parse(&index), Err(EventError::ArgIndex(6)));
        // Arbitrary bytes never panic.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..400 {
            let mut junk = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                junk.push(seed as u8);
            }
            if junk.len() > 29 {
                junk[28] = KIND_SYSCALL as u8;
                junk[29] = 0;
            }
            let _ = parse(&junk);
        }
    }
}
