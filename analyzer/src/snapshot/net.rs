//! `/proc/net/*` tables of one network namespace, as socket rows.
//!
//! tcp, udp, raw and icmp tables (and their IPv6 twins) go through procfs-core's parsers, one
//! line at a time: they reject a whole table for one bad line, and a table cut at the
//! recorder's cap ends in one. raw and icmp tables have the udp layout. `unix` and `packet`
//! are parsed here: procfs-core has no packet parser, and its unix parser reads lines as
//! UTF-8 and cuts paths at the first space, while a socket path may hold any bytes.

use std::io::BufRead;
use std::net::SocketAddr;

use procfs_core::net::{TcpNetEntries, UdpNetEntries};
use procfs_core::{ExplicitSystemInfo, FromBufReadSI};
use rhf_format::NetworkTables;

use crate::escape::escape_bytes;

/// The table a socket row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Tcp6,
    Udp,
    Udp6,
    Raw,
    Raw6,
    Icmp,
    Icmp6,
    Unix,
    Packet,
}

impl Proto {
    /// The file name under `/proc/net` and the protocol column of `netstat`.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Tcp6 => "tcp6",
            Proto::Udp => "udp",
            Proto::Udp6 => "udp6",
            Proto::Raw => "raw",
            Proto::Raw6 => "raw6",
            Proto::Icmp => "icmp",
            Proto::Icmp6 => "icmp6",
            Proto::Unix => "unix",
            Proto::Packet => "packet",
        }
    }

    /// The protocol word of an lsof NAME (`TCP 1.2.3.4:5->...`).
    pub fn label(self) -> &'static str {
        match self {
            Proto::Tcp | Proto::Tcp6 => "TCP",
            Proto::Udp | Proto::Udp6 => "UDP",
            Proto::Raw | Proto::Raw6 => "RAW",
            Proto::Icmp | Proto::Icmp6 => "ICMP",
            Proto::Unix => "UNIX",
            Proto::Packet => "PACKET",
        }
    }

    /// The lsof TYPE column.
    pub fn lsof_type(self) -> &'static str {
        match self {
            Proto::Tcp | Proto::Udp | Proto::Raw | Proto::Icmp => "IPv4",
            Proto::Tcp6 | Proto::Udp6 | Proto::Raw6 | Proto::Icmp6 => "IPv6",
            Proto::Unix => "unix",
            Proto::Packet => "pack",
        }
    }

    const ALL: [Proto; 10] = [
        Proto::Tcp,
        Proto::Tcp6,
        Proto::Udp,
        Proto::Udp6,
        Proto::Raw,
        Proto::Raw6,
        Proto::Icmp,
        Proto::Icmp6,
        Proto::Unix,
        Proto::Packet,
    ];
}

/// Endpoints of a socket, by family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoints {
    Inet {
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// A unix socket and its bound path (abstract names start with `@`).
    Unix {
        path: Option<Vec<u8>>,
        sock_type: u16,
    },
    /// A packet socket: `SOCK_RAW`/`SOCK_DGRAM`, the ethernet protocol, the interface index.
    Packet {
        sock_type: u16,
        protocol: u16,
        iface: i64,
    },
}

/// One row of a socket table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    pub proto: Proto,
    pub inode: u64,
    pub uid: Option<u32>,
    /// `ESTABLISHED`, `LISTEN`, `CONNECTED`, `UNCONNECTED`, `CLOSE`... (empty for packet).
    pub state: &'static str,
    pub endpoints: Endpoints,
}

impl Socket {
    /// Local endpoint as text (node bytes escaped).
    pub fn local_text(&self) -> String {
        match &self.endpoints {
            Endpoints::Inet { local, .. } => local.to_string(),
            Endpoints::Unix { path: Some(p), .. } => escape_bytes(p),
            Endpoints::Unix { path: None, .. } => String::new(),
            Endpoints::Packet { iface, .. } => format!("iface={iface}"),
        }
    }

    /// Remote endpoint as text; empty where the table has none.
    pub fn remote_text(&self) -> String {
        match &self.endpoints {
            Endpoints::Inet { remote, .. } => remote.to_string(),
            _ => String::new(),
        }
    }

    /// One line describing the socket, as lsof's NAME column and in finding evidence:
    /// `TCP 127.0.0.1:5000->127.0.0.1:41234 ESTABLISHED`, `UNIX /run/x.sock STREAM LISTEN`.
    pub fn describe(&self) -> String {
        let label = self.proto.label();
        match &self.endpoints {
            Endpoints::Inet { local, remote } => {
                let proto_note = match self.proto {
                    // A raw socket's "port" is its IP protocol number.
                    Proto::Raw | Proto::Raw6 => format!(" (IP protocol {})", local.port()),
                    _ => String::new(),
                };
                format!("{label} {local}->{remote} {}{proto_note}", self.state)
            }
            Endpoints::Unix { path, sock_type } => {
                let path = path
                    .as_deref()
                    .map_or_else(|| format!("socket:[{}]", self.inode), escape_bytes);
                format!(
                    "{label} {path} {} {}",
                    sock_type_name(*sock_type),
                    self.state
                )
            }
            Endpoints::Packet {
                sock_type,
                protocol,
                iface,
            } => format!(
                "{label} {} protocol=0x{protocol:04x}{} iface={iface}",
                sock_type_name(*sock_type),
                if *protocol == 3 { " (ETH_P_ALL)" } else { "" }
            ),
        }
    }
}

/// `SOCK_*` names.
pub fn sock_type_name(t: u16) -> &'static str {
    match t {
        1 => "STREAM",
        2 => "DGRAM",
        3 => "RAW",
        5 => "SEQPACKET",
        _ => "?",
    }
}

/// The sockets of one network namespace.
#[derive(Debug, Clone, Default)]
pub struct NetNamespace {
    pub netns: u64,
    pub via_pid: u32,
    pub sockets: Vec<Socket>,
    /// Tables that were missing, unreadable, cut, or had lines that did not parse.
    pub notes: Vec<String>,
}

/// Parses the tables of a `Network` record. `little_endian` is the recorded node's byte
/// order: addresses in the tables are printed as host-order hex words.
pub fn parse(tables: &NetworkTables, little_endian: bool) -> NetNamespace {
    let mut ns = NetNamespace {
        netns: tables.netns,
        via_pid: tables.via_pid,
        ..NetNamespace::default()
    };
    let si = ExplicitSystemInfo {
        boot_time_secs: 0,
        ticks_per_second: 100,
        page_size: 4096,
        is_little_endian: little_endian,
    };
    for proto in Proto::ALL {
        let Some(file) = tables.files.iter().find(|f| f.name == proto.name()) else {
            continue;
        };
        if let Some(err) = &file.error {
            ns.notes.push(format!("{}: {err}", proto.name()));
        }
        if file.truncated {
            ns.notes
                .push(format!("{}: cut at the recorder's cap", proto.name()));
        }
        let mut bad = Vec::new();
        let lines = file.content.split(|b| *b == b'\n').enumerate().skip(1);
        for (n, line) in lines.filter(|(_, l)| !l.trim_ascii().is_empty()) {
            let row = match proto {
                Proto::Unix => unix_row(line).ok_or_else(|| "not a unix row".to_string()),
                Proto::Packet => packet_row(line).ok_or_else(|| "not a packet row".to_string()),
                _ => inet_row(proto, line, &si),
            };
            match row {
                Ok(s) => ns.sockets.push(s),
                Err(e) => bad.push(format!("line {}: {e}", n + 1)),
            }
        }
        if let Some(first) = bad.first() {
            ns.notes.push(format!(
                "{}: {} line(s) skipped, first: {first}",
                proto.name(),
                bad.len()
            ));
        }
    }
    ns
}

fn inet_row(proto: Proto, line: &[u8], si: &ExplicitSystemInfo) -> Result<Socket, String> {
    // procfs-core skips the first line as the header, so each row is fed behind one.
    let text = format!("header\n{}\n", String::from_utf8_lossy(line));
    let reader = text.as_bytes();
    // Both entry types carry the same fields; only the state type differs.
    let (inode, uid, state, local, remote) = if matches!(proto, Proto::Tcp | Proto::Tcp6) {
        let e = parse_one::<TcpNetEntries>(reader, si)?
            .0
            .pop()
            .ok_or("empty row")?;
        (
            e.inode,
            e.uid,
            e.state.to_u8(),
            e.local_address,
            e.remote_address,
        )
    } else {
        let e = parse_one::<UdpNetEntries>(reader, si)?
            .0
            .pop()
            .ok_or("empty row")?;
        (
            e.inode,
            e.uid,
            e.state.to_u8(),
            e.local_address,
            e.remote_address,
        )
    };
    Ok(Socket {
        proto,
        inode,
        uid: Some(uid),
        state: tcp_state_name(state),
        endpoints: Endpoints::Inet { local, remote },
    })
}

fn parse_one<T: FromBufReadSI>(r: impl BufRead, si: &ExplicitSystemInfo) -> Result<T, String> {
    T::from_buf_read(r, si).map_err(|e| e.to_string())
}

/// The kernel's `TCP_*` state names (udp, raw and icmp use 1 and 7 only).
fn tcp_state_name(n: u8) -> &'static str {
    match n {
        1 => "ESTABLISHED",
        2 => "SYN_SENT",
        3 => "SYN_RECV",
        4 => "FIN_WAIT1",
        5 => "FIN_WAIT2",
        6 => "TIME_WAIT",
        7 => "CLOSE",
        8 => "CLOSE_WAIT",
        9 => "LAST_ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        12 => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

/// `Num: RefCount Protocol Flags Type St Inode [Path]`, path to the end of the line.
fn unix_row(line: &[u8]) -> Option<Socket> {
    let mut rest = line;
    let mut fields: [&[u8]; 7] = [&[]; 7];
    for f in &mut fields {
        rest = rest.trim_ascii_start();
        let end = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
        *f = &rest[..end];
        rest = &rest[end..];
    }
    let [slot, _refs, _proto, flags, sock_type, state, inode] = fields;
    if !slot.ends_with(b":") {
        return None;
    }
    let hex = |f: &[u8]| u32::from_str_radix(std::str::from_utf8(f).ok()?, 16).ok();
    let flags = hex(flags)?;
    let sock_type = u16::try_from(hex(sock_type)?).ok()?;
    // __SO_ACCEPTCON marks a listening socket, which the state column shows as unconnected.
    let state = match hex(state)? {
        _ if flags & 0x0001_0000 != 0 => "LISTEN",
        1 => "UNCONNECTED",
        2 => "CONNECTING",
        3 => "CONNECTED",
        4 => "DISCONNECTING",
        _ => "UNKNOWN",
    };
    let path = rest.strip_prefix(b" ").unwrap_or(rest);
    Some(Socket {
        proto: Proto::Unix,
        inode: std::str::from_utf8(inode).ok()?.parse().ok()?,
        uid: None,
        state,
        endpoints: Endpoints::Unix {
            path: (!path.is_empty()).then(|| path.to_vec()),
            sock_type,
        },
    })
}

/// `sk RefCnt Type Proto Iface R Rmem User Inode`.
fn packet_row(line: &[u8]) -> Option<Socket> {
    let text = std::str::from_utf8(line).ok()?;
    let f: Vec<&str> = text.split_whitespace().collect();
    let [_sk, _refs, sock_type, protocol, iface, _running, _rmem, user, inode] = f[..] else {
        return None;
    };
    Some(Socket {
        proto: Proto::Packet,
        inode: inode.parse().ok()?,
        uid: user.parse().ok(),
        state: "",
        endpoints: Endpoints::Packet {
            sock_type: sock_type.parse().ok()?,
            protocol: u16::from_str_radix(protocol, 16).ok()?,
            iface: iface.parse().ok()?,
        },
    })
}

/// Whether an `uname -m` architecture is little-endian (the tables' hex words follow it).
pub fn little_endian(arch: &str) -> bool {
    !matches!(
        arch,
        "s390x"
            | "s390"
            | "ppc64"
            | "ppc"
            | "powerpc"
            | "mips"
            | "mips64"
            | "sparc64"
            | "sparc"
            | "m68k"
            | "parisc"
            | "parisc64"
    )
}

#[cfg(test)]
#[path = "net_tests.rs"]
mod tests;
