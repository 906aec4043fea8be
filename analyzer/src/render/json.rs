//! One trace event as one JSON object (`print --json`, one per line).
//!
//! Arguments are named by the syscall table (`arg0`... when it has no entry) and typed: numbers
//! as numbers, flag sets as their symbolic text, descriptors with their target, strings and
//! buffers with their captured bytes escaped (`crate::escape`) and their full length.
//! Secrets are redacted as in the text view (`super::line`): argv by the command-line rules,
//! strings, buffers and paths by the free-text rules, the environment only counted.

use std::borrow::Cow;

use serde::ser::SerializeMap;
use serde::Serialize;
use serde_json::{json, Map, Value};

use rhf_format::sysent::{self, ArgKind, FlagSet};
use rhf_format::{Arg, LossNotice, PathArg, ProcessLifecycle, SignalEvent, SockAddr, SyscallEvent};

use super::calls::{abi_name, negated_errno, syscall_name, SyscallSet};
use super::fd;
use super::flags;
use super::signals::{si_code_name, signal_name};
use crate::clock::Clock;
use crate::escape::escape_bytes;
use crate::redact::Redactor;

fn base(event: &str, ts: u64, clock: &Clock, pid: u32, tid: u32) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("event".into(), event.into());
    m.insert("time".into(), clock.iso(ts).into());
    m.insert("ts_ns".into(), ts.into());
    m.insert("pid".into(), pid.into());
    m.insert("tid".into(), tid.into());
    m
}

/// Appends one syscall as a JSON line. The object is serialized straight from the event
/// (keys in alphabetical order, like the other objects): millions of events go through here.
pub fn syscall_with(
    ev: &SyscallEvent,
    ts: u64,
    clock: &Clock,
    never_fails: &SyscallSet,
    redactor: &Redactor,
    out: &mut String,
) {
    let name = syscall_name(ev.abi, ev.nr);
    let spec = sysent::spec(ev.abi, ev.nr);
    let mut args = Vec::with_capacity(ev.args.len());
    let mut resolved = Vec::new();
    let mut string_lists = 0;
    for (i, arg) in ev.args.iter().enumerate() {
        let arg_spec = spec.and_then(|s| s.args.get(i));
        let arg_name =
            arg_spec.map_or_else(|| Cow::Owned(format!("arg{i}")), |a| Cow::Borrowed(a.name));
        if let Arg::StrList(..) = arg {
            string_lists += 1;
        }
        if let Arg::Path(PathArg {
            resolved: Some(r), ..
        }) = arg
        {
            resolved.push((arg_name.clone(), escape_bytes(&redactor.text(r))));
        }
        // execve and execveat: the second string array is the environment.
        let value = arg_value(
            &name,
            arg,
            arg_spec.map(|a| a.kind),
            string_lists == 2,
            redactor,
        );
        args.push((arg_name, value));
    }
    let finished = !ev.unfinished;
    let line = SyscallLine {
        abi: abi_name(ev.abi),
        args: Pairs(args),
        duration_ns: finished.then_some(ev.duration_ns),
        errno: negated_errno(ev.abi, ev.ret)
            .filter(|_| finished && !never_fails.contains(ev.abi, ev.nr))
            .map(super::errno::name),
        event: "syscall",
        pid: ev.pid,
        resolved_paths: (!resolved.is_empty()).then_some(Pairs(resolved)),
        ret: finished.then_some(ev.ret),
        syscall: &name,
        tid: ev.tid,
        time: clock.iso(ts),
        ts_ns: ts,
        unfinished: ev.unfinished,
    };
    // Serializing plain data into a String cannot fail; a failure would only lose the line.
    if let Ok(text) = serde_json::to_string(&line) {
        out.push_str(&text);
        out.push('\n');
    }
}

#[derive(Serialize)]
struct SyscallLine<'a> {
    abi: &'static str,
    args: Pairs<ArgJson>,
    duration_ns: Option<u64>,
    errno: Option<String>,
    event: &'static str,
    pid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved_paths: Option<Pairs<String>>,
    ret: Option<i64>,
    syscall: &'a str,
    tid: u32,
    time: String,
    ts_ns: u64,
    unfinished: bool,
}

/// Named values serialized as an object in their given order.
struct Pairs<T>(Vec<(Cow<'static, str>, T)>);

impl<T: Serialize> Serialize for Pairs<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k.as_ref(), v)?;
        }
        m.end()
    }
}

/// One argument's JSON form.
#[derive(Serialize)]
#[serde(untagged)]
enum ArgJson {
    Signed(i64),
    Unsigned(u64),
    Text(String),
    Fd {
        fd: i32,
        target: Option<String>,
        #[serde(rename = "type")]
        kind: Option<&'static str>,
    },
    Capture {
        data: String,
        full_len: u64,
    },
    List {
        items: Vec<String>,
        truncated: bool,
    },
    Env {
        count: usize,
        truncated: bool,
    },
    Other(Value),
}

fn arg_value(
    syscall: &str,
    arg: &Arg,
    kind: Option<ArgKind>,
    is_env: bool,
    redactor: &Redactor,
) -> ArgJson {
    let flag_text = |v: u64| -> Option<ArgJson> {
        match kind {
            Some(ArgKind::Flags(set)) if set != FlagSet::Other => {
                let mut s = String::new();
                flags::render_for(syscall, set, v, &mut s);
                Some(ArgJson::Text(s))
            }
            _ => None,
        }
    };
    match arg {
        Arg::Int(v) => flag_text(*v as u64).unwrap_or(ArgJson::Signed(*v)),
        Arg::Hex(v) => flag_text(*v).unwrap_or(ArgJson::Unsigned(*v)),
        Arg::Fd(n, target) => {
            let (target, kind) = match target.as_deref() {
                Some(t) => {
                    let mut s = String::new();
                    fd::target_text(t, &mut s);
                    (Some(s), Some(fd::target_kind(t)))
                }
                None => (None, None),
            };
            ArgJson::Fd {
                fd: *n,
                target,
                kind,
            }
        }
        Arg::Path(p) => ArgJson::Text(escape_bytes(&redactor.text(&p.raw))),
        Arg::Str(c) | Arg::Buf(c) => ArgJson::Capture {
            data: escape_bytes(&redactor.text(&c.data)),
            full_len: c.full_len,
        },
        // The environment holds secrets; like the text view, only its size is shown.
        Arg::StrList(items, truncated) if is_env => ArgJson::Env {
            count: items.len(),
            truncated: *truncated,
        },
        Arg::StrList(items, truncated) => ArgJson::List {
            items: super::line::redacted_argv(items, redactor)
                .iter()
                .map(|i| escape_bytes(i))
                .collect(),
            truncated: *truncated,
        },
        Arg::Sockaddr(a) => ArgJson::Other(sockaddr(a)),
        Arg::Unreadable(p) => ArgJson::Other(json!({ "unreadable": p })),
    }
}

fn sockaddr(a: &SockAddr) -> Value {
    match a {
        SockAddr::Inet(ip, port) => {
            json!({ "family": "AF_INET", "addr": fd::ipv4(ip), "port": port })
        }
        SockAddr::Inet6(ip, port, scope) => json!({
            "family": "AF_INET6", "addr": fd::ipv6(ip), "port": port, "scope_id": scope
        }),
        SockAddr::Unix(p) => {
            let (path, abstract_name) = match p.split_first() {
                Some((0, name)) => (escape_bytes(name), true),
                _ => (escape_bytes(p), false),
            };
            json!({ "family": "AF_UNIX", "path": path, "abstract": abstract_name })
        }
        SockAddr::Netlink { pid, groups } => {
            json!({ "family": "AF_NETLINK", "pid": pid, "groups": groups })
        }
        SockAddr::Other(family, data) => json!({
            "family": flags::address_family(u64::from(*family))
                .map_or_else(|| family.to_string(), str::to_string),
            "data": escape_bytes(data),
        }),
    }
}

/// Every lifecycle kind, with its facts (the text view prints only exits and supersedes); an
/// exec's argv redacted as a command line, its file name by the free-text rules.
pub fn lifecycle_with(ev: &ProcessLifecycle, ts: u64, clock: &Clock, redactor: &Redactor) -> Value {
    let m = match ev {
        ProcessLifecycle::Spawn {
            parent_pid,
            parent_tid,
            child_pid,
            child_tid,
            clone_flags,
        } => {
            let mut m = base("spawn", ts, clock, *parent_pid, *parent_tid);
            m.insert("child_pid".into(), (*child_pid).into());
            m.insert("child_tid".into(), (*child_tid).into());
            let mut f = String::new();
            flags::render(FlagSet::Clone, *clone_flags, &mut f);
            m.insert("clone_flags".into(), f.into());
            m
        }
        ProcessLifecycle::Exec {
            pid,
            tid,
            filename,
            argv,
            old_tid,
        } => {
            let mut m = base("exec", ts, clock, *pid, *tid);
            m.insert(
                "filename".into(),
                escape_bytes(&redactor.text(filename)).into(),
            );
            let argv: Vec<String> = super::line::redacted_argv(argv, redactor)
                .iter()
                .map(|a| escape_bytes(a))
                .collect();
            m.insert("argv".into(), argv.into());
            m.insert("old_tid".into(), (*old_tid).into());
            m
        }
        ProcessLifecycle::Exit {
            pid,
            tid,
            code,
            signal,
            core_dumped,
        } => {
            let mut m = base("exit", ts, clock, *pid, *tid);
            m.insert("code".into(), (*code).into());
            m.insert("signal".into(), signal.map(signal_name).into());
            m.insert("core_dumped".into(), (*core_dumped).into());
            m
        }
        ProcessLifecycle::Attached { pid, tid } => base("attached", ts, clock, *pid, *tid),
        ProcessLifecycle::Detached { pid, tid } => base("detached", ts, clock, *pid, *tid),
    };
    m.into()
}

pub fn signal(ev: &SignalEvent, ts: u64, clock: &Clock) -> Value {
    let mut m = base("signal", ts, clock, ev.pid, ev.tid);
    m.insert("signal".into(), signal_name(ev.signo).into());
    m.insert("signo".into(), ev.signo.into());
    m.insert("si_code".into(), si_code_name(ev.signo, ev.code).into());
    m.insert("sender_pid".into(), ev.sender_pid.into());
    m.insert("sender_uid".into(), ev.sender_uid.into());
    m.into()
}

/// The recorder's statement that events of a thread were not recorded.
pub fn loss(ev: &LossNotice, ts: u64, clock: &Clock) -> Value {
    let mut m = base("loss", ts, clock, ev.pid, ev.tid);
    m.insert("events_lost".into(), ev.events_lost.into());
    m.insert(
        "reason".into(),
        crate::escape::escape_str(&ev.reason).into(),
    );
    m.into()
}
