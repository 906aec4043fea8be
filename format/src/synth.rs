//! A generator of realistic synthetic traces, for tests and benchmarks.
//!
//! It simulates a small host: `processes` processes (some with extra threads) start with a
//! snapshot, then make syscalls drawn from a fixed mix that resembles a busy service (file
//! reads and writes, opens of a few hundred paths, sockets to a few peers, memory and
//! scheduling calls, occasional forks and execs). The same seed gives the same bytes.
//!
//! The mix, by share of syscall events: read 28%, write 14%, openat 10%, close 10%,
//! newfstatat/fstat 8%, mmap/munmap 6%, lseek 5%, futex 5%, epoll_wait 4%, sendto/recvfrom 4%,
//! connect/accept 2%, other (getpid, clock_gettime, brk, ioctl) 4%; about one event in 2,000 is
//! a clone followed by an execve and, later, an exit. 5% of opens fail with ENOENT.

use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::error::Result;
use crate::record::*;
use crate::writer::RecordSink;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Syscall events to generate (lifecycle and snapshot records come on top).
    pub events: u64,
    pub processes: u32,
    pub seed: u64,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            events: 10_000,
            processes: 64,
            seed: 1,
        }
    }
}

/// The header of a synthetic trace.
pub fn synthetic_header(seed: u64) -> Header {
    Header {
        host: HostInfo {
            hostname: b"synthetic-node".to_vec().into(),
            kernel_release: b"6.18.0-synthetic".to_vec().into(),
            kernel_version: b"#1 SMP PREEMPT_DYNAMIC".to_vec().into(),
            arch: "x86_64".into(),
            machine_id: None,
            boot_time_ns: 1_790_000_000_000_000_000,
            clock_ticks: 100,
            page_size: 4096,
        },
        capture: CaptureInfo {
            mode: CaptureMode::Synthetic,
            recorder_version: format!("rhf-format {}", env!("CARGO_PKG_VERSION")),
            command_line: vec![
                b"synth".to_vec().into(),
                seed.to_string().into_bytes().into(),
            ],
            start_realtime_ns: 1_795_000_000_000_000_000,
            start_monotonic_ns: START_TS,
            backend: "synthetic".into(),
            options: vec![("seed".into(), seed.to_string())],
        },
    }
}

const START_TS: u64 = 5_000_000_000_000;

// x86_64 syscall numbers used by the mix.
const READ: u32 = 0;
const WRITE: u32 = 1;
const CLOSE: u32 = 3;
const FSTAT: u32 = 5;
const LSEEK: u32 = 8;
const MMAP: u32 = 9;
const MUNMAP: u32 = 11;
const BRK: u32 = 12;
const IOCTL: u32 = 16;
const GETPID: u32 = 39;
const CONNECT: u32 = 42;
const ACCEPT: u32 = 43;
const SENDTO: u32 = 44;
const RECVFROM: u32 = 45;
const CLONE: u32 = 56;
const EXECVE: u32 = 59;
const FUTEX: u32 = 202;
const CLOCK_GETTIME: u32 = 228;
const EPOLL_WAIT: u32 = 232;
const OPENAT: u32 = 257;
const NEWFSTATAT: u32 = 262;
const ENOENT: i64 = 2;
const AT_FDCWD: i64 = -100;

struct Proc {
    pid: u32,
    tids: Vec<u32>,
    /// fd -> what it is; index is the fd number.
    fds: Vec<Option<Arc<FdTarget>>>,
    /// The descriptor used last: loops read and write the same one.
    last_fd: usize,
}

/// Writes a synthetic trace into `sink`; returns the number of records pushed.
pub fn generate(sink: &mut dyn RecordSink, opts: &SynthOptions) -> Result<u64> {
    let mut rng = SmallRng::seed_from_u64(opts.seed);
    let paths: Vec<Vec<u8>> = (0..300)
        .map(|i| {
            let dir = [
                "/etc",
                "/usr/lib/x86_64-linux-gnu",
                "/var/log",
                "/srv/app/data",
                "/tmp",
            ][i % 5];
            format!(
                "{dir}/file-{i:03}.{}",
                ["conf", "so", "log", "json", "tmp"][i % 5]
            )
            .into_bytes()
        })
        .collect();
    let mut ts = START_TS;
    let mut pushed = 0u64;
    let mut push = |sink: &mut dyn RecordSink, ts: u64, body: RecordBody| -> Result<()> {
        pushed += 1;
        sink.push(&Record { ts, body })
    };

    let mut procs: Vec<Proc> = Vec::new();
    let mut next_pid = 1000u32;
    for i in 0..opts.processes.max(1) {
        let pid = next_pid;
        next_pid += 10;
        let threads = if i % 4 == 0 { 4 } else { 1 };
        let tids = (0..threads).map(|t| pid + t).collect();
        let mut fds = vec![
            Some(Arc::new(FdTarget::Other(b"/dev/null".to_vec().into()))),
            Some(Arc::new(FdTarget::Pipe(40_000 + u64::from(pid)))),
            Some(Arc::new(FdTarget::Pipe(40_001 + u64::from(pid)))),
        ];
        if i % 3 == 0 {
            fds.push(Some(Arc::new(FdTarget::Socket(socket(&mut rng, pid)))));
        }
        procs.push(Proc {
            pid,
            tids,
            fds,
            last_fd: 0,
        });
        push(sink, ts, RecordBody::Process(Box::new(snapshot(pid, i))))?;
    }
    push(
        sink,
        ts,
        RecordBody::Accounts(Box::new(Accounts {
            passwd: raw("/etc/passwd", b"root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"),
            group: raw("/etc/group", b"root:x:0:\nwww-data:x:33:\n"),
        })),
    )?;

    let (mut current, mut burst_left) = (0usize, 0u32);
    // `n` counts syscall events; a spawn makes two (clone and execve).
    let mut n = 0u64;
    while n < opts.events {
        n += 1;
        ts += rng.gen_range(200..8_000);
        // Processes run in bursts, as a scheduler lets them: a few calls in a row, mostly
        // on one thread and the same descriptor.
        if burst_left == 0 || current >= procs.len() {
            current = rng.gen_range(0..procs.len());
            burst_left = rng.gen_range(1..24);
        }
        burst_left -= 1;
        let pi = current;
        if n % 2000 == 1999 && n < opts.events {
            n += 1;
            spawn_and_exec(
                sink,
                &mut push,
                &mut rng,
                &mut procs,
                pi,
                &mut next_pid,
                &mut ts,
            )?;
            continue;
        }
        let p = &mut procs[pi];
        let tid = if rng.gen_ratio(1, 6) {
            p.tids[rng.gen_range(0..p.tids.len())]
        } else {
            p.tids[0]
        };
        let dur = rng.gen_range(300..20_000) + if rng.gen_ratio(1, 50) { 1_000_000 } else { 0 };
        let roll = rng.gen_range(0..100);
        let (nr, ret, args) = match roll {
            0..=41 => {
                let (fd, target) = pick_fd(&mut rng, p);
                let count = [4096i64, 8192, 512, 65536][rng.gen_range(0..4)];
                // Most reads and writes move the whole buffer; some hit EOF or a short count.
                let ret = match rng.gen_range(0..10) {
                    0..=6 => count,
                    7 => 0,
                    _ => rng.gen_range(1..count),
                };
                let nr = if roll <= 27 { READ } else { WRITE };
                let data = if rng.gen_ratio(1, 8) {
                    buf_sample(&mut rng)
                } else {
                    Vec::new()
                };
                let buf = Arg::Buf(Captured {
                    full_len: ret.max(0) as u64,
                    data: data.into(),
                });
                (nr, ret, vec![Arg::Fd(fd, target), buf, Arg::Int(count)])
            }
            42..=51 => {
                let path = paths[rng.gen_range(0..paths.len())].clone();
                let fails = rng.gen_ratio(1, 20);
                let fd = p.fds.len() as i64;
                let args = vec![
                    Arg::Fd(AT_FDCWD as i32, None),
                    Arg::Path(PathArg {
                        raw: path.clone().into(),
                        resolved: None,
                    }),
                    Arg::Hex(0o2_000_000),
                    Arg::Int(0),
                ];
                if fails {
                    (OPENAT, -ENOENT, args)
                } else {
                    p.fds.push(Some(Arc::new(FdTarget::File(path.into()))));
                    (OPENAT, fd, args)
                }
            }
            52..=61 => {
                let fd = if p.fds.len() > 4 { p.fds.len() - 1 } else { 3 };
                let target = p.fds.get(fd).cloned().flatten();
                if p.fds.len() > 4 {
                    p.fds.pop();
                }
                (CLOSE, 0, vec![Arg::Fd(fd as i32, target)])
            }
            62..=69 => {
                if roll < 66 {
                    let (fd, target) = pick_fd(&mut rng, p);
                    (
                        FSTAT,
                        0,
                        vec![Arg::Fd(fd, target), Arg::Hex(stack_ptr(&mut rng))],
                    )
                } else {
                    let path = paths[rng.gen_range(0..paths.len())].clone();
                    let args = vec![
                        Arg::Fd(AT_FDCWD as i32, None),
                        Arg::Path(PathArg {
                            raw: path.into(),
                            resolved: None,
                        }),
                        Arg::Hex(stack_ptr(&mut rng)),
                        Arg::Hex(0),
                    ];
                    (NEWFSTATAT, 0, args)
                }
            }
            70..=75 => {
                let len = 4096 * rng.gen_range(1..64);
                let addr = 0x7f00_0000_0000 + rng.gen_range(0..0x1000u64) * 0x10_0000;
                if roll < 73 {
                    let args = vec![
                        Arg::Hex(0),
                        Arg::Int(len),
                        Arg::Hex(3),
                        Arg::Hex(0x22),
                        Arg::Fd(-1, None),
                        Arg::Int(0),
                    ];
                    (MMAP, addr as i64, args)
                } else {
                    (MUNMAP, 0, vec![Arg::Hex(addr), Arg::Int(len)])
                }
            }
            76..=80 => {
                let (fd, target) = pick_fd(&mut rng, p);
                let off = 4096 * rng.gen_range(0..256);
                (
                    LSEEK,
                    off,
                    vec![Arg::Fd(fd, target), Arg::Int(off), Arg::Int(0)],
                )
            }
            81..=85 => {
                let args = vec![Arg::Hex(stack_ptr(&mut rng)), Arg::Int(129), Arg::Int(1)];
                (FUTEX, rng.gen_range(0..2), args)
            }
            86..=89 => {
                let args = vec![
                    Arg::Fd(4, Some(Arc::new(FdTarget::Anon("eventpoll".into())))),
                    Arg::Hex(stack_ptr(&mut rng)),
                    Arg::Int(64),
                    Arg::Int(-1),
                ];
                (EPOLL_WAIT, rng.gen_range(0..3), args)
            }
            90..=93 => {
                let s = Arc::new(FdTarget::Socket(socket(&mut rng, p.pid)));
                let ret = rng.gen_range(1..1500);
                let nr = if roll < 92 { SENDTO } else { RECVFROM };
                let args = vec![
                    Arg::Fd(3, Some(s)),
                    Arg::Buf(Captured {
                        data: buf_sample(&mut rng).into(),
                        full_len: ret as u64,
                    }),
                    Arg::Int(ret),
                    Arg::Hex(0),
                ];
                (nr, ret, args)
            }
            94..=95 => {
                let s = socket(&mut rng, p.pid);
                let addr = s
                    .remote
                    .clone()
                    .unwrap_or(SockAddr::Inet([127, 0, 0, 1], 80));
                let fd = p.fds.len() as i64;
                let target = Arc::new(FdTarget::Socket(s));
                p.fds.push(Some(Arc::clone(&target)));
                if roll == 94 {
                    let args = vec![
                        Arg::Fd(fd as i32, Some(target)),
                        Arg::Sockaddr(addr),
                        Arg::Int(16),
                    ];
                    (CONNECT, 0, args)
                } else {
                    (
                        ACCEPT,
                        fd,
                        vec![
                            Arg::Fd(3, None),
                            Arg::Sockaddr(addr),
                            Arg::Hex(stack_ptr(&mut rng)),
                        ],
                    )
                }
            }
            _ => match rng.gen_range(0..4) {
                0 => (GETPID, i64::from(p.pid), vec![]),
                1 => (
                    CLOCK_GETTIME,
                    0,
                    vec![Arg::Int(1), Arg::Hex(stack_ptr(&mut rng))],
                ),
                2 => (BRK, 0x5600_0000_0000, vec![Arg::Hex(0)]),
                _ => (
                    IOCTL,
                    -25,
                    vec![
                        Arg::Fd(1, None),
                        Arg::Hex(0x5401),
                        Arg::Hex(stack_ptr(&mut rng)),
                    ],
                ),
            },
        };
        let ev = SyscallEvent {
            pid: p.pid,
            tid,
            nr,
            abi: Abi::X86_64,
            ret,
            duration_ns: dur,
            args,
            unfinished: false,
        };
        push(sink, ts, RecordBody::Syscall(ev))?;
    }
    ts += 1000;
    push(
        sink,
        ts,
        RecordBody::Stats(Box::new(CaptureStats {
            events: opts.events,
            processes: procs.len() as u64,
            duration_ns: ts - START_TS,
            stop_reason: "synthetic trace complete".into(),
            ..Default::default()
        })),
    )?;
    Ok(pushed)
}

#[allow(clippy::too_many_arguments)]
fn spawn_and_exec(
    sink: &mut dyn RecordSink,
    push: &mut impl FnMut(&mut dyn RecordSink, u64, RecordBody) -> Result<()>,
    rng: &mut SmallRng,
    procs: &mut Vec<Proc>,
    parent: usize,
    next_pid: &mut u32,
    ts: &mut u64,
) -> Result<()> {
    let ppid = procs[parent].pid;
    let child = *next_pid;
    *next_pid += 10;
    push(
        sink,
        *ts,
        RecordBody::Syscall(SyscallEvent {
            pid: ppid,
            tid: ppid,
            nr: CLONE,
            ret: i64::from(child),
            duration_ns: 90_000,
            args: vec![
                Arg::Hex(0x1200011),
                Arg::Hex(0),
                Arg::Hex(0),
                Arg::Hex(0),
                Arg::Hex(0),
            ],
            ..Default::default()
        }),
    )?;
    push(
        sink,
        *ts,
        RecordBody::Lifecycle(ProcessLifecycle::Spawn {
            parent_pid: ppid,
            parent_tid: ppid,
            child_pid: child,
            child_tid: child,
            clone_flags: 0x1200011,
        }),
    )?;
    let prog = ["/usr/bin/ls", "/usr/bin/cat", "/bin/sh", "/usr/bin/curl"][rng.gen_range(0..4)];
    *ts += 150_000;
    push(
        sink,
        *ts,
        RecordBody::Syscall(SyscallEvent {
            pid: child,
            tid: child,
            nr: EXECVE,
            ret: 0,
            duration_ns: 400_000,
            args: vec![
                Arg::Path(PathArg {
                    raw: prog.as_bytes().to_vec().into(),
                    resolved: Some(prog.as_bytes().to_vec().into()),
                }),
                Arg::StrList(
                    vec![prog.as_bytes().to_vec().into(), b"-l".to_vec().into()],
                    false,
                ),
                Arg::StrList(vec![b"PATH=/usr/bin:/bin".to_vec().into()], false),
            ],
            ..Default::default()
        }),
    )?;
    push(
        sink,
        *ts,
        RecordBody::Lifecycle(ProcessLifecycle::Exec {
            pid: child,
            tid: child,
            filename: prog.as_bytes().to_vec().into(),
            argv: vec![prog.as_bytes().to_vec().into(), b"-l".to_vec().into()],
            old_tid: None,
        }),
    )?;
    let mut snap = snapshot(child, procs.len() as u32);
    snap.ppid = ppid;
    snap.reason = SnapshotReason::Exec;
    push(sink, *ts, RecordBody::Process(Box::new(snap)))?;
    // Replace a random existing process by the new one, which exits some time later.
    procs.push(Proc {
        pid: child,
        tids: vec![child],
        fds: procs[parent].fds.clone(),
        last_fd: 0,
    });
    if procs.len() > 2 {
        let gone = procs.swap_remove(rng.gen_range(0..procs.len() - 1));
        *ts += 2_000;
        for tid in &gone.tids {
            push(
                sink,
                *ts,
                RecordBody::Lifecycle(ProcessLifecycle::Exit {
                    pid: gone.pid,
                    tid: *tid,
                    code: Some(0),
                    signal: None,
                    core_dumped: false,
                }),
            )?;
        }
    }
    Ok(())
}

fn pick_fd(rng: &mut SmallRng, p: &mut Proc) -> (i32, Option<Arc<FdTarget>>) {
    let fd = if rng.gen_ratio(3, 4) && p.last_fd < p.fds.len() {
        p.last_fd
    } else {
        rng.gen_range(0..p.fds.len())
    };
    p.last_fd = fd;
    (fd as i32, p.fds[fd].clone())
}

fn socket(rng: &mut SmallRng, pid: u32) -> SocketInfo {
    let peer = rng.gen_range(0..8u8);
    SocketInfo {
        inode: 100_000 + u64::from(pid) * 16 + u64::from(peer),
        family: 2,
        sock_type: 1,
        protocol: 6,
        local: Some(SockAddr::Inet([10, 0, 0, 5], 40_000 + (pid as u16 % 1000))),
        remote: Some(SockAddr::Inet(
            [10, 0, 1, peer],
            [443, 5432, 6379, 8080][peer as usize % 4],
        )),
    }
}

/// Programs reuse a few stack buffers, so the same addresses recur (as strace output shows).
fn stack_ptr(rng: &mut SmallRng) -> u64 {
    0x7ffd_1234_0000 + (rng.gen_range(0..8u64) << 6)
}

fn buf_sample(rng: &mut SmallRng) -> Vec<u8> {
    const SAMPLES: [&[u8]; 4] = [
        b"GET /api/v1/items HTTP/1.1\r\nHost: app\r\n",
        b"{\"status\":\"ok\",\"items\":[1,2,3]}",
        b"2026-11-28T10:00:00Z INFO request served",
        b"\x00\x00\x00\x2cSELECT * FROM users WHERE id=$1",
    ];
    SAMPLES[rng.gen_range(0..SAMPLES.len())].to_vec()
}

fn raw(name: &str, content: &[u8]) -> RawFile {
    RawFile {
        name: name.into(),
        content: content.to_vec().into(),
        ..Default::default()
    }
}

fn snapshot(pid: u32, i: u32) -> ProcessSnapshot {
    let name = [
        "nginx",
        "postgres",
        "redis-server",
        "python3",
        "sshd",
        "cron",
    ][i as usize % 6];
    let exe = format!("/usr/sbin/{name}");
    ProcessSnapshot {
        pid,
        tid: pid,
        ppid: 1,
        reason: SnapshotReason::CaptureStart,
        exe: Some(ExecutableInfo {
            path: exe.clone().into_bytes().into(),
            sha256: Some([i as u8; 32]),
            size: Some(1_234_567),
            ..Default::default()
        }),
        cwd: Some(b"/".to_vec().into()),
        root: Some(b"/".to_vec().into()),
        files: vec![
            raw(
                "cmdline",
                format!("{exe}\0--config\0/etc/{name}.conf\0").as_bytes(),
            ),
            raw("comm", format!("{name}\n").as_bytes()),
            raw(
                "stat",
                format!(
                    "{pid} ({name}) S 1 {pid} {pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0"
                )
                .as_bytes(),
            ),
            raw("environ", b"PATH=/usr/bin:/bin\0LANG=C.UTF-8\0"),
        ],
        namespaces: vec![("net".into(), 4026531840), ("mnt".into(), 4026531841)],
        fds: vec![FdEntry {
            fd: 0,
            target: b"/dev/null".to_vec().into(),
            fdinfo: None,
        }],
        errors: vec![],
    }
}
