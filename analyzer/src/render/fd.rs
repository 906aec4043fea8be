//! Descriptors with their targets (`strace -yy`) and socket addresses, as strace prints them.

use std::fmt::Write;

use rhf_format::{FdTarget, SockAddr, SocketInfo};

use super::flags::{address_family, socket_type_name};
use super::quote::{angle_bracketed, escape_into, quoted};

const AT_FDCWD: i32 = -100;

/// `3</etc/passwd>`, `3<TCP:[10.0.0.5:40000->10.0.1.3:443]>`, `AT_FDCWD</home/u>`: the
/// number (or `AT_FDCWD` for a directory argument), then the target when it is known.
pub fn fd(fd: i32, target: Option<&FdTarget>, is_dirfd: bool, out: &mut String) {
    if is_dirfd && fd == AT_FDCWD {
        out.push_str("AT_FDCWD");
    } else {
        let _ = write!(out, "{fd}");
    }
    if let Some(t) = target {
        bracketed_target(t, out);
    }
}

/// The target inside `<...>`: paths escaped like strace does, other kinds as the kernel's
/// `/proc/PID/fd` link names them.
pub fn bracketed_target(t: &FdTarget, out: &mut String) {
    match t {
        FdTarget::File(p) | FdTarget::Directory(p) | FdTarget::Other(p) => angle_bracketed(p, out),
        other => {
            out.push('<');
            target_text(other, out);
            out.push('>');
        }
    }
}

/// The target as text without brackets (for JSON and for the non-path kinds).
pub fn target_text(t: &FdTarget, out: &mut String) {
    match t {
        FdTarget::File(p) | FdTarget::Directory(p) | FdTarget::Other(p) => escape_into(p, b"", out),
        FdTarget::Socket(s) => socket(s, out),
        FdTarget::Pipe(inode) => {
            let _ = write!(out, "pipe:[{inode}]");
        }
        FdTarget::Anon(kind) => {
            out.push_str("anon_inode:");
            let bracketed = kind.starts_with('[');
            if !bracketed {
                out.push('[');
            }
            escape_into(kind.as_bytes(), b"", out);
            if !bracketed {
                out.push(']');
            }
        }
        FdTarget::Memfd(name) => {
            out.push_str("/memfd:");
            escape_into(name, b"", out);
            out.push_str(" (deleted)");
        }
    }
}

/// A target's kind, for JSON.
pub fn target_kind(t: &FdTarget) -> &'static str {
    match t {
        FdTarget::File(_) => "file",
        FdTarget::Directory(_) => "directory",
        FdTarget::Socket(_) => "socket",
        FdTarget::Pipe(_) => "pipe",
        FdTarget::Anon(_) => "anon_inode",
        FdTarget::Memfd(_) => "memfd",
        FdTarget::Other(_) => "other",
    }
}

const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const AF_NETLINK: u16 = 16;

/// strace's socket details: `TCP:[local->remote]`, `TCP:[local]` when not connected,
/// `UNIX-STREAM:[inode,"path"]`, `NETLINK:[ROUTE:portid]`, else `socket:[inode]`.
fn socket(s: &SocketInfo, out: &mut String) {
    match s.family {
        AF_INET | AF_INET6 => match inet_protocol(s) {
            Some(proto) => {
                out.push_str(proto);
                if s.family == AF_INET6 {
                    out.push_str("v6");
                }
                out.push_str(":[");
                let remote = s.remote.as_ref().filter(|r| !is_unspecified(r));
                match (&s.local, remote) {
                    (local, Some(r)) => {
                        match local {
                            Some(l) => endpoint(l, out),
                            // The recorder did not learn the local end; say so.
                            None => out.push('?'),
                        }
                        out.push_str("->");
                        endpoint(r, out);
                    }
                    (Some(l), None) => endpoint(l, out),
                    (None, None) => {
                        let _ = write!(out, "{}", s.inode);
                    }
                }
                out.push(']');
            }
            None => inode_only(s.inode, out),
        },
        AF_UNIX => {
            out.push_str("UNIX");
            if let Some(t) = socket_type_name(u64::from(s.sock_type)) {
                out.push('-');
                out.push_str(t.trim_start_matches("SOCK_"));
            }
            let _ = write!(out, ":[{}", s.inode);
            if let Some(SockAddr::Unix(p)) = &s.local {
                if !p.is_empty() {
                    out.push(',');
                    unix_path(p, out);
                }
            } else if let Some(SockAddr::Unix(p)) = &s.remote {
                // strace shows the peer's inode here; the recorder knows the peer's path.
                if !p.is_empty() {
                    out.push_str("->");
                    unix_path(p, out);
                }
            }
            out.push(']');
        }
        AF_NETLINK => match &s.local {
            Some(SockAddr::Netlink { pid, .. }) => {
                out.push_str("NETLINK:[");
                match NETLINK_PROTOCOLS.get(usize::from(s.protocol)) {
                    Some(name) if !name.is_empty() => {
                        let _ = write!(out, "{name}:{pid}]");
                    }
                    _ => {
                        let _ = write!(out, "{}:{pid}]", s.protocol);
                    }
                }
            }
            _ => {
                let _ = write!(out, "NETLINK:[{}]", s.inode);
            }
        },
        _ => inode_only(s.inode, out),
    }
}

fn inode_only(inode: u64, out: &mut String) {
    let _ = write!(out, "socket:[{inode}]");
}

/// strace's protocol names for inet sockets, from the type and the protocol number.
fn inet_protocol(s: &SocketInfo) -> Option<&'static str> {
    const STREAM: u16 = 1;
    const DGRAM: u16 = 2;
    const RAW: u16 = 3;
    Some(match (s.sock_type, s.protocol) {
        (_, 6) | (STREAM, 0) => "TCP",
        (_, 17) | (DGRAM, 0) => "UDP",
        (_, 136) => "UDPLITE",
        (_, 33) | (6, _) => "DCCP",
        (_, 132) => "SCTP",
        (_, 115) => "L2TP/IP",
        (DGRAM, 1) | (DGRAM, 58) => "PING",
        (RAW, _) => "RAW",
        _ => return None,
    })
}

fn is_unspecified(a: &SockAddr) -> bool {
    match a {
        SockAddr::Inet(ip, port) => *port == 0 && *ip == [0; 4],
        SockAddr::Inet6(ip, port, _) => *port == 0 && *ip == [0; 16],
        _ => false,
    }
}

/// `10.0.0.5:40000` or `[::1]:53`.
fn endpoint(a: &SockAddr, out: &mut String) {
    match a {
        SockAddr::Inet(ip, port) => {
            let _ = write!(out, "{}:{port}", ipv4(ip));
        }
        SockAddr::Inet6(ip, port, _) => {
            let _ = write!(out, "[{}]:{port}", ipv6(ip));
        }
        other => sockaddr(other, out),
    }
}

/// A unix socket path; an abstract name (leading NUL) prints as `@"name"`, as strace does.
fn unix_path(p: &[u8], out: &mut String) {
    match p.split_first() {
        Some((0, name)) => {
            out.push('@');
            quoted(name, out);
        }
        _ => quoted(p, out),
    }
}

/// A socket address argument in strace's structure notation.
pub fn sockaddr(a: &SockAddr, out: &mut String) {
    match a {
        SockAddr::Inet(ip, port) => {
            let _ = write!(
                out,
                "{{sa_family=AF_INET, sin_port=htons({port}), sin_addr=inet_addr(\"{}\")}}",
                ipv4(ip)
            );
        }
        // strace also prints sin6_flowinfo, which the recorder does not keep.
        SockAddr::Inet6(ip, port, scope) => {
            let _ = write!(
                out,
                "{{sa_family=AF_INET6, sin6_port=htons({port}), \
                 inet_pton(AF_INET6, \"{}\", &sin6_addr), sin6_scope_id={scope}}}",
                ipv6(ip)
            );
        }
        SockAddr::Unix(p) => {
            out.push_str("{sa_family=AF_UNIX");
            if !p.is_empty() {
                out.push_str(", sun_path=");
                unix_path(p, out);
            }
            out.push('}');
        }
        SockAddr::Netlink { pid, groups } => {
            let _ = write!(
                out,
                "{{sa_family=AF_NETLINK, nl_pid={pid}, nl_groups={groups:08x}}}"
            );
        }
        SockAddr::Other(family, data) => {
            out.push_str("{sa_family=");
            match address_family(u64::from(*family)) {
                Some(name) => out.push_str(name),
                None => {
                    let _ = write!(out, "{family:#x} /* AF_??? */");
                }
            }
            out.push_str(", sa_data=");
            quoted(data, out);
            out.push('}');
        }
    }
}

pub fn ipv4(ip: &[u8; 4]) -> String {
    std::net::Ipv4Addr::from(*ip).to_string()
}

/// IPv6 text exactly as glibc's `inet_ntop` writes it (strace uses it): the first longest
/// run of two or more zero groups becomes `::`, and `::a.b.c.d` / `::ffff:a.b.c.d` keep the
/// IPv4 part dotted.
pub fn ipv6(ip: &[u8; 16]) -> String {
    let words: Vec<u16> = ip
        .chunks_exact(2)
        .map(|w| u16::from_be_bytes([w[0], w[1]]))
        .collect();
    let (mut best, mut cur): ((usize, usize), Option<(usize, usize)>) = ((0, 0), None);
    for (i, w) in words.iter().enumerate() {
        if *w == 0 {
            let run = cur.map_or((i, 1), |(b, l)| (b, l + 1));
            cur = Some(run);
            if run.1 > best.1 {
                best = run;
            }
        } else {
            cur = None;
        }
    }
    let best = (best.1 >= 2).then_some(best);
    let mut s = String::new();
    for (i, w) in words.iter().enumerate() {
        if let Some((base, len)) = best {
            if i >= base && i < base + len {
                if i == base {
                    s.push(':');
                }
                continue;
            }
        }
        if i != 0 {
            s.push(':');
        }
        let embedded_v4 = best == Some((0, 6)) || (best == Some((0, 5)) && words[5] == 0xffff);
        if i == 6 && embedded_v4 {
            s.push_str(&ipv4(&[ip[12], ip[13], ip[14], ip[15]]));
            return s;
        }
        let _ = write!(s, "{w:x}");
    }
    if best.is_some_and(|(b, l)| b + l == 8) {
        s.push(':');
    }
    s
}

/// Netlink protocol names by number, without the `NETLINK_` prefix.
const NETLINK_PROTOCOLS: [&str; 23] = [
    "ROUTE",
    "UNUSED",
    "USERSOCK",
    "FIREWALL",
    "SOCK_DIAG",
    "NFLOG",
    "XFRM",
    "SELINUX",
    "ISCSI",
    "AUDIT",
    "FIB_LOOKUP",
    "CONNECTOR",
    "NETFILTER",
    "IP6_FW",
    "DNRTMSG",
    "KOBJECT_UEVENT",
    "GENERIC",
    "",
    "SCSITRANSPORT",
    "ECRYPTFS",
    "RDMA",
    "CRYPTO",
    "SMC",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn v6(s: &str) -> String {
        ipv6(&s.parse::<std::net::Ipv6Addr>().unwrap().octets())
    }

    #[test]
    fn ipv6_like_inet_ntop() {
        assert_eq!(v6("::"), "::");
        assert_eq!(v6("::1"), "::1");
        assert_eq!(v6("fe80::1:0:0:1"), "fe80::1:0:0:1");
        assert_eq!(v6("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
        assert_eq!(v6("::ffff:10.0.0.1"), "::ffff:10.0.0.1");
        assert_eq!(v6("::10.0.0.1"), "::10.0.0.1");
        assert_eq!(v6("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
        assert_eq!(v6("1::"), "1::");
    }

    fn render(t: FdTarget) -> String {
        let mut s = String::new();
        fd(3, Some(&Arc::new(t)), false, &mut s);
        s
    }

    #[test]
    fn targets_like_strace_yy() {
        let tcp = SocketInfo {
            inode: 367047,
            family: AF_INET,
            sock_type: 1,
            protocol: 6,
            local: Some(SockAddr::Inet([127, 0, 0, 1], 56436)),
            remote: Some(SockAddr::Inet([127, 0, 0, 1], 18777)),
        };
        assert_eq!(
            render(FdTarget::Socket(tcp.clone())),
            "3<TCP:[127.0.0.1:56436->127.0.0.1:18777]>"
        );
        let unconnected = SocketInfo {
            local: None,
            remote: None,
            ..tcp.clone()
        };
        assert_eq!(render(FdTarget::Socket(unconnected)), "3<TCP:[367047]>");
        let udp6 = SocketInfo {
            family: AF_INET6,
            sock_type: 2,
            protocol: 0,
            local: Some(SockAddr::Inet6(v6addr("::1"), 48562, 0)),
            remote: Some(SockAddr::Inet6(v6addr("::1"), 53, 0)),
            ..tcp
        };
        assert_eq!(
            render(FdTarget::Socket(udp6)),
            "3<UDPv6:[[::1]:48562->[::1]:53]>"
        );
        let unix = SocketInfo {
            inode: 9,
            family: AF_UNIX,
            sock_type: 1,
            protocol: 0,
            local: Some(SockAddr::Unix(b"/run/x.sock".to_vec().into())),
            remote: None,
        };
        assert_eq!(
            render(FdTarget::Socket(unix)),
            r#"3<UNIX-STREAM:[9,"/run/x.sock"]>"#
        );
        assert_eq!(render(FdTarget::Pipe(5)), "3<pipe:[5]>");
        assert_eq!(
            render(FdTarget::Anon("eventpoll".into())),
            "3<anon_inode:[eventpoll]>"
        );
        assert_eq!(
            render(FdTarget::Memfd(b"x".to_vec().into())),
            "3</memfd:x (deleted)>"
        );
        assert_eq!(
            render(FdTarget::File(b"/a b\n<c>".to_vec().into())),
            r"3</a b\n\74c\76>"
        );
        let mut s = String::new();
        fd(-100, None, true, &mut s);
        assert_eq!(s, "AT_FDCWD");
    }

    fn v6addr(s: &str) -> [u8; 16] {
        s.parse::<std::net::Ipv6Addr>().unwrap().octets()
    }

    #[test]
    fn socket_addresses() {
        let mut s = String::new();
        sockaddr(&SockAddr::Inet([127, 0, 0, 1], 18777), &mut s);
        assert_eq!(
            s,
            r#"{sa_family=AF_INET, sin_port=htons(18777), sin_addr=inet_addr("127.0.0.1")}"#
        );
        s.clear();
        sockaddr(&SockAddr::Unix(b"\0abstract".to_vec().into()), &mut s);
        assert_eq!(s, r#"{sa_family=AF_UNIX, sun_path=@"abstract"}"#);
        s.clear();
        sockaddr(&SockAddr::Netlink { pid: 0, groups: 1 }, &mut s);
        assert_eq!(s, "{sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000001}");
    }
}
