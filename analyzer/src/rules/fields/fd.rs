//! The descriptor an event is about (Falco's `fd.*` fields): the one it returns (open, socket,
//! accept, dup) or the first descriptor argument, with what it meant at the time.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rhf_format::sysent::{self, ArgKind};
use rhf_format::{Arg, FdTarget, SockAddr, SocketInfo, SyscallEvent};

use crate::render::calls::negated_errno;

/// `AF_*` numbers the fields distinguish.
const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const AF_NETLINK: u16 = 16;
const AF_PACKET: u16 = 17;
const O_DIRECTORY: u64 = 0o200000;
const O_ACCMODE: u64 = 3;

/// One socket endpoint.
pub type Endpoint = (IpAddr, u16);

/// What the fields know of an event's descriptor.
#[derive(Debug, Default)]
pub struct FdView<'a> {
    pub num: Option<i64>,
    /// Resolved path (files), unix socket path, or `None` for inet sockets (built from
    /// endpoints).
    pub path: Option<Cow<'a, [u8]>>,
    pub nameraw: Option<&'a [u8]>,
    pub ty: Option<&'static str>,
    pub socket: Option<SocketView>,
    pub name_changed: bool,
}

#[derive(Debug, Default, Clone)]
pub struct SocketView {
    pub family: u16,
    pub l4proto: Option<&'static str>,
    pub local: Option<Endpoint>,
    pub remote: Option<Endpoint>,
    /// Whether the local end is the server (accepted, or listening on a lower port).
    pub local_is_server: bool,
}

impl SocketView {
    pub fn client(&self) -> Option<Endpoint> {
        if self.local_is_server {
            self.remote
        } else {
            self.local
        }
    }

    pub fn server(&self) -> Option<Endpoint> {
        if self.local_is_server {
            self.local
        } else {
            self.remote
        }
    }
}

impl FdView<'_> {
    /// `fd.name`: the path, or `cip:cport->sip:sport` for inet sockets.
    pub fn name(&self) -> Option<Cow<'_, [u8]>> {
        if let Some(p) = &self.path {
            return Some(Cow::Borrowed(&p[..]));
        }
        let s = self.socket.as_ref()?;
        let (c, srv) = (s.client(), s.server());
        if c.is_none() && srv.is_none() {
            return None;
        }
        let end = |e: Option<Endpoint>| match e {
            Some((ip, port)) => format!("{ip}:{port}"),
            None => "0.0.0.0:0".to_string(),
        };
        Some(Cow::Owned(format!("{}->{}", end(c), end(srv)).into_bytes()))
    }

    pub fn typechar(&self) -> Option<&'static str> {
        Some(typechar(self.ty?))
    }
}

/// Falco's one-letter descriptor types.
pub fn typechar(ty: &str) -> &'static str {
    match ty {
        "file" => "f",
        "directory" => "d",
        "ipv4" => "4",
        "ipv6" => "6",
        "unix" => "u",
        "pipe" => "p",
        "event" => "e",
        "signalfd" => "s",
        "eventpoll" => "l",
        "inotify" => "i",
        "timerfd" => "t",
        "netlink" => "n",
        "memfd" => "m",
        "bpf" => "b",
        "userfaultfd" => "r",
        "io_uring" => "r",
        _ => "o",
    }
}

/// The descriptor of `ev`, named `name`.
pub fn view<'a>(ev: &'a SyscallEvent, name: &str) -> Option<FdView<'a>> {
    let ok = !ev.unfinished && negated_errno(ev.abi, ev.ret).is_none();
    let ret = Some(ev.ret);
    match name {
        "open" | "openat" | "openat2" | "creat" => {
            let p = path_arg(ev, 0)?;
            let dir = flags_arg(ev, name).is_some_and(|f| f & O_DIRECTORY != 0);
            Some(FdView {
                num: ret,
                path: Some(resolved(p)),
                nameraw: Some(&p.raw),
                ty: Some(if dir { "directory" } else { "file" }),
                ..FdView::default()
            })
        }
        "memfd_create" => {
            let n = ev.args.iter().find_map(|a| match a {
                Arg::Str(c) => Some(&c.data),
                _ => None,
            });
            let mut path = b"memfd:".to_vec();
            path.extend_from_slice(n.map(|d| &d[..]).unwrap_or_default());
            Some(FdView {
                num: ret,
                path: Some(Cow::Owned(path)),
                ty: Some("memfd"),
                ..FdView::default()
            })
        }
        "socket" => {
            let int = |i: usize| match ev.args.get(i) {
                Some(Arg::Int(v)) => *v as u64,
                Some(Arg::Hex(v)) => *v,
                _ => 0,
            };
            let family = int(0) as u16;
            Some(FdView {
                num: ret,
                ty: Some(family_type(family)),
                socket: Some(SocketView {
                    family,
                    l4proto: l4proto(family, int(1) as u16 & 0xf, int(2) as u16),
                    ..SocketView::default()
                }),
                ..FdView::default()
            })
        }
        "accept" | "accept4" => {
            let mut v = first_fd(ev)?;
            v.num = ret;
            if let Some(s) = &mut v.socket {
                s.local_is_server = true;
                if let Some(peer) = ev.args.iter().find_map(sockaddr) {
                    s.remote = Some(peer);
                }
            }
            v.name_changed = ok;
            Some(v)
        }
        "connect" => {
            let mut v = first_fd(ev)?;
            if let Some(s) = &mut v.socket {
                s.local_is_server = false;
                if let Some(peer) = ev.args.iter().find_map(sockaddr) {
                    s.remote = Some(peer);
                }
            }
            if v.path.is_none() {
                if let Some(Arg::Sockaddr(SockAddr::Unix(p))) =
                    ev.args.iter().find(|a| matches!(a, Arg::Sockaddr(_)))
                {
                    v.path = Some(Cow::Borrowed(&p[..]));
                }
            }
            v.name_changed = ok;
            Some(v)
        }
        "dup" | "dup2" | "dup3" => {
            let mut v = first_fd(ev)?;
            v.num = ret;
            Some(v)
        }
        _ => first_fd(ev),
    }
}

/// The first argument of kind `Fd` (not a `*at` directory descriptor).
fn first_fd(ev: &SyscallEvent) -> Option<FdView<'_>> {
    let spec = sysent::spec(ev.abi, ev.nr)?;
    spec.args
        .iter()
        .zip(&ev.args)
        .find_map(|(s, a)| match (s.kind, a) {
            (ArgKind::Fd, Arg::Fd(n, t)) => Some(target_view(i64::from(*n), t.as_deref())),
            _ => None,
        })
}

/// A view of descriptor `num` whose target is `t`.
pub fn target_view(num: i64, t: Option<&FdTarget>) -> FdView<'_> {
    let mut v = FdView {
        num: Some(num),
        ..FdView::default()
    };
    let Some(t) = t else {
        return v;
    };
    match t {
        FdTarget::File(p) => {
            v.ty = Some("file");
            v.path = Some(Cow::Borrowed(&p[..]));
        }
        FdTarget::Directory(p) => {
            v.ty = Some("directory");
            v.path = Some(Cow::Borrowed(&p[..]));
        }
        FdTarget::Socket(s) => {
            v.ty = Some(family_type(s.family));
            if let Some(SockAddr::Unix(p)) = s.local.as_ref().or(s.remote.as_ref()) {
                v.path = Some(Cow::Borrowed(&p[..]));
            }
            v.socket = Some(socket_view(s));
        }
        FdTarget::Pipe(ino) => {
            v.ty = Some("pipe");
            v.path = Some(Cow::Owned(format!("pipe:[{ino}]").into_bytes()));
        }
        FdTarget::Anon(kind) => {
            v.ty = Some(anon_type(kind));
            v.path = Some(Cow::Owned(format!("anon_inode:{kind}").into_bytes()));
        }
        FdTarget::Memfd(name) => {
            v.ty = Some("memfd");
            let mut p = b"memfd:".to_vec();
            p.extend_from_slice(name);
            v.path = Some(Cow::Owned(p));
        }
        FdTarget::Other(p) => {
            v.ty = Some("unknown");
            v.path = Some(Cow::Borrowed(&p[..]));
        }
    }
    v
}

/// The type of a descriptor as `/proc/PID/fd` names it, for the snapshot's `fd.types`.
pub fn link_type(target: &[u8]) -> &'static str {
    if target.starts_with(b"socket:") {
        // The link does not say the family; the snapshot's socket tables would. "socket" is
        // what a rule asking for ipv4/ipv6/unix must then treat as any of them.
        "socket"
    } else if target.starts_with(b"pipe:") {
        "pipe"
    } else if let Some(kind) = target.strip_prefix(b"anon_inode:") {
        anon_type(&String::from_utf8_lossy(kind))
    } else if target.starts_with(b"/memfd:") {
        "memfd"
    } else if target.starts_with(b"/") {
        "file"
    } else {
        "unknown"
    }
}

fn anon_type(kind: &str) -> &'static str {
    let k = kind.trim_start_matches('[').trim_end_matches(']');
    match k {
        "eventfd" => "event",
        "signalfd" => "signalfd",
        "eventpoll" => "eventpoll",
        "inotify" => "inotify",
        "timerfd" => "timerfd",
        "userfaultfd" => "userfaultfd",
        "io_uring" => "io_uring",
        k if k.starts_with("bpf") => "bpf",
        _ => "unknown",
    }
}

fn family_type(family: u16) -> &'static str {
    match family {
        AF_INET => "ipv4",
        AF_INET6 => "ipv6",
        AF_UNIX => "unix",
        AF_NETLINK => "netlink",
        AF_PACKET => "packet",
        _ => "unknown",
    }
}

fn l4proto(family: u16, sock_type: u16, protocol: u16) -> Option<&'static str> {
    if family != AF_INET && family != AF_INET6 {
        return None;
    }
    Some(match (sock_type, protocol) {
        (_, 6) | (1, 0) => "tcp",
        (_, 17) | (2, 0) => "udp",
        (_, 1) | (_, 58) => "icmp",
        (3, _) => "raw",
        _ => "unknown",
    })
}

fn socket_view(s: &SocketInfo) -> SocketView {
    let local = s.local.as_ref().and_then(endpoint);
    let remote = s.remote.as_ref().and_then(endpoint);
    // Without the accept/connect that made it, the server side is the one on the lower port
    // (the client's is ephemeral).
    let local_is_server = match (local, remote) {
        (Some((_, l)), Some((_, r))) => l < r,
        (Some(_), None) => true,
        _ => false,
    };
    SocketView {
        family: s.family,
        l4proto: l4proto(s.family, s.sock_type & 0xf, s.protocol),
        local,
        remote,
        local_is_server,
    }
}

fn endpoint(a: &SockAddr) -> Option<Endpoint> {
    match a {
        SockAddr::Inet(ip, port) => Some((IpAddr::V4(Ipv4Addr::from(*ip)), *port)),
        SockAddr::Inet6(ip, port, _) => Some((IpAddr::V6(Ipv6Addr::from(*ip)), *port)),
        _ => None,
    }
}

fn sockaddr(a: &Arg) -> Option<Endpoint> {
    match a {
        Arg::Sockaddr(s) => endpoint(s),
        _ => None,
    }
}

fn path_arg(ev: &SyscallEvent, nth: usize) -> Option<&rhf_format::PathArg> {
    ev.args
        .iter()
        .filter_map(|a| match a {
            Arg::Path(p) => Some(p),
            _ => None,
        })
        .nth(nth)
}

/// The resolved path, else the path as passed.
pub fn resolved(p: &rhf_format::PathArg) -> Cow<'_, [u8]> {
    Cow::Borrowed(p.resolved.as_deref().unwrap_or(&p.raw))
}

/// The `flags` argument of an open-family call.
pub fn flags_arg(ev: &SyscallEvent, name: &str) -> Option<u64> {
    let index = match name {
        "open" => 1,
        "openat" => 2,
        "creat" => return Some(0o1101), // O_CREAT|O_WRONLY|O_TRUNC
        _ => return None,
    };
    match ev.args.get(index)? {
        Arg::Int(v) => Some(*v as u64),
        Arg::Hex(v) => Some(*v),
        _ => None,
    }
}

/// Read and write intent of an open-family call, from its flags.
pub fn open_access(ev: &SyscallEvent, name: &str) -> Option<(bool, bool)> {
    let flags = flags_arg(ev, name)?;
    Some(match flags & O_ACCMODE {
        0 => (true, false),
        1 => (false, true),
        _ => (true, true),
    })
}

/// A path argument: resolved (else as passed), and as passed.
pub type PathPair<'a> = (Cow<'a, [u8]>, &'a [u8]);

/// The path arguments of a file syscall: (first resolved, first raw, second resolved, second
/// raw); for link-like calls the first is the source and the second the target.
pub fn paths(ev: &SyscallEvent) -> [Option<PathPair<'_>>; 2] {
    let mut it = ev.args.iter().filter_map(|a| match a {
        Arg::Path(p) => Some((resolved(p), &p.raw[..])),
        _ => None,
    });
    [it.next(), it.next()]
}
