use rhf_format::{RecordBody, SnapshotReason};

use super::fixture::{analyze, failed, json, ok, raw, records, write_trace, Proc};
use super::node::{self, network};
use super::procfs::{HOST_NETNS, HOST_TCP};

const VIEWS: [(&str, &[&str]); 9] = [
    ("ps", &[]),
    ("ps", &["--tree"]),
    ("ps", &["--json"]),
    ("lsof", &[]),
    ("netstat", &[]),
    ("netstat", &["--json"]),
    ("env", &[]),
    ("findings", &[]),
    ("findings", &["--json"]),
];

/// A process whose every raw file is cut or garbage.
fn mangled(pid: u32) -> Proc {
    let mut p = Proc::new(pid, 1, "broken", 0, "/usr/bin/broken", &["broken"]);
    let mut environ = raw("environ", b"A=1\0B");
    environ.truncated = true;
    p.files = vec![
        raw("stat", format!("{pid} (brok").as_bytes()),
        raw(
            "status",
            b"Name:\tbro\xffken\nUid:\t0\t0\nPPid:\tnope\nCapEff:\tzz\n",
        ),
        raw("cmdline", b""),
        environ,
        raw("maps", b"not a mapping\n0-1 r-xp\n\xff\xfe\xfd"),
        raw("cgroup", b"::::\n\xff"),
        raw("loginuid", b"\xff"),
        failed("comm", "No such process (os error 3)"),
    ];
    p.fds.push(super::fixture::fd(7, b"socket:[not-a-number]"));
    p.fds.push(super::fixture::fd(8, b""));
    p.exe = None;
    p
}

#[test]
fn malformed_and_truncated_raw_files_do_not_break_any_view() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad_tcp = HOST_TCP.to_string();
    bad_tcp.truncate(HOST_TCP.len() - 40);
    let bodies = vec![
        node::accounts(),
        RecordBody::Process(Box::new(mangled(3000).record())),
        network(
            HOST_NETNS,
            3000,
            &[
                ("tcp", &bad_tcp),
                ("unix", "garbage\n\n0: x"),
                ("packet", "hdr\n1 2"),
            ],
        ),
    ];
    let t = write_trace(dir.path(), "mangled.rhf", &records(bodies));
    for (cmd, extra) in VIEWS {
        ok(cmd, &t, extra);
    }
    let v = json("ps", &t, &[]);
    let notes = v[0]["notes"].as_array().unwrap();
    let text: Vec<&str> = notes.iter().map(|n| n.as_str().unwrap()).collect();
    assert!(text.iter().any(|n| n.starts_with("stat: ")), "{text:?}");
    assert!(text.iter().any(|n| n.starts_with("status: ")), "{text:?}");
    assert!(
        text.iter().any(|n| n.starts_with("environ: cut")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|n| n.starts_with("maps: 3 malformed")),
        "{text:?}"
    );
    assert_eq!(v[0]["user"], "?");
}

#[test]
fn a_truncated_trace_still_shows_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let t = node::trace(dir.path());
    let bytes = std::fs::read(&t).unwrap();
    for cut in [bytes.len() - 1, bytes.len() / 2, 200, 17] {
        let p = dir.path().join(format!("cut-{cut}.rhf"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        for (cmd, extra) in VIEWS {
            let mut args = vec![cmd, p.to_str().unwrap()];
            args.extend_from_slice(extra);
            let r = analyze(&args);
            assert!(
                matches!(r.code, Some(0) | Some(1)),
                "{cmd} on cut {cut}: {:?} {}",
                r.code,
                r.stderr
            );
            if r.code == Some(0) && bytes.len() - cut > 100 {
                assert!(
                    r.stderr.contains("note:"),
                    "{cmd} on cut {cut} says nothing: {}",
                    r.stderr
                );
            }
        }
    }
}

#[test]
fn the_latest_record_of_a_pid_wins_and_threads_attach() {
    let dir = tempfile::tempdir().unwrap();
    let before = Proc::new(400, 1, "sh", 0, "/usr/bin/sh", &["sh", "-c", "exec top"]);
    let after = Proc::new(400, 1, "top", 0, "/usr/bin/top", &["top"]);
    let mut exec = after.record();
    exec.reason = SnapshotReason::Exec;
    let mut thread = after.record();
    thread.tid = 401;
    let bodies = vec![
        RecordBody::Process(Box::new(before.record())),
        RecordBody::Process(Box::new(exec)),
        RecordBody::Process(Box::new(thread)),
    ];
    let t = write_trace(dir.path(), "exec.rhf", &records(bodies));
    let v = json("ps", &t, &[]);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["cmd"], "top");
    assert_eq!(v[0]["threads"], serde_json::json!([401]));
}

#[test]
fn a_trace_without_snapshot_records_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let t = write_trace(dir.path(), "empty.rhf", &[]);
    let r = analyze(&["ps", t.to_str().unwrap()]);
    assert_eq!(r.code, Some(0));
    assert!(
        r.stderr.contains("no process snapshot records"),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stdout.trim(),
        "PID  PPID  USER  START  TTY  CONTAINER  EXE  CMD"
    );
}

/// Deterministic noise biased towards the bytes `/proc` parsers split on.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        const ALPHABET: &[u8] = b"0123456789abcdefABCDEF ()[]:/-=\n\t\0\x1b\xff\xc3@.";
        let len = (self.next() % max as u64) as usize;
        (0..len)
            .map(|_| ALPHABET[(self.next() % ALPHABET.len() as u64) as usize])
            .collect()
    }

    /// A real file with a few bytes changed, cut somewhere.
    fn mutate(&mut self, real: &[u8]) -> Vec<u8> {
        let mut v = real.to_vec();
        for _ in 0..(self.next() % 4) {
            if !v.is_empty() {
                let i = (self.next() % v.len() as u64) as usize;
                v[i] = self.bytes(2).first().copied().unwrap_or(b':');
            }
        }
        let cut = (self.next() % (v.len() as u64 + 1)) as usize;
        v.truncate(cut);
        v
    }
}

#[test]
fn random_and_mutated_proc_files_never_panic_the_library() {
    use rhf_analyzer::commands::{env, findings, lsof, netstat, ps};
    use rhf_analyzer::redact::Redactor;
    use rhf_analyzer::snapshot::HostSnapshot;
    use rhf_format::Record;

    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let base = node::processes();
    for round in 0..300 {
        let mut bodies = Vec::new();
        for p in &base {
            let mut rec = p.record();
            for f in &mut rec.files {
                let content = if round % 3 == 0 {
                    noise.bytes(300)
                } else {
                    noise.mutate(&f.content)
                };
                f.content = rhf_format::Bytes::from(content);
            }
            for fd in &mut rec.fds {
                fd.target = rhf_format::Bytes::from(noise.mutate(&fd.target));
            }
            bodies.push(RecordBody::Process(Box::new(rec)));
        }
        for (name, table) in [
            ("tcp", HOST_TCP),
            ("unix", super::procfs::HOST_UNIX),
            ("packet", super::procfs::HOST_PACKET),
            ("raw", super::procfs::HOST_RAW),
        ] {
            let content = String::from_utf8_lossy(&noise.mutate(table.as_bytes())).into_owned();
            bodies.push(network(HOST_NETNS, 1, &[(name, &content)]));
        }
        let records: Vec<Record> = records(bodies);
        let snap = HostSnapshot::from_records(&super::fixture::header(), records);
        let r = Redactor::new(round % 2 == 0);
        let rows = ps::rows(&snap, &r);
        let _ = ps::render_tree(&ps::tree(rows.clone()));
        let _ = ps::render_table(&rows);
        let _ = lsof::render_table(&lsof::rows(&snap, None));
        let _ = netstat::render_table(&netstat::rows(&snap));
        let _ = env::render_table(&env::entries(&snap, None, &r));
        let _ = findings::render_table(&findings::collect(&snap, &r));
    }
}
