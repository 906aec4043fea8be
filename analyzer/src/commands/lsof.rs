//! `rhf-analyze lsof`: open files of every process, sockets joined with the socket tables.

use serde::Serialize;

use super::table;
use crate::escape::{escape_bytes, escape_str};
use crate::snapshot::fd::{self, FdKind, OpenFd};
use crate::snapshot::process::Process;
use crate::snapshot::HostSnapshot;

/// One open file, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct LsofRow {
    pub pid: u32,
    pub command: String,
    pub container: Option<String>,
    /// The descriptor number, or `cwd`, `rtd` (root directory), `txt` (the executable).
    pub fd: String,
    /// lsof's TYPE: `IPv4`, `IPv6`, `unix`, `pack`, `sock`, `FIFO`, `a_inode`, `REG`, `DIR`,
    /// `CHR`, `nsfs`, or `file` (a path whose kind cannot be known offline).
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    /// The raw link target.
    pub target: String,
    /// For sockets found in a table: its network namespace and inode.
    pub netns: Option<u64>,
    pub inode: Option<u64>,
}

/// Rows of every process (or of `pid` only), in pid then fd order.
pub fn rows(snap: &HostSnapshot, pid: Option<u32>) -> Vec<LsofRow> {
    snap.processes
        .values()
        .filter(|p| pid.is_none_or(|want| p.pid == want))
        .flat_map(|p| process_rows(snap, p))
        .collect()
}

fn process_rows(snap: &HostSnapshot, p: &Process) -> Vec<LsofRow> {
    let base = |fd: String, kind: &str, name: String, target: String| LsofRow {
        pid: p.pid,
        command: escape_bytes(&p.comm),
        container: p.container_id().map(str::to_string),
        fd,
        kind: kind.to_string(),
        name,
        target,
        netns: None,
        inode: None,
    };
    let mut out = Vec::new();
    for (label, path) in [("cwd", &p.cwd), ("rtd", &p.root)] {
        if let Some(path) = path {
            let text = escape_bytes(path);
            out.push(base(label.into(), "DIR", text.clone(), text));
        }
    }
    if let Some(exe) = p.exe_path() {
        let text = escape_bytes(exe);
        out.push(base("txt".into(), "REG", text.clone(), text));
    }
    let mut fds: Vec<&OpenFd> = p.fds.iter().collect();
    fds.sort_by_key(|f| f.fd);
    for f in fds {
        let target = escape_bytes(&f.target);
        let mut row = base(
            f.fd.to_string(),
            fd::lsof_type(f, &snap.arch),
            String::new(),
            target,
        );
        row.name = match &f.kind {
            FdKind::Socket(inode) => {
                row.inode = Some(*inode);
                match snap.socket_of(p, *inode) {
                    Some((netns, s)) => {
                        row.netns = Some(netns);
                        row.kind = s.proto.lsof_type().into();
                        let elsewhere = p.netns().is_some_and(|own| own != netns);
                        if elsewhere {
                            format!("{} (in netns {netns})", s.describe())
                        } else {
                            s.describe()
                        }
                    }
                    None => format!("socket:[{inode}] (not in the recorded socket tables)"),
                }
            }
            FdKind::Pipe(inode) => format!("pipe:[{inode}]"),
            FdKind::AnonInode(kind) => escape_str(kind),
            FdKind::Memfd(name) => format!("memfd:{} (deleted)", escape_bytes(name)),
            FdKind::Path { path, deleted } => {
                let mut s = escape_bytes(path);
                if *deleted {
                    s.push_str(" (deleted)");
                }
                s
            }
            FdKind::Namespace(..) | FdKind::Other(_) => row.target.clone(),
        };
        out.push(row);
    }
    out
}

/// The table: PID COMMAND CONTAINER FD TYPE NAME.
pub fn render_table(rows: &[LsofRow]) -> String {
    let mut t = table::plain(&["PID", "COMMAND", "CONTAINER", "FD", "TYPE", "NAME"]);
    for r in rows {
        t.add_row(vec![
            r.pid.to_string(),
            r.command.clone(),
            r.container.clone().unwrap_or_else(|| "-".into()),
            r.fd.clone(),
            r.kind.clone(),
            r.name.clone(),
        ]);
    }
    table::render(&t)
}
