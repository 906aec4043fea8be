//! The event filters `summary` and `print` share: processes, syscall names, failed calls.

use std::collections::HashSet;
use std::sync::Arc;

use rhf_format::SyscallEvent;

use crate::render::calls::{negated_errno, SyscallSet};
use crate::rules::filter::ConditionFilter;

/// Which events a view keeps. Built once; tested per event without allocating.
#[derive(Debug, Clone)]
pub struct EventFilter {
    pids: HashSet<u32>,
    syscalls: Option<SyscallSet>,
    failed_only: bool,
    never_fails: SyscallSet,
    /// `--filter EXPR`: the rule condition language.
    condition: Option<Arc<ConditionFilter>>,
}

impl Default for EventFilter {
    fn default() -> Self {
        EventFilter {
            pids: HashSet::new(),
            syscalls: None,
            failed_only: false,
            never_fails: SyscallSet::never_fails(),
            condition: None,
        }
    }
}

impl EventFilter {
    /// `pids`: keep events of these processes or threads (all when empty); `syscalls`: keep
    /// only these names, in every ABI (all when empty); `failed_only`: keep only calls that
    /// failed, like strace's `-Z`.
    pub fn new<S: AsRef<str>>(
        pids: &[u32],
        syscalls: &[S],
        failed_only: bool,
    ) -> Result<EventFilter, String> {
        let syscalls =
            if syscalls.is_empty() {
                None
            } else {
                Some(SyscallSet::from_names(syscalls).map_err(|unknown| {
                    format!("unknown syscall name(s): {}", unknown.join(", "))
                })?)
            };
        Ok(EventFilter {
            pids: pids.iter().copied().collect(),
            syscalls,
            failed_only,
            never_fails: SyscallSet::never_fails(),
            condition: None,
        })
    }

    /// Adds a `--filter` condition: only syscall events it holds for pass
    /// ([`Self::condition_holds`]).
    pub fn with_condition(mut self, condition: ConditionFilter) -> Self {
        self.condition = Some(Arc::new(condition));
        self
    }

    /// Whether a `--filter` condition is set (views then show syscall events only).
    pub fn has_condition(&self) -> bool {
        self.condition.is_some()
    }

    /// Whether the `--filter` condition, if any, holds for syscall event number `num`.
    #[inline]
    pub fn condition_holds(&self, num: u64, ts: u64, ev: &SyscallEvent, failed: bool) -> bool {
        self.condition
            .as_ref()
            .is_none_or(|c| c.syscall(num, ts, ev, failed))
    }

    /// Whether events of this process (thread-group id) or thread are wanted.
    #[inline]
    pub fn process(&self, pid: u32, tid: u32) -> bool {
        self.pids.is_empty() || self.pids.contains(&pid) || self.pids.contains(&tid)
    }

    /// Whether the call failed as strace counts failures: it returned, with a negated errno,
    /// and is not one of the calls that cannot fail.
    #[inline]
    pub fn failed(&self, ev: &SyscallEvent) -> bool {
        !ev.unfinished
            && negated_errno(ev.abi, ev.ret).is_some()
            && !self.never_fails.contains(ev.abi, ev.nr)
    }

    /// Whether a syscall event passes every filter; `failed` is [`Self::failed`] of it.
    #[inline]
    pub fn syscall(&self, ev: &SyscallEvent, failed: bool) -> bool {
        self.process(ev.pid, ev.tid)
            && self
                .syscalls
                .as_ref()
                .is_none_or(|s| s.contains(ev.abi, ev.nr))
            && (!self.failed_only || failed)
    }

    /// The calls whose return value is never an error.
    pub fn never_fails(&self) -> &SyscallSet {
        &self.never_fails
    }
}

/// Validates a `--syscall` name on the command line (any ABI's name, or `syscall_0x1b4`).
pub fn parse_syscall_name(s: &str) -> Result<String, String> {
    SyscallSet::from_names(&[s])
        .map(|_| s.to_string())
        .map_err(|_| format!("unknown syscall name '{s}'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhf_format::Abi;

    #[test]
    fn filters_by_process_name_and_failure() {
        let f = EventFilter::new(&[10], &["openat"], true).unwrap();
        let mut ev = SyscallEvent {
            pid: 10,
            tid: 11,
            nr: 257,
            ret: -2,
            ..Default::default()
        };
        assert!(f.failed(&ev) && f.syscall(&ev, f.failed(&ev)));
        ev.ret = 3;
        assert!(!f.syscall(&ev, f.failed(&ev)));
        ev.ret = -2;
        ev.nr = 0;
        assert!(!f.syscall(&ev, true));
        ev.nr = 257;
        ev.pid = 12;
        assert!(!f.syscall(&ev, true));
        // getuid never fails, whatever it returns.
        let all = EventFilter::default();
        let getuid = SyscallEvent {
            nr: 102,
            ret: -1,
            ..Default::default()
        };
        assert!(!all.failed(&getuid));
        let i386 = SyscallEvent {
            nr: 5,
            abi: Abi::I386,
            ret: 0xffff_fffe,
            ..Default::default()
        };
        assert!(all.failed(&i386));
        assert!(EventFilter::new(&[], &["nosuch"], false).is_err());
        assert!(parse_syscall_name("open").is_ok() && parse_syscall_name("nosuch").is_err());
    }
}
