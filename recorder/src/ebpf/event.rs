//! The ring buffer's records (`struct rhf_event` in `src/bpf/syscalls.h`) turned into trace
//! records. The bytes are parsed field by field rather than cast, so a short or foreign record
//! is rejected instead of read past its end.

use rhf_format::sysent::{self, ArgKind};
use rhf_format::{Abi, Arg, Record, RecordBody, SyscallEvent};

/// `sizeof(struct rhf_event)`.
pub const EVENT_SIZE: usize = 88;
/// `RHF_KIND_SYSCALL`.
const KIND_SYSCALL: u16 = 1;
/// `RHF_FLAG_UNFINISHED`: the thread exited inside the call.
const FLAG_UNFINISHED: u16 = 1;

/// Why a ring-buffer record could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("a ring-buffer record of {0} bytes (expected {EVENT_SIZE})")]
    Size(usize),
    #[error("a ring-buffer record of unknown kind {0}")]
    Kind(u16),
}

/// Little cursor over the record's native-endian fields.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        // `parse` checked the total size, so every field is there.
        head.try_into().unwrap_or([0; N])
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

/// One ring-buffer record as a trace record: a syscall event with its raw arguments.
pub fn parse(bytes: &[u8]) -> Result<Record, EventError> {
    // libbpf hands over the reserved size, which is exactly the struct's.
    if bytes.len() != EVENT_SIZE {
        return Err(EventError::Size(bytes.len()));
    }
    let mut f = Fields(bytes);
    let entry_ns = f.u64();
    let duration_ns = f.u64();
    let pid = f.u32();
    let tid = f.u32();
    let nr = f.u32();
    let kind = f.u16();
    let flags = f.u16();
    let ret = f.u64() as i64;
    let raw: [u64; 6] = std::array::from_fn(|_| f.u64());
    if kind != KIND_SYSCALL {
        return Err(EventError::Kind(kind));
    }
    let unfinished = flags & FLAG_UNFINISHED != 0;
    Ok(Record {
        ts: entry_ns,
        body: RecordBody::Syscall(SyscallEvent {
            pid,
            tid,
            nr,
            abi: Abi::X86_64,
            // A call that never returned has no return value; 0 keeps it out of error counts.
            ret: if unfinished { 0 } else { ret },
            duration_ns,
            args: raw_args(nr, &raw),
            unfinished,
        }),
    })
}

/// The call's arguments as numbers: as many as the syscall table says it takes (all six
/// when the number is unknown), signed where the argument is a number or descriptor, hex
/// otherwise. Memory behind pointers is not read yet.
fn raw_args(nr: u32, raw: &[u64; 6]) -> Vec<Arg> {
    let Some(spec) = sysent::spec(Abi::X86_64, nr) else {
        return raw.iter().map(|v| Arg::Hex(*v)).collect();
    };
    spec.args
        .iter()
        .zip(raw)
        .map(|(arg, &v)| match arg.kind {
            // C ints: the kernel ignores the upper half of the register.
            ArgKind::Int | ArgKind::Fd | ArgKind::DirFd => Arg::Int(i64::from(v as u32 as i32)),
            ArgKind::Long => Arg::Int(v as i64),
            _ => Arg::Hex(v),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(nr: u32, flags: u16, ret: i64, args: [u64; 6]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&1_000u64.to_ne_bytes());
        b.extend_from_slice(&250u64.to_ne_bytes());
        b.extend_from_slice(&10u32.to_ne_bytes());
        b.extend_from_slice(&11u32.to_ne_bytes());
        b.extend_from_slice(&nr.to_ne_bytes());
        b.extend_from_slice(&KIND_SYSCALL.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&ret.to_ne_bytes());
        for a in args {
            b.extend_from_slice(&a.to_ne_bytes());
        }
        b
    }

    #[test]
    fn parses_a_syscall_with_typed_raw_args() {
        // openat(AT_FDCWD, path, O_RDONLY|O_CLOEXEC, 0) = -ENOENT
        let openat = sysent::number(Abi::X86_64, "openat").expect("openat");
        let bytes = event(openat, 0, -2, [0xffff_ff9c, 0x7fff_0000, 0x80000, 0, 7, 7]);
        let record = parse(&bytes).expect("parse");
        assert_eq!(record.ts, 1_000);
        let RecordBody::Syscall(ev) = record.body else {
            panic!("not a syscall: {:?}", record.body)
        };
        assert_eq!((ev.pid, ev.tid, ev.nr, ev.ret), (10, 11, openat, -2));
        assert_eq!(ev.duration_ns, 250);
        assert!(!ev.unfinished);
        assert_eq!(ev.args.len(), 4, "openat takes four arguments");
        assert_eq!(
            ev.args[0],
            Arg::Int(-100),
            "AT_FDCWD, sign-extended from 32 bits"
        );
        assert_eq!(ev.args[1], Arg::Hex(0x7fff_0000));
    }

    #[test]
    fn unfinished_calls_have_no_return_value() {
        let exit_group = sysent::number(Abi::X86_64, "exit_group").expect("exit_group");
        let record = parse(&event(exit_group, FLAG_UNFINISHED, 99, [0; 6])).expect("parse");
        let RecordBody::Syscall(ev) = record.body else {
            panic!("not a syscall")
        };
        assert!(ev.unfinished);
        assert_eq!(ev.ret, 0);
    }

    #[test]
    fn rejects_short_records_and_unknown_kinds() {
        assert_eq!(parse(&[0; 12]), Err(EventError::Size(12)));
        let mut bytes = event(0, 0, 0, [0; 6]);
        bytes[28] = 9;
        assert_eq!(parse(&bytes), Err(EventError::Kind(9)));
    }
}
