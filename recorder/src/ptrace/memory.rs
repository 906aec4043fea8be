//! Reading tracee memory with `process_vm_readv`: one syscall per read, no ptrace round trip.

use std::io::IoSliceMut;

use nix::sys::uio::{process_vm_readv, RemoteIoVec};
use nix::unistd::Pid;

use crate::decode::TraceeMemory;

/// Reads the memory of traced processes.
#[derive(Debug, Default)]
pub struct ProcessMemory;

impl TraceeMemory for ProcessMemory {
    fn read(&mut self, pid: u32, addr: u64, buf: &mut [u8]) -> usize {
        if buf.is_empty() || addr == 0 {
            return 0;
        }
        let Ok(base) = usize::try_from(addr) else {
            return 0;
        };
        let remote = [RemoteIoVec {
            base,
            len: buf.len(),
        }];
        let mut local = [IoSliceMut::new(buf)];
        // A partial read stops at the first unmapped page; that is what the caller wants.
        process_vm_readv(Pid::from_raw(pid as i32), &mut local, &remote).unwrap_or(0)
    }
}
