//! `print` lines in `strace -f -ttt -T -yy` style (the expected lines are written the way
//! strace 6.1 prints the same calls), JSON lines, filters, and `| head`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Arc;

use rhf_format::{
    Abi, Arg, Captured, FdTarget, LossNotice, PathArg, ProcessLifecycle, Record, RecordBody,
    SignalEvent, SockAddr, SocketInfo, SyscallEvent,
};

use super::fixture::{self, analyze, call, fd, file, nr, ok, path, write, START_MONO};

fn resolved(raw: &str, abs: &str) -> Arg {
    Arg::Path(PathArg {
        raw: raw.as_bytes().to_vec().into(),
        resolved: Some(abs.as_bytes().to_vec().into()),
    })
}

fn buf(data: &[u8], full_len: u64) -> Arg {
    Arg::Buf(Captured {
        data: data.to_vec().into(),
        full_len,
    })
}

fn strings(items: &[&str]) -> Vec<rhf_format::Bytes> {
    items.iter().map(|s| s.as_bytes().to_vec().into()).collect()
}

fn tcp() -> FdTarget {
    FdTarget::Socket(SocketInfo {
        inode: 367047,
        family: 2,
        sock_type: 1,
        protocol: 6,
        local: Some(SockAddr::Inet([127, 0, 0, 1], 56436)),
        remote: Some(SockAddr::Inet([127, 0, 0, 1], 18777)),
    })
}

fn at(us: u64, body: RecordBody) -> Record {
    Record {
        ts: START_MONO + us * 1000,
        body,
    }
}

const O_RDONLY_CLOEXEC: u64 = 0o2000000;
const O_WRONLY_CREAT_TRUNC: u64 = 0o1101;

/// One of each kind of line, with the line strace would print for it.
fn cases() -> Vec<(Record, &'static str)> {
    let cwd = Arg::Fd(
        -100,
        Some(Arc::new(FdTarget::Directory(b"/home/u".to_vec().into()))),
    );
    let mut thread_read = call(94_700, 4242, "read", 7, 8_000, vec![]);
    if let RecordBody::Syscall(ev) = &mut thread_read.body {
        ev.tid = 4243;
        ev.args = vec![
            fd(3, file("/etc/hostname")),
            buf(b"node-1\n", 7),
            Arg::Int(4096),
        ];
    }
    let mut exit_group = call(95_000, 4242, "exit_group", 0, 0, vec![Arg::Int(0)]);
    if let RecordBody::Syscall(ev) = &mut exit_group.body {
        ev.unfinished = true;
    }
    vec![
        (
            call(
                94_592,
                4242,
                "openat",
                3,
                10_400,
                vec![
                    cwd.clone(),
                    resolved("/etc/ld.so.cache", "/etc/ld.so.cache"),
                    Arg::Hex(O_RDONLY_CLOEXEC),
                    Arg::Int(0),
                ],
            ),
            "4242  1795890830.094592 openat(AT_FDCWD</home/u>, \"/etc/ld.so.cache\", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache> <0.000010>",
        ),
        (
            call(
                94_600,
                4242,
                "openat",
                -2,
                44_999,
                vec![
                    Arg::Fd(-100, None),
                    path("/usr/lib/locale/locale-archive"),
                    Arg::Hex(O_RDONLY_CLOEXEC),
                    Arg::Int(0),
                ],
            ),
            "4242  1795890830.094600 openat(AT_FDCWD, \"/usr/lib/locale/locale-archive\", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory) <0.000044>",
        ),
        (
            call(
                94_601,
                4242,
                "openat",
                4,
                2_000,
                vec![
                    Arg::Fd(-100, None),
                    path("/tmp/out"),
                    Arg::Hex(O_WRONLY_CREAT_TRUNC),
                    Arg::Int(0o644),
                ],
            ),
            "4242  1795890830.094601 openat(AT_FDCWD, \"/tmp/out\", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 4</tmp/out> <0.000002>",
        ),
        (
            thread_read,
            "4243  1795890830.094700 read(3</etc/hostname>, \"node-1\\n\", 4096) = 7 <0.000008>",
        ),
        (
            call(
                94_710,
                4242,
                "read",
                832,
                38_000,
                vec![
                    fd(3, file("/usr/lib/x86_64-linux-gnu/libc.so.6")),
                    buf(b"\x7fELF\x02\x01\x01\x03\0\0\0\0", 832),
                    Arg::Int(832),
                ],
            ),
            "4242  1795890830.094710 read(3</usr/lib/x86_64-linux-gnu/libc.so.6>, \"\\177ELF\\2\\1\\1\\3\\0\\0\\0\\0\"..., 832) = 832 <0.000038>",
        ),
        (
            call(
                94_720,
                4242,
                "write",
                27,
                8_000,
                vec![
                    fd(2, FdTarget::Pipe(366658)),
                    buf(b": No such file or directory", 27),
                    Arg::Int(27),
                ],
            ),
            "4242  1795890830.094720 write(2<pipe:[366658]>, \": No such file or directory\", 27) = 27 <0.000008>",
        ),
        (
            call(94_730, 4242, "close", 0, 1_500, vec![Arg::Fd(3, None)]),
            "4242  1795890830.094730 close(3)        = 0 <0.000001>",
        ),
        (
            call(
                94_740,
                4242,
                "connect",
                0,
                186_000,
                vec![
                    fd(3, tcp()),
                    Arg::Sockaddr(SockAddr::Inet([127, 0, 0, 1], 18777)),
                    Arg::Int(16),
                ],
            ),
            "4242  1795890830.094740 connect(3<TCP:[127.0.0.1:56436->127.0.0.1:18777]>, {sa_family=AF_INET, sin_port=htons(18777), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = 0 <0.000186>",
        ),
        (
            call(
                94_750,
                4242,
                "connect",
                -111,
                73_000,
                vec![
                    Arg::Fd(5, None),
                    Arg::Sockaddr(SockAddr::Unix(b"/run/app.sock".to_vec().into())),
                    Arg::Int(16),
                ],
            ),
            "4242  1795890830.094750 connect(5, {sa_family=AF_UNIX, sun_path=\"/run/app.sock\"}, 16) = -1 ECONNREFUSED (Connection refused) <0.000073>",
        ),
        (
            call(
                94_760,
                4242,
                "execve",
                0,
                314_000,
                vec![
                    path("/usr/bin/ls"),
                    Arg::StrList(strings(&["ls", "-l"]), false),
                    Arg::StrList(strings(&["A=1"; 35]), false),
                ],
            ),
            "4242  1795890830.094760 execve(\"/usr/bin/ls\", [\"ls\", \"-l\"], /* 35 vars */) = 0 <0.000314>",
        ),
        (
            call(
                94_770,
                4242,
                "openat",
                -2,
                9_000,
                vec![
                    Arg::Fd(-100, None),
                    path("/tmp/\x1b[31mevil\n\"q\""),
                    Arg::Hex(0),
                    Arg::Int(0),
                ],
            ),
            "4242  1795890830.094770 openat(AT_FDCWD, \"/tmp/\\33[31mevil\\n\\\"q\\\"\", O_RDONLY) = -1 ENOENT (No such file or directory) <0.000009>",
        ),
        (
            exit_group,
            "4242  1795890830.095000 exit_group(0)   = ?",
        ),
        (
            at(
                95_100,
                RecordBody::Lifecycle(ProcessLifecycle::Exit {
                    pid: 4242,
                    tid: 4242,
                    code: Some(0),
                    signal: None,
                    core_dumped: false,
                }),
            ),
            "4242  1795890830.095100 +++ exited with 0 +++",
        ),
        (
            at(
                95_200,
                RecordBody::Signal(SignalEvent {
                    pid: 4000,
                    tid: 4000,
                    signo: 17,
                    code: 1,
                    sender_pid: Some(4242),
                    sender_uid: Some(0),
                }),
            ),
            "4000  1795890830.095200 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=4242, si_uid=0} ---",
        ),
        (
            at(
                95_300,
                RecordBody::Lifecycle(ProcessLifecycle::Exit {
                    pid: 4300,
                    tid: 4300,
                    code: None,
                    signal: Some(9),
                    core_dumped: false,
                }),
            ),
            "4300  1795890830.095300 +++ killed by SIGKILL +++",
        ),
        (
            at(
                95_400,
                RecordBody::Lifecycle(ProcessLifecycle::Exit {
                    pid: 4301,
                    tid: 4301,
                    code: None,
                    signal: Some(11),
                    core_dumped: true,
                }),
            ),
            "4301  1795890830.095400 +++ killed by SIGSEGV (core dumped) +++",
        ),
    ]
}

#[test]
fn lines_look_like_strace_f_ttt_t_yy() {
    let cases = cases();
    let records: Vec<Record> = cases.iter().map(|c| c.0.clone()).collect();
    let t = write(&records, 256);
    let out = ok(&["print", t.arg()]);
    let got: Vec<&str> = out.lines().collect();
    let want: Vec<&str> = cases.iter().map(|c| c.1).collect();
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    assert_eq!(got.len(), want.len(), "{out}");
}

#[test]
fn records_print_in_trace_order_and_spawns_are_silent() {
    // A call recorded at exit can start before the one recorded just ahead of it.
    let records = vec![
        call(500, 1, "getpid", 1, 100, vec![]),
        call(100, 2, "getppid", 1, 90_000, vec![]),
        at(
            600,
            RecordBody::Lifecycle(ProcessLifecycle::Spawn {
                parent_pid: 1,
                parent_tid: 1,
                child_pid: 3,
                child_tid: 3,
                clone_flags: 0x1200011,
            }),
        ),
    ];
    let t = write(&records, 1 << 20);
    let out = ok(&["print", t.arg()]);
    assert_eq!(
        out,
        "1     1795890830.000500 getpid()        = 1 <0.000000>\n\
         2     1795890830.000100 getppid()       = 1 <0.000090>\n"
    );
}

/// The JSON name of argument `i`: the syscall table's, or `argI` when it has none (yet).
fn arg_name(nr: u32, i: usize) -> String {
    rhf_format::sysent::spec(Abi::X86_64, nr)
        .and_then(|s| s.args.get(i))
        .map_or_else(|| format!("arg{i}"), |a| a.name.to_string())
}

#[test]
fn json_lines_are_typed_and_escaped() {
    let cases = cases();
    let mut records: Vec<Record> = cases.iter().map(|c| c.0.clone()).collect();
    records.push(at(
        96_000,
        RecordBody::Loss(LossNotice {
            pid: 4242,
            tid: 4242,
            events_lost: 12,
            reason: "ring buffer full".into(),
        }),
    ));
    let t = write(&records, 1 << 20);
    let out = ok(&["print", "--json", t.arg()]);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), records.len());
    let open = &lines[0];
    assert_eq!(open["event"], "syscall");
    assert_eq!(open["time"], "2026-11-28T18:33:50.094592000Z");
    assert_eq!(open["ts_ns"], START_MONO + 94_592_000);
    assert_eq!(open["pid"], 4242);
    assert_eq!(open["syscall"], "openat");
    assert_eq!(open["args"]["dirfd"]["fd"], -100);
    assert_eq!(open["args"]["dirfd"]["target"], "/home/u");
    assert_eq!(open["args"]["dirfd"]["type"], "directory");
    assert_eq!(open["args"]["name"], "/etc/ld.so.cache");
    assert_eq!(open["args"]["flags"], "O_RDONLY|O_CLOEXEC");
    assert_eq!(open["resolved_paths"]["name"], "/etc/ld.so.cache");
    assert_eq!(open["ret"], 3);
    assert_eq!(open["errno"], serde_json::Value::Null);
    assert_eq!(open["duration_ns"], 10_400);
    assert_eq!(lines[1]["errno"], "ENOENT");
    assert_eq!(lines[1]["ret"], -2);
    let read = &lines[3];
    assert_eq!(
        (read["pid"].clone(), read["tid"].clone()),
        (4242.into(), 4243.into())
    );
    assert_eq!(read["args"]["buf"]["data"], "node-1\\n");
    assert_eq!(read["args"]["buf"]["full_len"], 7);
    assert_eq!(read["args"]["count"], 4096);
    let connect = &lines[7]["args"];
    let arg = |name: &str, i: usize| arg_name(nr(Abi::X86_64, name), i);
    assert_eq!(
        connect[arg("connect", 0)]["target"],
        "TCP:[127.0.0.1:56436->127.0.0.1:18777]"
    );
    assert_eq!(connect[arg("connect", 1)]["addr"], "127.0.0.1");
    assert_eq!(connect[arg("connect", 1)]["port"], 18777);
    let exec = &lines[9]["args"];
    assert_eq!(exec[arg("execve", 1)]["items"][1], "-l");
    // The environment is counted, never shown.
    assert_eq!(exec[arg("execve", 2)]["count"], 35);
    assert_eq!(lines[10]["args"]["name"], "/tmp/\\e[31mevil\\n\"q\"");
    assert_eq!(lines[11]["unfinished"], true);
    assert_eq!(lines[11]["ret"], serde_json::Value::Null);
    assert_eq!(lines[12]["event"], "exit");
    assert_eq!(lines[12]["code"], 0);
    assert_eq!(lines[13]["event"], "signal");
    assert_eq!(lines[13]["si_code"], "CLD_EXITED");
    assert_eq!(lines[14]["signal"], "SIGKILL");
    assert_eq!(lines[15]["core_dumped"], true);
    assert_eq!(lines[16]["event"], "loss");
    assert_eq!(lines[16]["events_lost"], 12);

    // The text view keeps stdout strace-like and reports the loss on stderr.
    let text = analyze(&["print", t.arg()]);
    assert!(
        text.stderr.contains("12 events were not recorded"),
        "{}",
        text.stderr
    );
    assert!(!text.stdout.contains("ring buffer"));
}

#[test]
fn filters_keep_exits_and_signals() {
    let cases = cases();
    let records: Vec<Record> = cases.iter().map(|c| c.0.clone()).collect();
    let t = write(&records, 1 << 20);
    let failed = ok(&["print", "--failed", t.arg()]);
    let calls: Vec<&str> = failed.lines().filter(|l| l.contains(" = ")).collect();
    assert_eq!(calls.len(), 3, "{failed}");
    assert!(calls.iter().all(|l| l.contains("= -1 E")));
    assert!(failed.contains("+++ exited with 0 +++"));
    assert!(failed.contains("--- SIGCHLD"));

    let connect = ok(&["print", "--syscall", "connect", "--pid", "4242", t.arg()]);
    assert_eq!(
        connect.lines().filter(|l| l.contains("connect(")).count(),
        2
    );
    assert_eq!(connect.lines().count(), 3, "{connect}");

    // A thread id selects that thread's events.
    let thread = ok(&["print", "--pid", "4243", t.arg()]);
    assert_eq!(thread.lines().count(), 1, "{thread}");
    let r = analyze(&["print", "--syscall", "nosuchcall", t.arg()]);
    assert_eq!(r.code, Some(2));
}

#[test]
fn i386_calls_use_their_own_table_and_32_bit_errors() {
    let ev = SyscallEvent {
        pid: 7,
        tid: 7,
        nr: nr(Abi::I386, "open"),
        abi: Abi::I386,
        ret: 0xffff_fffe,
        duration_ns: 1000,
        args: vec![path("/etc/shadow")],
        unfinished: false,
    };
    let t = write(&[at(1, RecordBody::Syscall(ev))], 1 << 20);
    assert_eq!(
        ok(&["print", t.arg()]),
        "7     1795890830.000001 open(\"/etc/shadow\") = -1 ENOENT (No such file or directory) <0.000001>\n"
    );
}

#[test]
fn a_closed_pipe_is_success() {
    let t = fixture::synthetic(100_000, 3);
    let mut child = Command::new(fixture::binary())
        .args(["print", t.arg()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 4096];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn argument_kinds_from_the_syscall_table() {
    let i386_mmap2 = SyscallEvent {
        pid: 7,
        tid: 7,
        nr: nr(Abi::I386, "mmap2"),
        abi: Abi::I386,
        // Sign-extended by the recorder: the address is the low 32 bits.
        ret: 0xffff_ffff_f7f0_0000u64 as i64,
        duration_ns: 2000,
        args: vec![
            Arg::Hex(0),
            Arg::Int(8192),
            Arg::Hex(3),
            Arg::Hex(0x22),
            Arg::Fd(-1, None),
            Arg::Int(0),
        ],
        unfinished: false,
    };
    let records = vec![
        call(
            1,
            7,
            "pipe2",
            0,
            3000,
            vec![buf(&[3, 0, 0, 0, 4, 0, 0, 0], 8), Arg::Hex(0o2000000)],
        ),
        // kill's pid is a C int: 0xffffffff is -1.
        call(
            2,
            7,
            "kill",
            0,
            1000,
            vec![Arg::Hex(0xffff_ffff), Arg::Int(15)],
        ),
        at(3, RecordBody::Syscall(i386_mmap2)),
    ];
    let t = write(&records, 1 << 20);
    assert_eq!(
        ok(&["print", t.arg()]),
        "7     1795890830.000001 pipe2([3, 4], O_CLOEXEC) = 0 <0.000003>\n\
         7     1795890830.000002 kill(-1, SIGTERM) = 0 <0.000001>\n\
         7     1795890830.000003 mmap2(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0xf7f00000 <0.000002>\n"
    );
}

#[test]
fn hostile_values_print_without_panicking() {
    let weird = |nr: u32, abi: Abi, ret: i64, dur: u64, args: Vec<Arg>| {
        at(
            1,
            RecordBody::Syscall(SyscallEvent {
                pid: u32::MAX,
                tid: u32::MAX,
                nr,
                abi,
                ret,
                duration_ns: dur,
                args,
                unfinished: false,
            }),
        )
    };
    let records = vec![
        weird(u32::MAX, Abi::X86_64, i64::MIN, u64::MAX, vec![]),
        weird(
            u32::MAX,
            Abi::X86_64,
            -1,
            u64::MAX,
            vec![Arg::Int(i64::MIN)],
        ),
        weird(1 << 30 | 2, Abi::X32, -4095, 0, vec![Arg::Unreadable(0)]),
        weird(5, Abi::I386, i64::MAX, 1, vec![Arg::Hex(u64::MAX)]),
        // openat's spec does not expect these.
        weird(
            nr(Abi::X86_64, "openat"),
            Abi::X86_64,
            0,
            1,
            vec![
                Arg::Sockaddr(SockAddr::Other(u16::MAX, vec![0xff; 3].into())),
                Arg::StrList(vec![], true),
                Arg::Buf(Captured {
                    data: vec![0; 3].into(),
                    full_len: u64::MAX,
                }),
                Arg::Fd(i32::MIN, Some(Arc::new(FdTarget::Anon("\u{1b}]x".into())))),
                Arg::Int(-1),
            ],
        ),
        at(
            2,
            RecordBody::Signal(SignalEvent {
                pid: 1,
                tid: 1,
                signo: i32::MIN,
                code: i32::MIN,
                sender_pid: None,
                sender_uid: None,
            }),
        ),
    ];
    let t = write(&records, 1 << 20);
    let text = ok(&["print", t.arg()]);
    assert_eq!(text.lines().count(), records.len());
    assert!(text.is_ascii(), "{text}");
    assert!(text.contains("syscall_0xffffffff("), "{text}");
    let json = ok(&["print", "--json", t.arg()]);
    assert_eq!(json.lines().count(), records.len());
    let summary = ok(&[
        "summary",
        "-U",
        "calls,errors,max-time,min-time,avg-time",
        t.arg(),
    ]);
    assert!(summary.contains("syscall_0xffffffff"), "{summary}");
    assert!(summary.contains("System call usage summary for x32 mode:"));
    ok(&["summary", "--json", "--per-process", t.arg()]);
}
