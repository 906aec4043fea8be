//! Unit tests of the timeline model: collapsing, scoping, the filter, redaction, alerts.

use std::sync::Arc;

use rhf_format::{
    Abi, Arg, FdTarget, Header, PathArg, ProcessLifecycle, Record, RecordBody, SockAddr,
    SyscallEvent, TraceReader, TraceWriter, WriterOptions,
};

use super::*;
use crate::rules::engine::{CompileOptions, Engine};
use crate::rules::load::RuleSet;

const START: u64 = 1_000_000_000_000;

fn header() -> Header {
    let mut h = Header::default();
    h.capture.start_realtime_ns = 1_795_900_516_000_000_000;
    h.capture.start_monotonic_ns = START;
    h
}

/// A trace of `records` in chunks of about `chunk_bytes` raw bytes.
fn trace(records: &[Record], chunk_bytes: usize) -> TraceReader<Vec<u8>> {
    let opts = WriterOptions {
        chunk_bytes,
        ..WriterOptions::default()
    };
    let mut w = TraceWriter::new(Vec::new(), &header(), opts).unwrap();
    for r in records {
        w.push(r).unwrap();
    }
    let (_, bytes) = w.finish().unwrap();
    TraceReader::from_source(bytes).unwrap()
}

fn sys(ts: u64, pid: u32, tid: u32, name: &str, ret: i64, args: Vec<Arg>) -> Record {
    Record {
        ts: START + ts,
        body: RecordBody::Syscall(SyscallEvent {
            pid,
            tid,
            nr: rhf_format::sysent::number(Abi::X86_64, name).unwrap(),
            abi: Abi::X86_64,
            ret,
            duration_ns: 10,
            args,
            unfinished: false,
        }),
    }
}

fn life(ts: u64, l: ProcessLifecycle) -> Record {
    Record {
        ts: START + ts,
        body: RecordBody::Lifecycle(l),
    }
}

fn exec(ts: u64, pid: u32, filename: &str, argv: &[&str]) -> Record {
    life(
        ts,
        ProcessLifecycle::Exec {
            pid,
            tid: pid,
            filename: filename.as_bytes().to_vec().into(),
            argv: argv.iter().map(|a| a.as_bytes().to_vec().into()).collect(),
            old_tid: None,
        },
    )
}

fn spawn(ts: u64, parent: u32, child: u32) -> Record {
    life(
        ts,
        ProcessLifecycle::Spawn {
            parent_pid: parent,
            parent_tid: parent,
            child_pid: child,
            child_tid: child,
            clone_flags: 0x11,
        },
    )
}

fn exit(ts: u64, pid: u32, code: Option<i32>, signal: Option<i32>) -> Record {
    life(
        ts,
        ProcessLifecycle::Exit {
            pid,
            tid: pid,
            code,
            signal,
            core_dumped: false,
        },
    )
}

fn file(path: &str) -> Option<Arc<FdTarget>> {
    Some(Arc::new(FdTarget::File(path.as_bytes().to_vec().into())))
}

fn read(ts: u64, tid: u32, fd: i32, path: &str, n: i64) -> Record {
    sys(
        ts,
        100,
        tid,
        "read",
        n,
        vec![Arg::Fd(fd, file(path)), Arg::Hex(0), Arg::Int(4096)],
    )
}

fn path(p: &str) -> Arg {
    Arg::Path(PathArg {
        raw: p.as_bytes().to_vec().into(),
        resolved: Some(p.as_bytes().to_vec().into()),
    })
}

fn openat(ts: u64, pid: u32, p: &str, ret: i64) -> Record {
    sys(
        ts,
        pid,
        pid,
        "openat",
        ret,
        vec![Arg::Fd(-100, None), path(p), Arg::Hex(0), Arg::Hex(0)],
    )
}

fn run(reader: &TraceReader<Vec<u8>>, opts: &Options) -> Vec<Entry> {
    collect(reader, None, &Redactor::new(false), opts)
        .unwrap()
        .entries
}

fn summary(entries: &[Entry]) -> Vec<(u32, Kind, u64, u64)> {
    entries
        .iter()
        .map(|e| (e.tid, e.kind, e.count, e.bytes))
        .collect()
}

#[test]
fn reads_of_one_descriptor_by_one_thread_collapse() {
    let records = [
        exec(0, 100, "/usr/bin/app", &["app"]),
        read(10, 100, 3, "/var/log/a", 100),
        read(20, 101, 3, "/var/log/a", 7), // another thread: its own run
        read(30, 100, 3, "/var/log/a", 100),
        read(40, 101, 3, "/var/log/a", 7),
        read(50, 100, 3, "/var/log/a", 50),
        read(60, 100, 4, "/var/log/b", 1), // another descriptor: a new run
        read(70, 100, 3, "/var/log/a", 1),
        sys(
            80,
            100,
            100,
            "write",
            2,
            vec![Arg::Fd(3, file("/var/log/a")), Arg::Hex(0), Arg::Int(2)],
        ),
        read(90, 100, 3, "/var/log/a", 9), // after a write: a new run
        read(95, 100, 3, "/var/log/c", 9), // same number, another file (reopened elsewhere)
    ];
    let reader = trace(&records, 1 << 20);
    let entries = run(&reader, &Options::default());
    assert_eq!(
        summary(&entries),
        vec![
            (100, Kind::Exec, 1, 0),
            (100, Kind::FileRead, 3, 250),
            (101, Kind::FileRead, 2, 14),
            (100, Kind::FileRead, 1, 1),
            (100, Kind::FileRead, 1, 1),
            (100, Kind::FileWrite, 1, 2),
            (100, Kind::FileRead, 1, 9),
            (100, Kind::FileRead, 1, 9),
        ]
    );
    let first = &entries[1];
    assert_eq!((first.ts, first.last_ts), (START + 10, START + 50));
    assert_eq!(
        first.message,
        "read fd 3 /var/log/a ×3, 250 bytes, over 40ns"
    );
    assert_eq!(first.fields.get("target").unwrap(), "/var/log/a");
    assert_eq!(first.process, "app");
    assert_eq!(entries[3].message, "read fd 4 /var/log/b, 1 bytes");

    let all = run(
        &reader,
        &Options {
            collapse: false,
            ..Options::default()
        },
    );
    assert_eq!(all.len(), records.len());
    assert!(all.iter().all(|e| e.count == 1));
}

#[test]
fn runs_continue_across_chunks_and_threads_do_not_change_anything() {
    let mut records = vec![exec(0, 100, "/usr/bin/app", &["app"])];
    for i in 0..400 {
        records.push(read(10 + i, 100, 3, "/var/log/a", 10));
        if i % 7 == 0 {
            records.push(read(10 + i, 101, 5, "/var/log/b", 1));
        }
    }
    records.push(exit(1000, 100, Some(0), None));
    let reader = trace(&records, 512);
    assert!(
        reader.chunks().len() > 4,
        "{} chunks",
        reader.chunks().len()
    );
    let collect_in = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| run(&reader, &Options::default()))
    };
    let one = collect_in(1);
    assert_eq!(
        summary(&one),
        vec![
            (100, Kind::Exec, 1, 0),
            (100, Kind::FileRead, 400, 4000),
            (101, Kind::FileRead, 58, 58),
            (100, Kind::Exit, 1, 0),
        ]
    );
    assert_eq!(one, collect_in(2));
    assert_eq!(one, collect_in(3));
}

#[test]
fn pid_scope_with_and_without_subtree() {
    let records = [
        exec(0, 100, "/bin/bash", &["bash"]),
        spawn(10, 100, 101),
        exec(20, 101, "/bin/sh", &["sh"]),
        spawn(30, 101, 102),
        exec(40, 102, "/bin/cat", &["cat", "/etc/shadow"]),
        openat(50, 102, "/etc/shadow", 3),
        exec(60, 200, "/usr/sbin/cron", &["cron"]),
        openat(70, 200, "/etc/crontab", 3),
        exit(80, 102, Some(0), None),
    ];
    let reader = trace(&records, 1 << 20);
    let pids = |opts: Options| -> Vec<(u32, Kind)> {
        run(&reader, &opts)
            .iter()
            .map(|e| (e.pid, e.kind))
            .collect()
    };
    // A process's own events, and the starts of its children.
    assert_eq!(
        pids(Options {
            pid: Some(100),
            ..Options::default()
        }),
        vec![(100, Kind::Exec), (101, Kind::ProcessStart)]
    );
    assert_eq!(
        pids(Options {
            pid: Some(101),
            subtree: true,
            ..Options::default()
        }),
        vec![
            (101, Kind::ProcessStart),
            (101, Kind::Exec),
            (102, Kind::ProcessStart),
            (102, Kind::Exec),
            (102, Kind::FileOpen),
            (102, Kind::Exit),
        ]
    );
    let full = pids(Options {
        pid: Some(100),
        subtree: true,
        ..Options::default()
    });
    assert_eq!(full.len(), 7);
    assert!(full.iter().all(|(p, _)| *p != 200));
    // Time window, inclusive at both ends.
    assert_eq!(
        pids(Options {
            from: Some(START + 40),
            to: Some(START + 70),
            ..Options::default()
        }),
        vec![
            (102, Kind::Exec),
            (102, Kind::FileOpen),
            (200, Kind::Exec),
            (200, Kind::FileOpen),
        ]
    );
    let found = collect(
        &reader,
        None,
        &Redactor::new(false),
        &Options {
            pid: Some(4242),
            ..Options::default()
        },
    )
    .unwrap();
    assert!(found.entries.is_empty());
    assert!(
        found.notes.iter().any(|n| n.contains("4242")),
        "{:?}",
        found.notes
    );
}

#[test]
fn failed_calls_are_kept_when_they_are_evidence() {
    let connect = |ts, ret| {
        sys(
            ts,
            100,
            100,
            "connect",
            ret,
            vec![
                Arg::Fd(4, None),
                Arg::Sockaddr(SockAddr::Inet([10, 0, 0, 5], 443)),
                Arg::Int(16),
            ],
        )
    };
    let records = [
        exec(0, 100, "/bin/x", &["x"]),
        openat(10, 100, "/lib/libnope.so", -2), // ENOENT: the loader's search, noise
        openat(20, 100, "/etc/shadow", -13),    // EACCES: denied, evidence
        connect(30, -111),                      // ECONNREFUSED: an attempt, evidence
        connect(40, 0),
        read(50, 100, 3, "/dev/x", -11), // EAGAIN: noise
        sys(60, 100, 100, "setuid", -1, vec![Arg::Int(0)]), // EPERM
    ];
    let reader = trace(&records, 1 << 20);
    let messages: Vec<String> = run(&reader, &Options::default())
        .into_iter()
        .map(|e| e.message)
        .collect();
    assert_eq!(
        messages,
        vec![
            "exec /bin/x",
            "open /etc/shadow (read) failed: EACCES",
            "connect to 10.0.0.5:443 (fd 4) failed: ECONNREFUSED",
            "connect to 10.0.0.5:443 (fd 4)",
            "setuid(0) failed: EPERM",
        ]
    );
}

#[test]
fn secrets_are_redacted_and_node_text_escaped() {
    let records = [
        exec(
            0,
            100,
            "/usr/bin/mysql",
            &["mysql", "--password=hunter2", "-e", "select 1"],
        ),
        openat(10, 100, "/tmp/\x1b[31mevil\n", 3),
        exit(20, 100, None, Some(9)),
    ];
    let reader = trace(&records, 1 << 20);
    let redacted = run(&reader, &Options::default());
    let marker = crate::redact::marker(b"hunter2");
    assert_eq!(
        redacted[0].message,
        format!("exec /usr/bin/mysql --password={marker} -e 'select 1'")
    );
    assert_eq!(
        redacted[0].fields.get("argv").unwrap(),
        &serde_json::json!(["mysql", format!("--password={marker}"), "-e", "select 1"])
    );
    assert_eq!(
        redacted[1].message,
        "open /tmp/\\e[31mevil\\n (read) as fd 3"
    );
    assert!(redacted.iter().all(|e| !e.message.contains('\n')));
    assert_eq!(redacted[2].message, "killed by SIGKILL");
    assert_eq!(redacted[2].fields.get("signal").unwrap(), "SIGKILL");
    let shown = collect(&reader, None, &Redactor::new(true), &Options::default()).unwrap();
    assert!(shown.entries[0].message.contains("--password=hunter2"));
}

#[test]
fn exec_shows_a_spoofed_argv0() {
    let reader = trace(
        &[exec(
            0,
            100,
            "/tmp/.x/miner",
            &["[kworker/0:1]", "-o", "pool"],
        )],
        1 << 20,
    );
    let e = &run(&reader, &Options::default())[0];
    assert_eq!(
        e.message,
        "exec /tmp/.x/miner -o pool (argv[0] [kworker/0:1])"
    );
    assert_eq!(e.process, "miner");
}

#[test]
fn the_filter_selects_events_and_lifecycle_by_the_call_they_stand_for() {
    let records = [
        exec(0, 100, "/bin/bash", &["bash"]),
        openat(5, 100, "/etc/profile", 3),
        spawn(10, 100, 101),
        exec(20, 101, "/bin/cat", &["cat", "/etc/shadow"]),
        openat(30, 101, "/etc/shadow", 3),
        exit(40, 101, Some(0), None),
        exit(50, 100, Some(0), None),
    ];
    let reader = trace(&records, 1 << 20);
    let filtered = |expr: &str| -> Vec<(u32, Kind)> {
        let opts = Options {
            filter: Some(ConditionFilter::new(expr, &reader).unwrap()),
            ..Options::default()
        };
        run(&reader, &opts)
            .iter()
            .map(|e| (e.pid, e.kind))
            .collect()
    };
    assert_eq!(
        filtered("proc.name = cat"),
        vec![(101, Kind::Exec), (101, Kind::FileOpen), (101, Kind::Exit)]
    );
    assert_eq!(
        filtered("evt.type = openat and fd.name startswith /etc/s"),
        vec![(101, Kind::FileOpen)]
    );
    assert_eq!(
        filtered("evt.type in (clone, execve)"),
        vec![
            (100, Kind::Exec),
            (101, Kind::ProcessStart),
            (101, Kind::Exec)
        ]
    );
}

#[test]
fn alerts_follow_the_entry_of_their_event() {
    let yaml = "- rule: Shadow read\n  desc: d\n  condition: evt.type = openat and fd.name = /etc/shadow\n  output: shadow opened by %proc.name (%proc.cmdline)\n  priority: WARNING\n  tags: [t1]\n";
    let mut set = RuleSet::default();
    set.load_str("test.yaml", yaml).map_err(|e| e.0).unwrap();
    let engine = Engine::compile(&set, &CompileOptions::default()).unwrap();
    let records = [
        exec(
            0,
            100,
            "/bin/cat",
            &["cat", "--token", "s3cret", "/etc/shadow"],
        ),
        openat(10, 100, "/etc/shadow", 3),
        openat(10, 100, "/etc/passwd", 4),
    ];
    let reader = trace(&records, 1 << 20);
    let found = collect(
        &reader,
        Some(&engine),
        &Redactor::new(false),
        &Options::default(),
    )
    .unwrap();
    let kinds: Vec<Kind> = found.entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![Kind::Exec, Kind::FileOpen, Kind::Alert, Kind::FileOpen]
    );
    assert_eq!(found.alerts, 1);
    let alert = &found.entries[2];
    assert_eq!(alert.num, found.entries[1].num);
    assert_eq!(alert.fields.get("rule").unwrap(), "Shadow read");
    assert_eq!(alert.fields.get("priority").unwrap(), "Warning");
    let marker = crate::redact::marker(b"s3cret");
    assert_eq!(
        alert.message,
        format!(
            "alert Warning [Shadow read]: shadow opened by cat (cat --token {marker} /etc/shadow)"
        )
    );
    // Without the engine, or with alerts off, none.
    let off = collect(
        &reader,
        Some(&engine),
        &Redactor::new(false),
        &Options {
            alerts: false,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(off.alerts, 0);
    assert_eq!(off.entries.len(), 3);
}

#[test]
fn around_takes_entries_before_at_and_after_a_time() {
    let records: Vec<Record> = (0..10)
        .map(|i| openat(i * 10, 100, &format!("/f{i}"), 3))
        .collect();
    let reader = trace(&records, 1 << 20);
    let entries = run(&reader, &Options::default());
    let paths = |s: &[Entry]| -> Vec<String> {
        s.iter()
            .map(|e| e.fields.get("path").unwrap().as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        paths(around(&entries, START + 50, 2, 1)),
        ["/f3", "/f4", "/f5", "/f6"]
    );
    // Between two entries: nothing at the time itself.
    assert_eq!(paths(around(&entries, START + 55, 1, 1)), ["/f5", "/f6"]);
    assert_eq!(paths(around(&entries, START, 3, 0)), ["/f0"]);
    assert_eq!(paths(around(&entries, START + 1000, 2, 5)), ["/f8", "/f9"]);
    assert!(around(&[], START, 2, 2).is_empty());
}

#[test]
fn kind_names_are_unique_and_field_names_leave_the_columns_alone() {
    let mut names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Kind::ALL.len());
    for k in Kind::ALL {
        assert_eq!(Kind::from_name(k.name()), Some(k));
        assert_eq!(
            serde_json::to_value(k).unwrap(),
            serde_json::Value::from(k.name())
        );
    }
    // A synthetic trace exercises most kinds.
    let opts = WriterOptions::default();
    let mut w =
        TraceWriter::new(Vec::new(), &rhf_format::synth::synthetic_header(3), opts).unwrap();
    let synth = rhf_format::synth::SynthOptions {
        events: 20_000,
        processes: 8,
        seed: 3,
    };
    rhf_format::synth::generate(&mut w, &synth).unwrap();
    let reader = TraceReader::from_source(w.finish().unwrap().1).unwrap();
    let entries = run(&reader, &Options::default());
    assert!(entries.len() > 1000);
    for e in &entries {
        for (k, _) in e.fields.iter() {
            assert!(
                !crate::commands::timeline::JSON_COLUMNS.contains(&k),
                "{k} in {e:?}"
            );
        }
        assert!(!e.message.contains(['\n', '\r', '\x1b']));
    }
    assert!(entries
        .windows(2)
        .all(|w| (w[0].ts, w[0].num) <= (w[1].ts, w[1].num)));
}

#[test]
fn a_time_window_gives_the_entries_of_the_full_timeline_in_it() {
    let mut records = vec![exec(0, 100, "/usr/bin/app", &["app"])];
    for i in 0..300 {
        records.push(openat(10 + i * 10, 100, &format!("/data/{i}"), 3));
        records.push(read(15 + i * 10, 100, 3, &format!("/data/{i}"), 5));
    }
    let reader = trace(&records, 512);
    assert!(reader.chunks().len() > 4);
    let full = run(&reader, &Options::default());
    let (from, to) = (START + 1000, START + 2000);
    let window = run(
        &reader,
        &Options {
            from: Some(from),
            to: Some(to),
            ..Options::default()
        },
    );
    let expected: Vec<Entry> = full
        .into_iter()
        .filter(|e| e.ts >= from && e.ts <= to)
        .collect();
    assert_eq!(window, expected);
    assert_eq!(window.len(), 201);
}
