//! `rhf-analyze netstat`: every socket of every recorded network namespace, with its owners.

use serde::Serialize;

use super::table;
use crate::escape::escape_bytes;
use crate::snapshot::net::Endpoints;
use crate::snapshot::HostSnapshot;

/// A process holding a descriptor on a socket.
#[derive(Debug, Clone, Serialize)]
pub struct Owner {
    pub pid: u32,
    pub process: String,
    pub fd: i32,
}

/// One socket row, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct NetstatRow {
    pub netns: u64,
    pub proto: &'static str,
    pub local: String,
    pub remote: String,
    pub state: &'static str,
    pub inode: u64,
    pub uid: Option<u32>,
    pub user: Option<String>,
    /// `SOCK_STREAM`... for unix and packet sockets.
    pub sock_type: Option<&'static str>,
    /// Processes with a descriptor on it whose lookup resolves to this namespace's row;
    /// several when the socket is shared (after fork, or passed over a unix socket).
    pub owners: Vec<Owner>,
}

/// Every socket, by namespace then table (tcp, tcp6, udp, ... unix, packet), in table order.
pub fn rows(snap: &HostSnapshot) -> Vec<NetstatRow> {
    let mut out = Vec::new();
    for ns in snap.netns.values() {
        let mut sockets: Vec<_> = ns.sockets.iter().collect();
        sockets.sort_by_key(|s| s.proto);
        for s in sockets {
            let owners = snap
                .socket_owners(s.inode)
                .into_iter()
                .filter(|(p, _)| {
                    snap.socket_of(p, s.inode)
                        .is_some_and(|(n, _)| n == ns.netns)
                })
                .map(|(p, fd)| Owner {
                    pid: p.pid,
                    process: escape_bytes(&p.comm),
                    fd,
                })
                .collect();
            let sock_type = match s.endpoints {
                Endpoints::Unix { sock_type, .. } | Endpoints::Packet { sock_type, .. } => {
                    Some(crate::snapshot::net::sock_type_name(sock_type))
                }
                Endpoints::Inet { .. } => None,
            };
            out.push(NetstatRow {
                netns: ns.netns,
                proto: s.proto.name(),
                local: s.local_text(),
                remote: s.remote_text(),
                state: s.state,
                inode: s.inode,
                uid: s.uid,
                user: s.uid.map(|u| snap.user_name(u)),
                sock_type,
                owners,
            });
        }
    }
    out
}

/// The table: NETNS PROTO LOCAL REMOTE STATE INODE USER PID/PROGRAM.
pub fn render_table(rows: &[NetstatRow]) -> String {
    let mut t = table::plain(&[
        "NETNS",
        "PROTO",
        "LOCAL",
        "REMOTE",
        "STATE",
        "INODE",
        "USER",
        "PID/PROGRAM",
    ]);
    let dash = |s: &str| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        }
    };
    for r in rows {
        // One entry per process: a process usually holds a socket on several descriptors.
        let mut owners: Vec<String> = Vec::new();
        for o in &r.owners {
            let owner = format!("{}/{}", o.pid, o.process);
            if !owners.contains(&owner) {
                owners.push(owner);
            }
        }
        let state = match r.sock_type {
            Some(t) if !r.state.is_empty() => format!("{} {t}", r.state),
            Some(t) => t.to_string(),
            None => r.state.to_string(),
        };
        t.add_row(vec![
            r.netns.to_string(),
            r.proto.to_string(),
            dash(&r.local),
            dash(&r.remote),
            dash(&state),
            r.inode.to_string(),
            r.user.clone().unwrap_or_else(|| "-".into()),
            dash(&owners.join(",")),
        ]);
    }
    table::render(&t)
}
