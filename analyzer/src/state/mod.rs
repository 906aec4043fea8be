//! The process table over time: what each process was (name, argv, credentials, cwd, session,
//! executable) at any record of a trace.
//!
//! Built once, in one pass over the state-changing records (snapshots, spawns, execs, exits and
//! the few syscalls that change a process's identity), then shared read-only by every consumer
//! running in parallel over chunks. A lookup names a pid and an event number and gets the
//! version of that process in force just after that record: the recorder writes the `Exec`
//! lifecycle record and its snapshot before the `execve` syscall record, so an `execve` event
//! sees the new program, as Falco's exit events do.

mod build;
mod proc_state;

use std::collections::HashMap;
use std::sync::Arc;

pub use build::{build, build_keeping, chunk_starts, Folder, KEEP_BUDGET};
pub use proc_state::ProcState;

use crate::clock::Clock;
use crate::snapshot::accounts::AccountDb;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// Trace timestamp (monotonic ns) of the exit.
    pub ts: u64,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub core_dumped: bool,
}

/// Every version of every process, by pid.
#[derive(Debug, Default)]
pub struct Timeline {
    /// pid -> (event number from which the version holds, the version), in number order.
    versions: HashMap<u32, Vec<(u64, Arc<ProcState>)>>,
    /// Users and groups of the node.
    pub accounts: AccountDb,
    /// The recorded node's hostname.
    pub hostname: String,
    pub clock: Option<Clock>,
    /// Event numbers of capture-start process snapshots, with their pids: the `procinfo`
    /// events rules see.
    pub procinfo: Vec<(u64, u32)>,
    /// When each process (thread-group leader) was spawned during the capture: trace ts.
    pub spawned: HashMap<u32, u64>,
    /// How each process ended during the capture.
    pub exits: HashMap<u32, ExitInfo>,
    /// Socket inode -> Falco's fd type (`ipv4`, `ipv6`, `unix`, ...), from the snapshot's
    /// socket tables: `/proc/PID/fd` links say only `socket:[inode]`.
    pub socket_types: HashMap<u64, &'static str>,
    /// Problems met while building (damaged chunks).
    pub notes: Vec<String>,
}

impl Timeline {
    /// The process `pid` as it was at event `num`: the latest version recorded at or before
    /// `num`; `None` before its first record. (Never a later version: what a lookup sees must
    /// not depend on how much of the trace was folded.)
    pub fn at(&self, pid: u32, num: u64) -> Option<&ProcState> {
        let v = self.versions.get(&pid)?;
        let i = v.partition_point(|(n, _)| *n <= num);
        v.get(i.checked_sub(1)?).map(|(_, p)| &**p)
    }

    /// The `n`th ancestor (1 = parent) of `pid` at event `num`.
    pub fn ancestor(&self, pid: u32, num: u64, n: usize) -> Option<&ProcState> {
        let mut p = self.at(pid, num)?;
        for _ in 0..n {
            // pid 0 is the kernel (the parent of init and kthreadd): no process.
            if p.ppid == 0 || p.ppid == p.pid {
                return None;
            }
            p = self.at(p.ppid, num)?;
        }
        Some(p)
    }

    /// Ancestors of `pid` at event `num`, parent first, bounded against cycles in hostile
    /// traces.
    pub fn ancestors(&self, pid: u32, num: u64) -> impl Iterator<Item = &ProcState> {
        let mut cur = self.at(pid, num);
        let mut left = MAX_ANCESTORS;
        std::iter::from_fn(move || {
            let p = cur?;
            if left == 0 || p.ppid == 0 || p.ppid == p.pid {
                return None;
            }
            left -= 1;
            cur = self.at(p.ppid, num);
            cur
        })
    }

    /// How many distinct processes the trace shows.
    pub fn process_count(&self) -> usize {
        self.versions.len()
    }

    /// Every pid the trace shows, in ascending order.
    pub fn pids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.versions.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// Every version of `pid`: (first event number it holds from, state), in order.
    pub fn versions(&self, pid: u32) -> &[(u64, Arc<ProcState>)] {
        self.versions.get(&pid).map_or(&[], Vec::as_slice)
    }

    fn push(&mut self, num: u64, state: ProcState) {
        self.versions
            .entry(state.pid)
            .or_default()
            .push((num, Arc::new(state)));
    }

    /// The latest version of `pid` (during the build: recorded so far).
    pub fn latest(&self, pid: u32) -> Option<&ProcState> {
        self.versions
            .get(&pid)
            .and_then(|v| v.last())
            .map(|(_, p)| &**p)
    }
}

/// Lineage walks stop here: deeper trees do not exist on real systems, and a hostile trace
/// with a parent cycle must not loop.
const MAX_ANCESTORS: usize = 64;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
