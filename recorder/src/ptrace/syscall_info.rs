//! A safe reading of `PTRACE_GET_SYSCALL_INFO`: what stop a thread is in and its registers.

use nix::unistd::Pid;
use rhf_format::Abi;

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const X32_SYSCALL_BIT: u64 = 0x4000_0000;

const OP_ENTRY: u8 = 1;
const OP_EXIT: u8 = 2;
const OP_SECCOMP: u8 = 3;

/// What the kernel says about a syscall stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyscallStop {
    /// Syscall entry (or a seccomp stop, which precedes the entry).
    Entry { abi: Abi, nr: u32, args: [u64; 6] },
    /// Syscall exit with the raw return value (negative errno on failure).
    Exit { ret: i64 },
    /// Not a syscall stop.
    None,
}

/// `PTRACE_GET_SYSCALL_INFO`. Not nix's `ptrace::syscall_info`: it passes a size of 0, so
/// the kernel copies nothing and the struct is read uninitialised (nix 0.30).
fn get_syscall_info(tid: Pid) -> nix::Result<libc::ptrace_syscall_info> {
    let mut info = std::mem::MaybeUninit::<libc::ptrace_syscall_info>::zeroed();
    let size = std::mem::size_of::<libc::ptrace_syscall_info>();
    // SAFETY: the kernel writes at most `size` bytes into `info`, which starts zeroed, so every
    // byte is initialised whatever it copies.
    let res = unsafe {
        libc::ptrace(
            libc::PTRACE_GET_SYSCALL_INFO,
            tid.as_raw(),
            size as *mut libc::c_void,
            info.as_mut_ptr(),
        )
    };
    nix::errno::Errno::result(res)?;
    Ok(unsafe { info.assume_init() })
}

/// Reads the syscall information of a stopped thread.
pub fn syscall_stop(tid: Pid) -> nix::Result<SyscallStop> {
    let info = get_syscall_info(tid)?;
    let abi = |nr: u64| match info.arch {
        AUDIT_ARCH_I386 => Abi::I386,
        AUDIT_ARCH_X86_64 if nr & X32_SYSCALL_BIT != 0 => Abi::X32,
        _ => Abi::X86_64,
    };
    // SAFETY: the kernel fills the union member that `op` names; we read only that one.
    Ok(match info.op {
        // A seccomp stop's data begins with the same `nr` and `args` as an entry's.
        OP_ENTRY | OP_SECCOMP => {
            let e = unsafe { info.u.entry };
            SyscallStop::Entry {
                abi: abi(e.nr),
                nr: e.nr as u32,
                args: e.args,
            }
        }
        OP_EXIT => {
            let x = unsafe { info.u.exit };
            SyscallStop::Exit { ret: x.sval }
        }
        _ => SyscallStop::None,
    })
}
