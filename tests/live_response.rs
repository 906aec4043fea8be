//! Live response end to end: real processes showing each indicator are snapshotted by
//! `rhf-record snapshot`, and `rhf-analyze findings`, `env`, `ps`, `lsof` read the trace.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rhf::{analyze, have_tool, is_root, record, require, root, text};

const ENV_SECRET: &str = "rhf-planted-env-secret-5b1c";
const CMDLINE_SECRET: &str = "rhf-planted-cmdline-secret-9d2e";

/// The scenario script's processes; SIGTERM ends them all when dropped.
struct Scenario {
    child: Child,
    /// label -> pids (`none` is the plain sleep).
    pids: BTreeMap<String, Vec<u32>>,
    loopback_port: u16,
}

impl Scenario {
    fn start() -> Scenario {
        let script = root().join("samples/scenarios/live-indicators.sh");
        // A clean environment: cargo's LD_LIBRARY_PATH (pointing into target/, which may lie
        // under /tmp) must not make the plain sleep look preloaded.
        let mut child = Command::new(script)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("RHF_SCENARIO_SECONDS", "60")
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("start the scenario script");
        let stdout = child.stdout.take().expect("scenario stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut pids: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let mut loopback_port = 0;
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the scenario printed `ready` within 30 s");
            if line == "ready" {
                break;
            }
            let (label, value) = line.split_once(' ').expect("`label value` lines");
            if label == "loopback_port" {
                loopback_port = value.parse().unwrap();
            } else {
                pids.entry(label.to_string())
                    .or_default()
                    .push(value.parse().unwrap());
            }
        }
        Scenario {
            child,
            pids,
            loopback_port,
        }
    }

    fn pid(&self, label: &str) -> u32 {
        self.pids[label][0]
    }

    fn all_pids(&self) -> Vec<u32> {
        self.pids.values().flatten().copied().collect()
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        // The script's trap ends its processes and removes its files.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn snapshot(dir: &Path, pids: &[u32], extra: &[&str]) -> PathBuf {
    let out = dir.join("snap.rhf");
    let pid_list: Vec<String> = pids.iter().map(u32::to_string).collect();
    let o = record()
        .args([
            "snapshot",
            "-o",
            out.to_str().unwrap(),
            "--pid",
            &pid_list.join(","),
        ])
        .args(extra)
        .output()
        .expect("run rhf-record");
    assert!(o.status.success(), "rhf-record failed: {}", text(&o));
    let line = String::from_utf8_lossy(&o.stderr);
    assert!(
        line.contains("digest sha256-chain") && line.contains("processes"),
        "{line}"
    );
    out
}

fn analyze_ok(args: &[&str]) -> String {
    let o = analyze().args(args).output().expect("run rhf-analyze");
    assert!(
        o.status.success(),
        "rhf-analyze {args:?} failed: {}",
        text(&o)
    );
    text(&o)
}

fn scenario_tools_present() -> bool {
    require(
        Path::new("/usr/bin/python3").exists(),
        "/usr/bin/python3 (the scenario uses it)",
    ) && require(have_tool("bash"), "bash")
}

#[test]
fn each_indicator_names_the_right_pid_and_a_plain_sleep_raises_nothing() {
    if !scenario_tools_present() {
        return;
    }
    let scenario = Scenario::start();
    let dir = tempfile::tempdir().unwrap();
    let trace = snapshot(dir.path(), &scenario.all_pids(), &["--collect-exe"]);
    let json = analyze_ok(&["findings", "--json", trace.to_str().unwrap()]);
    let findings: serde_json::Value = serde_json::from_str(&json).expect("findings --json is JSON");
    let findings = findings.as_array().expect("an array of findings");
    let fired = |indicator: &str, pid: u32| {
        findings
            .iter()
            .any(|f| f["indicator"] == indicator && f["pid"] == pid && !f["evidence"].is_null())
    };
    for indicator in [
        "deleted_exe",
        "memfd_exec",
        "ld_preload",
        "reverse_shell",
        "fake_kernel_thread",
        "exec_from_writable_dir",
        "secret_in_env",
        "secret_on_cmdline",
    ] {
        let pid = scenario.pid(indicator);
        assert!(
            fired(indicator, pid),
            "{indicator} did not fire for pid {pid}:\n{json}"
        );
    }
    let plain = scenario.pid("none");
    assert!(
        !findings.iter().any(|f| f["pid"] == plain),
        "the plain sleep (pid {plain}) raised a finding:\n{json}"
    );
    // The deleted and memfd executables were copied as evidence.
    let reader = rhf_format::TraceReader::open(&trace).unwrap();
    let copies = reader
        .records()
        .filter_map(Result::ok)
        .filter(|r| matches!(r.body, rhf_format::RecordBody::Executable(_)))
        .count();
    assert!(
        copies >= 2,
        "expected copies of the deleted and memfd executables, got {copies}"
    );
}

#[test]
fn planted_secrets_stay_hidden_unless_show_secrets() {
    if !scenario_tools_present() {
        return;
    }
    let scenario = Scenario::start();
    let dir = tempfile::tempdir().unwrap();
    let trace = snapshot(dir.path(), &scenario.all_pids(), &[]);
    let t = trace.to_str().unwrap();
    for cmd in [
        &["env", t][..],
        &["findings", t],
        &["findings", "--json", t],
        &["ps", t],
        &["env", "--json", t],
    ] {
        let out = analyze_ok(cmd);
        for secret in [ENV_SECRET, CMDLINE_SECRET] {
            assert!(
                !out.contains(secret),
                "`rhf-analyze {cmd:?}` printed the secret {secret}:\n{out}"
            );
        }
    }
    let env = analyze_ok(&["env", "--show-secrets", t]);
    assert!(
        env.contains(ENV_SECRET),
        "env --show-secrets hides the value:\n{env}"
    );
    let ps = analyze_ok(&["ps", "--show-secrets", t]);
    assert!(
        ps.contains(CMDLINE_SECRET),
        "ps --show-secrets hides the flag value:\n{ps}"
    );
    let redacted = analyze_ok(&["env", t]);
    assert!(redacted.contains("[REDACTED:"), "{redacted}");
}

#[test]
fn lsof_resolves_the_loopback_connection_to_both_endpoints_and_state() {
    if !scenario_tools_present() {
        return;
    }
    let scenario = Scenario::start();
    let dir = tempfile::tempdir().unwrap();
    let shell = scenario.pid("reverse_shell");
    let trace = snapshot(dir.path(), &scenario.all_pids(), &[]);
    let out = analyze_ok(&["lsof", "--pid", &shell.to_string(), trace.to_str().unwrap()]);
    let server = format!("127.0.0.1:{}", scenario.loopback_port);
    let line = out
        .lines()
        .find(|l| l.contains("TCP") && l.contains(&format!("->{server}")))
        .unwrap_or_else(|| panic!("no TCP line to {server} in lsof:\n{out}"));
    assert!(line.contains("ESTABLISHED"), "{line}");
    assert!(line.contains("127.0.0.1:"), "{line}");
}

#[test]
fn hostile_command_lines_are_escaped_and_capped() {
    if !scenario_tools_present() {
        return;
    }
    // ANSI escapes and invalid UTF-8 in argv, and a 1 MiB argv (in 100 KiB arguments: the
    // kernel limits one argument to 128 KiB).
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.args(["-c", "import time; time.sleep(60)"])
        .arg("\x1b[31mred\x1b[0m")
        .arg(OsStr::from_bytes(b"bad-\xff\xfe-utf8"));
    for _ in 0..11 {
        cmd.arg("A".repeat(100 << 10));
    }
    let mut child = cmd.spawn().expect("start the hostile process");
    std::thread::sleep(Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let trace = snapshot(dir.path(), &[child.id()], &[]);
    let _ = child.kill();
    let _ = child.wait();
    let ps = analyze_ok(&["ps", trace.to_str().unwrap()]);
    assert!(
        !ps.contains('\x1b'),
        "a raw escape reached the terminal:\n{ps}"
    );
    assert!(
        ps.contains("\\e[31mred"),
        "the escape is shown escaped:\n{ps}"
    );
    assert!(
        ps.contains("\\xff\\xfe"),
        "invalid UTF-8 is shown as \\x escapes"
    );
    let reader = rhf_format::TraceReader::open(&trace).unwrap();
    let cmdline = reader
        .records()
        .filter_map(Result::ok)
        .find_map(|r| match r.body {
            rhf_format::RecordBody::Process(p) if p.tid == p.pid => {
                p.files.into_iter().find(|f| f.name == "cmdline")
            }
            _ => None,
        })
        .expect("a cmdline record");
    assert!(cmdline.truncated, "a 1 MiB cmdline is capped and flagged");
    assert!(
        cmdline.full_len.unwrap_or(0) > 1 << 20,
        "{:?}",
        cmdline.full_len
    );
    assert_eq!(cmdline.content.len(), 256 << 10);
}

#[test]
fn processes_exiting_during_a_host_wide_snapshot_do_not_abort_it() {
    if !require(have_tool("bash"), "bash") {
        return;
    }
    // Short-lived processes appear and vanish while the whole host is read (bounded: 3000).
    let mut churn = Command::new("bash")
        .args(["-c", "for i in $(seq 3000); do /bin/true; done"])
        .spawn()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("host.rhf");
    for _ in 0..3 {
        let o = record()
            .args(["snapshot", "--force", "-o", out.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let v = analyze()
            .args(["verify", out.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(v.status.success(), "{}", text(&v));
    }
    let _ = churn.wait();
}

#[test]
fn a_docker_named_cgroup_shows_its_container_id() {
    let cgroup_root = Path::new("/sys/fs/cgroup");
    let writable = is_root() && cgroup_root.exists();
    if !require(writable, "root and a writable /sys/fs/cgroup") {
        return;
    }
    let id = "4f1d2c3b5a6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8";
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    // cgroup v2 (unified) or a v1 hierarchy such as pids, whichever accepts the process.
    let candidates = [
        cgroup_root.join("docker").join(id),
        cgroup_root.join("unified/docker").join(id),
        cgroup_root.join("pids/docker").join(id),
        cgroup_root.join("systemd/docker").join(id),
    ];
    let mut joined = None;
    for dir in candidates {
        let created = !dir.exists() && std::fs::create_dir_all(&dir).is_ok();
        let _ = std::fs::write(dir.join("cgroup.procs"), child.id().to_string());
        // Only a real cgroup filesystem moves the process (a tmpfs just stores the file).
        let moved = std::fs::read_to_string(format!("/proc/{}/cgroup", child.id()))
            .is_ok_and(|c| c.contains(id));
        if moved {
            joined = Some(dir);
            break;
        }
        if created {
            // rmdir works on a cgroup filesystem; a plain tmpfs needs the stored file removed.
            if std::fs::remove_dir(&dir).is_err() {
                let _ = std::fs::remove_dir_all(&dir);
            }
            let _ = std::fs::remove_dir(dir.parent().unwrap());
        }
    }
    let ok = require(
        joined.is_some(),
        "a cgroup hierarchy that accepts a test process",
    );
    if ok {
        let dir = tempfile::tempdir().unwrap();
        let trace = snapshot(dir.path(), &[child.id()], &[]);
        let ps = analyze_ok(&["ps", trace.to_str().unwrap()]);
        let line = ps
            .lines()
            .find(|l| l.contains(&child.id().to_string()))
            .unwrap_or_else(|| panic!("pid missing from ps:\n{ps}"));
        assert!(line.contains(&id[..12]), "no container id in: {line}");
    }
    let _ = child.kill();
    let _ = child.wait();
    if let Some(dir) = joined {
        // The cgroup stays busy for a moment after its last process exits (bounded retry).
        for _ in 0..50 {
            if std::fs::remove_dir(&dir).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_dir(dir.parent().unwrap());
    }
}
