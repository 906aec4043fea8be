//! Syscall capture end to end: launch and attach, harmlessness (the traced processes carry on
//! as they would untraced), exact event counts, and stop/continue behaviour.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rhf::{fixture, have_tool, record, require, strace_counts, summary_counts};
use rhf_format::{RecordBody, TraceEnd, TraceReader};

/// ptrace is allowed for us on this machine (root, or yama scope 0 for our children).
fn ptrace_available() -> bool {
    let scope = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "0".into());
    require(
        rhf::is_root() || scope == "0" || scope == "1",
        "ptrace (root or yama ptrace_scope <= 1)",
    )
}

/// Syscall events per syscall name in a trace.
fn count_by_name(trace: &Path) -> std::collections::BTreeMap<String, u64> {
    let reader = TraceReader::open(trace).expect("open trace");
    let mut counts = std::collections::BTreeMap::new();
    for r in reader.records() {
        if let RecordBody::Syscall(ev) = r.expect("record").body {
            let name = rhf_format::sysent::name(ev.abi, ev.nr)
                .unwrap_or("?")
                .to_string();
            *counts.entry(name).or_insert(0) += 1;
        }
    }
    counts
}

/// Records `cmd`; its standard input and output are /dev/null and its standard error a pipe,
/// as in the strace runs it is compared with (`ls` asks the terminal size of its output,
/// python seeks its standard streams: the same targets keep the counts equal whatever the test
/// runner was given).
fn launch(trace: &Path, cmd: &[&str]) -> std::process::Output {
    record()
        .args(["-o", trace.to_str().unwrap(), "--force", "--"])
        .args(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .expect("run rhf-record")
}

#[test]
fn exact_counts_across_threads_and_processes_in_20_repetitions() {
    if !ptrace_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (Some(threads), Some(forks)) =
        (fixture("threads", dir.path()), fixture("forks", dir.path()))
    else {
        return;
    };
    let trace = dir.path().join("t.rhf");
    for round in 0..20 {
        let (program, expected) = if round % 2 == 0 {
            (&threads, 8 * 1000)
        } else {
            (&forks, 20 * 100)
        };
        let out = launch(&trace, &[program.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "round {round}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let counts = count_by_name(&trace);
        assert_eq!(
            counts.get("getppid"),
            Some(&expected),
            "round {round}: {counts:?}"
        );
    }
}

#[test]
fn launch_mode_exits_with_the_command_status_and_records_the_tree() {
    if !ptrace_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.rhf");
    let out = launch(&trace, &["sh", "-c", "/bin/true; exit 7"]);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("events") && stderr.contains("digest sha256-chain"),
        "{stderr}"
    );
    let reader = TraceReader::open(&trace).unwrap();
    rhf_format::verify(&reader).unwrap();
    let (mut execs, mut exits) = (0, 0);
    for r in reader.records() {
        match r.unwrap().body {
            RecordBody::Lifecycle(rhf_format::ProcessLifecycle::Exec { .. }) => execs += 1,
            RecordBody::Lifecycle(rhf_format::ProcessLifecycle::Exit { .. }) => exits += 1,
            _ => {}
        }
    }
    assert!(execs >= 2, "sh and /bin/true exec'd ({execs})");
    assert!(exits >= 2, "both exited ({exits})");

    let killed = launch(&trace, &["sh", "-c", "kill -TERM $$"]);
    assert_eq!(killed.status.code(), Some(128 + 15));
}

/// A process that makes steady progress: it rewrites a counter file every 10 ms (bounded to
/// two minutes).
fn ticker_script(counter: &Path) -> String {
    format!(
        "i=0; while [ $i -lt 12000 ]; do i=$((i+1)); echo $i > {}; sleep 0.01; done",
        counter.display()
    )
}

/// The ticker process; killed when dropped, so a failed assertion does not leave it running.
struct Ticker(Child);

impl Drop for Ticker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_ticker(dir: &Path) -> (Ticker, PathBuf) {
    let counter = dir.join("counter");
    let child = Command::new("sh")
        .args(["-c", &ticker_script(&counter)])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    (Ticker(child), counter)
}

/// The ticker's last count. `echo > file` truncates before writing, so a read can fall in
/// between and see nothing: such reads are retried (bounded).
fn counter_value(counter: &Path) -> u64 {
    for _ in 0..50 {
        let value = std::fs::read_to_string(counter)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        if let Some(v) = value {
            return v;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    0
}

fn assert_progresses(counter: &Path, what: &str) {
    let before = counter_value(counter);
    std::thread::sleep(Duration::from_millis(500));
    let after = counter_value(counter);
    assert!(
        after > before,
        "{what}: the process stopped making progress ({before} -> {after})"
    );
}

fn send(pid: u32, sig: &str) {
    Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
}

/// `rhf-record -o TRACE -p PID`, running.
fn attach_recorder(trace: &Path, pid: u32, stderr: Stdio) -> Child {
    record()
        .args(["-o", trace.to_str().unwrap(), "-p", &pid.to_string()])
        .stderr(stderr)
        .spawn()
        .unwrap()
}

#[test]
fn attach_then_sigint_detaches_and_the_process_carries_on() {
    if !ptrace_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ticker, counter) = start_ticker(dir.path());
    std::thread::sleep(Duration::from_millis(200));
    let trace = dir.path().join("a.rhf");
    let rec = attach_recorder(&trace, ticker.0.id(), Stdio::piped());
    std::thread::sleep(Duration::from_secs(2));
    send(rec.id(), "INT");
    let out = rec.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_progresses(&counter, "after the recorder detached on SIGINT");
    let reader = TraceReader::open(&trace).unwrap();
    rhf_format::verify(&reader).expect("the trace is complete and verifies");
    assert!(
        count_by_name(&trace).values().sum::<u64>() > 10,
        "events were recorded"
    );
}

#[test]
fn attach_then_sigkill_of_the_recorder_leaves_the_process_running() {
    if !ptrace_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ticker, counter) = start_ticker(dir.path());
    std::thread::sleep(Duration::from_millis(200));
    let trace = dir.path().join("k.rhf");
    let mut rec = attach_recorder(&trace, ticker.0.id(), Stdio::null());
    std::thread::sleep(Duration::from_millis(1500));
    send(rec.id(), "KILL");
    let _ = rec.wait();
    assert_progresses(&counter, "after the recorder was killed");
}

#[test]
fn launch_then_sigkill_of_the_recorder_ends_the_launched_tree() {
    if !ptrace_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("counter");
    let script = ticker_script(&counter);
    let trace = dir.path().join("l.rhf");
    let mut rec = record()
        .args(["-o", trace.to_str().unwrap(), "--", "sh", "-c", &script])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    send(rec.id(), "KILL");
    let _ = rec.wait();
    std::thread::sleep(Duration::from_millis(300));
    let before = counter_value(&counter);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        counter_value(&counter),
        before,
        "the launched tree kept running"
    );
    // The trace reads up to its last complete chunk.
    let reader = TraceReader::open(&trace).expect("a killed recorder leaves a readable trace");
    assert!(matches!(reader.end(), TraceEnd::Truncated { .. }));
    assert!(reader.records().all(|r| r.is_ok()));
}

#[test]
fn a_tracee_that_stops_itself_stays_stopped_until_sigcont() {
    if !ptrace_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("s.rhf");
    let marker = dir.path().join("resumed");
    let script = format!("kill -STOP $$; echo yes > {}", marker.display());
    let rec = record()
        .args(["-o", trace.to_str().unwrap(), "--", "sh", "-c", &script])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Find the stopped shell: a child of the recorder in state T or t.
    let deadline = Instant::now() + Duration::from_secs(10);
    let stopped = loop {
        if let Some(pid) = stopped_child_of(rec.id()) {
            break pid;
        }
        assert!(Instant::now() < deadline, "the tracee never stopped");
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !marker.exists(),
        "the tracee ran on although it stopped itself"
    );
    assert_eq!(
        stopped_child_of(rec.id()),
        Some(stopped),
        "it stays stopped"
    );
    send(stopped, "CONT");
    let out = rec.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(marker.exists(), "after SIGCONT the tracee went on");
}

fn stopped_child_of(parent: u32) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r.to_string()) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1) == Some(&parent.to_string().as_str())
            && matches!(fields.first(), Some(&"T") | Some(&"t"))
        {
            return Some(pid);
        }
    }
    None
}

#[test]
fn summary_matches_strace_calls_and_errors() {
    if !ptrace_available() || !require(have_tool("strace"), "strace") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (Some(threads), Some(forks)) =
        (fixture("threads", dir.path()), fixture("forks", dir.path()))
    else {
        return;
    };
    let python = "/usr/bin/python3";
    let mut commands: Vec<Vec<String>> = vec![
        vec!["ls".into(), "/".into()],
        vec!["cat".into(), "/etc/hostname".into()],
        vec![threads.display().to_string()],
        vec![forks.display().to_string()],
    ];
    if require(Path::new(python).exists(), "/usr/bin/python3") {
        commands.push(vec![python.into(), "-c".into(), "import json".into()]);
    }
    for cmd in commands {
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let expected = strace_counts(dir.path(), &[], &args);
        let trace = dir.path().join("p.rhf");
        let out = launch(&trace, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = summary_counts(&trace);
        assert_eq!(
            got, expected,
            "calls and errors per syscall differ from strace for {cmd:?}"
        );
    }
}

#[test]
fn a_full_disk_stops_the_capture_and_says_what_was_lost() {
    if !ptrace_available()
        || !require(
            rhf::is_root() && have_tool("unshare"),
            "root and unshare (a private tmpfs)",
        )
    {
        return;
    }
    // A 96 KiB tmpfs in a private mount namespace: the trace cannot fit.
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let rec = rhf::binary("rhf-record");
    let script = format!(
        "mount -t tmpfs -o size=96k tmpfs {mnt} && {rec} -o {mnt}/t.rhf -- dd if=/dev/zero of=/dev/null bs=1 count=100000 status=none; echo exit=$?; cp {mnt}/t.rhf {copy} 2>/dev/null; true",
        mnt = mnt.display(),
        rec = rec.display(),
        copy = dir.path().join("copy.rhf").display()
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("exit=1"),
        "the recorder reports the failure with exit 1:\n{text}"
    );
    assert!(
        text.contains("LOST") || text.contains("could not be finished"),
        "{text}"
    );
    assert!(!text.contains("panicked"), "{text}");
    // What reached the disk reads up to its last complete chunk.
    let copy = dir.path().join("copy.rhf");
    let reader = TraceReader::open(&copy).expect("the partial trace opens");
    assert!(reader.records().all(|r| r.is_ok()));
}
