use rhf_format::{Abi, Arg, PathArg, Record, RecordBody, SyscallEvent};

use super::testing::{exec, fold, spawn};
use super::*;

fn rec(ts: u64, body: RecordBody) -> Record {
    Record { ts, body }
}

#[test]
fn versions_follow_event_numbers() {
    let t = fold(&[
        exec(100, "/usr/bin/bash", &["bash", "-c", "x"]),
        spawn(100, 101, 0x11),
        exec(101, "/usr/bin/cat", &["cat", "/etc/shadow"]),
    ]);
    assert_eq!(t.at(100, 1).unwrap().comm, b"bash");
    assert_eq!(
        t.at(101, 2).unwrap().comm,
        b"bash",
        "a fork copies its parent"
    );
    assert_eq!(t.at(101, 3).unwrap().comm, b"cat");
    assert_eq!(t.at(101, 3).unwrap().cmdline, b"cat /etc/shadow");
    assert_eq!(t.at(101, 3).unwrap().args, b"/etc/shadow");
    assert_eq!(t.ancestor(101, 3, 1).unwrap().comm, b"bash");
    assert!(t.ancestor(101, 3, 2).is_none());
    // Before its first record a process is unknown.
    assert!(t.at(101, 1).is_none());
}

#[test]
fn threads_do_not_make_processes_and_clone_parent_reparents() {
    let t = fold(&[
        exec(100, "/bin/a", &["a"]),
        spawn(100, 100, 0x10000),
        spawn(100, 102, 0x8000),
    ]);
    assert_eq!(t.process_count(), 2);
    assert_eq!(
        t.at(102, 3).unwrap().ppid,
        0,
        "CLONE_PARENT gives the caller's parent"
    );
}

#[test]
fn identity_calls_change_credentials_and_cwd() {
    let ok = |name: &str, args: Vec<Arg>| {
        rec(
            20,
            RecordBody::Syscall(SyscallEvent {
                pid: 100,
                tid: 100,
                nr: rhf_format::sysent::number(Abi::X86_64, name).unwrap(),
                abi: Abi::X86_64,
                ret: 0,
                args,
                ..SyscallEvent::default()
            }),
        )
    };
    let t = fold(&[
        exec(100, "/bin/a", &["a"]),
        ok("setuid", vec![Arg::Int(1000)]),
        ok(
            "chdir",
            vec![Arg::Path(PathArg {
                raw: b"tmp".to_vec().into(),
                resolved: Some(b"/tmp".to_vec().into()),
            })],
        ),
        ok("setsid", vec![]),
    ]);
    let s = t.at(100, 4).unwrap();
    assert_eq!((s.uid, s.euid), (Some(1000), Some(1000)));
    assert_eq!(s.cwd.as_deref(), Some(&b"/tmp"[..]));
    assert_eq!((s.sid, s.pgid), (Some(100), Some(100)));
    assert_eq!(t.at(100, 1).unwrap().uid, None);
}

#[test]
fn hostile_parent_cycles_end() {
    let t = fold(&[spawn(1, 2, 0), spawn(2, 1, 0)]);
    assert!(t.ancestors(2, 2).count() <= MAX_ANCESTORS);
}

#[test]
fn a_vfork_child_recorded_before_its_spawn_keeps_its_exec() {
    // dash vforks: the child's exec can reach the trace before the parent's spawn record.
    let t = fold(&[
        exec(100, "/bin/sh", &["sh", "-c", "x"]),
        exec(101, "/bin/true", &["true", "--password=x"]),
        spawn(100, 101, 0x4111),
    ]);
    let child = t.at(101, 3).unwrap();
    assert_eq!(child.comm, b"true");
    assert_eq!(child.ppid, 100, "the spawn still tells the parent");
}
