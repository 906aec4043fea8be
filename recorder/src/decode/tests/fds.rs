//! fd tracking: open, dup, fork, exec, close, sockets, pipes, sharing, attach mode.

use rhf_format::{
    Arg, Bytes, FdEntry, FdTarget, ProcessSnapshot, SnapshotReason, SockAddr, SocketInfo,
};

use super::*;

const O_CLOEXEC: u64 = 0o2_000_000;
const SIGCHLD: u64 = 17;
const CLONE_FILES: u64 = 0x400;
const CLONE_VM: u64 = 0x100;
const CLONE_THREAD: u64 = 0x1_0000;

#[test]
fn open_dup2_fork_exec_close() {
    let mut f = Fixture::new();
    f.start(100, "/");
    let log = f.mem.cstr("/var/log/app.log");
    let secret = f.mem.cstr("/etc/shadow");
    f.call(100, "openat", &[AT_FDCWD, log, 0o1101, 0o644], 3);
    f.call(100, "openat", &[AT_FDCWD, secret, O_CLOEXEC, 0], 4);
    // dup2 onto stdout: the new fd is not close-on-exec.
    let ev = f.call(100, "dup2", &[3, 1], 1);
    assert_eq!(
        fd_arg(ev.args.first()),
        Some((3, Some(file("/var/log/app.log"))))
    );
    assert_eq!(f.target(100, 1), Some(file("/var/log/app.log")));
    // Events carry what their fd meant then.
    let buf = f.mem.put(b"hello");
    let ev = f.call(100, "write", &[1, buf, 5], 5);
    assert_eq!(
        fd_arg(ev.args.first()),
        Some((1, Some(file("/var/log/app.log"))))
    );
    // fork: the child gets a copy.
    f.dec.on_spawn(100, 101, 101, SIGCHLD);
    assert_eq!(f.dec.fds(101), vec![1, 3, 4]);
    // exec in the child drops close-on-exec fds, there only.
    let sh = f.mem.cstr("/bin/sh");
    f.call(101, "execve", &[sh, 0, 0], 0);
    assert_eq!(f.dec.fds(101), vec![1, 3]);
    assert_eq!(f.dec.fds(100), vec![1, 3, 4]);
    // close in the parent leaves the child's copy.
    let ev = f.call(100, "close", &[3], 0);
    assert_eq!(
        fd_arg(ev.args.first()),
        Some((3, Some(file("/var/log/app.log"))))
    );
    assert_eq!(f.target(100, 3), None);
    assert_eq!(f.target(101, 3), Some(file("/var/log/app.log")));
    // A failed exec changes nothing.
    f.call(100, "execve", &[sh, 0, 0], -2);
    assert_eq!(f.dec.fds(100), vec![1, 4]);
    f.dec.on_exit_group(101);
    assert_eq!(f.dec.fds(101), Vec::<i32>::new());
    assert_eq!(f.dec.processes(), 1);
}

#[test]
fn clone_files_shares_and_exec_unshares() {
    let mut f = Fixture::new();
    f.start(200, "/");
    let p = f.mem.cstr("/tmp/a");
    f.call(200, "open", &[p, 0, 0], 3);
    // A thread: nothing new.
    f.dec
        .on_spawn(200, 200, 201, CLONE_VM | CLONE_FILES | CLONE_THREAD);
    assert_eq!(f.dec.processes(), 1);
    // A process sharing the table: a close there is seen here.
    f.dec
        .on_spawn(200, 202, 202, CLONE_VM | CLONE_FILES | SIGCHLD);
    f.call(202, "close", &[3], 0);
    assert_eq!(f.target(200, 3), None);
    f.call(202, "open", &[p, O_CLOEXEC, 0], 5);
    assert_eq!(f.target(200, 5), Some(file("/tmp/a")));
    // exec gives the child its own table; the parent keeps the shared fds.
    f.call(202, "execve", &[p, 0, 0], 0);
    assert_eq!(f.target(202, 5), None);
    assert_eq!(f.target(200, 5), Some(file("/tmp/a")));
    f.call(202, "open", &[p, 0, 0], 6);
    assert_eq!(f.target(200, 6), None);
    // Exiting the child keeps the parent's table.
    f.dec.on_exit_group(202);
    assert_eq!(f.target(200, 5), Some(file("/tmp/a")));
}

#[test]
fn sockets_through_connect_and_accept() {
    let mut f = Fixture::new();
    f.start(300, "/");
    // socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0)
    f.call(300, "socket", &[2, 1 | O_CLOEXEC, 0], 3);
    let base = SocketInfo {
        family: 2,
        sock_type: 1,
        ..SocketInfo::default()
    };
    assert_eq!(f.target(300, 3), Some(FdTarget::Socket(base.clone())));
    assert_eq!(f.dec.fd_cloexec(300, 3), Some(true));
    f.proc.link(300, 3, "socket:[555]");
    let local = SockAddr::Inet([10, 0, 0, 5], 40000);
    let remote = SockAddr::Inet([203, 0, 113, 7], 443);
    f.proc
        .sockets
        .insert(555, (2, Some(local.clone()), Some(remote.clone())));
    let addr = f
        .mem
        .put(&[2, 0, 1, 0xbb, 203, 0, 113, 7, 0, 0, 0, 0, 0, 0, 0, 0]);
    let ev = f.call(300, "connect", &[3, addr, 16], 0);
    let connected = FdTarget::Socket(SocketInfo {
        inode: 555,
        local: Some(local),
        remote: Some(remote.clone()),
        ..base.clone()
    });
    // The connect event shows the socket as the call left it.
    assert_eq!(fd_arg(ev.args.first()), Some((3, Some(connected.clone()))));
    let buf = f.mem.put(b"GET /");
    let ev = f.call(300, "write", &[3, buf, 5], 5);
    assert_eq!(fd_arg(ev.args.first()), Some((3, Some(connected))));

    // Without /proc answers, the address passed is still kept (non-blocking connect).
    f.call(300, "socket", &[10, 2, 17], 4);
    let six = f.mem.put(&{
        let mut b = vec![10, 0, 0, 53, 0, 0, 0, 0];
        b.extend_from_slice(&[0; 16]);
        b.extend_from_slice(&[0; 4]);
        b
    });
    f.call(300, "connect", &[4, six, 28], -115);
    match f.target(300, 4) {
        Some(FdTarget::Socket(s)) => {
            assert_eq!((s.family, s.sock_type, s.protocol), (10, 2, 17));
            assert_eq!(s.remote, Some(SockAddr::Inet6([0; 16], 53, 0)));
        }
        other => panic!("{other:?}"),
    }

    // accept: a new socket, named from /proc, peer from the kernel-filled address.
    f.call(300, "socket", &[2, 1, 0], 5);
    f.proc.link(300, 6, "socket:[777]");
    let peer = SockAddr::Inet([198, 51, 100, 1], 5555);
    f.proc.sockets.insert(
        777,
        (2, Some(SockAddr::Inet([0; 4], 22)), Some(peer.clone())),
    );
    let out = f.mem.put(&[0u8; 16]);
    let len = f.mem.put(&16u32.to_le_bytes());
    let ev = f.call(300, "accept4", &[5, out, len, O_CLOEXEC], 6);
    assert_eq!(ev.ret, 6);
    match f.target(300, 6) {
        Some(FdTarget::Socket(s)) => {
            assert_eq!((s.inode, s.family, s.sock_type), (777, 2, 1));
            assert_eq!(s.remote, Some(peer));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.dec.fd_cloexec(300, 6), Some(true));
}

#[test]
fn pipes_socketpairs_and_anon_fds() {
    let mut f = Fixture::new();
    f.start(400, "/");
    let fds = f.mem.put(&[0u8; 8]);
    // The kernel writes the pair before the exit stop; the fake memory must hold it too.
    let pair = f.mem.put(&[3, 0, 0, 0, 4, 0, 0, 0]);
    f.proc.link(400, 3, "pipe:[9001]");
    let ev = f.call(400, "pipe2", &[pair, O_CLOEXEC], 0);
    assert_eq!(
        ev.args[0],
        Arg::Buf(rhf_format::Captured {
            data: Bytes::from(vec![3, 0, 0, 0, 4, 0, 0, 0]),
            full_len: 8
        })
    );
    assert_eq!(f.target(400, 3), Some(FdTarget::Pipe(9001)));
    assert_eq!(f.target(400, 4), Some(FdTarget::Pipe(9001)));
    assert_eq!(f.dec.fd_cloexec(400, 4), Some(true));
    // A failed pipe reads nothing.
    let ev = f.call(400, "pipe", &[fds, 0], -24);
    assert_eq!(ev.args[0], Arg::Hex(fds));
    let pair = f.mem.put(&[5, 0, 0, 0, 6, 0, 0, 0]);
    f.call(400, "socketpair", &[1, 1, 0, pair], 0);
    assert!(matches!(f.target(400, 6), Some(FdTarget::Socket(s)) if s.family == 1));
    f.call(400, "epoll_create1", &[O_CLOEXEC], 7);
    assert_eq!(f.target(400, 7), Some(FdTarget::Anon("eventpoll".into())));
    f.call(400, "eventfd2", &[0, 0], 8);
    assert_eq!(f.target(400, 8), Some(FdTarget::Anon("eventfd".into())));
    let name = f.mem.cstr("payload");
    f.call(400, "memfd_create", &[name, 1], 9);
    assert_eq!(f.target(400, 9), Some(FdTarget::Memfd(bytes("payload"))));
    // Fileless execution: execveat(memfd, "", argv, envp, AT_EMPTY_PATH) names the memfd.
    let empty = f.mem.cstr("");
    let ev = f.call(400, "execveat", &[9, empty, 0, 0, 0x1000], -2);
    assert_eq!(
        fd_arg(ev.args.first()),
        Some((9, Some(FdTarget::Memfd(bytes("payload")))))
    );
    // Other fd-returning calls are named by their link.
    f.proc.link(400, 10, "anon_inode:[pidfd]");
    f.call(400, "pidfd_getfd", &[7, 3, 0], 10);
    assert_eq!(f.target(400, 10), Some(FdTarget::Anon("pidfd".into())));
}

#[test]
fn fcntl_close_range_and_cloexec() {
    let mut f = Fixture::new();
    f.start(500, "/");
    let p = f.mem.cstr("/data");
    f.call(500, "open", &[p, 0, 0], 3);
    f.call(500, "fcntl", &[3, 1030, 10], 10);
    assert_eq!(
        (f.target(500, 10), f.dec.fd_cloexec(500, 10)),
        (Some(file("/data")), Some(true))
    );
    f.call(500, "fcntl", &[3, 0, 20], 20);
    assert_eq!(f.dec.fd_cloexec(500, 20), Some(false));
    f.call(500, "fcntl", &[20, 2, 1], 0);
    assert_eq!(f.dec.fd_cloexec(500, 20), Some(true));
    f.call(500, "dup3", &[3, 2000, O_CLOEXEC], 2000);
    assert_eq!(
        (f.target(500, 2000), f.dec.fd_cloexec(500, 2000)),
        (Some(file("/data")), Some(true))
    );
    // dup2 onto itself keeps close-on-exec; close releases the fd even on EINTR.
    f.call(500, "dup2", &[20, 20], 20);
    assert_eq!(f.dec.fd_cloexec(500, 20), Some(true));
    f.call(500, "close", &[2000], -4);
    assert_eq!(f.target(500, 2000), None);
    // close_range with CLOSE_RANGE_CLOEXEC marks; without, closes.
    f.call(500, "close_range", &[3, 3, 4], 0);
    assert_eq!(f.dec.fd_cloexec(500, 3), Some(true));
    f.call(500, "close_range", &[10, u32::MAX as u64, 0], 0);
    assert_eq!(f.dec.fds(500), vec![3]);
}

#[test]
fn attach_mode_asks_proc_once_per_unknown_fd() {
    let mut f = Fixture::new();
    // No snapshot: everything is unknown.
    f.proc.link(600, 7, "/var/lib/db");
    f.proc.cwds.insert(600, b"/".to_vec());
    let buf = f.mem.put(b"x");
    let ev = f.call(600, "write", &[7, buf, 1], 1);
    assert_eq!(
        fd_arg(ev.args.first()),
        Some((7, Some(file("/var/lib/db"))))
    );
    let asked = f.proc.calls;
    f.call(600, "write", &[7, buf, 1], 1);
    assert_eq!(f.proc.calls, asked, "a known fd costs no lookup");
    // An fd that is not open: asked once, then remembered as absent.
    f.call(600, "close", &[99], -9);
    f.call(600, "fstat", &[99, 0], -9);
    let asked = f.proc.calls;
    f.call(600, "fstat", &[99, 0], -9);
    assert_eq!(f.proc.calls, asked);
    // recvmsg on a unix socket may have brought fds (SCM_RIGHTS): ask again.
    f.call(600, "socket", &[1, 1, 0], 8);
    f.call(600, "recvmsg", &[8, 0, 0], 1);
    f.proc.link(600, 99, "/dev/null");
    let ev = f.call(600, "fstat", &[99, 0], 0);
    assert_eq!(fd_arg(ev.args.first()), Some((99, Some(file("/dev/null")))));
}

#[test]
fn complete_tables_never_ask_proc_and_hot_path_reads_once() {
    let mut f = Fixture::new();
    f.start(700, "/");
    let p = f.mem.cstr("/x");
    f.call(700, "open", &[p, 0, 0], 3);
    let (asked, reads) = (f.proc.calls, f.mem.reads);
    let buf = f.mem.put(&[7u8; 100]);
    for _ in 0..10 {
        f.call(700, "read", &[3, buf, 100], 100);
        f.call(700, "write", &[3, buf, 100], 100);
        f.call(700, "write", &[42, buf, 100], -9);
    }
    assert_eq!(f.proc.calls, asked, "no /proc lookups for a complete table");
    assert_eq!(f.mem.reads - reads, 30, "one memory read per buffer");
}

#[test]
fn seeding_from_a_snapshot() {
    let mut f = Fixture::new();
    let entry = |fd: i32, target: &str, flags: Option<&str>| FdEntry {
        fd,
        target: bytes(target),
        fdinfo: flags.map(|fl| bytes(&format!("pos:\t0\nflags:\t{fl}\nmnt_id:\t20\n"))),
    };
    let snap = ProcessSnapshot {
        pid: 800,
        tid: 800,
        reason: SnapshotReason::CaptureStart,
        cwd: Some(bytes("/home/u")),
        fds: vec![
            entry(0, "/dev/pts/0", Some("02")),
            entry(3, "socket:[123]", Some("02000002")),
            entry(4, "/etc", Some("02200000")),
            entry(5, "anon_inode:[eventpoll]", None),
            entry(6, "/memfd:x (deleted)", Some("02")),
            entry(7, "pipe:[44]", Some("0")),
        ],
        ..Default::default()
    };
    f.dec.seed(&snap);
    assert_eq!(f.target(800, 0), Some(file("/dev/pts/0")));
    assert_eq!(
        f.target(800, 3),
        Some(FdTarget::Socket(SocketInfo {
            inode: 123,
            ..SocketInfo::default()
        }))
    );
    assert_eq!(f.dec.fd_cloexec(800, 3), Some(true));
    assert_eq!(f.target(800, 4), Some(FdTarget::Directory(bytes("/etc"))));
    assert_eq!(f.target(800, 5), Some(FdTarget::Anon("eventpoll".into())));
    assert_eq!(f.target(800, 6), Some(FdTarget::Memfd(bytes("x"))));
    assert_eq!(f.target(800, 7), Some(FdTarget::Pipe(44)));
    assert_eq!(f.dec.cwd(800), Some(&b"/home/u"[..]));
    // Capture-start snapshots (attach mode) are not complete: unknown fds are looked up.
    f.proc.link(800, 9, "/opened/meanwhile");
    let ev = f.call(800, "fsync", &[9], 0);
    assert_eq!(
        fd_arg(ev.args.first()),
        Some((9, Some(file("/opened/meanwhile"))))
    );
    // Thread snapshots do not replace the group's table.
    f.dec.seed(&ProcessSnapshot {
        pid: 800,
        tid: 801,
        ..Default::default()
    });
    assert_eq!(f.target(800, 4), Some(FdTarget::Directory(bytes("/etc"))));
}

#[test]
fn spawn_flags_are_reported_for_the_tracer() {
    let mut f = Fixture::new();
    f.start(900, "/");
    let nr = |name: &str| rhf_format::sysent::number(rhf_format::Abi::X86_64, name).unwrap_or(0);
    let args = f.mem.put(&(CLONE_FILES | SIGCHLD).to_le_bytes());
    let p = f.dec.on_entry(
        900,
        900,
        rhf_format::Abi::X86_64,
        nr("clone3"),
        [args, 88, 0, 0, 0, 0],
        &mut f.mem,
        &mut f.proc,
    );
    assert_eq!(p.spawn_flags, Some(CLONE_FILES | SIGCHLD));
    let p = f.dec.on_entry(
        900,
        900,
        rhf_format::Abi::X86_64,
        nr("vfork"),
        [0; 6],
        &mut f.mem,
        &mut f.proc,
    );
    assert_eq!(p.spawn_flags, Some(0x4000 | CLONE_VM | SIGCHLD));
    let p = f.dec.on_entry(
        900,
        900,
        rhf_format::Abi::X86_64,
        nr("read"),
        [0; 6],
        &mut f.mem,
        &mut f.proc,
    );
    assert_eq!(p.spawn_flags, None);
    let ev = f.dec.on_unfinished(p);
    assert!(ev.unfinished);
    // An unfinished open must not invent an fd.
    let name = f.mem.cstr("/x");
    let p = f.dec.on_entry(
        900,
        900,
        rhf_format::Abi::X86_64,
        nr("open"),
        [name, 0, 0, 0, 0, 0],
        &mut f.mem,
        &mut f.proc,
    );
    f.dec.on_unfinished(p);
    assert_eq!(f.dec.fds(900), Vec::<i32>::new());
}

#[test]
fn decoder_is_send() {
    fn send<T: Send>() {}
    send::<crate::decode::Decoder>();
    send::<crate::decode::PendingCall>();
}
