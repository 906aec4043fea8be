//! Field values and operator semantics on hand-built events.

use std::sync::Arc;

use rhf_format::{
    Abi, Accounts, Arg, Captured, FdTarget, PathArg, RawFile, Record, RecordBody, SockAddr,
    SocketInfo, SyscallEvent,
};

use super::*;
use crate::rules::compile::{self, CompileError};
use crate::rules::condition;
use crate::state::testing::{exec, fold, spawn};
use crate::state::Timeline;

fn accounts() -> Record {
    let raw = |name: &str, content: &str| RawFile {
        name: name.into(),
        content: content.as_bytes().to_vec().into(),
        truncated: false,
        full_len: None,
        error: None,
    };
    Record {
        ts: 0,
        body: RecordBody::Accounts(Box::new(Accounts {
            passwd: raw(
                "/etc/passwd",
                "root:x:0:0:root:/root:/bin/bash\nwww:x:33:33::/var/www:/bin/sh\n",
            ),
            group: raw("/etc/group", "root:x:0:\n"),
        })),
    }
}

/// nginx (100) -> bash (101) -> cat (102), as root.
fn timeline() -> Timeline {
    fold(&[
        accounts(),
        exec(100, "/usr/sbin/nginx", &["nginx", "-g", "daemon off;"]),
        spawn(100, 101, 0x11),
        exec(101, "/bin/bash", &["bash", "-c", "cat /etc/shadow"]),
        spawn(101, 102, 0x11),
        exec(
            102,
            "/usr/bin/cat",
            &["cat", "/etc/shadow", "--password=hunter2"],
        ),
    ])
}

fn nr(name: &str) -> u32 {
    rhf_format::sysent::number(Abi::X86_64, name).unwrap()
}

fn path(raw: &str, resolved: &str) -> Arg {
    Arg::Path(PathArg {
        raw: raw.as_bytes().to_vec().into(),
        resolved: Some(resolved.as_bytes().to_vec().into()),
    })
}

fn openat(raw: &str, resolved: &str, flags: u64, ret: i64) -> SyscallEvent {
    SyscallEvent {
        pid: 102,
        tid: 102,
        nr: nr("openat"),
        abi: Abi::X86_64,
        ret,
        args: vec![
            Arg::Fd(-100, None),
            path(raw, resolved),
            Arg::Hex(flags),
            Arg::Hex(0),
        ],
        ..SyscallEvent::default()
    }
}

fn connect() -> SyscallEvent {
    let sock = FdTarget::Socket(SocketInfo {
        inode: 7,
        family: 2,
        sock_type: 1,
        protocol: 0,
        local: Some(SockAddr::Inet([127, 0, 0, 1], 40000)),
        remote: None,
    });
    SyscallEvent {
        pid: 102,
        tid: 102,
        nr: nr("connect"),
        abi: Abi::X86_64,
        ret: 0,
        args: vec![
            Arg::Fd(3, Some(Arc::new(sock))),
            Arg::Sockaddr(SockAddr::Inet([10, 1, 2, 3], 4444)),
            Arg::Int(16),
        ],
        ..SyscallEvent::default()
    }
}

fn ctx<'a>(t: &'a Timeline, ev: &'a SyscallEvent, name: &'a str) -> Ctx<'a> {
    let failed = ev.ret < 0;
    Ctx::new(
        EventMeta {
            num: 10,
            ts: 5,
            pid: ev.pid,
            tid: ev.tid,
            failed,
        },
        EventKind::Syscall(ev),
        name,
        t,
    )
}

fn value(c: &Ctx<'_>, field: &str) -> Option<String> {
    let (name, arg) = match field.split_once('[') {
        Some((n, a)) => (n, Some(a.trim_end_matches(']'))),
        None => (field, None),
    };
    let f = resolve(name, arg, &[], field.into()).unwrap();
    let v = f.get(c);
    (!v.is_none()).then(|| String::from_utf8_lossy(&render_plain(&v)).into_owned())
}

fn holds(c: &Ctx<'_>, cond: &str) -> bool {
    let expr = condition::parse(cond).unwrap_or_else(|e| panic!("{cond}: {e}"));
    let macros: std::collections::HashMap<String, Result<_, CompileError>> = Default::default();
    compile::compile(&expr, &macros)
        .unwrap_or_else(|e| panic!("{cond}: {}", e.message))
        .eval(c)
}

#[test]
fn process_lineage_and_identity() {
    let t = timeline();
    let ev = openat("/etc/shadow", "/etc/shadow", 0, 3);
    let c = ctx(&t, &ev, "openat");
    assert_eq!(value(&c, "proc.name").as_deref(), Some("cat"));
    assert_eq!(value(&c, "proc.exe").as_deref(), Some("cat"));
    assert_eq!(value(&c, "proc.exepath").as_deref(), Some("/usr/bin/cat"));
    assert_eq!(
        value(&c, "proc.args").as_deref(),
        Some("/etc/shadow --password=hunter2")
    );
    assert_eq!(value(&c, "proc.pname").as_deref(), Some("bash"));
    assert_eq!(
        value(&c, "proc.pcmdline").as_deref(),
        Some("bash -c cat /etc/shadow")
    );
    assert_eq!(value(&c, "proc.aname[2]").as_deref(), Some("nginx"));
    assert_eq!(value(&c, "proc.aname[3]"), None);
    assert_eq!(value(&c, "proc.ppid").as_deref(), Some("101"));
    assert!(
        holds(&c, "proc.aname = nginx"),
        "without index: any ancestor"
    );
    assert!(holds(&c, "proc.aname in (sshd, nginx)"));
    assert!(!holds(&c, "proc.aname = sshd"));
    assert!(holds(&c, "proc.name = val(proc.name)"));
    assert!(!holds(&c, "proc.name = val(proc.pname)"));
}

#[test]
fn open_fields() {
    let t = timeline();
    let ev = openat("../etc/shadow", "/etc/shadow", 0o1101, 3);
    let c = ctx(&t, &ev, "openat");
    assert_eq!(value(&c, "fd.name").as_deref(), Some("/etc/shadow"));
    assert_eq!(value(&c, "fd.nameraw").as_deref(), Some("../etc/shadow"));
    assert_eq!(value(&c, "fd.directory").as_deref(), Some("/etc"));
    assert_eq!(value(&c, "fd.filename").as_deref(), Some("shadow"));
    assert_eq!(value(&c, "fd.typechar").as_deref(), Some("f"));
    assert_eq!(value(&c, "fd.num").as_deref(), Some("3"));
    assert_eq!(value(&c, "evt.res").as_deref(), Some("SUCCESS"));
    assert!(holds(
        &c,
        "evt.is_open_write=true and evt.is_open_read=false"
    ));
    assert!(holds(&c, "evt.arg.flags contains O_TRUNC"));
    assert!(holds(&c, "evt.arg[2] contains O_CREAT"));
    assert!(holds(&c, "evt.arg.name = ../etc/shadow"));
    assert!(holds(&c, "fd.name pmatch (/etc)"));
    assert!(!holds(&c, "fd.name pmatch (/et)"));
    let failed = openat("/nope", "/nope", 0, -2);
    let c = ctx(&t, &failed, "openat");
    assert_eq!(value(&c, "evt.res").as_deref(), Some("ENOENT"));
    assert_eq!(value(&c, "evt.rawres").as_deref(), Some("-2"));
    assert!(holds(&c, "evt.failed = true and fd.num < 0"));
}

#[test]
fn socket_fields() {
    let t = timeline();
    let ev = connect();
    let c = ctx(&t, &ev, "connect");
    assert_eq!(value(&c, "fd.type").as_deref(), Some("ipv4"));
    assert_eq!(value(&c, "fd.l4proto").as_deref(), Some("tcp"));
    assert_eq!(value(&c, "fd.sip").as_deref(), Some("10.1.2.3"));
    assert_eq!(value(&c, "fd.cip").as_deref(), Some("127.0.0.1"));
    assert_eq!(value(&c, "fd.rport").as_deref(), Some("4444"));
    assert_eq!(value(&c, "fd.lport").as_deref(), Some("40000"));
    assert_eq!(
        value(&c, "fd.name").as_deref(),
        Some("127.0.0.1:40000->10.1.2.3:4444")
    );
    assert!(holds(&c, "fd.snet in (10.0.0.0/8, 192.168.0.0/16)"));
    assert!(holds(&c, "fd.net = 127.0.0.0/8"), "either end");
    assert!(holds(&c, "fd.sip = 10.1.2.3 and fd.connected = true"));
    assert!(holds(&c, "fd.sport > 1024 and fd.sport <= 4444"));
}

#[test]
fn missing_values_make_comparisons_false() {
    let t = timeline();
    let ev = openat("/etc/shadow", "/etc/shadow", 0, 3);
    let c = ctx(&t, &ev, "openat");
    assert_eq!(value(&c, "container.image.repository"), None);
    assert!(!holds(&c, "container.image.repository = nginx"));
    assert!(!holds(&c, "container.image.repository != nginx"));
    assert!(holds(&c, "not container.image.repository != nginx"));
    assert!(!holds(&c, "container.image.repository exists"));
    assert!(holds(&c, "proc.name exists"));
    assert!(
        !holds(&c, "fd.sip = 10.0.0.1"),
        "a file has no socket fields"
    );
}

#[test]
fn string_operators_modifiers_and_transformers() {
    let t = timeline();
    let ev = openat("/etc/shadow", "/etc/shadow", 0, 3);
    let c = ctx(&t, &ev, "openat");
    for (cond, want) in [
        ("proc.name = cat", true),
        ("proc.name == cat", true),
        ("proc.name != cat", false),
        ("proc.name in (ls, cat)", true),
        ("proc.name in ()", false),
        ("proc.name intersects (cat)", true),
        ("proc.cmdline contains shadow", true),
        ("proc.cmdline icontains SHADOW", true),
        ("proc.cmdline startswith \"cat /etc\"", true),
        ("proc.cmdline endswith hunter2", true),
        ("fd.name glob /etc/*", true),
        ("fd.name glob /etc/sh?d[aeiou]w", true),
        ("fd.name glob /tmp/*", false),
        ("fd.name iglob /ETC/SHADOW", true),
        ("fd.name regex \"/etc/(shadow|gshadow)\"", true),
        ("fd.name regex shadow", false),
        ("proc.name bcontains 6361", true),
        ("proc.name bstartswith 636174", true),
        ("fd.name startswith anyof (/tmp, /etc)", true),
        ("fd.name startswith allof (/etc, /etc/sh)", true),
        ("fd.name startswith allof (/etc, /tmp)", false),
        ("fd.name contains oneof (etc, shadow)", false),
        ("fd.name contains oneof (etc, passwd)", true),
        ("tolower(proc.name) = cat", true),
        ("toupper(proc.name) = CAT", true),
        ("basename(fd.name) = shadow", true),
        ("len(proc.name) = 3", true),
        ("len(fd.name) > 20", false),
        ("b64(proc.name) exists", false),
        ("proc.name = cat and not fd.name = /etc/passwd", true),
        ("proc.name = ls or proc.name = cat and fd.num = 3", true),
        ("(proc.name = ls or proc.name = cat) and fd.num = 4", false),
        ("not proc.name = ls and not proc.name = bash", true),
        ("user.name = root and user.uid = 0", false),
        ("evt.type = openat and evt.dir = <", true),
        ("evt.dir = >", false),
    ] {
        assert_eq!(holds(&c, cond), want, "{cond}");
    }
}

#[test]
fn redaction_of_outputs() {
    let t = timeline();
    let ev = openat("/etc/shadow", "/etc/shadow", 0, 3);
    let c = ctx(&t, &ev, "openat");
    let out =
        crate::rules::output::Output::compile("cmd=%proc.cmdline img=%container.image").unwrap();
    let hidden = out.fill(&c, &crate::redact::Redactor::new(false));
    assert!(!hidden.text.contains("hunter2"), "{}", hidden.text);
    assert!(hidden.text.contains("[REDACTED:"), "{}", hidden.text);
    assert!(hidden.text.ends_with("img=<NA>"));
    let shown = out.fill(&c, &crate::redact::Redactor::new(true));
    assert!(shown.text.contains("--password=hunter2"));
}

#[test]
fn ptrace_and_chmod_render_as_falco_does() {
    let t = timeline();
    let ptrace = SyscallEvent {
        pid: 102,
        tid: 102,
        nr: nr("ptrace"),
        abi: Abi::X86_64,
        ret: -1,
        args: vec![Arg::Hex(16), Arg::Int(77), Arg::Hex(0), Arg::Hex(0)],
        ..SyscallEvent::default()
    };
    let c = ctx(&t, &ptrace, "ptrace");
    assert_eq!(
        value(&c, "evt.arg.request").as_deref(),
        Some("PTRACE_ATTACH")
    );
    let chmod = SyscallEvent {
        pid: 102,
        tid: 102,
        nr: nr("chmod"),
        abi: Abi::X86_64,
        args: vec![path("x", "/tmp/x"), Arg::Hex(0o4755)],
        ..SyscallEvent::default()
    };
    let c = ctx(&t, &chmod, "chmod");
    assert!(holds(&c, "evt.arg.mode contains S_ISUID"));
    assert!(!holds(&c, "evt.arg.mode contains S_ISGID"));
    let write = SyscallEvent {
        pid: 102,
        tid: 102,
        nr: nr("write"),
        abi: Abi::X86_64,
        ret: 4,
        args: vec![
            Arg::Fd(1, Some(Arc::new(FdTarget::Pipe(9)))),
            Arg::Buf(Captured {
                data: b"\x7fELF".to_vec().into(),
                full_len: 4,
            }),
            Arg::Int(4),
        ],
        ..SyscallEvent::default()
    };
    let c = ctx(&t, &write, "write");
    assert!(holds(&c, "evt.buffer bcontains 7f454c46"));
    assert_eq!(value(&c, "fd.type").as_deref(), Some("pipe"));
    assert_eq!(value(&c, "fd.num").as_deref(), Some("1"));
}

#[test]
fn docs_list_every_field() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/RULES.md"))
        .expect("docs/RULES.md");
    let missing: Vec<&str> = TABLE
        .iter()
        .map(|d| d.name)
        .filter(|n| !docs.contains(&format!("| `{n}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/RULES.md does not list {missing:?}"
    );
}
