//! The seccomp-bpf filter installed in a launched command when `--trace` selects syscalls:
//! selected syscalls stop for the tracer (`SECCOMP_RET_TRACE`), every other one runs at full
//! speed without a ptrace stop (like `strace --seccomp-bpf`).

use std::collections::BTreeMap;

use rhf_format::sysent::SyscallSelection;
use seccompiler::{sock_filter, BpfProgram, SeccompAction, SeccompFilter, TargetArch};

/// Builds the filter for x86_64 processes. Calls made through the 32-bit compat ABI (and x32)
/// are sent to the tracer as well, and filtered in user space: a recorder must never kill the
/// process it watches on an architecture mismatch.
///
/// The syscall number is tested by a binary search over the selected ranges (about log2 of
/// their count, 6-8 comparisons), not by a chain of one comparison per selected syscall: every
/// syscall of the traced program runs the filter, wanted or not, and a chain of 80 comparisons
/// cost dd 90 ns per call (docs/BENCHMARKS.md, issue 4 (b)). When the ranges are too scattered
/// for classic BPF's 8-bit forward jumps, seccompiler's linear program is used instead.
pub fn build_filter(selection: &SyscallSelection) -> Result<BpfProgram, String> {
    let numbers: Vec<u32> = selection.x86_64_numbers().collect();
    match search_program(&ranges(&numbers)) {
        Some(program) => Ok(program),
        None => linear_program(&numbers),
    }
}

/// `AUDIT_ARCH_X86_64`.
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// The x32 ABI's marker bit in syscall numbers.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// Offsets in `struct seccomp_data`.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Maximal runs `[first, last]` of consecutive numbers.
fn ranges(numbers: &[u32]) -> Vec<(u32, u32)> {
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for n in sorted {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == n => *last = n,
            _ => out.push((n, n)),
        }
    }
    out
}

/// arch check, x32 check, then the search tree.
fn search_program(ranges: &[(u32, u32)]) -> Option<BpfProgram> {
    let trace = || insn(RET_K, 0, 0, libc::SECCOMP_RET_TRACE);
    let mut p = vec![
        insn(LD_W_ABS, 0, 0, ARCH_OFFSET),
        insn(JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        trace(),
        insn(LD_W_ABS, 0, 0, NR_OFFSET),
        insn(JGE_K, 0, 1, X32_SYSCALL_BIT),
        trace(),
    ];
    p.extend(tree(ranges)?);
    Some(p)
}

/// Instructions that return TRACE when the accumulator (the number) lies in one of `ranges`,
/// ALLOW otherwise; `None` when a jump would not fit in 8 bits.
fn tree(ranges: &[(u32, u32)]) -> Option<Vec<sock_filter>> {
    let allow = insn(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW);
    let trace = insn(RET_K, 0, 0, libc::SECCOMP_RET_TRACE);
    match ranges {
        [] => Some(vec![allow]),
        [(first, last)] => Some(vec![
            insn(JGE_K, 0, 2, *first),
            insn(JGT_K, 1, 0, *last),
            trace,
            allow,
        ]),
        _ => {
            let half = ranges.len() / 2;
            let below = tree(&ranges[..half])?;
            let above = tree(&ranges[half..])?;
            // Numbers at or above the upper half's first range go right (past `below`).
            let jump = u8::try_from(below.len()).ok()?;
            let mut p = vec![insn(JGE_K, jump, 0, ranges[half].0)];
            p.extend(below);
            p.extend(above);
            Some(p)
        }
    }
}

/// seccompiler's program (one comparison per syscall), with its architecture-mismatch kill
/// turned into TRACE.
fn linear_program(numbers: &[u32]) -> Result<BpfProgram, String> {
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> = numbers
        .iter()
        .map(|nr| (i64::from(*nr), Vec::new()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use rhf_format::sysent;

    /// Runs the subset of classic BPF the programs use on (arch, nr).
    fn run(p: &[sock_filter], arch: u32, nr: u32) -> u32 {
        let (mut pc, mut acc) = (0usize, 0u32);
        for _ in 0..p.len() * 2 {
            let i = &p[pc];
            let jump = |taken: bool| if taken { i.jt } else { i.jf } as usize;
            pc = match i.code {
                LD_W_ABS => {
                    acc = if i.k == ARCH_OFFSET { arch } else { nr };
                    pc + 1
                }
                JEQ_K => pc + 1 + jump(acc == i.k),
                JGE_K => pc + 1 + jump(acc >= i.k),
                JGT_K => pc + 1 + jump(acc > i.k),
                RET_K => return i.k,
                other => panic!("unexpected instruction {other:#x}"),
            };
        }
        panic!("no return");
    }

    #[test]
    fn the_search_tree_traces_exactly_the_selection() {
        for expr in [
            "%file",
            "%network",
            "%process",
            "read,write",
            "!read",
            "%desc,%memory",
        ] {
            let sel = sysent::select(expr).unwrap();
            let p = build_filter(&sel).unwrap();
            assert!(p.len() < 1000, "{expr}: {} instructions", p.len());
            // The numbers the filter stops (numbers no table knows run free, as before).
            let stopped: Vec<u32> = sel.x86_64_numbers().collect();
            for nr in 0..1024 {
                let want = if stopped.contains(&nr) {
                    libc::SECCOMP_RET_TRACE
                } else {
                    libc::SECCOMP_RET_ALLOW
                };
                assert_eq!(run(&p, AUDIT_ARCH_X86_64, nr), want, "{expr}: syscall {nr}");
            }
            // Compat and x32 calls always reach the tracer.
            assert_eq!(run(&p, 0x4000_0003, 5), libc::SECCOMP_RET_TRACE);
            assert_eq!(
                run(&p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 1),
                libc::SECCOMP_RET_TRACE
            );
        }
    }

    #[test]
    fn scattered_selections_fall_back_to_the_linear_program() {
        // Every other number: too many ranges for 8-bit jumps.
        let numbers: Vec<u32> = (0..400).step_by(2).collect();
        assert!(search_program(&ranges(&numbers)).is_none());
        assert!(linear_program(&numbers).is_ok());
    }
}
