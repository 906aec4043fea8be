//! Attaching to running processes: every thread is seized (`PTRACE_SEIZE`, which neither
//! stops nor signals it) and interrupted once so the tracer takes over at a known point.

use nix::sys::ptrace::{self, Options};
use nix::unistd::Pid;

/// Seizes every thread of `pid`, re-listing until no new thread appears (threads created while
/// we attach are caught by the listing or, once their creator is seized, by the clone event).
/// Returns the seized thread ids.
pub fn seize_process(pid: u32, options: Options) -> Result<Vec<Pid>, String> {
    let mut seized: Vec<Pid> = Vec::new();
    for _round in 0..10 {
        let tids = list_threads(pid).map_err(|e| format!("process {pid}: {e}"))?;
        let fresh: Vec<Pid> = tids.into_iter().filter(|t| !seized.contains(t)).collect();
        if fresh.is_empty() {
            break;
        }
        for tid in fresh {
            match ptrace::seize(tid, options) {
                Ok(()) => {
                    let _ = ptrace::interrupt(tid);
                    seized.push(tid);
                }
                // The thread ended between listing and seizing.
                Err(nix::errno::Errno::ESRCH) => {}
                Err(e) if seized.is_empty() => {
                    return Err(format!(
                        "cannot attach to process {pid}: {e}; as root, check yama ptrace_scope and whether another tracer (strace, gdb) holds it"
                    ))
                }
                Err(_) => {}
            }
        }
    }
    if seized.is_empty() {
        return Err(format!("process {pid} has no thread left to attach to"));
    }
    Ok(seized)
}

fn list_threads(pid: u32) -> std::io::Result<Vec<Pid>> {
    let mut tids: Vec<Pid> = std::fs::read_dir(format!("/proc/{pid}/task"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .map(Pid::from_raw)
        .collect();
    tids.sort();
    Ok(tids)
}
