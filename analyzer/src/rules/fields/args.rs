//! Event arguments as rules see them (`evt.arg.NAME`, `evt.args`): Falco's renderings where
//! its rules depend on them — flags as `O_WRONLY|O_CREAT|O_TRUNC`, ptrace requests as
//! `PTRACE_ATTACH`, chmod modes as `S_ISUID|...` — and plain text otherwise: paths exactly as
//! passed, numbers in decimal, socket addresses as `ip:port`.

use std::borrow::Cow;
use std::fmt::Write;

use rhf_format::sysent::{self, ArgKind, FlagSet};
use rhf_format::{Arg, SockAddr, SyscallEvent};

use crate::render::flags;

/// Falco's names of mode bits, as it prints a chmod mode.
const MODE_BITS: &[(u64, &str)] = &[
    (0o001, "S_IXOTH"),
    (0o002, "S_IWOTH"),
    (0o004, "S_IROTH"),
    (0o010, "S_IXGRP"),
    (0o020, "S_IWGRP"),
    (0o040, "S_IRGRP"),
    (0o100, "S_IXUSR"),
    (0o200, "S_IWUSR"),
    (0o400, "S_IRUSR"),
    (0o1000, "S_ISVTX"),
    (0o2000, "S_ISGID"),
    (0o4000, "S_ISUID"),
];

/// The position of argument `name` in `ev`'s syscall.
pub fn position(ev: &SyscallEvent, name: &[u8]) -> Option<usize> {
    let spec = sysent::spec(ev.abi, ev.nr)?;
    spec.args.iter().position(|a| a.name.as_bytes() == name)
}

/// Argument `i` of `ev` as text.
pub fn render<'a>(ev: &'a SyscallEvent, syscall: &str, i: usize) -> Option<Cow<'a, [u8]>> {
    let arg = ev.args.get(i)?;
    let kind = sysent::spec(ev.abi, ev.nr)
        .and_then(|s| s.args.get(i))
        .map(|a| a.kind);
    Some(match arg {
        Arg::Int(v) => match kind {
            Some(ArgKind::Flags(set)) => Cow::Owned(flag_text(syscall, set, *v as u64)),
            _ => Cow::Owned(v.to_string().into_bytes()),
        },
        Arg::Hex(v) => match kind {
            Some(ArgKind::Flags(set)) => Cow::Owned(flag_text(syscall, set, *v)),
            _ => Cow::Owned(format!("{v:#x}").into_bytes()),
        },
        Arg::Fd(n, _) => Cow::Owned(n.to_string().into_bytes()),
        Arg::Path(p) => Cow::Borrowed(&p.raw[..]),
        Arg::Str(c) | Arg::Buf(c) => Cow::Borrowed(&c.data[..]),
        Arg::StrList(items, _) => {
            let mut out = Vec::new();
            for (k, s) in items.iter().enumerate() {
                if k > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(s);
            }
            Cow::Owned(out)
        }
        Arg::Sockaddr(a) => Cow::Owned(sockaddr_text(a)),
        Arg::Unreadable(addr) => Cow::Owned(format!("{addr:#x}").into_bytes()),
    })
}

fn flag_text(syscall: &str, set: FlagSet, value: u64) -> Vec<u8> {
    if set == FlagSet::Mode && syscall.contains("chmod") {
        let names: Vec<&str> = MODE_BITS
            .iter()
            .filter(|(bit, _)| value & bit != 0)
            .map(|(_, n)| *n)
            .collect();
        return names.join("|").into_bytes();
    }
    let mut out = String::new();
    flags::render_for(syscall, set, value, &mut out);
    out.into_bytes()
}

/// `127.0.0.1:8080`, `[::1]:22` as Falco prints endpoints (`::1:22`), a unix path.
pub fn sockaddr_text(a: &SockAddr) -> Vec<u8> {
    match a {
        SockAddr::Inet(ip, port) => {
            format!("{}:{port}", std::net::Ipv4Addr::from(*ip)).into_bytes()
        }
        SockAddr::Inet6(ip, port, _) => {
            format!("{}:{port}", std::net::Ipv6Addr::from(*ip)).into_bytes()
        }
        SockAddr::Unix(p) => p.to_vec(),
        SockAddr::Netlink { pid, groups } => format!("netlink:{pid}:{groups}").into_bytes(),
        SockAddr::Other(family, _) => format!("family {family}").into_bytes(),
    }
}

/// `evt.args`: every argument as `name=value`, then `res=`.
pub fn all(ev: &SyscallEvent, syscall: &str) -> Vec<u8> {
    let names = sysent::spec(ev.abi, ev.nr).map(|s| s.args);
    let mut out = String::new();
    for i in 0..ev.args.len() {
        if i > 0 {
            out.push(' ');
        }
        match names.and_then(|n| n.get(i)) {
            Some(a) => out.push_str(a.name),
            None => {
                let _ = write!(out, "arg{i}");
            }
        }
        out.push('=');
        if let Some(v) = render(ev, syscall, i) {
            out.push_str(&String::from_utf8_lossy(&v));
        }
    }
    out.into_bytes()
}
