//! Which syscalls make timeline entries, and the text and fields of each entry.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use rhf_format::sysent::FlagSet;
use rhf_format::{sysent, Abi, Arg, FdTarget, SockAddr, SyscallEvent};
use serde_json::Value;

use super::{format_span, Entry, Fields, Kind};
use crate::escape::escape_bytes;
use crate::redact::Redactor;
use crate::render::calls::slot;
use crate::render::{errno, fd as render_fd, flags};

/// What a syscall means to the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Open,
    Read,
    Write,
    Send,
    Receive,
    Rename,
    Unlink,
    Rmdir,
    Chmod,
    Chown,
    Link,
    Symlink,
    Mount,
    Connect,
    Accept,
    Bind,
    Listen,
    SetId,
    SetGroups,
    Capset,
    Ptrace,
    Memfd,
    Module,
}

/// The syscalls of the timeline, by name; i386 numbers are looked up by the same names.
const OPS: &[(&str, Op)] = &[
    ("open", Op::Open),
    ("openat", Op::Open),
    ("openat2", Op::Open),
    ("creat", Op::Open),
    ("read", Op::Read),
    ("pread64", Op::Read),
    ("readv", Op::Read),
    ("preadv", Op::Read),
    ("preadv2", Op::Read),
    ("write", Op::Write),
    ("pwrite64", Op::Write),
    ("writev", Op::Write),
    ("pwritev", Op::Write),
    ("pwritev2", Op::Write),
    ("sendto", Op::Send),
    ("sendmsg", Op::Send),
    ("recvfrom", Op::Receive),
    ("recvmsg", Op::Receive),
    ("rename", Op::Rename),
    ("renameat", Op::Rename),
    ("renameat2", Op::Rename),
    ("unlink", Op::Unlink),
    ("unlinkat", Op::Unlink),
    ("rmdir", Op::Rmdir),
    ("chmod", Op::Chmod),
    ("fchmod", Op::Chmod),
    ("fchmodat", Op::Chmod),
    ("fchmodat2", Op::Chmod),
    ("chown", Op::Chown),
    ("fchown", Op::Chown),
    ("lchown", Op::Chown),
    ("fchownat", Op::Chown),
    ("chown32", Op::Chown),
    ("fchown32", Op::Chown),
    ("lchown32", Op::Chown),
    ("link", Op::Link),
    ("linkat", Op::Link),
    ("symlink", Op::Symlink),
    ("symlinkat", Op::Symlink),
    ("mount", Op::Mount),
    ("connect", Op::Connect),
    ("accept", Op::Accept),
    ("accept4", Op::Accept),
    ("bind", Op::Bind),
    ("listen", Op::Listen),
    ("setuid", Op::SetId),
    ("setgid", Op::SetId),
    ("setreuid", Op::SetId),
    ("setregid", Op::SetId),
    ("setresuid", Op::SetId),
    ("setresgid", Op::SetId),
    ("setfsuid", Op::SetId),
    ("setfsgid", Op::SetId),
    ("setuid32", Op::SetId),
    ("setgid32", Op::SetId),
    ("setreuid32", Op::SetId),
    ("setregid32", Op::SetId),
    ("setresuid32", Op::SetId),
    ("setresgid32", Op::SetId),
    ("setfsuid32", Op::SetId),
    ("setfsgid32", Op::SetId),
    ("setgroups", Op::SetGroups),
    ("setgroups32", Op::SetGroups),
    ("capset", Op::Capset),
    ("ptrace", Op::Ptrace),
    ("memfd_create", Op::Memfd),
    ("init_module", Op::Module),
    ("finit_module", Op::Module),
];

/// The syscall names the timeline turns into entries (docs/TIMELINE.md lists them).
pub fn timeline_syscalls() -> impl Iterator<Item = &'static str> {
    OPS.iter().map(|(n, _)| *n)
}

/// [`Op`] by ABI slot and number, for the hot loop.
#[derive(Debug, Default)]
pub struct Ops {
    table: [Vec<Option<(Op, &'static str)>>; 3],
}

/// Numbers above this are not syscalls any table knows.
const MAX_NR: u32 = 2048;

impl Ops {
    pub fn new() -> Ops {
        let mut ops = Ops::default();
        for (name, op) in OPS {
            for abi in [Abi::X86_64, Abi::I386, Abi::X32] {
                let Some(nr) = sysent::number(abi, name) else {
                    continue;
                };
                let nr = if abi == Abi::X32 { nr | (1 << 30) } else { nr };
                let (a, i) = slot(abi, nr);
                if i >= MAX_NR {
                    continue;
                }
                let v = &mut ops.table[a];
                if v.len() <= i as usize {
                    v.resize(i as usize + 1, None);
                }
                v[i as usize] = Some((*op, name));
            }
        }
        ops
    }

    /// The op of syscall `nr` and its name.
    #[inline]
    pub fn get(&self, abi: Abi, nr: u32) -> Option<(Op, &'static str)> {
        let (a, i) = slot(abi, nr);
        self.table[a].get(i as usize).copied().flatten()
    }
}

impl Op {
    pub fn kind(self) -> Kind {
        match self {
            Op::Open => Kind::FileOpen,
            Op::Read => Kind::FileRead,
            Op::Write => Kind::FileWrite,
            Op::Send => Kind::Send,
            Op::Receive => Kind::Receive,
            Op::Rename => Kind::Rename,
            Op::Unlink | Op::Rmdir => Kind::Unlink,
            Op::Chmod => Kind::Chmod,
            Op::Chown => Kind::Chown,
            Op::Link | Op::Symlink => Kind::Link,
            Op::Mount => Kind::Mount,
            Op::Connect => Kind::Connect,
            Op::Accept => Kind::Accept,
            Op::Bind => Kind::Bind,
            Op::Listen => Kind::Listen,
            Op::SetId | Op::SetGroups | Op::Capset => Kind::PrivilegeChange,
            Op::Ptrace => Kind::Ptrace,
            Op::Memfd => Kind::MemfdCreate,
            Op::Module => Kind::ModuleLoad,
        }
    }

    /// Whether a call that failed with `errno` (`None`: it succeeded) makes an entry:
    /// successes always; connects whatever the outcome (an attempt is evidence); data
    /// transfers and accepts only when they succeeded (EAGAIN and EOF noise); every other
    /// call when it was denied (EACCES, EPERM).
    pub fn keeps(self, errno: Option<i64>) -> bool {
        const EPERM: i64 = 1;
        const EACCES: i64 = 13;
        match errno {
            None => true,
            Some(_) if self == Op::Connect => true,
            Some(_)
                if matches!(
                    self,
                    Op::Read | Op::Write | Op::Send | Op::Receive | Op::Accept
                ) =>
            {
                false
            }
            Some(e) => e == EPERM || e == EACCES,
        }
    }
}

/// A syscall event's details, for [`syscall_entry`].
pub struct Call<'a> {
    pub ev: &'a SyscallEvent,
    pub op: Op,
    pub name: &'static str,
    /// The errno when the call failed.
    pub errno: Option<i64>,
}

/// The first descriptor argument and its target.
pub fn first_fd(args: &[Arg]) -> Option<(i32, Option<&FdTarget>)> {
    first_fd_shared(args).map(|(fd, t)| (fd, t.map(|t| &**t)))
}

fn first_fd_shared(args: &[Arg]) -> Option<(i32, Option<&Arc<FdTarget>>)> {
    args.iter().find_map(|a| match a {
        Arg::Fd(fd, t) => Some((*fd, t.as_ref())),
        _ => None,
    })
}

/// [`target_text`] of the descriptor targets met in one chunk, by identity: a chunk's
/// events share one `Arc` per distinct target, and a busy descriptor is named thousands of
/// times. Holding the `Arc` keeps its address from being reused for another target.
#[derive(Debug, Default)]
pub struct TargetNames(HashMap<usize, (Arc<FdTarget>, String)>);

impl TargetNames {
    pub fn get(&mut self, t: &Arc<FdTarget>) -> &str {
        let key = Arc::as_ptr(t) as usize;
        &self
            .0
            .entry(key)
            .or_insert_with(|| (Arc::clone(t), target_text(t)))
            .1
    }
}

fn paths(args: &[Arg]) -> impl Iterator<Item = &[u8]> {
    args.iter().filter_map(|a| match a {
        Arg::Path(p) => Some(p.resolved.as_ref().map_or(&p.raw[..], |r| &r[..])),
        _ => None,
    })
}

fn strings(args: &[Arg]) -> impl Iterator<Item = &[u8]> {
    args.iter().filter_map(|a| match a {
        Arg::Str(c) => Some(&c.data[..]),
        _ => None,
    })
}

fn sockaddr(args: &[Arg]) -> Option<&SockAddr> {
    args.iter().find_map(|a| match a {
        Arg::Sockaddr(s) => Some(s),
        _ => None,
    })
}

fn int(args: &[Arg], i: usize) -> Option<i64> {
    match args.get(i)? {
        Arg::Int(v) => Some(*v),
        Arg::Hex(v) => Some(*v as i64),
        Arg::Fd(v, _) => Some(i64::from(*v)),
        _ => None,
    }
}

/// A descriptor's target as text: paths escaped, sockets as `TCP:[a:p->b:q]`, pipes as
/// `pipe:[inode]`.
pub fn target_text(t: &FdTarget) -> String {
    match t {
        FdTarget::File(p) | FdTarget::Directory(p) | FdTarget::Other(p) => escape_bytes(p),
        FdTarget::Memfd(name) => format!("/memfd:{} (deleted)", escape_bytes(name)),
        other => {
            let mut s = String::new();
            render_fd::target_text(other, &mut s);
            s
        }
    }
}

/// `10.0.0.5:443`, `[::1]:22`, `unix:/run/x.sock`, `unix:@abstract`.
pub fn address_text(a: &SockAddr) -> String {
    match a {
        SockAddr::Inet(ip, port) => format!("{}:{port}", render_fd::ipv4(ip)),
        SockAddr::Inet6(ip, port, _) => format!("[{}]:{port}", render_fd::ipv6(ip)),
        SockAddr::Unix(p) => match p.split_first() {
            Some((0, name)) => format!("unix:@{}", escape_bytes(name)),
            _ => format!("unix:{}", escape_bytes(p)),
        },
        SockAddr::Netlink { pid, groups } => format!("netlink:{pid}:{groups:#x}"),
        SockAddr::Other(family, _) => {
            let name = flags::address_family(u64::from(*family))
                .map_or_else(|| format!("family {family}"), str::to_string);
            format!("{name} address")
        }
    }
}

/// The local and remote addresses of a socket target.
fn socket_ends(t: Option<&FdTarget>) -> (Option<String>, Option<String>) {
    match t {
        Some(FdTarget::Socket(s)) => (
            s.local.as_ref().map(address_text),
            s.remote.as_ref().map(address_text),
        ),
        _ => (None, None),
    }
}

/// An argument as the message shows it: escaped, then single-quoted when it holds anything
/// but plain word characters.
pub fn shell_word(arg: &[u8], out: &mut String) {
    let text = escape_bytes(arg);
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || "_-+=:,./@%[]^~".contains(c));
    if plain {
        out.push_str(&text);
    } else {
        out.push('\'');
        out.push_str(&text.replace('\'', "'\\''"));
        out.push('\'');
    }
}

/// `argv` redacted and escaped, for the `argv` field.
pub fn argv_field(argv: &[Vec<u8>], redactor: &Redactor) -> Value {
    Value::Array(
        redactor
            .argv(argv)
            .iter()
            .map(|a| Value::from(escape_bytes(a)))
            .collect(),
    )
}

/// A command line for a message: arguments redacted, escaped and quoted, space-separated.
pub fn command_line(argv: &[Vec<u8>], redactor: &Redactor, out: &mut String) {
    for (i, a) in redactor.argv(argv).iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        shell_word(a, out);
    }
}

fn octal_mode(mode: i64) -> String {
    format!("{:04o}", mode & 0o7777)
}

/// Builds the entry of a syscall the timeline keeps (time, number and process are set by the
/// caller). Arguments are found by their kind, so an unexpected layout (an i386 variant)
/// still makes an entry, with what could be found.
pub fn syscall_entry(call: &Call<'_>, names: &mut TargetNames) -> Entry {
    let ev = call.ev;
    let args = &ev.args[..];
    let mut f = Fields::new();
    let mut m = String::new();
    f.insert("syscall", Value::from(call.name));
    let mut bytes = 0;
    let fd_field = |f: &mut Fields, fd: i32, t: Option<&FdTarget>| {
        f.insert("fd", Value::from(fd));
        if let Some(t) = t {
            f.insert("target", Value::from(target_text(t)));
            f.insert("target_type", Value::from(render_fd::target_kind(t)));
        }
    };
    // As `fd_field`, the target's text given.
    let fd_named = |f: &mut Fields, fd: i32, t: Option<(&FdTarget, &str)>| {
        f.insert("fd", Value::from(fd));
        if let Some((t, name)) = t {
            f.insert("target", Value::from(name));
            f.insert("target_type", Value::from(render_fd::target_kind(t)));
        }
    };
    match call.op {
        Op::Open => {
            let path = paths(args).next().map(escape_bytes).unwrap_or_default();
            let fl = match call.name {
                "creat" => Some(0o1101),
                "open" => int(args, 1).map(|v| v as u64),
                "openat" => int(args, 2).map(|v| v as u64),
                _ => None,
            };
            let _ = write!(m, "open {path}");
            f.insert("path", Value::from(path));
            if let Some(fl) = fl {
                let mut words = vec![match fl & 3 {
                    0 => "read",
                    1 => "write",
                    _ => "read-write",
                }];
                for (bit, w) in [(0o100, "create"), (0o1000, "truncate"), (0o2000, "append")] {
                    if fl & bit != 0 {
                        words.push(w);
                    }
                }
                let _ = write!(m, " ({})", words.join(", "));
                f.insert("access", Value::from(words[0]));
                let mut s = String::new();
                flags::render(FlagSet::Open, fl, &mut s);
                f.insert("flags", Value::from(s));
            }
            if call.errno.is_none() {
                let _ = write!(m, " as fd {}", ev.ret);
                f.insert("fd", Value::from(ev.ret));
            }
        }
        Op::Read | Op::Write | Op::Send | Op::Receive => {
            let verb = match call.op {
                Op::Read => "read",
                Op::Write => "write",
                Op::Send => "send",
                _ => "receive",
            };
            bytes = u64::try_from(ev.ret).unwrap_or(0);
            let (fd, t) = first_fd_shared(args).unwrap_or((-1, None));
            let _ = write!(m, "{verb} fd {fd}");
            let named = t.map(|t| (&**t, names.get(t).to_string()));
            if let Some((_, name)) = &named {
                let _ = write!(m, " {name}");
            }
            if let Some(a) = sockaddr(args) {
                let peer = address_text(a);
                let _ = write!(
                    m,
                    " {} {peer}",
                    if call.op == Op::Send { "to" } else { "from" }
                );
                f.insert("remote", Value::from(peer));
            }
            fd_named(&mut f, fd, named.as_ref().map(|(t, n)| (*t, n.as_str())));
        }
        Op::Rename | Op::Link => {
            let mut p = paths(args).map(escape_bytes);
            let (from, to) = (p.next().unwrap_or_default(), p.next().unwrap_or_default());
            let verb = if call.op == Op::Rename {
                "rename"
            } else {
                "link"
            };
            let _ = write!(m, "{verb} {from} -> {to}");
            f.insert("path", Value::from(from));
            f.insert("new_path", Value::from(to));
        }
        Op::Symlink => {
            let target = strings(args).next().map(escape_bytes).unwrap_or_default();
            let link = paths(args).next().map(escape_bytes).unwrap_or_default();
            let _ = write!(m, "symlink {link} -> {target}");
            f.insert("path", Value::from(link));
            f.insert("link_target", Value::from(target));
        }
        Op::Unlink | Op::Rmdir => {
            const AT_REMOVEDIR: i64 = 0x200;
            let path = paths(args).next().map(escape_bytes).unwrap_or_default();
            let dir = call.op == Op::Rmdir
                || (call.name == "unlinkat" && int(args, 2).is_some_and(|v| v & AT_REMOVEDIR != 0));
            let _ = write!(m, "{} {path}", if dir { "rmdir" } else { "unlink" });
            f.insert("path", Value::from(path));
            f.insert("directory", Value::from(dir));
        }
        Op::Chmod => {
            let mode_index = match call.name {
                "chmod" | "fchmod" => 1,
                _ => 2,
            };
            let mode = int(args, mode_index).map(octal_mode).unwrap_or_default();
            let what = object(args, call.name == "fchmod");
            let _ = write!(m, "chmod {} {mode}", what.0);
            f.insert(what.1, Value::from(what.0));
            f.insert("mode", Value::from(mode));
        }
        Op::Chown => {
            let base = usize::from(call.name == "fchownat");
            let (uid, gid) = (int(args, base + 1), int(args, base + 2));
            let what = object(args, matches!(call.name, "fchown" | "fchown32"));
            let id = |v: Option<i64>| match v.map(|v| v as i32) {
                Some(-1) | None => "unchanged".to_string(),
                Some(v) => v.to_string(),
            };
            let _ = write!(m, "chown {} to uid {} gid {}", what.0, id(uid), id(gid));
            f.insert(what.1, Value::from(what.0));
            for (k, v) in [("uid", uid), ("gid", gid)] {
                if let Some(v) = v.map(|v| v as i32).filter(|v| *v != -1) {
                    f.insert(k, Value::from(v));
                }
            }
        }
        Op::Mount => {
            let mut s = strings(args).map(escape_bytes);
            let dev = s.next().unwrap_or_default();
            let fstype = s.next().unwrap_or_default();
            let dir = paths(args).next().map(escape_bytes).unwrap_or_default();
            let _ = write!(m, "mount {dev} on {dir}");
            if !fstype.is_empty() {
                let _ = write!(m, " type {fstype}");
            }
            f.insert("source", Value::from(dev));
            f.insert("path", Value::from(dir));
            f.insert("fstype", Value::from(fstype));
        }
        Op::Connect | Op::Bind => {
            let (fd, t) = first_fd(args).unwrap_or((-1, None));
            let addr = sockaddr(args).map(address_text);
            let verb = if call.op == Op::Connect {
                "connect to"
            } else {
                "bind"
            };
            let shown = addr.clone().or_else(|| {
                let (local, remote) = socket_ends(t);
                if call.op == Op::Connect {
                    remote
                } else {
                    local
                }
            });
            let _ = write!(m, "{verb} {} (fd {fd})", shown.as_deref().unwrap_or("?"));
            fd_field(&mut f, fd, t);
            if let Some(a) = shown {
                let key = if call.op == Op::Connect {
                    "remote"
                } else {
                    "local"
                };
                f.insert(key, Value::from(a));
            }
        }
        Op::Accept | Op::Listen => {
            let (fd, t) = first_fd(args).unwrap_or((-1, None));
            let (local, _) = socket_ends(t);
            let on = local.as_deref().unwrap_or("?");
            if call.op == Op::Accept {
                let peer = sockaddr(args).map(address_text);
                let _ = write!(
                    m,
                    "accept from {} on {on} as fd {}",
                    peer.as_deref().unwrap_or("?"),
                    ev.ret
                );
                if let Some(p) = peer {
                    f.insert("remote", Value::from(p));
                }
                f.insert("new_fd", Value::from(ev.ret));
            } else {
                let _ = write!(m, "listen on {on} (fd {fd})");
            }
            fd_field(&mut f, fd, t);
            if let Some(l) = local {
                f.insert("local", Value::from(l));
            }
        }
        Op::SetId => {
            let names: &[&str] = match call.name.trim_end_matches("32") {
                "setreuid" => &["ruid", "euid"],
                "setregid" => &["rgid", "egid"],
                "setresuid" => &["ruid", "euid", "suid"],
                "setresgid" => &["rgid", "egid", "sgid"],
                "setuid" | "setfsuid" => &["uid"],
                _ => &["gid"],
            };
            let _ = write!(m, "{}(", call.name);
            for (i, n) in names.iter().enumerate() {
                let v = int(args, i).map(|v| v as i32);
                if i > 0 {
                    m.push_str(", ");
                }
                match v {
                    Some(v) => {
                        let _ = write!(m, "{v}");
                        if v != -1 {
                            f.insert(n, Value::from(v));
                        }
                    }
                    None => m.push('?'),
                }
            }
            m.push(')');
        }
        Op::SetGroups => {
            let n = int(args, 0).unwrap_or(0);
            let _ = write!(m, "setgroups ({n} groups)");
            f.insert("groups", Value::from(n));
        }
        Op::Capset => m.push_str("capset (capabilities changed)"),
        Op::Ptrace => {
            let req = int(args, 0).unwrap_or(-1);
            let mut r = String::new();
            flags::render(FlagSet::Ptrace, req as u64, &mut r);
            let target = int(args, 1).map(|v| v as i32).unwrap_or(0);
            let _ = write!(m, "ptrace {r} pid {target}");
            f.insert("request", Value::from(r));
            f.insert("target_pid", Value::from(target));
        }
        Op::Memfd => {
            let name = strings(args).next().map(escape_bytes).unwrap_or_default();
            let _ = write!(m, "memfd_create {name}");
            if call.errno.is_none() {
                let _ = write!(m, " as fd {}", ev.ret);
                f.insert("fd", Value::from(ev.ret));
            }
            f.insert("name", Value::from(name));
        }
        Op::Module => {
            if let Some((fd, t)) = first_fd(args) {
                let _ = write!(m, "load kernel module from fd {fd}");
                if let Some(t) = t {
                    let _ = write!(m, " {}", target_text(t));
                }
                fd_field(&mut f, fd, t);
            } else {
                m.push_str("load kernel module from memory");
            }
            if let Some(p) = strings(args).next().filter(|p| !p.is_empty()) {
                let p = escape_bytes(p);
                let _ = write!(m, " params {p}");
                f.insert("params", Value::from(p));
            }
        }
    }
    if let Some(e) = call.errno {
        let name = errno::name(e);
        let _ = write!(m, " failed: {name}");
        f.insert("error", Value::from(name));
    }
    Entry {
        ts: 0,
        last_ts: 0,
        num: 0,
        pid: ev.pid,
        tid: ev.tid,
        process: String::new(),
        kind: call.op.kind(),
        message: m,
        fields: f,
        count: 1,
        bytes,
    }
}

/// The object of an `f*`/`*at` call: (text, field name): a descriptor's target, or a path.
fn object(args: &[Arg], by_fd: bool) -> (String, &'static str) {
    if by_fd {
        if let Some((fd, t)) = first_fd(args) {
            return (t.map_or_else(|| format!("fd {fd}"), target_text), "target");
        }
    }
    (
        paths(args).next().map(escape_bytes).unwrap_or_default(),
        "path",
    )
}

/// Completes a data transfer's message with its size and, for a run, count and time span:
/// `read fd 3 /etc/passwd, 832 bytes`; `read fd 3 /var/log/x ×10000, 40960000 bytes, over
/// 1.2s`. Other entries are left alone.
pub fn finish_message(e: &mut Entry) {
    if !e.kind.is_transfer() {
        return;
    }
    if e.count > 1 {
        let _ = write!(
            e.message,
            " ×{}, {} bytes, over {}",
            e.count,
            e.bytes,
            format_span(e.last_ts.saturating_sub(e.ts))
        );
    } else {
        let _ = write!(e.message, ", {} bytes", e.bytes);
    }
}
