//! `rhf-analyze ps`: the process list at snapshot time, as a table or a tree.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::Serialize;

use super::table;
use crate::clock::iso_seconds_from_unix_ns;
use crate::escape::escape_bytes;
use crate::redact::Redactor;
use crate::snapshot::process::Process;
use crate::snapshot::status::IdSet;
use crate::snapshot::HostSnapshot;

/// One process, as `--json` prints it. Node text is escaped; secrets are redacted.
#[derive(Debug, Clone, Serialize)]
pub struct PsRow {
    pub pid: u32,
    pub ppid: u32,
    /// User name of the effective uid from the node's passwd, else the number, else `?`.
    pub user: String,
    pub uid: Option<u32>,
    /// Start time, ISO 8601 UTC seconds.
    pub start: Option<String>,
    pub tty: Option<String>,
    /// First 12 hex digits of the container id; `null` on the host.
    pub container: Option<String>,
    pub container_id: Option<String>,
    /// `docker`, `containerd`, `cri-o`, `podman` or `kubepods`.
    pub container_runtime: Option<&'static str>,
    pub pod_uid: Option<String>,
    pub name: String,
    pub exe: Option<String>,
    pub exe_deleted: bool,
    /// argv joined by spaces, or `[comm]` when the command line is empty.
    pub cmd: String,
    pub argv: Vec<String>,
    pub kernel_thread: bool,
    pub state: Option<String>,
    pub threads: Vec<u32>,
    /// Real, effective, saved and filesystem ids from `status`.
    pub uids: Option<IdSet>,
    pub gids: Option<IdSet>,
    /// Effective capabilities as a hex mask (strings: JSON numbers lose bits above 2^53).
    pub cap_effective: Option<String>,
    pub loginuid: Option<u32>,
    pub cwd: Option<String>,
    pub netns: Option<u64>,
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<PsRow>,
}

/// Every process in pid order.
pub fn rows(snap: &HostSnapshot, redactor: &Redactor) -> Vec<PsRow> {
    snap.processes
        .values()
        .map(|p| row(snap, p, redactor))
        .collect()
}

fn row(snap: &HostSnapshot, p: &Process, redactor: &Redactor) -> PsRow {
    let uid = p.uids.map(|u| u.effective);
    let argv: Vec<String> = redactor
        .argv(&p.argv)
        .iter()
        .map(|a| escape_bytes(a))
        .collect();
    let exe = p
        .exe
        .as_ref()
        .filter(|e| e.error.is_none() && !e.path.is_empty());
    let exe_deleted = exe.is_some_and(|e| e.deleted || e.path.ends_with(b" (deleted)"));
    let exe_text = exe.map(|e| {
        let mut s = escape_bytes(&e.path);
        if exe_deleted && !s.ends_with(" (deleted)") {
            s.push_str(" (deleted)");
        }
        s
    });
    let mut notes = p.errors.clone();
    notes.extend(p.notes.iter().cloned());
    PsRow {
        pid: p.pid,
        ppid: p.ppid,
        user: uid.map_or_else(|| "?".to_string(), |u| snap.user_name(u)),
        uid,
        start: p.start_unix_ns.map(iso_seconds_from_unix_ns),
        tty: p.tty.clone(),
        container: p.container_id().map(str::to_string),
        container_id: p.container.as_ref().map(|c| c.id.clone()),
        container_runtime: p.container.as_ref().map(|c| c.runtime),
        pod_uid: p.container.as_ref().and_then(|c| c.pod_uid.clone()),
        name: escape_bytes(&p.comm),
        exe: exe_text,
        exe_deleted,
        cmd: if argv.is_empty() {
            escape_bytes(&p.display_name())
        } else {
            argv.join(" ")
        },
        argv,
        kernel_thread: p.is_kernel_thread(),
        state: p.state.map(String::from),
        threads: p.threads.iter().map(|t| t.tid).collect(),
        uids: p.uids,
        gids: p.gids,
        cap_effective: p.caps.map(|c| format!("{:016x}", c.effective)),
        loginuid: p.loginuid,
        cwd: p.cwd.as_deref().map(escape_bytes),
        netns: p.netns(),
        notes: notes.iter().map(|n| crate::escape::escape_str(n)).collect(),
        children: Vec::new(),
    }
}

/// The table: PID PPID USER START TTY CONTAINER EXE CMD.
pub fn render_table(rows: &[PsRow]) -> String {
    let mut t = table::plain(&[
        "PID",
        "PPID",
        "USER",
        "START",
        "TTY",
        "CONTAINER",
        "EXE",
        "CMD",
    ]);
    for r in rows {
        t.add_row(vec![
            r.pid.to_string(),
            r.ppid.to_string(),
            r.user.clone(),
            r.start.clone().unwrap_or_else(|| "-".into()),
            r.tty.clone().unwrap_or_else(|| "-".into()),
            r.container.clone().unwrap_or_else(|| "-".into()),
            r.exe.clone().unwrap_or_else(|| "-".into()),
            r.cmd.clone(),
        ]);
    }
    table::render(&t)
}

/// How deep the tree nests before a subtree restarts as a root. Bounds the recursion of
/// building, drawing and serializing, which a forged chain of parents could make deep.
const MAX_DEPTH: usize = 200;

/// Nests rows under their parents. A process whose parent is not in the snapshot (or is
/// itself) is a root; rows caught in a parent cycle (possible only in damaged or forged
/// data) or nested deeper than [`MAX_DEPTH`] become roots too, so every process appears
/// exactly once.
pub fn tree(rows: Vec<PsRow>) -> Vec<PsRow> {
    let pids: BTreeSet<u32> = rows.iter().map(|r| r.pid).collect();
    let mut by_pid: BTreeMap<u32, PsRow> = rows.into_iter().map(|r| (r.pid, r)).collect();
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut roots = Vec::new();
    for r in by_pid.values() {
        if r.ppid == r.pid || !pids.contains(&r.ppid) {
            roots.push(r.pid);
        } else {
            children.entry(r.ppid).or_default().push(r.pid);
        }
    }
    let mut placed = BTreeSet::new();
    let mut out: Vec<PsRow> = roots
        .iter()
        .filter_map(|pid| build(*pid, 0, &mut by_pid, &children, &mut placed))
        .collect();
    while let Some(pid) = by_pid.keys().next().copied() {
        out.extend(build(pid, 0, &mut by_pid, &children, &mut placed));
    }
    out
}

fn build(
    pid: u32,
    depth: usize,
    by_pid: &mut BTreeMap<u32, PsRow>,
    children: &BTreeMap<u32, Vec<u32>>,
    placed: &mut BTreeSet<u32>,
) -> Option<PsRow> {
    if !placed.insert(pid) {
        return None;
    }
    let mut row = by_pid.remove(&pid)?;
    if depth < MAX_DEPTH {
        for c in children.get(&pid).into_iter().flatten() {
            row.children
                .extend(build(*c, depth + 1, by_pid, children, placed));
        }
    }
    Some(row)
}

/// The tree as ASCII lines, like `pstree -A -p`: `name(pid) user [container]  cmd`.
pub fn render_tree(roots: &[PsRow]) -> String {
    let mut s = String::new();
    for r in roots {
        draw(&mut s, r, "", "");
    }
    s
}

fn draw(out: &mut String, r: &PsRow, first: &str, rest: &str) {
    let name = if r.kernel_thread || r.argv.is_empty() {
        format!("[{}]", r.name)
    } else {
        r.name.clone()
    };
    let container = r
        .container
        .as_ref()
        .map(|c| format!(" container={c}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{first}{name}({}) {}{container}  {}",
        r.pid, r.user, r.cmd
    );
    for (i, c) in r.children.iter().enumerate() {
        let last = i + 1 == r.children.len();
        let (head, tail) = if last { ("`-", "  ") } else { ("|-", "| ") };
        draw(out, c, &format!("{rest}{head}"), &format!("{rest}{tail}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pid: u32, ppid: u32) -> PsRow {
        PsRow {
            pid,
            ppid,
            user: "root".into(),
            uid: Some(0),
            start: None,
            tty: None,
            container: None,
            container_id: None,
            container_runtime: None,
            pod_uid: None,
            name: format!("p{pid}"),
            exe: None,
            exe_deleted: false,
            cmd: format!("p{pid}"),
            argv: vec![format!("p{pid}")],
            kernel_thread: false,
            state: None,
            threads: Vec::new(),
            uids: None,
            gids: None,
            cap_effective: None,
            loginuid: None,
            cwd: None,
            netns: None,
            notes: Vec::new(),
            children: Vec::new(),
        }
    }

    fn count(rows: &[PsRow]) -> usize {
        rows.iter().map(|r| 1 + count(&r.children)).sum()
    }

    #[test]
    fn the_tree_draws_like_pstree() {
        let roots = tree(vec![row(1, 0), row(10, 1), row(11, 10), row(12, 1)]);
        assert_eq!(
            render_tree(&roots),
            "p1(1) root  p1\n|-p10(10) root  p10\n| `-p11(11) root  p11\n`-p12(12) root  p12\n"
        );
    }

    #[test]
    fn cycles_and_deep_chains_keep_every_process_once() {
        let roots = tree(vec![row(5, 6), row(6, 5), row(7, 7)]);
        assert_eq!(count(&roots), 3);
        let chain: Vec<PsRow> = (1..=5000).map(|p| row(p, p - 1)).collect();
        let roots = tree(chain);
        assert_eq!(count(&roots), 5000);
        assert_eq!(roots.len(), 5000usize.div_ceil(MAX_DEPTH + 1));
        assert_eq!(render_tree(&roots).lines().count(), 5000);
    }
}
