//! Entry-time argument decoding, driven by the sysent argument kinds.

use std::sync::Arc;

use rhf_format::sysent::{ArgKind, SyscallSpec};
use rhf_format::{Abi, Arg, Bytes, Captured, FdTarget, PathArg};

use super::effects::Effect;
use super::fdtable::Slot;
use super::memory::{self, ArrayCaps};
use super::path;
use super::{Decoder, PendingCall, ProcLookup, TraceeMemory};

/// `AT_FDCWD`.
pub const AT_FDCWD: i32 = -100;

/// How the raw register values of one ABI are read.
#[derive(Debug, Clone, Copy)]
pub struct Regs {
    /// i386 arguments are 32-bit: upper halves are dropped.
    pub narrow: bool,
    /// Size of pointers inside arrays (argv, iovec): 4 for i386 and x32.
    pub ptr_size: usize,
}

impl Regs {
    pub fn of(abi: Abi) -> Regs {
        match abi {
            Abi::X86_64 => Regs {
                narrow: false,
                ptr_size: 8,
            },
            Abi::X32 => Regs {
                narrow: false,
                ptr_size: 4,
            },
            Abi::I386 => Regs {
                narrow: true,
                ptr_size: 4,
            },
        }
    }

    /// An unsigned or pointer value as the kernel sees it.
    pub fn word(self, raw: u64) -> u64 {
        if self.narrow {
            raw & 0xffff_ffff
        } else {
            raw
        }
    }

    /// A 64-bit signed value (`long`): i386's are 32-bit and sign-extended.
    pub fn long(self, raw: u64) -> i64 {
        if self.narrow {
            i64::from(raw as u32 as i32)
        } else {
            raw as i64
        }
    }
}

/// A C `int`: the kernel reads the low 32 bits only.
pub fn int(raw: u64) -> i32 {
    raw as u32 as i32
}

/// An unsigned value as an `Arg`: `Int` while it fits, else `Hex` (nothing is lost).
pub fn uint_arg(v: u64) -> Arg {
    match i64::try_from(v) {
        Ok(i) => Arg::Int(i),
        Err(_) => Arg::Hex(v),
    }
}

impl Decoder {
    pub(super) fn decode_entry<M, L>(
        &mut self,
        call: &mut PendingCall,
        spec: &'static SyscallSpec,
        mem: &mut M,
        lookup: &mut L,
    ) where
        M: TraceeMemory + ?Sized,
        L: ProcLookup + ?Sized,
    {
        let regs = Regs::of(call.abi);
        // The directory the next Path resolves against, set by a preceding DirFd.
        let mut dir_base: Option<Option<Vec<u8>>> = None;
        let mut dir_given = false;
        for (i, arg) in spec.args.iter().enumerate() {
            let raw = call.raw.get(i).copied().unwrap_or(0);
            let decoded = match arg.kind {
                ArgKind::Int => Arg::Int(i64::from(int(raw))),
                ArgKind::Long => Arg::Int(regs.long(raw)),
                ArgKind::Uint => uint_arg(regs.word(raw)),
                ArgKind::Ptr | ArgKind::Flags(_) => Arg::Hex(regs.word(raw)),
                ArgKind::Fd => {
                    let fd = int(raw);
                    Arg::Fd(fd, self.target_of(call.pid, call.tid, fd, lookup))
                }
                ArgKind::DirFd => {
                    let fd = int(raw);
                    if fd == AT_FDCWD {
                        dir_base = Some(self.cwd_or_lookup(call.pid, call.tid, lookup));
                        dir_given = false;
                        Arg::Fd(fd, None)
                    } else {
                        let target = self.target_of(call.pid, call.tid, fd, lookup);
                        let base = target
                            .as_deref()
                            .and_then(path::target_dir)
                            .map(<[u8]>::to_vec);
                        dir_base = Some(base);
                        dir_given = true;
                        Arg::Fd(fd, target)
                    }
                }
                ArgKind::Path => {
                    let base = match dir_base.take() {
                        Some(b) => b,
                        None => {
                            dir_given = false;
                            self.cwd_or_lookup(call.pid, call.tid, lookup)
                        }
                    };
                    self.path_arg(call.tid, regs.word(raw), base.as_deref(), dir_given, mem)
                }
                ArgKind::Str => self.str_arg(call.tid, regs.word(raw), mem),
                ArgKind::BufIn { len } => {
                    let n = regs.word(call.raw.get(usize::from(len)).copied().unwrap_or(0));
                    self.buf_arg(call.tid, regs.word(raw), n, mem)
                }
                ArgKind::IovecIn { len } => {
                    let count = regs.word(call.raw.get(usize::from(len)).copied().unwrap_or(0));
                    iovec_arg(
                        mem,
                        call.tid,
                        regs,
                        regs.word(raw),
                        count,
                        self.opts.snaplen,
                        None,
                    )
                }
                ArgKind::SockaddrIn { len } => {
                    let n = regs.word(call.raw.get(usize::from(len)).copied().unwrap_or(0));
                    sockaddr_arg(mem, call.tid, regs.word(raw), n)
                }
                ArgKind::StrArray => {
                    // envp is the second StrArray of execve/execveat.
                    let is_env = spec.args[..i].iter().any(|a| a.kind == ArgKind::StrArray);
                    if is_env && self.opts.no_env {
                        Arg::Hex(regs.word(raw))
                    } else {
                        self.array_arg(call.tid, regs, regs.word(raw), mem)
                    }
                }
                // Output arguments: the address now, the content at exit.
                ArgKind::BufOut
                | ArgKind::IovecOut
                | ArgKind::SockaddrOut { .. }
                | ArgKind::FdPair => Arg::Hex(regs.word(raw)),
            };
            call.args.push(decoded);
        }
        if let Effect::Open { flags_arg, creat } = call.effect {
            call.open_flags = match flags_arg {
                Some(i) => regs.word(call.raw.get(usize::from(i)).copied().unwrap_or(0)),
                // creat is open(O_CREAT|O_WRONLY|O_TRUNC): never close-on-exec.
                None if creat => 0,
                // openat2: struct open_how starts with `u64 flags`.
                None => {
                    let mut b = [0u8; 8];
                    if mem.read(call.tid, regs.word(call.raw[2]), &mut b) == 8 {
                        u64::from_le_bytes(b)
                    } else {
                        0
                    }
                }
            };
        }
    }

    /// The current target of `fd`; when unknown and the table may be incomplete, asks /proc
    /// once and remembers the answer (or that the fd is not open).
    pub(super) fn target_of<L: ProcLookup + ?Sized>(
        &mut self,
        pid: u32,
        tid: u32,
        fd: i32,
        lookup: &mut L,
    ) -> Option<Arc<FdTarget>> {
        if fd < 0 {
            return None;
        }
        let table = self.tables.table_mut(pid)?;
        if let Some(slot) = table.get(fd) {
            return Some(slot.target.clone());
        }
        if table.complete || table.is_absent(fd) {
            return None;
        }
        match lookup.fd_target(tid, fd) {
            Some(link) => {
                let target = Arc::new(path::parse_link(&link, false));
                table.insert(
                    fd,
                    Slot {
                        target: target.clone(),
                        // Unknown: fdinfo would tell, at the price of another read; the
                        // safe guess keeps the fd across exec.
                        cloexec: false,
                    },
                );
                Some(target)
            }
            None => {
                table.mark_absent(fd);
                None
            }
        }
    }

    /// The cwd of `pid`, asked of /proc the first time it is needed.
    pub(super) fn cwd_or_lookup<L: ProcLookup + ?Sized>(
        &mut self,
        pid: u32,
        tid: u32,
        lookup: &mut L,
    ) -> Option<Vec<u8>> {
        if let Some(cwd) = self.tables.cwd(pid) {
            return Some(cwd.to_vec());
        }
        let cwd = lookup.cwd(tid)?;
        self.tables.set_cwd(pid, Some(cwd.clone()));
        Some(cwd)
    }

    fn path_arg<M: TraceeMemory + ?Sized>(
        &self,
        tid: u32,
        addr: u64,
        base: Option<&[u8]>,
        dir_given: bool,
        mem: &mut M,
    ) -> Arg {
        if addr == 0 {
            return Arg::Hex(0);
        }
        let Some((raw, cut)) = memory::read_cstr(mem, tid, addr, self.opts.max_str) else {
            return Arg::Unreadable(addr);
        };
        let resolved = if cut {
            None
        } else if raw.is_empty() {
            // AT_EMPTY_PATH: the call is about the dirfd itself.
            base.filter(|_| dir_given).map(<[u8]>::to_vec)
        } else {
            path::resolve(base, &raw)
        };
        Arg::Path(PathArg {
            raw: Bytes::from(raw),
            resolved: resolved.map(Bytes::from),
        })
    }

    fn str_arg<M: TraceeMemory + ?Sized>(&self, tid: u32, addr: u64, mem: &mut M) -> Arg {
        if addr == 0 {
            return Arg::Hex(0);
        }
        match memory::read_cstr(mem, tid, addr, self.opts.max_str) {
            // full_len 0 with data present means "longer than captured, length unknown".
            Some((s, cut)) => Arg::Str(Captured {
                full_len: if cut { 0 } else { s.len() as u64 },
                data: Bytes::from(s),
            }),
            None => Arg::Unreadable(addr),
        }
    }

    pub(super) fn buf_arg<M: TraceeMemory + ?Sized>(
        &self,
        tid: u32,
        addr: u64,
        len: u64,
        mem: &mut M,
    ) -> Arg {
        let take = len.min(self.opts.snaplen as u64) as usize;
        if take == 0 {
            return Arg::Buf(Captured {
                data: Bytes::new(),
                full_len: len,
            });
        }
        if addr == 0 {
            return Arg::Hex(0);
        }
        match memory::read_bytes(mem, tid, addr, take) {
            Some(data) => Arg::Buf(Captured {
                data: Bytes::from(data),
                full_len: len,
            }),
            None => Arg::Unreadable(addr),
        }
    }

    fn array_arg<M: TraceeMemory + ?Sized>(
        &self,
        tid: u32,
        regs: Regs,
        addr: u64,
        mem: &mut M,
    ) -> Arg {
        if addr == 0 {
            return Arg::Hex(0);
        }
        let caps = ArrayCaps {
            max_items: self.opts.max_array_items,
            max_bytes: self.opts.max_array_bytes,
        };
        match memory::read_str_array(mem, tid, addr, regs.ptr_size, caps) {
            Some((items, cut)) => Arg::StrList(items, cut),
            None => Arg::Unreadable(addr),
        }
    }
}

pub fn sockaddr_arg<M: TraceeMemory + ?Sized>(mem: &mut M, tid: u32, addr: u64, len: u64) -> Arg {
    if addr == 0 {
        return Arg::Hex(0);
    }
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    match memory::read_sockaddr(mem, tid, addr, len) {
        Some(a) => Arg::Sockaddr(a),
        None => Arg::Unreadable(addr),
    }
}

pub fn iovec_arg<M: TraceeMemory + ?Sized>(
    mem: &mut M,
    tid: u32,
    regs: Regs,
    addr: u64,
    count: u64,
    snaplen: usize,
    moved: Option<u64>,
) -> Arg {
    if addr == 0 {
        return Arg::Hex(0);
    }
    if count == 0 {
        return Arg::Buf(Captured::default());
    }
    match memory::read_iovec(mem, tid, addr, count, regs.ptr_size, snaplen, moved) {
        Some((data, full_len)) => Arg::Buf(Captured {
            data: Bytes::from(data),
            full_len,
        }),
        None => Arg::Unreadable(addr),
    }
}
