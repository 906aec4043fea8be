//! The seccomp-bpf filter installed in a launched command when `--trace` selects syscalls:
//! selected syscalls stop for the tracer (`SECCOMP_RET_TRACE`), every other one runs at full
//! speed without a ptrace stop (like `strace --seccomp-bpf`).

use std::collections::BTreeMap;

use rhf_format::sysent::SyscallSelection;
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};

/// Builds the filter for x86_64 processes. Calls made through the 32-bit compat ABI are sent to
/// the tracer as well (and filtered in user space): seccompiler would kill the process on an
/// architecture mismatch, which a recorder must never do.
pub fn build_filter(selection: &SyscallSelection) -> Result<BpfProgram, String> {
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> = selection
        .x86_64_numbers()
        .map(|nr| (i64::from(nr), Vec::new()))
        .collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Trace(0),
        TargetArch::x86_64,
    )
    .map_err(|e| format!("cannot build the seccomp filter: {e}"))?;
    let mut program: BpfProgram = filter.try_into().map_err(|e: seccompiler::BackendError| {
        format!("cannot compile the seccomp filter: {e}")
    })?;
    // seccompiler begins with: load arch; if arch == x86_64 skip 1; return KILL_PROCESS.
    let kill = program
        .get(2)
        .filter(|i| i.code == 0x06 && i.k == libc::SECCOMP_RET_KILL_PROCESS)
        .is_some();
    if !kill {
        return Err("unexpected seccomp program layout; not installing it".into());
    }
    program[2].k = libc::SECCOMP_RET_TRACE;
    Ok(program)
}

/// Installs `program` in the calling process. Called in the forked child before exec, so it
/// only uses the raw syscalls. As root no `no_new_privs` is needed; otherwise the kernel
/// requires it, and it is set (setuid programs then run without their privileges).
///
/// # Safety
/// Must be called in a freshly forked child (async-signal-safe context): it only calls
/// `prctl` and `seccomp`.
pub unsafe fn install(program: &BpfProgram) -> bool {
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    let set = |prog: &libc::sock_fprog| unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            prog as *const libc::sock_fprog,
        ) == 0
    };
    if set(&prog) {
        return true;
    }
    unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && set(&prog) }
}
