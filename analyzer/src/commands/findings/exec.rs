//! Indicators about what a process executes: deleted and memfd binaries, temporary
//! directories, processes posing as kernel threads.

use super::{in_writable_dir, Finding, Severity};
use crate::escape::escape_bytes;
use crate::snapshot::fd::FdKind;
use crate::snapshot::process::Process;
use crate::snapshot::stat::PF_KTHREAD;
use crate::snapshot::HostSnapshot;

/// At most this many maps lines or fds are quoted in one finding's evidence.
const MAX_QUOTED: usize = 3;

fn exe_evidence(p: &Process) -> Option<String> {
    let exe = p
        .exe
        .as_ref()
        .filter(|e| e.error.is_none() && !e.path.is_empty())?;
    let mut s = format!("exe -> {}", escape_bytes(&exe.path));
    if let Some(sha) = exe.sha256 {
        s.push_str(&format!(" sha256={}", rhf_format::hex(&sha)));
    }
    Some(s)
}

fn is_memfd(path: &[u8]) -> bool {
    path.starts_with(b"/memfd:")
}

/// `deleted_exe`: the exe link ends in ` (deleted)`. memfd executables are reported as
/// `memfd_exec` instead (their link always says deleted).
pub fn deleted_exe(snap: &HostSnapshot, p: &Process) -> Option<Finding> {
    let path = p.exe_path()?;
    let exe = p.exe.as_ref()?;
    if is_memfd(path) || !(exe.deleted || path.ends_with(b" (deleted)")) {
        return None;
    }
    let mut evidence = exe_evidence(p)?;
    if let Some(copy) = snap.executables.iter().find(|e| e.pid == p.pid) {
        evidence.push_str(&format!(
            "; copy collected: {} of {} bytes",
            copy.content.len(),
            copy.full_len
        ));
    }
    Some(Finding::on(p, "deleted_exe", Severity::High, evidence))
}

/// `memfd_exec`: the exe is a memfd, or an executable mapping is one. Descriptors on memfds
/// are quoted as supporting evidence but do not fire alone: many programs use memfds for
/// data.
pub fn memfd_exec(p: &Process) -> Option<Finding> {
    let mut parts = Vec::new();
    if p.exe_path().is_some_and(is_memfd) {
        parts.extend(exe_evidence(p));
    }
    if let Some(maps) = &p.maps {
        for m in maps.exec_memfd.iter().take(MAX_QUOTED) {
            // The padding before the path is collapsed; the fields are unchanged.
            let fields: Vec<&[u8]> = m
                .line
                .split(|b| *b == b' ')
                .filter(|f| !f.is_empty())
                .collect();
            parts.push(format!("maps: {}", escape_bytes(&fields.join(&b' '))));
        }
        if maps.exec_memfd.len() > MAX_QUOTED {
            parts.push(format!(
                "and {} more memfd mappings",
                maps.exec_memfd.len() - MAX_QUOTED
            ));
        }
    }
    if parts.is_empty() {
        return None;
    }
    let memfd_fds = p.fds.iter().filter(|f| matches!(f.kind, FdKind::Memfd(_)));
    for f in memfd_fds.take(MAX_QUOTED) {
        parts.push(format!("fd {} -> {}", f.fd, escape_bytes(&f.target)));
    }
    Some(Finding::on(
        p,
        "memfd_exec",
        Severity::High,
        parts.join("; "),
    ))
}

/// `exec_from_writable_dir`: the exe (not the cwd: starting a normal program from a
/// temporary directory is common) lies under `/tmp`, `/var/tmp` or `/dev/shm`.
pub fn exec_from_writable_dir(p: &Process) -> Option<Finding> {
    let path = p.exe_path()?;
    if !in_writable_dir(path) {
        return None;
    }
    Some(Finding::on(
        p,
        "exec_from_writable_dir",
        Severity::Medium,
        exe_evidence(p)?,
    ))
}

/// `fake_kernel_thread`: the name `ps` shows first (argv[0] when the command line is not
/// empty, else `comm`) is in brackets, and the process is not a kernel thread: PF_KTHREAD
/// unset, an exe that resolves, non-empty maps, or a parent other than kthreadd (pid 2).
/// Only facts that were recorded count; a missing `stat` is not a reason.
pub fn fake_kernel_thread(p: &Process) -> Option<Finding> {
    let name = p.argv.first().unwrap_or(&p.comm);
    if name.len() < 2 || !name.starts_with(b"[") || !name.ends_with(b"]") {
        return None;
    }
    let mut reasons = Vec::new();
    if p.flags.is_some_and(|f| f & PF_KTHREAD == 0) {
        reasons.push("PF_KTHREAD unset".to_string());
    }
    if let Some(exe) = p.exe_path() {
        reasons.push(format!("exe -> {}", escape_bytes(exe)));
    }
    if let Some(m) = p.maps.as_ref().filter(|m| m.regions > 0) {
        reasons.push(format!("{} memory mappings", m.regions));
    }
    if p.ppid != 2 && p.pid != 2 {
        reasons.push(format!(
            "ppid {} (kernel threads are children of kthreadd, pid 2)",
            p.ppid
        ));
    }
    if reasons.is_empty() {
        return None;
    }
    let evidence = format!("shown as {}: {}", escape_bytes(name), reasons.join(", "));
    Some(Finding::on(
        p,
        "fake_kernel_thread",
        Severity::High,
        evidence,
    ))
}
