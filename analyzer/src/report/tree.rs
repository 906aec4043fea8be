//! The process tree of a report: the processes involved (alerts, findings), their ancestors
//! and descendants, from the process timeline, with their lifetimes in the capture.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{ExitView, Limits, ProcessNode, ProcessSection};
use crate::clock::{iso_from_unix_ns, Clock};
use crate::escape::escape_bytes;
use crate::redact::Redactor;
use crate::render::signals::signal_name;
use crate::state::Timeline;

/// Nesting deeper than this restarts the subtree as a root: it bounds the recursion of
/// building, serializing and rendering, which a forged chain of parents could make deep.
const MAX_DEPTH: usize = 32;

/// Lineage walks stop after this many parents (a hostile trace may hold a cycle).
const MAX_ANCESTORS: usize = 64;

/// What the tree needs besides the timeline.
pub struct TreeInputs<'a> {
    pub timeline: &'a Timeline,
    pub redactor: &'a Redactor,
    pub clock: Clock,
    /// Capture start (monotonic ns): offset 0.
    pub origin: u64,
    /// Offset of the end of the capture: where processes still running end.
    pub end_offset: u64,
    /// Alerts and findings per pid.
    pub alerts: &'a BTreeMap<u32, usize>,
    pub findings: &'a BTreeMap<u32, usize>,
    pub limits: Limits,
}

/// Builds the tree section.
pub fn section(inp: &TreeInputs<'_>) -> ProcessSection {
    let t = inp.timeline;
    let all: BTreeSet<u32> = t.pids().into_iter().collect();
    // The parent each process was born to (its first version's): a process reparented
    // after its parent exited stays under the parent that started it.
    let parent: BTreeMap<u32, u32> = all
        .iter()
        .filter_map(|&p| {
            let first = t.versions(p).first()?;
            let pp = first.1.ppid;
            (pp != p && all.contains(&pp)).then_some((p, pp))
        })
        .collect();
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (&c, &p) in &parent {
        children.entry(p).or_default().push(c);
    }
    let involved: BTreeSet<u32> = inp
        .alerts
        .keys()
        .chain(inp.findings.keys())
        .copied()
        .filter(|p| all.contains(p))
        .collect();
    let (scope, selected) = if involved.is_empty() {
        ("all", all.clone())
    } else {
        let mut sel = involved.clone();
        for &p in &involved {
            let mut cur = p;
            for _ in 0..MAX_ANCESTORS {
                let Some(&pp) = parent.get(&cur) else { break };
                sel.insert(pp);
                cur = pp;
            }
            let mut todo = vec![p];
            while let Some(q) = todo.pop() {
                for &c in children.get(&q).into_iter().flatten() {
                    if sel.insert(c) {
                        todo.push(c);
                    }
                }
            }
        }
        ("involved", sel)
    };
    let mut b = Builder {
        inp,
        selected: &selected,
        children: &children,
        placed: BTreeSet::new(),
        budget: inp.limits.processes,
        deferred: Vec::new(),
    };
    let roots: Vec<u32> = selected
        .iter()
        .copied()
        .filter(|p| parent.get(p).is_none_or(|pp| !selected.contains(pp)))
        .collect();
    let mut tree = Vec::new();
    let mut queue: std::collections::VecDeque<u32> = roots.into();
    loop {
        while let Some(p) = queue.pop_front() {
            if let Some(n) = b.node(p, 0) {
                tree.push(n);
            }
            queue.extend(b.deferred.drain(..));
        }
        // Whatever a parent cycle kept from being reached from a root.
        match selected.iter().find(|p| !b.placed.contains(p)) {
            Some(&p) if b.budget > 0 => queue.push_back(p),
            _ => break,
        }
    }
    let shown = b.placed.len();
    ProcessSection {
        scope,
        total: all.len(),
        shown,
        omitted: selected.len() - shown,
        tree,
    }
}

struct Builder<'a> {
    inp: &'a TreeInputs<'a>,
    selected: &'a BTreeSet<u32>,
    children: &'a BTreeMap<u32, Vec<u32>>,
    placed: BTreeSet<u32>,
    /// Nodes left to place.
    budget: usize,
    /// Subtrees too deep to nest: placed later as roots.
    deferred: Vec<u32>,
}

impl Builder<'_> {
    fn node(&mut self, pid: u32, depth: usize) -> Option<ProcessNode> {
        if self.budget == 0 || !self.placed.insert(pid) {
            return None;
        }
        self.budget -= 1;
        let mut n = describe(self.inp, pid);
        for &c in self.children.get(&pid).into_iter().flatten() {
            if !self.selected.contains(&c) {
                continue;
            }
            if depth + 1 >= MAX_DEPTH {
                self.deferred.push(c);
            } else if let Some(child) = self.node(c, depth + 1) {
                n.children.push(child);
            }
        }
        Some(n)
    }
}

/// One process as its last recorded version shows it.
fn describe(inp: &TreeInputs<'_>, pid: u32) -> ProcessNode {
    let t = inp.timeline;
    let versions = t.versions(pid);
    let last = versions.last().map(|(_, s)| &**s);
    let first_ppid = versions.first().map_or(0, |(_, s)| s.ppid);
    let spawned = t.spawned.get(&pid).copied();
    let exit = t.exits.get(&pid).copied();
    let offset = |ts: u64| ts.saturating_sub(inp.origin);
    let start = match (spawned, last.and_then(|s| s.start_unix_ns)) {
        (Some(ts), _) => Some(inp.clock.iso(ts)),
        (None, Some(ns)) => Some(iso_from_unix_ns(ns)),
        (None, None) => None,
    };
    let (name, command, exe, user) = match last {
        Some(s) => (
            escape_bytes(&s.comm),
            inp.redactor
                .argv(&s.argv)
                .iter()
                .map(|a| escape_bytes(a))
                .collect::<Vec<_>>()
                .join(" "),
            s.exepath.as_deref().map(escape_bytes),
            s.uid.map(|u| {
                t.accounts
                    .user(u)
                    .map_or_else(|| u.to_string(), escape_bytes)
            }),
        ),
        None => (String::new(), String::new(), None, None),
    };
    ProcessNode {
        pid,
        ppid: first_ppid,
        name,
        command,
        exe,
        user,
        start,
        started_before_capture: spawned.is_none(),
        from_offset_ns: spawned.map_or(0, offset),
        to_offset_ns: exit.map_or(inp.end_offset, |e| offset(e.ts)),
        exit: exit.map(|e| ExitView {
            time: inp.clock.iso(e.ts),
            code: e.code,
            signal: e.signal.map(signal_name),
            core_dumped: e.core_dumped,
        }),
        alerts: inp.alerts.get(&pid).copied().unwrap_or(0),
        findings: inp.findings.get(&pid).copied().unwrap_or(0),
        involved: inp.alerts.contains_key(&pid) || inp.findings.contains_key(&pid),
        children: Vec::new(),
    }
}

/// Every node of `tree` in preorder, with its depth.
pub fn preorder(tree: &[ProcessNode]) -> Vec<(usize, &ProcessNode)> {
    let mut out = Vec::new();
    let mut stack: Vec<(usize, &ProcessNode)> = tree.iter().rev().map(|n| (0, n)).collect();
    while let Some((d, n)) = stack.pop() {
        out.push((d, n));
        stack.extend(n.children.iter().rev().map(|c| (d + 1, c)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::{exec, fold, spawn};

    fn inputs<'a>(
        t: &'a Timeline,
        alerts: &'a BTreeMap<u32, usize>,
        findings: &'a BTreeMap<u32, usize>,
        processes: usize,
    ) -> TreeInputs<'a> {
        static REDACTOR: Redactor = Redactor {
            show_secrets: false,
        };
        TreeInputs {
            timeline: t,
            redactor: &REDACTOR,
            clock: Clock::from_header(&rhf_format::Header::default()),
            origin: 0,
            end_offset: 100,
            alerts,
            findings,
            limits: Limits {
                processes,
                ..Limits::default()
            },
        }
    }

    fn pids(tree: &[ProcessNode]) -> Vec<(usize, u32)> {
        preorder(tree)
            .into_iter()
            .map(|(d, n)| (d, n.pid))
            .collect()
    }

    /// 1 -> 10 -> 11 -> 12, 1 -> 20.
    fn family() -> Timeline {
        fold(&[
            exec(1, "/sbin/init", &["init"]),
            spawn(1, 10, 0x11),
            spawn(10, 11, 0x11),
            exec(11, "/bin/sh", &["sh", "-c", "x"]),
            spawn(11, 12, 0x11),
            spawn(1, 20, 0x11),
        ])
    }

    #[test]
    fn involved_processes_come_with_ancestors_and_descendants_only() {
        let t = family();
        let alerts = BTreeMap::from([(11, 2)]);
        let none = BTreeMap::new();
        let s = section(&inputs(&t, &alerts, &none, 200));
        assert_eq!(s.scope, "involved");
        assert_eq!(pids(&s.tree), [(0, 1), (1, 10), (2, 11), (3, 12)]);
        assert_eq!((s.total, s.shown, s.omitted), (5, 4, 0));
        let sh = preorder(&s.tree)[2].1;
        assert_eq!((sh.name.as_str(), sh.alerts, sh.involved), ("sh", 2, true));
        assert!(!preorder(&s.tree)[1].1.involved, "an ancestor is context");
    }

    #[test]
    fn without_alerts_or_findings_every_process_is_shown_within_the_bound() {
        let t = family();
        let none = BTreeMap::new();
        let s = section(&inputs(&t, &none, &none, 200));
        assert_eq!(s.scope, "all");
        assert_eq!(pids(&s.tree), [(0, 1), (1, 10), (2, 11), (3, 12), (1, 20)]);
        let s = section(&inputs(&t, &none, &none, 2));
        assert_eq!(pids(&s.tree), [(0, 1), (1, 10)]);
        assert_eq!((s.shown, s.omitted), (2, 3));
    }

    #[test]
    fn deep_chains_restart_as_roots() {
        let mut records = vec![exec(1, "/sbin/init", &["init"])];
        for p in 1..=40u32 {
            records.push(spawn(p, p + 1, 0x11));
        }
        let t = fold(&records);
        let none = BTreeMap::new();
        let s = section(&inputs(&t, &none, &none, 200));
        let rows = pids(&s.tree);
        assert_eq!(rows.len(), 41, "every process once");
        assert!(rows.iter().all(|(d, _)| *d < MAX_DEPTH));
        assert_eq!(s.tree.len(), 2);
    }
}
