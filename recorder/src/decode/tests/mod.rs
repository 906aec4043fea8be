//! Decoder tests against a fake address space and a fake /proc.

mod args;
mod fds;

use rhf_format::sysent;
use rhf_format::{Abi, Arg, Bytes, FdTarget, SockAddr, SyscallEvent};
use std::collections::HashMap;

use super::{Decoder, DecoderOptions, ProcLookup, TraceeMemory};

/// Mapped ranges of one fake address space (shared by all pids, as tests need no more).
#[derive(Default)]
pub struct MockMemory {
    regions: Vec<(u64, Vec<u8>)>,
    pub reads: usize,
    next: u64,
}

impl MockMemory {
    pub fn new() -> MockMemory {
        MockMemory {
            next: 0x10_0000,
            ..MockMemory::default()
        }
    }

    /// Maps `bytes` at a fresh address and returns it. Regions are apart, so reading past
    /// the end of one faults.
    pub fn put(&mut self, bytes: &[u8]) -> u64 {
        let addr = self.next;
        self.regions.push((addr, bytes.to_vec()));
        self.next += (bytes.len() as u64 + 0x1000) & !0xfff;
        self.next += 0x1000;
        addr
    }

    pub fn cstr(&mut self, s: &str) -> u64 {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        self.put(&b)
    }

    /// A NULL-terminated pointer array of C strings, with `ptr` bytes per pointer.
    pub fn str_array(&mut self, items: &[&str], ptr: usize) -> u64 {
        let mut array = Vec::new();
        for item in items {
            let p = self.cstr(item);
            array.extend_from_slice(&p.to_le_bytes()[..ptr]);
        }
        array.extend_from_slice(&vec![0u8; ptr]);
        self.put(&array)
    }
}

impl TraceeMemory for MockMemory {
    fn read(&mut self, _pid: u32, addr: u64, buf: &mut [u8]) -> usize {
        self.reads += 1;
        for (base, bytes) in &self.regions {
            if addr >= *base && addr < base + bytes.len() as u64 {
                let off = (addr - base) as usize;
                let n = buf.len().min(bytes.len() - off);
                buf[..n].copy_from_slice(&bytes[off..off + n]);
                return n;
            }
        }
        0
    }
}

type Endpoints = (u16, Option<SockAddr>, Option<SockAddr>);

/// A fake /proc: fd links, socket tables and cwds, counting every question.
#[derive(Default)]
pub struct MockLookup {
    pub links: HashMap<(u32, i32), Vec<u8>>,
    pub sockets: HashMap<u64, Endpoints>,
    pub cwds: HashMap<u32, Vec<u8>>,
    pub calls: usize,
}

impl MockLookup {
    pub fn link(&mut self, tid: u32, fd: i32, target: &str) {
        self.links.insert((tid, fd), target.as_bytes().to_vec());
    }
}

impl ProcLookup for MockLookup {
    fn fd_target(&mut self, pid: u32, fd: i32) -> Option<Vec<u8>> {
        self.calls += 1;
        self.links.get(&(pid, fd)).cloned()
    }

    fn socket_endpoints(&mut self, _pid: u32, inode: u64) -> Option<Endpoints> {
        self.calls += 1;
        self.sockets.get(&inode).cloned()
    }

    fn cwd(&mut self, pid: u32) -> Option<Vec<u8>> {
        self.calls += 1;
        self.cwds.get(&pid).cloned()
    }
}

/// A decoder with its fakes.
pub struct Fixture {
    pub dec: Decoder,
    pub mem: MockMemory,
    pub proc: MockLookup,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with(DecoderOptions::default())
    }

    pub fn with(opts: DecoderOptions) -> Fixture {
        Fixture {
            dec: Decoder::with_options(opts),
            mem: MockMemory::new(),
            proc: MockLookup::default(),
        }
    }

    /// Runs one x86_64 call of thread group `pid` (thread `pid`) from entry to exit.
    pub fn call(&mut self, pid: u32, name: &str, raw: &[u64], ret: i64) -> SyscallEvent {
        self.call_abi(pid, Abi::X86_64, name, raw, ret)
    }

    pub fn call_abi(
        &mut self,
        pid: u32,
        abi: Abi,
        name: &str,
        raw: &[u64],
        ret: i64,
    ) -> SyscallEvent {
        let mut regs = [0u64; 6];
        regs[..raw.len()].copy_from_slice(raw);
        let Some(nr) = sysent::number(abi, name) else {
            panic!("no syscall {name} in {abi:?}");
        };
        let pending = self
            .dec
            .on_entry(pid, pid, abi, nr, regs, &mut self.mem, &mut self.proc);
        self.dec
            .on_exit(pending, ret, &mut self.mem, &mut self.proc)
    }

    /// Gives `pid` a known, complete, empty fd table and a cwd.
    pub fn start(&mut self, pid: u32, cwd: &str) {
        let snap = rhf_format::ProcessSnapshot {
            pid,
            tid: pid,
            reason: rhf_format::SnapshotReason::Exec,
            cwd: Some(Bytes::from(cwd.as_bytes().to_vec())),
            ..Default::default()
        };
        self.dec.seed(&snap);
    }

    pub fn target(&self, pid: u32, fd: i32) -> Option<FdTarget> {
        self.dec.fd_target(pid, fd).map(|t| (*t).clone())
    }
}

pub fn file(p: &str) -> FdTarget {
    FdTarget::File(Bytes::from(p.as_bytes().to_vec()))
}

pub fn bytes(s: &str) -> Bytes {
    Bytes::from(s.as_bytes().to_vec())
}

/// The target an `Arg::Fd` carries.
pub fn fd_arg(arg: Option<&Arg>) -> Option<(i32, Option<FdTarget>)> {
    match arg? {
        Arg::Fd(fd, t) => Some((*fd, t.as_ref().map(|t| (**t).clone()))),
        _ => None,
    }
}

/// `AT_FDCWD` as a register value (sign-extended, as glibc passes it).
pub const AT_FDCWD: u64 = (-100i64) as u64;
