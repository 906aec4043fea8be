//! The eBPF backend's decoded arguments and lifecycle records, end to end: paths read in the
//! kernel and resolved by the shared decoder, fd targets, execve filenames and argv, socket
//! addresses, Spawn/Exec/Exit records and the exec snapshot, compared with the ptrace backend
//! where both must agree. Skipped (loudly; a failure under RHF_STRICT=1) when not root or
//! when rhf-record was built without the eBPF backend.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use rhf::{ebpf_available, have_tool, record, require, SYSTEM_PATH};
use rhf_format::sysent;
use rhf_format::{
    Arg, FdTarget, ProcessLifecycle, Record, RecordBody, SnapshotReason, SockAddr, SyscallEvent,
    TraceReader,
};

/// Records `cmd` with `backend` into `dir/NAME-BACKEND.rhf` in a clean environment (cargo's
/// LD_LIBRARY_PATH would change what the loader opens); returns the trace and the
/// recorder's exit status (the command's).
fn record_with(dir: &Path, backend: &str, name: &str, cmd: &[&str]) -> (PathBuf, Option<i32>) {
    let trace = dir.join(format!("{name}-{backend}.rhf"));
    let out = record()
        .args(["--backend", backend, "--force", "-o"])
        .arg(&trace)
        .arg("--")
        .args(cmd)
        .env_clear()
        .env("PATH", SYSTEM_PATH)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .expect("run rhf-record");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("LOST"),
        "{backend}: events were lost: {stderr}"
    );
    assert!(trace.exists(), "{backend}: no trace: {stderr}");
    (trace, out.status.code())
}

fn records(trace: &Path) -> Vec<Record> {
    let reader = TraceReader::open(trace).expect("open trace");
    reader
        .records()
        .map(|r| r.expect("a readable record"))
        .collect()
}

fn syscalls(records: &[Record]) -> impl Iterator<Item = (&'static str, &SyscallEvent)> {
    records.iter().filter_map(|r| match &r.body {
        RecordBody::Syscall(ev) => Some((sysent::name(ev.abi, ev.nr).unwrap_or("?"), ev)),
        _ => None,
    })
}

fn lifecycle(records: &[Record]) -> Vec<&ProcessLifecycle> {
    records
        .iter()
        .filter_map(|r| match &r.body {
            RecordBody::Lifecycle(l) => Some(l),
            _ => None,
        })
        .collect()
}

/// Every path the command tried to open (openat, open).
fn opened_paths(records: &[Record]) -> BTreeSet<String> {
    syscalls(records)
        .filter(|(name, _)| matches!(*name, "openat" | "open"))
        .filter_map(|(_, ev)| {
            ev.args.iter().find_map(|a| match a {
                Arg::Path(p) => Some(String::from_utf8_lossy(&p.raw).into_owned()),
                _ => None,
            })
        })
        .collect()
}

#[test]
fn ebpf_decodes_paths_fd_targets_and_execve() {
    let dir = tempfile::tempdir().unwrap();
    if !ebpf_available(dir.path()) {
        return;
    }
    let cmd = ["/bin/cat", "/etc/hostname"];
    let (trace, status) = record_with(dir.path(), "ebpf", "cat", &cmd);
    assert_eq!(status, Some(0));
    let recs = records(&trace);

    // execve with its filename (read in the kernel) and argv (from the exec record).
    let (_, execve) = syscalls(&recs)
        .find(|(name, _)| *name == "execve")
        .expect("the execve is recorded");
    assert_eq!(execve.ret, 0);
    match &execve.args[..2] {
        [Arg::Path(p), Arg::StrList(argv, false)] => {
            assert_eq!(&p.raw[..], b"/bin/cat");
            let argv: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
            assert_eq!(argv, vec![&b"/bin/cat"[..], b"/etc/hostname"]);
        }
        other => panic!("execve's filename and argv were not decoded: {other:?}"),
    }

    // The openat of /etc/hostname with its path, resolved; its fd's target on later calls.
    let calls: Vec<(&str, &SyscallEvent)> = syscalls(&recs).collect();
    let at = calls
        .iter()
        .position(|(name, ev)| {
            *name == "openat"
                && ev
                    .args
                    .iter()
                    .any(|a| matches!(a, Arg::Path(p) if &p.raw[..] == b"/etc/hostname"))
        })
        .expect("the openat of /etc/hostname is recorded with its path");
    let open = calls[at].1;
    assert!(open.ret >= 0, "openat failed: {}", open.ret);
    let path = open
        .args
        .iter()
        .find_map(|a| match a {
            Arg::Path(p) => p.resolved.clone(),
            _ => None,
        })
        .expect("the path is resolved");
    assert_eq!(&path[..], b"/etc/hostname");
    let fd = open.ret as i32;
    // cat reads with read(2), or copy_file_range(2) in newer coreutils: the call that moves
    // the data names the fd with its target.
    let (name, data_call) = calls[at..]
        .iter()
        .copied()
        .find(|(name, ev)| {
            matches!(*name, "read" | "copy_file_range")
                && matches!(ev.args.first(), Some(Arg::Fd(f, _)) if *f == fd)
        })
        .expect("a read of the opened fd");
    match data_call.args.first() {
        Some(Arg::Fd(_, Some(target))) => assert_eq!(
            **target,
            FdTarget::File(b"/etc/hostname".to_vec().into()),
            "{name}'s fd target"
        ),
        other => panic!("{name} carries no fd target: {other:?}"),
    }
    // No call's arguments are raw where the syscall table says the decoder reads a path.
    for (name, ev) in syscalls(&recs).filter(|(_, ev)| ev.ret >= 0) {
        let spec = sysent::spec(ev.abi, ev.nr).expect("known syscall");
        for (arg, spec_arg) in ev.args.iter().zip(spec.args) {
            if spec_arg.kind == sysent::ArgKind::Path {
                assert!(
                    matches!(arg, Arg::Path(_)),
                    "{name}'s {} is {arg:?}",
                    spec_arg.name
                );
            }
        }
    }

    // The same command under ptrace opens the same paths, and its standard output (seeded
    // from the command while it was stopped before its exec) is the same file.
    let (ptrace_trace, _) = record_with(dir.path(), "ptrace", "cat", &cmd);
    let ptrace_recs = records(&ptrace_trace);
    let stdout_at_close = |recs: &[Record]| {
        syscalls(recs)
            .find_map(|(name, ev)| match ev.args.first() {
                Some(Arg::Fd(1, target)) if name == "close" => Some(target.clone()),
                _ => None,
            })
            .expect("cat closes its standard output")
    };
    let stdout = stdout_at_close(&recs);
    assert!(stdout.is_some(), "fd 1 has no target");
    assert_eq!(stdout, stdout_at_close(&ptrace_recs));
    let (ebpf_paths, ptrace_paths) = (opened_paths(&recs), opened_paths(&ptrace_recs));
    assert!(ebpf_paths.contains("/etc/hostname"));
    assert_eq!(
        ebpf_paths
            .symmetric_difference(&ptrace_paths)
            .collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "paths only one of the eBPF and ptrace backends saw opened"
    );
}

#[test]
fn ebpf_resolves_relative_paths_after_chdir() {
    let dir = tempfile::tempdir().unwrap();
    if !ebpf_available(dir.path()) {
        return;
    }
    // The shell changes directory and changes it again at once: the relative open in between
    // resolves against the first (the decoder follows chdir; /proc, read later, could show
    // the second).
    let cmd = ["/bin/sh", "-c", "cd /etc && /bin/cat hostname && cd /"];
    let (trace, status) = record_with(dir.path(), "ebpf", "chdir", &cmd);
    assert_eq!(status, Some(0));
    let recs = records(&trace);
    let resolved = syscalls(&recs)
        .filter(|(name, _)| *name == "openat")
        .find_map(|(_, ev)| {
            ev.args.iter().find_map(|a| match a {
                Arg::Path(p) if &p.raw[..] == b"hostname" => Some(p.resolved.clone()),
                _ => None,
            })
        })
        .expect("the relative openat of hostname");
    assert_eq!(
        resolved.as_deref().map(|p| &p[..]),
        Some(&b"/etc/hostname"[..])
    );
}

#[test]
fn ebpf_records_spawn_exec_and_exit() {
    let dir = tempfile::tempdir().unwrap();
    if !ebpf_available(dir.path()) {
        return;
    }
    let cmd = ["/bin/sh", "-c", "/bin/true; exit 3"];
    let (trace, status) = record_with(dir.path(), "ebpf", "sh", &cmd);
    assert_eq!(status, Some(3), "the command's exit status");
    let recs = records(&trace);
    let events = lifecycle(&recs);

    let Some(ProcessLifecycle::Exec {
        pid: sh,
        filename,
        argv,
        ..
    }) = events.first()
    else {
        panic!("the first lifecycle record is not the command's exec: {events:?}")
    };
    assert_eq!(&filename[..], b"/bin/sh");
    let argv: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
    assert_eq!(argv, vec![&b"/bin/sh"[..], b"-c", b"/bin/true; exit 3"]);

    let child = events
        .iter()
        .find_map(|l| match l {
            ProcessLifecycle::Spawn {
                parent_pid,
                child_pid,
                child_tid,
                clone_flags,
                ..
            } if parent_pid == sh => {
                assert_eq!(child_pid, child_tid, "a new process, not a thread");
                assert_eq!(clone_flags & 0x1_0000, 0, "no CLONE_THREAD");
                assert_eq!(clone_flags & 0xff, 17, "SIGCHLD as exit signal");
                Some(*child_pid)
            }
            _ => None,
        })
        .expect("a Spawn record for the shell's child");
    assert!(
        events.iter().any(|l| matches!(l,
            ProcessLifecycle::Exec { pid, filename, argv, .. }
                if *pid == child && &filename[..] == b"/bin/true"
                    && argv.first().is_some_and(|a| &a[..] == b"/bin/true"))),
        "the child's exec of /bin/true: {events:?}"
    );
    let exit_of = |who: u32| {
        events.iter().find_map(|l| match l {
            ProcessLifecycle::Exit {
                pid, code, signal, ..
            } if *pid == who => Some((*code, *signal)),
            _ => None,
        })
    };
    assert_eq!(exit_of(child), Some((Some(0), None)), "/bin/true's exit");
    assert_eq!(exit_of(*sh), Some((Some(3), None)), "the shell's exit 3");

    // The same kinds, in the same order, as the ptrace backend records.
    let kinds = |events: &[&ProcessLifecycle]| -> Vec<&'static str> {
        events
            .iter()
            .map(|l| match l {
                ProcessLifecycle::Spawn { .. } => "spawn",
                ProcessLifecycle::Exec { .. } => "exec",
                ProcessLifecycle::Exit { .. } => "exit",
                ProcessLifecycle::Attached { .. } => "attached",
                ProcessLifecycle::Detached { .. } => "detached",
            })
            .collect()
    };
    let (ptrace_trace, _) = record_with(dir.path(), "ptrace", "sh", &cmd);
    let ptrace_records = records(&ptrace_trace);
    assert_eq!(kinds(&events), kinds(&lifecycle(&ptrace_records)));
}

#[test]
fn ebpf_snapshots_a_process_after_its_exec() {
    let dir = tempfile::tempdir().unwrap();
    if !ebpf_available(dir.path()) {
        return;
    }
    // The snapshot is taken while the program runs (it is not stopped, unlike under
    // ptrace): a program that lives a little makes it certain.
    let (trace, status) = record_with(dir.path(), "ebpf", "sleep", &["/bin/sleep", "0.3"]);
    assert_eq!(status, Some(0));
    let recs = records(&trace);
    let pid = lifecycle(&recs)
        .iter()
        .find_map(|l| match l {
            ProcessLifecycle::Exec { pid, .. } => Some(*pid),
            _ => None,
        })
        .expect("an exec record");
    let snapshot = recs
        .iter()
        .find_map(|r| match &r.body {
            RecordBody::Process(p) if p.pid == pid && p.reason == SnapshotReason::Exec => Some(p),
            _ => None,
        })
        .expect("a Process snapshot taken after the exec");
    let exe = snapshot.exe.as_ref().expect("the executable");
    assert!(
        exe.path.ends_with(b"/sleep"),
        "exe is {:?}",
        String::from_utf8_lossy(&exe.path)
    );
    let cmdline = snapshot
        .files
        .iter()
        .find(|f| f.name == "cmdline")
        .expect("cmdline");
    assert_eq!(&cmdline.content[..], b"/bin/sleep\x000.3\x00");
}

#[test]
fn ebpf_decodes_connect_socket_addresses() {
    let dir = tempfile::tempdir().unwrap();
    if !ebpf_available(dir.path()) || !require(have_tool("bash"), "bash (for /dev/tcp)") {
        return;
    }
    // A listener inside the test: the connection completes from the backlog, no accept is
    // needed, and it goes when the test ends.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local listener");
    let port = listener.local_addr().unwrap().port();
    let script = format!("exec 3<>/dev/tcp/127.0.0.1/{port}");
    let (trace, status) = record_with(dir.path(), "ebpf", "connect", &["bash", "-c", &script]);
    assert_eq!(status, Some(0), "bash could not connect to the listener");
    let recs = records(&trace);
    let (_, connect) = syscalls(&recs)
        .find(|(name, ev)| {
            *name == "connect"
                && matches!(ev.args.get(1), Some(Arg::Sockaddr(SockAddr::Inet(_, p))) if *p == port)
        })
        .expect("a connect with its decoded address");
    assert_eq!(connect.ret, 0);
    assert_eq!(
        connect.args[1],
        Arg::Sockaddr(SockAddr::Inet([127, 0, 0, 1], port))
    );
    // The socket as the call left it: connected to the listener.
    match &connect.args[0] {
        Arg::Fd(_, Some(target)) => match &**target {
            FdTarget::Socket(s) => assert_eq!(
                s.remote,
                Some(SockAddr::Inet([127, 0, 0, 1], port)),
                "the socket's remote end"
            ),
            other => panic!("connect's fd is not a socket: {other:?}"),
        },
        other => panic!("connect's fd has no target: {other:?}"),
    }
    drop(listener);
}
