//! One trace event as one `strace -f -ttt -T -yy` line (output to a file: `PID  ` prefix).
//!
//! Secrets are redacted before quoting (docs/REDACTION.md): execve's argv by the command-line
//! rules, string, buffer and path arguments by the free-text rules (token shapes, URL
//! passwords, secret flags and variables among their words); the environment is only counted.

use std::fmt::Write;

use rhf_format::sysent::{self, ArgKind, FlagSet, RetKind, SyscallSpec};
use rhf_format::{Abi, Arg, ProcessLifecycle, SignalEvent, SyscallEvent};

use super::calls::{negated_errno, returns_address, syscall_name, SyscallSet};
use super::signals::{si_code_name, signal_name};
use super::{errno, fd, flags, quote};
use crate::clock::Clock;
use crate::redact::Redactor;

/// strace pads the text before ` = ` to this column.
const RESULT_COLUMN: usize = 40;

/// Appends `tid  seconds.micros ` (strace's `%-5u ` then `-ttt`), for a record at `ts`.
pub fn prefix(tid: u32, clock: &Clock, ts: u64, out: &mut String) {
    let ns = clock.unix_ns(ts);
    let _ = write!(
        out,
        "{tid:<5} {}.{:06} ",
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) / 1000
    );
}

/// A syscall line: name, arguments (secrets as `redactor` decides), return value, duration;
/// ends with a newline.
pub fn syscall_with(
    ev: &SyscallEvent,
    ts: u64,
    clock: &Clock,
    never_fails: &SyscallSet,
    redactor: &Redactor,
    out: &mut String,
) {
    let start = out.len();
    prefix(ev.tid, clock, ts, out);
    let name = syscall_name(ev.abi, ev.nr);
    let spec = sysent::spec(ev.abi, ev.nr);
    out.push_str(&name);
    out.push('(');
    args(ev, &name, spec, redactor, out);
    out.push(')');
    let col = out.len() - start;
    let pad = RESULT_COLUMN.saturating_sub(col).max(1);
    out.extend(std::iter::repeat_n(' ', pad));
    out.push_str("= ");
    if ev.unfinished {
        // The call never returned (exit, a thread gone with an exec, the capture's end):
        // strace prints `?` and no duration.
        out.push_str("?\n");
        return;
    }
    ret(ev, spec, &name, never_fails, redactor, out);
    let _ = writeln!(
        out,
        " <{}.{:06}>",
        ev.duration_ns / 1_000_000_000,
        ev.duration_ns % 1_000_000_000 / 1000
    );
}

fn args(
    ev: &SyscallEvent,
    name: &str,
    spec: Option<&SyscallSpec>,
    redactor: &Redactor,
    out: &mut String,
) {
    let mut open_flags = None;
    let mut string_lists = 0;
    let mut first = true;
    for (i, arg) in ev.args.iter().enumerate() {
        let arg_spec = spec.and_then(|s| s.args.get(i));
        let kind = arg_spec.map(|a| a.kind);
        // open's mode is only read (and printed by strace) with O_CREAT or O_TMPFILE.
        if kind == Some(ArgKind::Flags(FlagSet::Mode))
            && open_flags.is_some_and(|f| !flags::open_takes_mode(f))
        {
            continue;
        }
        if !first {
            out.push_str(", ");
        }
        first = false;
        match arg {
            Arg::Int(v) => integer(name, *v as u64, Some(*v), kind, out),
            Arg::Hex(v) => integer(name, *v, None, kind, out),
            Arg::Fd(n, target) => {
                let is_dirfd = kind == Some(ArgKind::DirFd) || (kind.is_none() && *n == -100);
                fd::fd(*n, target.as_deref(), is_dirfd, out);
            }
            Arg::Path(p) => quote::quoted(&redactor.text(&p.raw), out),
            Arg::Buf(c) if kind == Some(ArgKind::FdPair) => fd_pair(&c.data, out),
            // An iovec array is kept as its buffers joined: one string, not strace's
            // `[{iov_base=..., iov_len=...}]`.
            Arg::Str(c) | Arg::Buf(c) => {
                quote::quoted_capture_shown(&redactor.text(&c.data), c.data.len(), c.full_len, out)
            }
            Arg::StrList(items, truncated) => {
                string_lists += 1;
                // execve and execveat: the second string array is the environment, whatever
                // the syscall table calls it.
                if string_lists == 2 {
                    env_count(items.len(), *truncated, out);
                } else {
                    string_list(items, *truncated, redactor, out);
                }
            }
            Arg::Sockaddr(a) => fd::sockaddr(a, out),
            Arg::Unreadable(ptr) => {
                let _ = write!(out, "{ptr:#x}");
            }
        }
        if kind == Some(ArgKind::Flags(FlagSet::Open)) {
            open_flags = match arg {
                Arg::Int(v) => Some(*v as u64),
                Arg::Hex(v) => Some(*v),
                _ => None,
            };
        }
    }
}

/// A number as its argument kind asks: symbolic flags, `NULL` or hex for pointers, decimal
/// for counts. `signed` is the value when the recorder stored it as a signed integer.
fn integer(syscall: &str, v: u64, signed: Option<i64>, kind: Option<ArgKind>, out: &mut String) {
    match kind {
        Some(ArgKind::Flags(set)) => flags::render_for(syscall, set, v, out),
        Some(ArgKind::Ptr) if v == 0 => out.push_str("NULL"),
        Some(ArgKind::Ptr) => {
            let _ = write!(out, "{v:#x}");
        }
        Some(k @ (ArgKind::DirFd | ArgKind::Fd)) => {
            fd::fd(v as i64 as i32, None, k == ArgKind::DirFd, out)
        }
        Some(ArgKind::Uint) => {
            let _ = write!(out, "{v}");
        }
        // A C int: only the low half of the register counts (`kill(-1, ...)`).
        Some(ArgKind::Int) => {
            let _ = write!(out, "{}", v as u32 as i32);
        }
        Some(ArgKind::Long) => {
            let _ = write!(out, "{}", v as i64);
        }
        // No spec (or a spec kind that is not a number): as the recorder stored it.
        _ => match signed {
            Some(s) => {
                let _ = write!(out, "{s}");
            }
            None if v == 0 => out.push('0'),
            None => {
                let _ = write!(out, "{v:#x}");
            }
        },
    }
}

/// The two descriptors `pipe` and `socketpair` return, stored as two little-endian `i32`:
/// `[3, 4]`, as strace prints them.
fn fd_pair(data: &[u8], out: &mut String) {
    match (data.get(0..4), data.get(4..8)) {
        (Some(a), Some(b)) => {
            let n = |b: &[u8]| i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let _ = write!(out, "[{}, {}]", n(a), n(b));
        }
        _ => quote::quoted(data, out),
    }
}

/// `["ls", "-l"]`, with `...` as a last element when the recorder kept only the first items;
/// secret values replaced as on a command line.
fn string_list(
    items: &[rhf_format::Bytes],
    truncated: bool,
    redactor: &Redactor,
    out: &mut String,
) {
    let shown = redacted_argv(items, redactor);
    out.push('[');
    for (i, item) in shown.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        quote::quoted(item, out);
    }
    if truncated {
        out.push_str(if items.is_empty() { "..." } else { ", ..." });
    }
    out.push(']');
}

/// An argv as shown: the items themselves with `--show-secrets`, else redacted copies.
pub(crate) fn redacted_argv<'a>(
    items: &'a [rhf_format::Bytes],
    redactor: &Redactor,
) -> Vec<std::borrow::Cow<'a, [u8]>> {
    use std::borrow::Cow;
    if redactor.show_secrets {
        return items.iter().map(|i| Cow::Borrowed(i.as_slice())).collect();
    }
    let argv: Vec<Vec<u8>> = items.iter().map(|i| i.to_vec()).collect();
    redactor.argv(&argv).into_iter().map(Cow::Owned).collect()
}

/// strace shows the environment as a count: `/* 35 vars */`. (It prints the array's address
/// first; the recorder does not keep it.)
fn env_count(n: usize, truncated: bool, out: &mut String) {
    let at_least = if truncated { "at least " } else { "" };
    let plural = if n == 1 { "" } else { "s" };
    let _ = write!(out, "/* {at_least}{n} var{plural} */");
}

fn ret(
    ev: &SyscallEvent,
    spec: Option<&SyscallSpec>,
    name: &str,
    never_fails: &SyscallSet,
    redactor: &Redactor,
    out: &mut String,
) {
    if !never_fails.contains(ev.abi, ev.nr) {
        if let Some(e) = negated_errno(ev.abi, ev.ret) {
            match errno::restart_text(e) {
                Some(text) => {
                    out.push_str("? ");
                    out.push_str(text);
                }
                None => {
                    let _ = write!(out, "-1 {} ({})", errno::name(e), errno::message(e));
                }
            }
            return;
        }
    }
    let kind = spec.map(|s| s.ret);
    // A 32-bit call returns in a 32-bit register, however the recorder extended it.
    let (signed, unsigned) = match ev.abi {
        Abi::I386 => (i64::from(ev.ret as u32 as i32), u64::from(ev.ret as u32)),
        Abi::X86_64 | Abi::X32 => (ev.ret, ev.ret as u64),
    };
    if kind == Some(RetKind::Ptr) || (kind.is_none() && returns_address(name)) {
        let _ = write!(out, "{unsigned:#x}");
        return;
    }
    let _ = write!(out, "{signed}");
    if kind == Some(RetKind::Fd) || (kind.is_none() && opens_path(name)) {
        new_fd_target(ev, redactor, out);
    }
}

fn opens_path(name: &str) -> bool {
    matches!(name, "open" | "openat" | "openat2" | "creat")
}

/// The target of a descriptor a call just opened: the path it opened, resolved when the
/// recorder could. (strace reads `/proc/PID/fd/N`, which is always absolute.)
fn new_fd_target(ev: &SyscallEvent, redactor: &Redactor, out: &mut String) {
    let path = ev.args.iter().find_map(|a| match a {
        Arg::Path(p) => Some(p),
        _ => None,
    });
    if let Some(p) = path {
        match &p.resolved {
            Some(r) => quote::angle_bracketed(&redactor.text(r), out),
            None if p.raw.starts_with(b"/") => quote::angle_bracketed(&redactor.text(&p.raw), out),
            None => {}
        }
    }
}

/// `+++ exited with 0 +++`, `+++ killed by SIGKILL (core dumped) +++`, and strace's note when a
/// thread's exec replaced the process. Returns false for lifecycle records strace does not
/// print (spawns, execs, attach and detach).
pub fn lifecycle(ev: &ProcessLifecycle, ts: u64, clock: &Clock, out: &mut String) -> bool {
    match ev {
        ProcessLifecycle::Exit {
            tid,
            code,
            signal,
            core_dumped,
            ..
        } => {
            prefix(*tid, clock, ts, out);
            match (signal, code) {
                (Some(sig), _) => {
                    let core = if *core_dumped { " (core dumped)" } else { "" };
                    let _ = writeln!(out, "+++ killed by {}{core} +++", signal_name(*sig));
                }
                (None, Some(c)) => {
                    let _ = writeln!(out, "+++ exited with {c} +++");
                }
                (None, None) => out.push_str("+++ exited +++\n"),
            }
            true
        }
        ProcessLifecycle::Exec {
            pid,
            old_tid: Some(old),
            ..
        } if old != pid => {
            prefix(*old, clock, ts, out);
            let _ = writeln!(out, "+++ superseded by execve in pid {pid} +++");
            true
        }
        _ => false,
    }
}

/// `--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=42, si_uid=0} ---`, with the
/// fields the recorder kept.
pub fn signal(ev: &SignalEvent, ts: u64, clock: &Clock, out: &mut String) {
    prefix(ev.tid, clock, ts, out);
    let name = signal_name(ev.signo);
    let _ = write!(
        out,
        "--- {name} {{si_signo={name}, si_code={}",
        si_code_name(ev.signo, ev.code)
    );
    if let Some(p) = ev.sender_pid {
        let _ = write!(out, ", si_pid={p}");
    }
    if let Some(u) = ev.sender_uid {
        let _ = write!(out, ", si_uid={u}");
    }
    out.push_str("} ---\n");
}
