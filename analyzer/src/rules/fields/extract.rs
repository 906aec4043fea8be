//! Field values for one event: the event itself, the process state at that point of the
//! trace, and the node's accounts.

use std::borrow::Cow;
use std::cell::OnceCell;

use rhf_format::SyscallEvent;

use super::fd::{self, FdView};
use super::table::Fid;
use super::{args, FieldArg, Val};
use crate::render::calls::negated_errno;
use crate::render::errno;
use crate::rules::eval::Memo;
use crate::state::{ProcState, Timeline};

/// What kind of event the fields look at.
#[derive(Debug, Clone, Copy)]
pub enum EventKind<'a> {
    Syscall(&'a SyscallEvent),
    /// A process of the capture-start snapshot (`evt.type = procinfo`).
    ProcInfo,
}

/// One event as the fields see it. Built per event; the descriptor view is worked out on
/// first use and shared by every field that asks.
pub struct Ctx<'a> {
    pub num: u64,
    pub ts: u64,
    pub pid: u32,
    pub tid: u32,
    pub kind: EventKind<'a>,
    /// `evt.type`.
    pub type_name: &'a str,
    /// Whether the call failed (strace's sense: a negated errno from a call that can fail).
    pub failed: bool,
    pub proc: Option<&'a ProcState>,
    pub timeline: &'a Timeline,
    /// Where comparisons already made for this event are remembered, when the caller keeps one.
    pub memo: Option<&'a Memo>,
    fd: OnceCell<Option<FdView<'a>>>,
}

/// Where an event sits in the trace and whose it is.
#[derive(Debug, Clone, Copy)]
pub struct EventMeta {
    pub num: u64,
    pub ts: u64,
    pub pid: u32,
    pub tid: u32,
    pub failed: bool,
}

impl<'a> Ctx<'a> {
    pub fn new(
        meta: EventMeta,
        kind: EventKind<'a>,
        type_name: &'a str,
        timeline: &'a Timeline,
    ) -> Ctx<'a> {
        let EventMeta {
            num,
            ts,
            pid,
            tid,
            failed,
        } = meta;
        Ctx {
            num,
            ts,
            pid,
            tid,
            kind,
            type_name,
            failed,
            proc: timeline.at(pid, num),
            timeline,
            memo: None,
            fd: OnceCell::new(),
        }
    }

    /// The same context, remembering comparisons in `memo` (which must have been moved to
    /// this event with [`Memo::next_event`]).
    pub fn with_memo(self, memo: &'a Memo) -> Ctx<'a> {
        Ctx {
            memo: Some(memo),
            ..self
        }
    }

    fn syscall(&self) -> Option<&'a SyscallEvent> {
        match self.kind {
            EventKind::Syscall(ev) => Some(ev),
            EventKind::ProcInfo => None,
        }
    }

    fn fd(&self) -> Option<&FdView<'a>> {
        self.fd
            .get_or_init(|| fd::view(self.syscall()?, self.type_name))
            .as_ref()
    }

    fn ancestor(&self, n: usize) -> Option<&'a ProcState> {
        self.timeline.ancestor(self.pid, self.num, n)
    }
}

/// Linux capability names by bit number.
const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

fn caps(set: Option<u64>) -> Val<'static> {
    let Some(set) = set else { return Val::None };
    let names: Vec<&str> = CAPS
        .iter()
        .enumerate()
        .filter(|(bit, _)| set & (1u64 << bit) != 0)
        .map(|(_, n)| *n)
        .collect();
    Val::owned(names.join(" ").into_bytes())
}

fn opt_str(v: Option<&[u8]>) -> Val<'_> {
    v.map_or(Val::None, Val::str)
}

fn opt_num<T: Into<i64>>(v: Option<T>) -> Val<'static> {
    v.map_or(Val::None, |n| Val::Num(n.into()))
}

/// `f` of the Nth ancestor, or of every ancestor when no index was given.
fn lineage<'a>(ctx: &Ctx<'a>, arg: &FieldArg, f: impl Fn(&'a ProcState) -> Val<'a>) -> Val<'a> {
    match arg {
        FieldArg::Index(0) => ctx.proc.map_or(Val::None, f),
        FieldArg::Index(n) => ctx.ancestor(*n).map_or(Val::None, f),
        _ => Val::Any(
            ctx.timeline
                .ancestors(ctx.pid, ctx.num)
                .map(f)
                .filter(|v| !v.is_none())
                .collect(),
        ),
    }
}

fn leader<'a>(ctx: &Ctx<'a>, id: Option<u32>) -> Option<&'a ProcState> {
    ctx.timeline.at(id?, ctx.num)
}

fn split_path(p: &[u8]) -> (&[u8], &[u8]) {
    match p.iter().rposition(|b| *b == b'/') {
        Some(0) => (b"/", &p[1..]),
        Some(i) => (&p[..i], &p[i + 1..]),
        None => (b"", p),
    }
}

fn now_unix(ctx: &Ctx<'_>) -> Option<i128> {
    ctx.timeline.clock.map(|c| c.unix_ns(ctx.ts))
}

fn since(ctx: &Ctx<'_>, start: Option<i128>) -> Val<'static> {
    match (now_unix(ctx), start) {
        (Some(now), Some(s)) => Val::Num(i64::try_from((now - s).max(0)).unwrap_or(i64::MAX)),
        _ => Val::None,
    }
}

/// The value of field `id` for `ctx`. It may borrow from the context itself (the fd view it
/// builds once per event), so comparing a path makes no copy of it.
pub fn get<'c>(id: Fid, arg: &FieldArg, ctx: &'c Ctx<'_>) -> Val<'c> {
    let p = ctx.proc;
    let ev = ctx.syscall();
    match id {
        Fid::EvtType => Val::str(ctx.type_name.as_bytes()),
        Fid::EvtNum => Val::Num(ctx.num as i64),
        Fid::EvtTime => match ctx.timeline.clock {
            Some(c) => {
                let iso = c.iso(ctx.ts);
                // 2026-11-28T10:20:05.408091526Z -> 10:20:05.408091526
                Val::owned(
                    iso.get(11..iso.len().saturating_sub(1))
                        .unwrap_or(&iso)
                        .as_bytes()
                        .to_vec(),
                )
            }
            None => Val::None,
        },
        Fid::EvtTimeIso => ctx
            .timeline
            .clock
            .map_or(Val::None, |c| Val::owned(c.iso(ctx.ts).into_bytes())),
        Fid::EvtRawTime => now_unix(ctx)
            .and_then(|n| i64::try_from(n).ok())
            .map_or(Val::None, Val::Num),
        Fid::EvtDir => Val::str(b"<"),
        Fid::EvtRes => match ev {
            Some(e) if e.unfinished => Val::None,
            Some(e) => match negated_errno(e.abi, e.ret).filter(|_| ctx.failed) {
                Some(n) => Val::owned(errno::name(n).into_bytes()),
                None => Val::str(b"SUCCESS"),
            },
            None => Val::None,
        },
        Fid::EvtRawRes => match ev {
            Some(e) if !e.unfinished => Val::Num(e.ret),
            _ => Val::None,
        },
        Fid::EvtFailed => ev.map_or(Val::None, |_| Val::Bool(ctx.failed)),
        Fid::EvtArgs => ev.map_or(Val::None, |e| Val::owned(args::all(e, ctx.type_name))),
        Fid::EvtArg => match (ev, arg) {
            (Some(e), FieldArg::Key(k)) => {
                if k == b"res" {
                    return get(Fid::EvtRawRes, &FieldArg::None, ctx);
                }
                args::position(e, k)
                    .and_then(|i| args::render(e, ctx.type_name, i))
                    .map_or(Val::None, Val::Str)
            }
            _ => Val::None,
        },
        Fid::EvtArgIndex => match (ev, arg) {
            (Some(e), FieldArg::Index(i)) => {
                args::render(e, ctx.type_name, *i).map_or(Val::None, Val::Str)
            }
            _ => Val::None,
        },
        Fid::EvtIsOpenRead | Fid::EvtIsOpenWrite => match ev {
            Some(e) => {
                let (r, w) = fd::open_access(e, ctx.type_name).unwrap_or((false, false));
                Val::Bool(if id == Fid::EvtIsOpenRead { r } else { w })
            }
            None => Val::None,
        },
        Fid::EvtIsOpenExec => ev.map_or(Val::None, |_| Val::Bool(false)),
        Fid::EvtHostname => Val::str(ctx.timeline.hostname.as_bytes()),
        Fid::EvtBuffer => ev
            .and_then(|e| {
                e.args.iter().find_map(|a| match a {
                    rhf_format::Arg::Buf(c) => Some(Val::str(&c.data)),
                    _ => None,
                })
            })
            .unwrap_or(Val::None),
        Fid::EvtLatency => ev.map_or(Val::None, |e| Val::Num(e.duration_ns as i64)),
        Fid::EvtSource => Val::str(b"syscall"),

        Fid::ProcName => p.map_or(Val::None, |p| Val::str(&p.comm)),
        Fid::ProcExe => opt_str(p.and_then(ProcState::exe)),
        Fid::ProcExePath => opt_str(p.and_then(|p| p.exepath.as_deref())),
        Fid::ProcCmdline => p.map_or(Val::None, |p| Val::str(&p.cmdline)),
        Fid::ProcArgs => p.map_or(Val::None, |p| Val::str(&p.args)),
        Fid::ProcPid => Val::Num(i64::from(ctx.pid)),
        Fid::ProcPpid => opt_num(p.map(|p| p.ppid)),
        Fid::ProcPName => ctx.ancestor(1).map_or(Val::None, |p| Val::str(&p.comm)),
        Fid::ProcPExe => opt_str(ctx.ancestor(1).and_then(ProcState::exe)),
        Fid::ProcPExePath => opt_str(ctx.ancestor(1).and_then(|p| p.exepath.as_deref())),
        Fid::ProcPCmdline => ctx.ancestor(1).map_or(Val::None, |p| Val::str(&p.cmdline)),
        Fid::ProcAName => lineage(ctx, arg, |p| Val::str(&p.comm)),
        Fid::ProcAExe => lineage(ctx, arg, |p| opt_str(p.exe())),
        Fid::ProcAExePath => lineage(ctx, arg, |p| opt_str(p.exepath.as_deref())),
        Fid::ProcACmdline => lineage(ctx, arg, |p| Val::str(&p.cmdline)),
        Fid::ProcAPid => lineage(ctx, arg, |p| Val::Num(i64::from(p.pid))),
        Fid::ProcTty => opt_num(p.map(|p| p.tty)),
        Fid::ProcCwd => opt_str(p.and_then(|p| p.cwd.as_deref())),
        Fid::ProcSid => opt_num(p.and_then(|p| p.sid)),
        Fid::ProcSName => opt_str(leader(ctx, p.and_then(|p| p.sid)).map(|l| &l.comm[..])),
        Fid::ProcIsSidLeader => p
            .and_then(|p| p.sid.map(|s| s == p.pid))
            .map_or(Val::None, Val::Bool),
        Fid::ProcVpgid => opt_num(p.and_then(|p| p.pgid)),
        Fid::ProcVpgidName => opt_str(leader(ctx, p.and_then(|p| p.pgid)).map(|l| &l.comm[..])),
        Fid::ProcVpgidExe => opt_str(leader(ctx, p.and_then(|p| p.pgid)).and_then(|l| l.exe())),
        Fid::ProcIsVpgidLeader => p
            .and_then(|p| p.pgid.map(|g| g == p.pid))
            .map_or(Val::None, Val::Bool),
        Fid::ProcDuration => since(ctx, p.and_then(|p| p.start_unix_ns)),
        Fid::ProcPpidDuration => since(ctx, ctx.ancestor(1).and_then(|p| p.start_unix_ns)),
        Fid::ProcStartTs => p
            .and_then(|p| p.start_unix_ns)
            .and_then(|n| i64::try_from(n).ok())
            .map_or(Val::None, Val::Num),
        Fid::ProcEnv => match (p, arg) {
            (Some(p), _) if !p.env_known => Val::None,
            (Some(p), FieldArg::Key(k)) => opt_str(p.env_var(k)),
            (Some(p), _) => Val::owned(p.env.join(&b' ')),
            (None, _) => Val::None,
        },
        Fid::ProcIsExeUpperLayer => Val::None,
        Fid::ProcIsExeFromMemfd => p
            .and_then(|p| p.exe_from_memfd)
            .map_or(Val::None, Val::Bool),
        Fid::ProcIsExeDeleted => p.and_then(|p| p.exe_deleted).map_or(Val::None, Val::Bool),
        Fid::ProcExeIno => p
            .and_then(|p| p.exe_ino)
            .map_or(Val::None, |n| Val::Num(n as i64)),
        Fid::ProcExeInoCtime => opt_num(p.and_then(|p| p.exe_ctime_ns)),
        Fid::ProcExeInoMtime => opt_num(p.and_then(|p| p.exe_mtime_ns)),
        Fid::ProcExeInoCtimeDurationProcStart => {
            match p.and_then(|p| Some((p.start_unix_ns?, p.exe_ctime_ns?))) {
                Some((start, ctime)) => {
                    Val::Num(i64::try_from((start - i128::from(ctime)).max(0)).unwrap_or(0))
                }
                None => Val::None,
            }
        }
        Fid::ThreadTid => Val::Num(i64::from(ctx.tid)),
        Fid::ThreadCapEffective => caps(p.and_then(|p| p.cap_effective)),
        Fid::ThreadCapPermitted => caps(p.and_then(|p| p.cap_permitted)),
        Fid::ThreadCapInheritable => caps(p.and_then(|p| p.cap_inheritable)),
        Fid::UserUid => opt_num(p.and_then(|p| p.euid.or(p.uid))),
        Fid::UserName => opt_str(
            p.and_then(|p| p.euid.or(p.uid))
                .and_then(|u| ctx.timeline.accounts.user(u)),
        ),
        Fid::UserLoginUid => match p {
            Some(p) if p.loginuid_known => Val::Num(p.loginuid.map_or(-1, i64::from)),
            _ => Val::None,
        },
        Fid::UserLoginName => opt_str(
            p.and_then(|p| p.loginuid)
                .and_then(|u| ctx.timeline.accounts.user(u)),
        ),
        Fid::GroupGid => opt_num(p.and_then(|p| p.egid.or(p.gid))),
        Fid::GroupName => opt_str(
            p.and_then(|p| p.egid.or(p.gid))
                .and_then(|g| ctx.timeline.accounts.group(g)),
        ),
        Fid::FdTypes => fd_types(ctx, arg),
        Fid::FdNum
        | Fid::FdName
        | Fid::FdNameRaw
        | Fid::FdType
        | Fid::FdTypeChar
        | Fid::FdDirectory
        | Fid::FdFilename
        | Fid::FdIp
        | Fid::FdCip
        | Fid::FdSip
        | Fid::FdLip
        | Fid::FdRip
        | Fid::FdPort
        | Fid::FdCport
        | Fid::FdSport
        | Fid::FdLport
        | Fid::FdRport
        | Fid::FdNet
        | Fid::FdCnet
        | Fid::FdSnet
        | Fid::FdLnet
        | Fid::FdRnet
        | Fid::FdL4Proto
        | Fid::FdSockFamily
        | Fid::FdConnected
        | Fid::FdNameChanged => ctx.fd().map_or(Val::None, |f| fd_field(id, f)),
        Fid::FdIpName => Val::None,
        Fid::FsPathName | Fid::FsPathNameRaw => match ev.map(fd::paths) {
            Some([Some((res, raw)), _]) => {
                if id == Fid::FsPathName {
                    Val::Str(res)
                } else {
                    Val::str(raw)
                }
            }
            _ => Val::None,
        },
        Fid::FsPathSource | Fid::FsPathSourceRaw | Fid::FsPathTarget | Fid::FsPathTargetRaw => {
            match ev.map(fd::paths) {
                Some([Some(a), Some(b)]) => {
                    let (res, raw) = if matches!(id, Fid::FsPathSource | Fid::FsPathSourceRaw) {
                        a
                    } else {
                        b
                    };
                    if matches!(id, Fid::FsPathSource | Fid::FsPathTarget) {
                        Val::Str(res)
                    } else {
                        Val::str(raw)
                    }
                }
                _ => Val::None,
            }
        }
        Fid::ContainerId => opt_str(p.and_then(|p| p.container_id.as_deref()).map(str::as_bytes)),
        Fid::ContainerMeta | Fid::K8sMeta => Val::None,
    }
}

fn fd_field<'c>(id: Fid, f: &'c FdView<'_>) -> Val<'c> {
    let sock = f.socket.as_ref();
    let ip = |e: Option<super::fd::Endpoint>| e.map_or(Val::None, |(ip, _)| Val::Ip(ip));
    let port =
        |e: Option<super::fd::Endpoint>| e.map_or(Val::None, |(_, p)| Val::Num(i64::from(p)));
    let either =
        |a: Val<'c>, b: Val<'c>| Val::Any([a, b].into_iter().filter(|v| !v.is_none()).collect());
    match id {
        Fid::FdNum => opt_num(f.num),
        Fid::FdName => f.name().map_or(Val::None, Val::Str),
        Fid::FdNameRaw => f
            .nameraw
            .map(Val::str)
            .or_else(|| f.path.as_ref().map(|p| Val::Str(p.clone())))
            .unwrap_or(Val::None),
        Fid::FdType => f.ty.map_or(Val::None, |t| Val::str(t.as_bytes())),
        Fid::FdTypeChar => f.typechar().map_or(Val::None, |t| Val::str(t.as_bytes())),
        Fid::FdDirectory | Fid::FdFilename => match (&f.path, f.ty) {
            (Some(p), Some("file" | "directory" | "memfd")) => {
                let (dir, file) = split_path(p);
                let part = if id == Fid::FdDirectory { dir } else { file };
                Val::str(part)
            }
            _ => Val::None,
        },
        Fid::FdIp | Fid::FdNet => {
            sock.map_or(Val::None, |s| either(ip(s.client()), ip(s.server())))
        }
        Fid::FdCip | Fid::FdCnet => sock.map_or(Val::None, |s| ip(s.client())),
        Fid::FdSip | Fid::FdSnet => sock.map_or(Val::None, |s| ip(s.server())),
        Fid::FdLip | Fid::FdLnet => sock.map_or(Val::None, |s| ip(s.local)),
        Fid::FdRip | Fid::FdRnet => sock.map_or(Val::None, |s| ip(s.remote)),
        Fid::FdPort => sock.map_or(Val::None, |s| either(port(s.client()), port(s.server()))),
        Fid::FdCport => sock.map_or(Val::None, |s| port(s.client())),
        Fid::FdSport => sock.map_or(Val::None, |s| port(s.server())),
        Fid::FdLport => sock.map_or(Val::None, |s| port(s.local)),
        Fid::FdRport => sock.map_or(Val::None, |s| port(s.remote)),
        Fid::FdL4Proto => sock
            .and_then(|s| s.l4proto)
            .map_or(Val::None, |p| Val::str(p.as_bytes())),
        Fid::FdSockFamily => match f.ty {
            Some("ipv4" | "ipv6") => Val::str(b"ip"),
            Some("unix") => Val::str(b"unix"),
            _ => Val::None,
        },
        Fid::FdConnected => sock.map_or(Val::None, |s| Val::Bool(s.remote.is_some())),
        Fid::FdNameChanged => Val::Bool(f.name_changed),
        _ => Val::None,
    }
}

/// The inode of a `socket:[123]` link.
fn socket_inode(target: &[u8]) -> Option<u64> {
    std::str::from_utf8(target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?)
        .ok()?
        .parse()
        .ok()
}

/// `fd.types`: the process's descriptor types from its snapshot.
fn fd_types<'a>(ctx: &Ctx<'a>, arg: &FieldArg) -> Val<'a> {
    let Some(p) = ctx.proc else { return Val::None };
    if p.fds.is_empty() {
        return Val::None;
    }
    let ty = |target: &[u8]| -> &'static str {
        match fd::link_type(target) {
            "socket" => socket_inode(target)
                .and_then(|i| ctx.timeline.socket_types.get(&i).copied())
                .unwrap_or("socket"),
            other => other,
        }
    };
    match arg {
        FieldArg::Index(n) => p
            .fds
            .iter()
            .find(|f| usize::try_from(f.fd).ok() == Some(*n))
            .map_or(Val::None, |f| Val::str(ty(&f.target).as_bytes())),
        _ => {
            let mut types: Vec<&'static str> = p.fds.iter().map(|f| ty(&f.target)).collect();
            types.sort_unstable();
            types.dedup();
            Val::List(
                types
                    .into_iter()
                    .map(|t| Cow::Borrowed(t.as_bytes()))
                    .collect(),
            )
        }
    }
}
