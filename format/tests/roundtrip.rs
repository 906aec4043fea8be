//! Every record kind survives write -> read unchanged, sequentially and in parallel.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use rayon::prelude::*;
use std::sync::Arc;

use rhf_format::*;

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn raw_file() -> impl Strategy<Value = RawFile> {
    (
        "[a-z/]{1,12}",
        bytes(64),
        any::<bool>(),
        option::of(any::<u64>()),
        option::of("[ -~]{0,20}"),
    )
        .prop_map(|(name, content, truncated, full_len, error)| RawFile {
            name,
            content,
            truncated,
            full_len,
            error,
        })
}

fn sockaddr() -> impl Strategy<Value = SockAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(a, p)| SockAddr::Inet(a, p)),
        (any::<[u8; 16]>(), any::<u16>(), any::<u32>())
            .prop_map(|(a, p, s)| SockAddr::Inet6(a, p, s)),
        bytes(40).prop_map(SockAddr::Unix),
        (any::<u32>(), any::<u32>()).prop_map(|(pid, groups)| SockAddr::Netlink { pid, groups }),
        (any::<u16>(), bytes(20)).prop_map(|(f, b)| SockAddr::Other(f, b)),
    ]
}

fn fd_target() -> impl Strategy<Value = FdTarget> {
    prop_oneof![
        bytes(30).prop_map(FdTarget::File),
        bytes(30).prop_map(FdTarget::Directory),
        (
            any::<u64>(),
            any::<u16>(),
            any::<u16>(),
            any::<u16>(),
            option::of(sockaddr()),
            option::of(sockaddr())
        )
            .prop_map(|(inode, family, sock_type, protocol, local, remote)| {
                FdTarget::Socket(SocketInfo {
                    inode,
                    family,
                    sock_type,
                    protocol,
                    local,
                    remote,
                })
            }),
        any::<u64>().prop_map(FdTarget::Pipe),
        "[a-z_]{0,12}".prop_map(FdTarget::Anon),
        bytes(20).prop_map(FdTarget::Memfd),
        bytes(20).prop_map(FdTarget::Other),
    ]
}

fn captured() -> impl Strategy<Value = Captured> {
    (bytes(64), any::<u64>()).prop_map(|(data, full_len)| Captured { data, full_len })
}

fn arg() -> impl Strategy<Value = Arg> {
    prop_oneof![
        any::<i64>().prop_map(Arg::Int),
        any::<u64>().prop_map(Arg::Hex),
        (any::<i32>(), option::of(fd_target())).prop_map(|(fd, t)| Arg::Fd(fd, t.map(Arc::new))),
        // A small pool of targets, so back-references within a chunk are exercised.
        (0..3i32, 0..3usize).prop_map(|(fd, i)| Arg::Fd(
            fd,
            Some(Arc::new(FdTarget::File(
                format!("/shared/{i}").into_bytes().into()
            )))
        )),
        (bytes(40), option::of(bytes(40)))
            .prop_map(|(raw, resolved)| Arg::Path(PathArg { raw, resolved })),
        captured().prop_map(Arg::Str),
        captured().prop_map(Arg::Buf),
        (vec(bytes(16), 0..5), any::<bool>()).prop_map(|(l, t)| Arg::StrList(l, t)),
        sockaddr().prop_map(Arg::Sockaddr),
        any::<u64>().prop_map(Arg::Unreadable),
    ]
}

fn syscall() -> impl Strategy<Value = SyscallEvent> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        prop_oneof![Just(Abi::X86_64), Just(Abi::I386), Just(Abi::X32)],
        any::<i64>(),
        any::<u64>(),
        vec(arg(), 0..7),
        any::<bool>(),
    )
        .prop_map(
            |(pid, tid, nr, abi, ret, duration_ns, args, unfinished)| SyscallEvent {
                pid,
                tid,
                nr,
                abi,
                ret,
                duration_ns,
                args,
                unfinished,
            },
        )
}

fn process() -> impl Strategy<Value = ProcessSnapshot> {
    let exe = (
        bytes(30),
        any::<bool>(),
        option::of(any::<[u8; 32]>()),
        option::of(any::<i64>()),
    )
        .prop_map(|(path, deleted, sha256, ctime_ns)| ExecutableInfo {
            path,
            deleted,
            sha256,
            ctime_ns,
            size: Some(1),
            inode: None,
            device: Some(7),
            mtime_ns: None,
            error: None,
        });
    (
        (any::<u32>(), any::<u32>(), any::<u32>()),
        prop_oneof![
            Just(SnapshotReason::CaptureStart),
            Just(SnapshotReason::Exec),
            Just(SnapshotReason::NewProcess)
        ],
        option::of(exe),
        option::of(bytes(20)),
        vec(raw_file(), 0..4),
        vec(("[a-z]{2,6}", any::<u64>()), 0..3),
        vec((any::<i32>(), bytes(20), option::of(bytes(20))), 0..4),
        vec("[ -~]{0,30}", 0..2),
    )
        .prop_map(
            |((pid, tid, ppid), reason, exe, cwd, files, namespaces, fds, errors)| {
                ProcessSnapshot {
                    pid,
                    tid,
                    ppid,
                    reason,
                    exe,
                    root: cwd.clone(),
                    cwd,
                    files,
                    namespaces,
                    fds: fds
                        .into_iter()
                        .map(|(fd, target, fdinfo)| FdEntry { fd, target, fdinfo })
                        .collect(),
                    errors,
                }
            },
        )
}

fn lifecycle() -> impl Strategy<Value = ProcessLifecycle> {
    prop_oneof![
        (any::<[u32; 4]>(), any::<u64>()).prop_map(|(p, clone_flags)| ProcessLifecycle::Spawn {
            parent_pid: p[0],
            parent_tid: p[1],
            child_pid: p[2],
            child_tid: p[3],
            clone_flags,
        }),
        (
            any::<u32>(),
            bytes(30),
            vec(bytes(10), 0..4),
            option::of(any::<u32>())
        )
            .prop_map(|(pid, filename, argv, old_tid)| ProcessLifecycle::Exec {
                pid,
                tid: pid,
                filename,
                argv,
                old_tid
            }),
        (
            any::<u32>(),
            option::of(any::<i32>()),
            option::of(any::<i32>()),
            any::<bool>()
        )
            .prop_map(|(pid, code, signal, core_dumped)| ProcessLifecycle::Exit {
                pid,
                tid: pid,
                code,
                signal,
                core_dumped
            }),
        any::<u32>().prop_map(|pid| ProcessLifecycle::Attached { pid, tid: pid }),
        any::<u32>().prop_map(|pid| ProcessLifecycle::Detached { pid, tid: pid }),
    ]
}

fn body() -> impl Strategy<Value = RecordBody> {
    prop_oneof![
        process().prop_map(|p| RecordBody::Process(Box::new(p))),
        (any::<u64>(), any::<u32>(), vec(raw_file(), 0..3)).prop_map(|(netns, via_pid, files)| {
            RecordBody::Network(NetworkTables {
                netns,
                via_pid,
                files,
            })
        }),
        (any::<u64>(), any::<u32>(), raw_file()).prop_map(|(mntns, via_pid, mountinfo)| {
            RecordBody::Mounts(Box::new(MountTable {
                mntns,
                via_pid,
                mountinfo,
            }))
        }),
        (raw_file(), raw_file())
            .prop_map(|(passwd, group)| RecordBody::Accounts(Box::new(Accounts { passwd, group }))),
        vec(raw_file(), 0..3).prop_map(|files| RecordBody::HostFiles(HostFiles { files })),
        (
            any::<u32>(),
            bytes(20),
            any::<[u8; 32]>(),
            any::<u64>(),
            bytes(100),
            any::<bool>()
        )
            .prop_map(|(pid, path, sha256, full_len, content, truncated)| {
                RecordBody::Executable(Box::new(CollectedExecutable {
                    pid,
                    path,
                    sha256,
                    full_len,
                    content,
                    truncated,
                }))
            }),
        syscall().prop_map(RecordBody::Syscall),
        syscall().prop_map(RecordBody::Syscall),
        lifecycle().prop_map(RecordBody::Lifecycle),
        (
            any::<[u32; 2]>(),
            any::<[i32; 2]>(),
            option::of(any::<u32>()),
            option::of(any::<u32>())
        )
            .prop_map(
                |(p, s, sender_pid, sender_uid)| RecordBody::Signal(SignalEvent {
                    pid: p[0],
                    tid: p[1],
                    signo: s[0],
                    code: s[1],
                    sender_pid,
                    sender_uid
                })
            ),
        (any::<[u64; 5]>(), vec(any::<u64>(), 0..4), "[ -~]{0,20}").prop_map(
            |(n, lost_per_cpu, stop_reason)| {
                RecordBody::Stats(Box::new(CaptureStats {
                    events: n[0],
                    processes: n[1],
                    events_lost: n[2],
                    lost_per_cpu,
                    bytes_written: n[3],
                    duration_ns: n[4],
                    stop_reason,
                }))
            }
        ),
        (any::<u32>(), any::<u64>(), "[ -~]{0,20}").prop_map(|(pid, events_lost, reason)| {
            RecordBody::Loss(LossNotice {
                pid,
                tid: pid,
                events_lost,
                reason,
            })
        }),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (any::<u64>(), body()).prop_map(|(ts, body)| Record { ts, body })
}

/// Every record, decoded chunk by chunk in parallel.
fn parallel_records(reader: &TraceReader<Vec<u8>>) -> Vec<Record> {
    reader
        .par_chunks()
        .collect::<Result<Vec<_>>>()
        .unwrap()
        .into_iter()
        .flat_map(|c| c.records)
        .collect()
}

fn write(records: &[Record], chunk_bytes: usize) -> (WriteSummary, Vec<u8>) {
    let opts = WriterOptions {
        chunk_bytes,
        ..WriterOptions::default()
    };
    let mut w = TraceWriter::new(Vec::new(), &synth::synthetic_header(7), opts).unwrap();
    for r in records {
        w.push(r).unwrap();
    }
    w.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_record_kind_round_trips(records in vec(record(), 0..60), chunk_bytes in 64usize..4096, seed in 0u32..3) {
        let (summary, bytes) = write(&records, chunk_bytes);
        let reader = TraceReader::from_source(bytes).unwrap();
        prop_assert_eq!(reader.header(), &synth::synthetic_header(7));
        let back: Vec<Record> = reader.records().collect::<Result<_>>().unwrap();
        prop_assert_eq!(&back, &records);
        let parallel = parallel_records(&reader);
        prop_assert_eq!(&parallel, &records);
        let verified = verify(&reader).unwrap();
        prop_assert_eq!(verified.digest, summary.digest);
        prop_assert_eq!(verified.records, records.len() as u64);
        prop_assert_eq!(selected_records(&reader, seed), expected_selection(&records, seed));
    }
}

/// Which syscalls a selective decode wants, varied by `seed`.
fn wanted(seed: u32, nr: u32) -> bool {
    (nr ^ seed).is_multiple_of(3)
}

/// Every record through `for_each_selected`: skipped syscalls arrive without arguments.
fn selected_records(reader: &TraceReader<Vec<u8>>, seed: u32) -> Vec<Record> {
    let mut out = Vec::new();
    for info in reader.chunks() {
        let want = |_abi: Abi, nr: u32| wanted(seed, nr);
        reader
            .chunk_records(info)
            .unwrap()
            .for_each_selected(&want, |r, whole| {
                if let RecordBody::Syscall(ev) = &r.body {
                    assert_eq!(whole, wanted(seed, ev.nr));
                }
                out.push(r.clone());
            })
            .unwrap();
    }
    out
}

fn expected_selection(records: &[Record], seed: u32) -> Vec<Record> {
    records
        .iter()
        .cloned()
        .map(|mut r| {
            if let RecordBody::Syscall(ev) = &mut r.body {
                if !wanted(seed, ev.nr) {
                    ev.args.clear();
                }
            }
            r
        })
        .collect()
}

#[test]
fn all_record_kinds_are_covered_by_the_strategy() {
    // The strategy above lists one arm per kind; this keeps it honest when a kind is added.
    assert_eq!(RecordKind::ALL.len(), 11);
}

#[test]
fn parallel_read_equals_sequential_on_a_large_synthetic_trace() {
    let opts = WriterOptions {
        chunk_bytes: 64 << 10,
        ..WriterOptions::default()
    };
    let mut w = TraceWriter::new(Vec::new(), &synth::synthetic_header(3), opts).unwrap();
    let pushed = synth::generate(
        &mut w,
        &synth::SynthOptions {
            events: 50_000,
            processes: 40,
            seed: 3,
        },
    )
    .unwrap();
    let (summary, bytes) = w.finish().unwrap();
    let reader = TraceReader::from_source(bytes).unwrap();
    assert!(
        reader.chunks().len() > 10,
        "want many chunks, got {}",
        reader.chunks().len()
    );
    let sequential: Vec<Record> = reader.records().collect::<Result<_>>().unwrap();
    assert_eq!(sequential.len() as u64, pushed);
    let parallel = parallel_records(&reader);
    assert_eq!(parallel, sequential);
    let mut reused = Vec::new();
    for c in reader.chunks() {
        reader
            .chunk_records(c)
            .unwrap()
            .for_each_ref(|r| reused.push(r.clone()))
            .unwrap();
    }
    assert_eq!(
        reused, sequential,
        "decoding into a reused buffer changes nothing"
    );
    assert_eq!(verify(&reader).unwrap().digest, summary.digest);
    let TraceEnd::Complete { footer, .. } = reader.end() else {
        panic!("complete file reported as {:?}", reader.end());
    };
    assert_eq!(footer.chunks.len(), reader.chunks().len());
    let total: u64 = footer.record_counts.iter().map(|(_, n)| n).sum();
    assert_eq!(total, pushed);
}

#[test]
fn records_larger_than_the_chunk_size_round_trip() {
    let big = Record {
        ts: 1,
        body: RecordBody::Executable(Box::new(CollectedExecutable {
            content: vec![7u8; 300_000].into(),
            ..Default::default()
        })),
    };
    let small = Record {
        ts: 2,
        body: RecordBody::Signal(SignalEvent::default()),
    };
    let records = vec![small.clone(), big, small];
    let (_, bytes) = write(&records, 1024);
    let reader = TraceReader::from_source(bytes).unwrap();
    let back: Vec<Record> = reader.records().collect::<Result<_>>().unwrap();
    assert_eq!(back, records);
}

#[test]
fn selective_decoding_keeps_fd_target_backreferences() {
    // The synthetic mix reuses descriptor targets across records, so skipped records define
    // targets that decoded records refer back to.
    let mut w = TraceWriter::new(
        Vec::new(),
        &synth::synthetic_header(3),
        WriterOptions::default(),
    )
    .unwrap();
    synth::generate(
        &mut w,
        &synth::SynthOptions {
            events: 20_000,
            ..synth::SynthOptions::default()
        },
    )
    .unwrap();
    let (_, bytes) = w.finish().unwrap();
    let reader = TraceReader::from_source(bytes).unwrap();
    let full: Vec<Record> = reader.records().collect::<Result<_>>().unwrap();
    for seed in 0..3 {
        assert_eq!(
            selected_records(&reader, seed),
            expected_selection(&full, seed)
        );
    }
}
