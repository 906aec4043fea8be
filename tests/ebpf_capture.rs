//! The eBPF backend end to end: a launched command's calls and errors per syscall equal
//! strace's (also with a `--trace` selection, filtered in the kernel), and a deterministic
//! workload across threads and processes is recorded exactly, without loss, every time.
//! Skipped (loudly; a failure under RHF_STRICT=1) when not root or when rhf-record was built
//! without the eBPF backend.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rhf::{ebpf_available, fixture, have_tool, record, require, strace_counts, summary_counts};
use rhf_format::{RecordBody, TraceReader};

/// The threads and forks fixtures compiled into `dir`, when eBPF, strace and a C compiler are
/// here (each missing one is a loud skip).
fn workload_fixtures(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    if !ebpf_available(dir) || !require(have_tool("strace"), "strace") {
        return None;
    }
    Some((fixture("threads", dir)?, fixture("forks", dir)?))
}

/// Waits (at most 20 s) for the recorder to create `trace`: its BPF programs are attached
/// before the file is created.
fn wait_until_recording(trace: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !trace.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn ebpf_summary_matches_strace_calls_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let Some((threads, forks)) = workload_fixtures(dir.path()) else {
        return;
    };
    let (threads, forks) = (threads.display().to_string(), forks.display().to_string());
    // (command, --trace selection): the selection is filtered in the kernel. The same commands
    // as the ptrace backend's strace-parity test, and a selection.
    let mut cases: Vec<(Vec<&str>, Option<&str>)> = vec![
        (vec!["/bin/ls", "/"], None),
        (vec!["/bin/cat", "/etc/hostname"], None),
        (vec![&threads], None),
        (vec![&forks], None),
        (
            vec!["/bin/cat", "/etc/hostname"],
            Some("openat,close,read,%process"),
        ),
    ];
    let python = "/usr/bin/python3";
    if require(Path::new(python).exists(), "/usr/bin/python3") {
        cases.push((vec![python, "-c", "import json"], None));
    }
    for (cmd, selection) in cases {
        let trace_arg = selection.map(|s| format!("--trace={s}"));
        let extra: Vec<&str> = trace_arg.iter().map(String::as_str).collect();
        let expected = strace_counts(dir.path(), &extra, &cmd);

        let trace = dir.path().join("e.rhf");
        let stderr = run_ok(&mut recording("ebpf", &trace, &extra, &cmd));
        assert!(!stderr.contains("LOST"), "events were lost: {stderr}");
        assert_eq!(
            summary_counts(&trace),
            expected,
            "calls and errors per syscall differ from strace for {cmd:?} {trace_arg:?}"
        );
    }
}

/// `rhf-record --backend BACKEND --force -o TRACE OPTIONS... [-- CMD...]` (no `--` when `cmd`
/// is empty), standard input and output on /dev/null.
fn recording(backend: &str, trace: &Path, options: &[&str], cmd: &[&str]) -> Command {
    let mut recorder = record();
    recorder
        .args(["--backend", backend, "--force", "-o"])
        .arg(trace)
        .args(options)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if !cmd.is_empty() {
        recorder.arg("--").args(cmd);
    }
    recorder
}

/// Runs `recorder` to its end and returns its standard error; panics unless it succeeded.
fn run_ok(recorder: &mut Command) -> String {
    let out = recorder.output().expect("run rhf-record");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// getppid events, and the loss the trace records (its final statistics and any loss notice).
fn getppid_events_and_loss(trace: &Path) -> (u64, u64) {
    let reader = TraceReader::open(trace).expect("open trace");
    rhf_format::verify(&reader).expect("the trace verifies");
    let getppid = rhf_format::sysent::number(rhf_format::Abi::X86_64, "getppid").unwrap();
    let (mut calls, mut lost) = (0, 0);
    for r in reader.records() {
        match r.expect("record").body {
            RecordBody::Syscall(ev) if ev.nr == getppid => calls += 1,
            RecordBody::Loss(notice) => lost += notice.events_lost.max(1),
            RecordBody::Stats(stats) => lost += stats.events_lost,
            _ => {}
        }
    }
    (calls, lost)
}

/// 8 threads making 1,000 getppid calls each, then 20 child processes making 100 each, in one
/// capture (`sh -c 'threads && forks'`), 20 times: exactly 10,000 calls of the workload plus
/// the shell's own (dash asks its parent once, for $PPID; counted by strace on the shell
/// alone, so the expectation does not depend on which shell /bin/sh is), and no loss.
#[test]
fn exact_counts_across_8_threads_and_20_processes_in_20_runs_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let Some((threads, forks)) = workload_fixtures(dir.path()) else {
        return;
    };
    let shell_own = strace_counts(
        dir.path(),
        &["-e", "trace=getppid"],
        &["/bin/sh", "-c", ":"],
    )
    .get("getppid")
    .map_or(0, |(calls, _)| *calls);
    let expected = 8 * 1000 + 20 * 100 + shell_own;
    let script = format!("{} 8 1000 && {} 20 100", quote(&threads), quote(&forks));
    let trace = dir.path().join("n.rhf");
    for run in 1..=20 {
        run_ok(&mut recording(
            "ebpf",
            &trace,
            &[],
            &["/bin/sh", "-c", &script],
        ));
        let (calls, lost) = getppid_events_and_loss(&trace);
        assert_eq!(
            (calls, lost),
            (expected, 0),
            "run {run}: getppid events and recorded loss"
        );
    }
}

/// A path as a single-quoted shell word.
fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// Syscall events per pid.
fn events_by_pid(trace: &Path) -> std::collections::BTreeMap<u32, u64> {
    let reader = TraceReader::open(trace).expect("open trace");
    rhf_format::verify(&reader).expect("the trace verifies");
    let mut by_pid = std::collections::BTreeMap::new();
    for r in reader.records() {
        if let RecordBody::Syscall(ev) = r.expect("record").body {
            *by_pid.entry(ev.pid).or_insert(0) += 1;
        }
    }
    by_pid
}

/// A shell loop that keeps making syscalls for at most `seconds` (bounded).
fn busy_loop(seconds: u32) -> std::process::Child {
    let script = format!(
        "i=0; while [ $i -lt {} ]; do i=$((i+1)); cat /etc/hostname >/dev/null; sleep 0.02; done",
        seconds * 50
    );
    std::process::Command::new("/bin/sh")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the loop")
}

/// Attach mode: the running process is recorded for --duration and keeps running after the
/// recorder has stopped.
#[test]
fn attach_records_a_running_process_and_leaves_it_running() {
    let dir = tempfile::tempdir().unwrap();
    if !ebpf_available(dir.path()) {
        return;
    }
    let mut looping = busy_loop(20);
    let pid = looping.id();
    let trace = dir.path().join("a.rhf");
    let pid_arg = pid.to_string();
    let options = ["--duration", "1s", "-p", &pid_arg];
    let stderr = run_ok(&mut recording("ebpf", &trace, &options, &[]));
    assert!(stderr.contains("--duration elapsed"), "{stderr}");
    assert!(
        looping.try_wait().unwrap().is_none(),
        "the attached process must keep running"
    );
    let by_pid = events_by_pid(&trace);
    assert!(by_pid.get(&pid).is_some_and(|n| *n > 10), "{by_pid:?}");
    // Its children (cat, sleep) were followed too.
    assert!(by_pid.len() > 2, "{by_pid:?}");
    looping.kill().unwrap();
    looping.wait().unwrap();
}

/// --system sees processes it did not start, and never the recorder itself.
#[test]
fn system_records_other_processes_but_not_the_recorder() {
    let dir = tempfile::tempdir().unwrap();
    if !ebpf_available(dir.path()) {
        return;
    }
    let trace = dir.path().join("s.rhf");
    let recorder = recording("ebpf", &trace, &["--system", "--duration", "3s"], &[])
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rhf-record");
    wait_until_recording(&trace);
    let mut looping = busy_loop(1);
    let pid = looping.id();
    looping.wait().unwrap();
    let recorder_pid = recorder.id();
    let out = recorder.wait_with_output().expect("wait for rhf-record");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let by_pid = events_by_pid(&trace);
    assert!(by_pid.get(&pid).is_some_and(|n| *n > 10), "{by_pid:?}");
    assert!(
        !by_pid.contains_key(&recorder_pid),
        "the recorder's own calls were recorded"
    );
}

/// A limit stops the capture cleanly, and a launched command dies with it, as under ptrace.
#[test]
fn max_events_stops_the_capture_and_the_launched_command() {
    let dir = tempfile::tempdir().unwrap();
    if !ebpf_available(dir.path()) {
        return;
    }
    let trace = dir.path().join("m.rhf");
    let started = std::time::Instant::now();
    let out = recording(
        "ebpf",
        &trace,
        &["--max-events", "50"],
        &["/bin/sh", "-c", "while :; do /bin/true; done"],
    )
    .output()
    .expect("run rhf-record");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--max-events reached"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(!events_by_pid(&trace).is_empty());
}

/// Where the cgroup v2 hierarchy is mounted.
fn cgroup2_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let mount_point = before.split_whitespace().nth(4)?;
        (after.split_whitespace().next()? == "cgroup2").then(|| PathBuf::from(mount_point))
    })
}

/// A cgroup made for the test, removed (once empty) when dropped.
struct TestCgroup(PathBuf);

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // Its last processes may take a moment to be reaped.
        for _ in 0..100 {
            if std::fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// --cgroup records the processes of one cgroup (a container, in real use) and nothing else.
#[test]
fn cgroup_records_its_members_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    if !ebpf_available(dir.path()) {
        return;
    }
    let Some(mount) = cgroup2_mount() else {
        require(false, "a cgroup v2 hierarchy");
        return;
    };
    let cgroup = TestCgroup(mount.join(format!("rhf-test-{}", std::process::id())));
    std::fs::create_dir(&cgroup.0).expect("create a test cgroup");
    let mut inside = busy_loop(20);
    std::fs::write(cgroup.0.join("cgroup.procs"), inside.id().to_string())
        .expect("move the loop into the test cgroup");
    let mut outside = busy_loop(20);
    let trace = dir.path().join("c.rhf");
    let relative = cgroup.0.strip_prefix(&mount).unwrap().display().to_string();
    let out = recording(
        "ebpf",
        &trace,
        &["--duration", "1s", "--cgroup", &relative],
        &[],
    )
    .output()
    .expect("run rhf-record");
    let by_pid = events_by_pid(&trace);
    for child in [&mut inside, &mut outside] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        by_pid.get(&inside.id()).is_some_and(|n| *n > 10),
        "{by_pid:?}"
    );
    assert!(!by_pid.contains_key(&outside.id()), "{by_pid:?}");
}

/// What a `--system` trace says about one process tree: spawns (child -> parent), execs
/// (pid -> filenames), paths opened and addresses connected to, per pid.
#[derive(Default)]
struct Lineage {
    parent: std::collections::BTreeMap<u32, u32>,
    execs: std::collections::BTreeMap<u32, Vec<String>>,
    opened: std::collections::BTreeMap<u32, Vec<String>>,
    connected: std::collections::BTreeMap<u32, Vec<rhf_format::SockAddr>>,
}

fn lineage(trace: &Path) -> Lineage {
    use rhf_format::{Arg, ProcessLifecycle};
    let reader = TraceReader::open(trace).expect("open trace");
    rhf_format::verify(&reader).expect("the trace verifies");
    let mut l = Lineage::default();
    for r in reader.records() {
        match r.expect("record").body {
            RecordBody::Lifecycle(ProcessLifecycle::Spawn {
                parent_pid,
                child_pid,
                ..
            }) if parent_pid != child_pid => {
                l.parent.insert(child_pid, parent_pid);
            }
            RecordBody::Lifecycle(ProcessLifecycle::Exec { pid, filename, .. }) => {
                let name = String::from_utf8_lossy(&filename).into_owned();
                l.execs.entry(pid).or_default().push(name);
            }
            RecordBody::Syscall(ev) => {
                let name = rhf_format::sysent::name(ev.abi, ev.nr).unwrap_or("?");
                for arg in &ev.args {
                    match (name, arg) {
                        ("openat" | "open", Arg::Path(p)) => l
                            .opened
                            .entry(ev.pid)
                            .or_default()
                            .push(String::from_utf8_lossy(&p.raw).into_owned()),
                        ("connect", Arg::Sockaddr(a)) => {
                            l.connected.entry(ev.pid).or_default().push(a.clone())
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    l
}

/// `--system` while the test runs known commands: a shell that runs `cat` on a file and a
/// python that connects to a listener of the test on 127.0.0.1. Their execs, the open and
/// the connect appear under the right pids, with the right parents, and nothing of the
/// recorder's own does.
#[test]
fn system_capture_shows_execs_opens_and_connects_with_their_lineage() {
    let dir = tempfile::tempdir().unwrap();
    if !ebpf_available(dir.path()) || !require(have_tool("python3"), "python3") {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen on 127.0.0.1");
    let port = listener.local_addr().unwrap().port();
    let trace = dir.path().join("lineage.rhf");
    let recorder = recording("ebpf", &trace, &["--system", "--duration", "5s"], &[])
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rhf-record");
    let recorder_pid = recorder.id();
    wait_until_recording(&trace);
    let script = format!(
        "/bin/cat /etc/hostname >/dev/null; /usr/bin/env python3 -c \
         'import socket; socket.create_connection((\"127.0.0.1\", {port}), 5).close()'"
    );
    let shell = std::process::Command::new("/bin/sh")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the shell");
    let shell_pid = shell.id();
    let out = shell.wait_with_output().expect("wait for the shell");
    assert!(out.status.success(), "the shell failed");
    drop(listener);
    let rec = recorder.wait_with_output().expect("wait for rhf-record");
    assert!(
        rec.status.success(),
        "{}",
        String::from_utf8_lossy(&rec.stderr)
    );

    let l = lineage(&trace);
    let children_of_shell: Vec<u32> = l
        .parent
        .iter()
        .filter(|(_, parent)| **parent == shell_pid)
        .map(|(child, _)| *child)
        .collect();
    assert_eq!(
        l.parent.get(&shell_pid),
        Some(&std::process::id()),
        "the shell's parent is the test"
    );
    assert!(
        l.execs
            .get(&shell_pid)
            .is_some_and(|e| e.iter().any(|f| f == "/bin/sh")),
        "{:?}",
        l.execs.get(&shell_pid)
    );
    let cat =
        children_of_shell
            .iter()
            .find(|pid| {
                l.execs
                    .get(pid)
                    .is_some_and(|e| e.iter().any(|f| f == "/bin/cat"))
            })
            .unwrap_or_else(|| {
                panic!(
                "no child of the shell exec'd /bin/cat: children {children_of_shell:?}, execs {:?}",
                children_of_shell.iter().map(|p| l.execs.get(p)).collect::<Vec<_>>()
            )
            });
    assert!(
        l.opened
            .get(cat)
            .is_some_and(|p| p.iter().any(|p| p == "/etc/hostname")),
        "cat's opens: {:?}",
        l.opened.get(cat)
    );
    let loopback = rhf_format::SockAddr::Inet([127, 0, 0, 1], port);
    let connector = children_of_shell
        .iter()
        .find(|pid| l.connected.get(pid).is_some_and(|a| a.contains(&loopback)))
        .unwrap_or_else(|| {
            panic!(
                "no child of the shell connected to {loopback:?}: {:?}",
                children_of_shell
                    .iter()
                    .map(|p| l.connected.get(p))
                    .collect::<Vec<_>>()
            )
        });
    assert!(
        l.execs.get(connector).is_some_and(|e| !e.is_empty()),
        "the connecting process's exec is recorded"
    );
    assert!(
        !l.opened.contains_key(&recorder_pid)
            && !l.execs.contains_key(&recorder_pid)
            && !events_by_pid(&trace).contains_key(&recorder_pid),
        "the recorder's own activity was recorded"
    );
}

/// `--no-env` keeps environments out of the trace under both backends: no
/// `/proc/PID/environ` in any snapshot (the record says it was not recorded) and no
/// environment in eBPF exec records; without it, the exec snapshots carry the planted
/// variable (so the check can fail).
#[test]
fn no_env_records_no_environment_with_either_backend() {
    let dir = tempfile::tempdir().unwrap();
    if !ebpf_available(dir.path()) {
        return;
    }
    let marker: &[u8] = b"RHF_NO_ENV_MARKER=planted";
    for backend in ["ptrace", "ebpf"] {
        for no_env in [false, true] {
            let trace = dir.path().join(format!("env-{backend}-{no_env}.rhf"));
            let options: &[&str] = if no_env { &["--no-env"] } else { &[] };
            let script = ["/bin/sh", "-c", "/bin/true; /bin/sleep 0.2"];
            run_ok(
                recording(backend, &trace, options, &script).env("RHF_NO_ENV_MARKER", "planted"),
            );
            let reader = TraceReader::open(&trace).expect("open trace");
            let (mut snapshots, mut planted) = (0, 0);
            for r in reader.records() {
                if let RecordBody::Process(p) = r.expect("record").body {
                    snapshots += 1;
                    let environ = p.files.iter().find(|f| f.name == "environ");
                    let content = environ.map(|f| f.content.to_vec()).unwrap_or_default();
                    planted += usize::from(content.windows(marker.len()).any(|w| w == marker));
                }
            }
            assert!(snapshots > 0, "{backend}: no exec snapshot");
            if no_env {
                assert_eq!(
                    planted, 0,
                    "{backend} --no-env: an environment was recorded"
                );
            } else {
                assert!(
                    planted > 0,
                    "{backend}: the exec snapshots lack the environment"
                );
            }
        }
    }
}

/// 32-bit calls made through `int 0x80` by a 64-bit program are named from the i386 table by
/// both backends (i386 getpid is x86-64 writev), and `--trace` applies to them by their own
/// names.
#[test]
fn compat_calls_are_named_from_the_i386_table() {
    let dir = tempfile::tempdir().unwrap();
    if !ebpf_available(dir.path()) {
        return;
    }
    let Some(int80) = fixture("int80", dir.path()) else {
        return;
    };
    let int80 = int80.display().to_string();
    for backend in ["ptrace", "ebpf"] {
        for (selection, expected) in [(None, 7), (Some("getpid"), 7), (Some("writev"), 0)] {
            let trace = dir.path().join(format!("int80-{backend}.rhf"));
            let trace_arg = selection.map(|s| format!("--trace={s}"));
            let options: Vec<&str> = trace_arg.iter().map(String::as_str).collect();
            run_ok(&mut recording(backend, &trace, &options, &[&int80, "7"]));
            let counts = summary_counts(&trace);
            let calls = |name: &str| counts.get(name).map_or(0, |(calls, _)| *calls);
            assert_eq!(
                (calls("getpid"), calls("writev")),
                (expected, 0),
                "{backend} {selection:?}: {counts:?}"
            );
        }
    }
}
