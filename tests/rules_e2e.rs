//! Rules end to end: attack scenarios recorded by `rhf-record` raise rhf's default rules
//! (samples/rules/rhf_rules.yaml) and, where the upstream stable Falco file has a rule for them,
//! that rule too; a benign workload raises nothing from either set.
//!
//! Every scenario is harmless: "sensitive" writes happen in a private mount namespace with a
//! tmpfs over the directory, or on files the test created; network traffic stays on 127.0.0.1;
//! every recording is bounded by `--duration`, every socket by a timeout.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use rhf::{analyze, is_root, record, record_clean, require, root, text, SYSTEM_PATH};
use tempfile::TempDir;

/// The upper bound of one recording; every scenario ends well within it.
const MAX_RECORDING: &str = "60s";

/// True when `tool` is an executable in one of the directories of [`SYSTEM_PATH`].
fn system_tool(tool: &str) -> bool {
    std::env::split_paths(SYSTEM_PATH).any(|dir| dir.join(tool).is_file())
}

/// True when the scenarios can run here: they need root (reading /etc/shadow, mount
/// namespaces, ptrace) and the named tools. Says loudly what is missing.
fn scenario_ready(tools: &[&str]) -> bool {
    require(
        is_root(),
        "root (the attack scenarios read /etc/shadow and mount tmpfs)",
    ) && tools
        .iter()
        .all(|tool| require(system_tool(tool), &format!("`{tool}` on {SYSTEM_PATH}")))
}

/// A private temporary directory for one scenario, when [`scenario_ready`].
fn scenario_dir(tools: &[&str]) -> Option<TempDir> {
    scenario_ready(tools).then(|| tempfile::tempdir().expect("temporary directory"))
}

/// The capture backend the scenarios are recorded with: `RHF_TEST_BACKEND` (ptrace, the
/// default, or ebpf). `.ci/run` runs this file once more with `ebpf`, so every scenario must
/// raise the same rules from an eBPF trace as from a ptrace one.
fn backend() -> String {
    std::env::var("RHF_TEST_BACKEND").unwrap_or_else(|_| "ptrace".into())
}

/// Records `argv` in launch mode into `dir/trace.rhf` (stdin on /dev/null, output captured for
/// the failure message, a clean environment with [`SYSTEM_PATH`], `dir` as the working
/// directory) with [`backend`], and returns the trace; the scenario must succeed.
fn record_command(dir: &Path, argv: &[&str]) -> PathBuf {
    let (mut cmd, trace) = record_clean(dir);
    let out = cmd
        .args(["--backend", &backend()])
        .args(["--duration", MAX_RECORDING, "--"])
        .args(argv)
        .output()
        .expect("run rhf-record");
    assert!(
        out.status.success(),
        "recording {argv:?} failed: {}",
        text(&out)
    );
    trace
}

/// Records `sh -c script`.
fn record_script(dir: &Path, script: &str) -> PathBuf {
    record_command(dir, &["sh", "-c", script])
}

/// Records `python3 -c program`.
fn record_python(dir: &Path, program: &str) -> PathBuf {
    record_command(dir, &["python3", "-c", program])
}

/// Names of the rules that fired on `trace` (`rhf-analyze rules TRACE --json`, one alert
/// object per line): rhf's default rules, or those of `rules_file`.
fn fired(trace: &Path, rules_file: Option<&Path>) -> BTreeSet<String> {
    let mut cmd = analyze();
    cmd.arg("rules").arg(trace).arg("--json");
    if let Some(file) = rules_file {
        cmd.arg("-r").arg(file);
    }
    let out = cmd.output().expect("run rhf-analyze rules");
    assert!(
        out.status.success(),
        "rhf-analyze rules {} failed: {}",
        trace.display(),
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let alert: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("an alert line is not JSON ({e}): {line}"));
            alert["rule"]
                .as_str()
                .unwrap_or_else(|| panic!("an alert without a `rule` string: {line}"))
                .to_string()
        })
        .collect()
}

/// Falco's upstream stable rules, test data beside the project (never copied into it);
/// `None`, said loudly, when that folder is absent.
fn upstream_rules() -> Option<PathBuf> {
    let path = root().join("../shared/compat/falco-rules/falco_rules.yaml");
    require(
        path.is_file(),
        "../shared/compat/falco-rules/falco_rules.yaml (the upstream Falco rules)",
    )
    .then_some(path)
}

fn assert_contains_all(fired: &BTreeSet<String>, expected: &[&str], set: &str, trace: &Path) {
    let missing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|rule| !fired.contains(*rule))
        .collect();
    assert!(
        missing.is_empty(),
        "{set}: {missing:?} did not fire on {} (fired: {fired:?})",
        trace.display()
    );
}

/// Asserts that rhf's default rules raise every rule of `ours`, and the upstream stable file
/// every rule of `upstream` (checked only when the upstream file is present).
fn assert_fires(trace: &Path, ours: &[&str], upstream: &[&str]) {
    assert_contains_all(&fired(trace, None), ours, "rhf default rules", trace);
    if upstream.is_empty() {
        return;
    }
    if let Some(file) = upstream_rules() {
        assert_contains_all(
            &fired(trace, Some(&file)),
            upstream,
            "upstream rules",
            trace,
        );
    }
}

/// Quotes `path` for a shell script.
fn sh_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// Copies `from` to `dir/name` (an executable under another name) and returns the copy.
fn copy_as(from: &str, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(from, &to).unwrap_or_else(|e| panic!("copy {from} to {}: {e}", to.display()));
    to
}

// ---- Sensitive files -------------------------------------------------------------------------

#[test]
fn cat_of_etc_shadow() {
    let Some(dir) = scenario_dir(&["cat"]) else {
        return;
    };
    let trace = record_script(dir.path(), "cat /etc/shadow > /dev/null");
    assert_fires(
        &trace,
        &["Read Sensitive Account File"],
        &["Read sensitive file untrusted"],
    );
}

/// Upstream's traversal rule ignores programs whose parent is a shell (`not proc.pname in
/// (shell_binaries)`): cat runs below `timeout` here, as it would below a web application.
#[test]
fn directory_traversal_to_etc_shadow() {
    let Some(dir) = scenario_dir(&["cat", "timeout"]) else {
        return;
    };
    let trace = record_script(
        dir.path(),
        "timeout 10 cat /etc/../etc/../etc/shadow > /dev/null",
    );
    assert_fires(
        &trace,
        &["Read Sensitive Account File"],
        &[
            "Directory traversal monitored file read",
            "Read sensitive file untrusted",
        ],
    );
}

/// The symlink points at the real /etc/shadow from the test's directory (a link changes
/// nothing). A hardlink must stay on one filesystem, so it is made in a mount namespace with a
/// tmpfs over /etc holding a stand-in shadow file; writing that stand-in is itself a write
/// below /etc.
#[test]
fn symlink_and_hardlink_to_etc_shadow() {
    let Some(dir) = scenario_dir(&["ln", "unshare", "mount"]) else {
        return;
    };
    let link = dir.path().join("shadow-link");
    let script = format!(
        "ln -s /etc/shadow {link} && \
         unshare -m sh -c 'mount -t tmpfs rhf-test /etc && echo stand-in > /etc/shadow && \
         ln /etc/shadow /etc/shadow-hardlink'",
        link = sh_quote(&link)
    );
    let trace = record_script(dir.path(), &script);
    assert_fires(
        &trace,
        &[
            "Symlink To Sensitive File Created",
            "Hardlink To Sensitive File Created",
            "Write Below System Directory",
        ],
        &[
            "Create Symlink Over Sensitive Files",
            "Create Hardlink Over Sensitive Files",
        ],
    );
}

/// `find` for key names and `grep` for a key header, bounded to an empty test directory.
#[test]
fn search_for_private_keys() {
    let Some(dir) = scenario_dir(&["find", "grep"]) else {
        return;
    };
    let haystack = dir.path().join("testdir");
    std::fs::create_dir(&haystack).unwrap();
    let script = format!(
        "find {d} -name id_rsa; grep -rl 'BEGIN RSA PRIVATE KEY' {d} || true",
        d = sh_quote(&haystack)
    );
    let trace = record_script(dir.path(), &script);
    assert_fires(
        &trace,
        &["Credential Search Command"],
        &["Search Private Keys or Passwords"],
    );
}

/// Another process's environment, read by `cat /proc/PID/environ` of a sibling `sleep`.
#[test]
fn environ_of_another_process() {
    let Some(dir) = scenario_dir(&["cat", "sleep"]) else {
        return;
    };
    let trace = record_script(
        dir.path(),
        "sleep 30 & p=$!; cat /proc/$p/environ > /dev/null; kill $p; wait",
    );
    assert_fires(&trace, &["Read Environment Of Another Process"], &[]);
}

// ---- Execution -------------------------------------------------------------------------------

/// /bin/true copied into /dev/shm (a private tmpfs there) and run by its absolute path, which
/// is what upstream's `proc.exe startswith "/dev/shm/"` looks at (proc.exe is argv[0]).
#[test]
fn program_run_from_dev_shm() {
    let Some(dir) = scenario_dir(&["unshare", "mount", "cp"]) else {
        return;
    };
    let trace = record_script(
        dir.path(),
        "unshare -m sh -c 'mount -t tmpfs rhf-test /dev/shm && \
         cp /bin/true /dev/shm/rhf-payload && /dev/shm/rhf-payload'",
    );
    assert_fires(
        &trace,
        &["Execution From Temporary Directory"],
        &["Execution from /dev/shm"],
    );
}

/// /bin/true's bytes in a memfd, executed through /proc/self/fd/N: the exec records
/// `execve("/proc/self/fd/3", ["rhf-payload"], ...)` and the executable is
/// `/memfd:rhf-payload (deleted)`.
const MEMFD_EXEC: &str = r#"
import os
fd = os.memfd_create("rhf-payload", 0)
with open("/bin/true", "rb") as f:
    os.write(fd, f.read())
os.execv("/proc/self/fd/%d" % fd, ["rhf-payload"])
"#;

#[test]
fn fileless_execution_from_memfd() {
    let Some(dir) = scenario_dir(&["python3"]) else {
        return;
    };
    let trace = record_python(dir.path(), MEMFD_EXEC);
    assert_fires(
        &trace,
        &["Fileless Execution From Memfd"],
        &["Fileless execution via memfd_create"],
    );
}

/// A copy of the shell named `nginx` starts `sh -c id`: upstream wants a protected server
/// among the ancestors (`proc.aname in (protected_shell_spawning_binaries)`, nginx is one) and
/// a parent that is not a shell by name. The trailing `exit 0` keeps the copy from replacing
/// itself with the last command, so `sh` really is its child.
#[test]
fn shell_spawned_by_a_server_named_nginx() {
    let Some(dir) = scenario_dir(&["sh", "id"]) else {
        return;
    };
    let nginx = copy_as("/bin/sh", dir.path(), "nginx");
    let script = format!("{} -c 'sh -c id; exit 0' > /dev/null", sh_quote(&nginx));
    let trace = record_script(dir.path(), &script);
    assert_fires(
        &trace,
        &["Shell Spawned By Server Process"],
        &["Run shell untrusted"],
    );
}

/// A reverse shell to a loopback listener in the same program: the child connects, dup2()s
/// the socket onto 0, 1 and 2 and executes `sh -i`, which runs what the listener sends
/// (`echo hi; exit`). Upstream's dup rule only covers containers.
const REVERSE_SHELL: &str = r#"
import os, socket
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
srv.settimeout(20)
pid = os.fork()
if pid == 0:
    s = socket.create_connection(srv.getsockname(), timeout=20)
    for fd in (0, 1, 2):
        os.dup2(s.fileno(), fd)
    os.execv("/bin/sh", ["sh", "-i"])
conn, _ = srv.accept()
conn.settimeout(20)
conn.sendall(b"echo hi; exit\n")
out = b""
while True:
    chunk = conn.recv(4096)
    if not chunk:
        break
    out += chunk
os.waitpid(pid, 0)
assert b"hi" in out, out
"#;

#[test]
fn reverse_shell_to_a_loopback_listener() {
    let Some(dir) = scenario_dir(&["python3"]) else {
        return;
    };
    let trace = record_python(dir.path(), REVERSE_SHELL);
    assert_fires(
        &trace,
        &["Standard Stream Redirected To Network Socket"],
        &[],
    );
}

/// Programs named like a scanner, a netcat and dd: copies of /bin/true, so nothing scans,
/// listens or writes a disk, but the executions look exactly like the real ones.
#[test]
fn network_tools_and_dd_onto_a_disk() {
    let Some(dir) = scenario_dir(&["true"]) else {
        return;
    };
    let nmap = copy_as("/bin/true", dir.path(), "nmap");
    let nc = copy_as("/bin/true", dir.path(), "nc");
    let dd = copy_as("/bin/true", dir.path(), "dd");
    let script = format!(
        "{} -sS 127.0.0.1 && {} -e /bin/sh 127.0.0.1 4444 && {} if=/dev/zero of=/dev/sda bs=1M",
        sh_quote(&nmap),
        sh_quote(&nc),
        sh_quote(&dd)
    );
    let trace = record_script(dir.path(), &script);
    assert_fires(
        &trace,
        &[
            "Network Scanner Run",
            "Netcat-Style Tool Run",
            "Data Destruction Command",
        ],
        &[],
    );
}

/// Credentials in arguments: a --password= option and AWS's documented example key id.
#[test]
fn secrets_on_a_command_line() {
    let Some(dir) = scenario_dir(&["true"]) else {
        return;
    };
    let trace = record_script(
        dir.path(),
        "/bin/true --password=rhf-test-secret --key-id=AKIAIOSFODNN7EXAMPLE",
    );
    assert_fires(&trace, &["Secret On Command Line"], &[]);
}

// ---- Debugging and injection -----------------------------------------------------------------

/// PTRACE_ATTACH and PTRACE_SEIZE on a sleeping child, then PTRACE_TRACEME. The child is
/// already traced by rhf-record, so every call fails with EPERM: the rules fire on attempts.
const PTRACE_ATTEMPTS: &str = r#"
import ctypes, subprocess
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
child = subprocess.Popen(["sleep", "30"])
try:
    for request in (16, 0x4206):  # PTRACE_ATTACH, PTRACE_SEIZE
        libc.ptrace(request, child.pid, None, None)
    libc.ptrace(0, 0, None, None)  # PTRACE_TRACEME
finally:
    child.kill()
    child.wait()
"#;

#[test]
fn ptrace_attach_to_a_sleeping_child() {
    let Some(dir) = scenario_dir(&["python3", "sleep"]) else {
        return;
    };
    let trace = record_python(dir.path(), PTRACE_ATTEMPTS);
    assert_fires(
        &trace,
        &[
            "Ptrace Attach To Another Process",
            "PTRACE_TRACEME Anti-Debugging",
        ],
        &["PTRACE attached to process", "PTRACE anti-debug attempt"],
    );
}

// ---- Tampering -------------------------------------------------------------------------------

/// Logs in a private tmpfs over /var/log: `: >` opens syslog with O_TRUNC (what upstream
/// matches), `truncate -s 0` calls ftruncate, `rm` unlinks auth.log.
#[test]
fn log_files_truncated_and_removed() {
    let Some(dir) = scenario_dir(&["unshare", "mount", "truncate", "rm"]) else {
        return;
    };
    let trace = record_script(
        dir.path(),
        "unshare -m sh -c 'mount -t tmpfs rhf-test /var/log && \
         echo line >> /var/log/syslog && : > /var/log/syslog && \
         echo line >> /var/log/auth.log && truncate -s 0 /var/log/auth.log && \
         rm /var/log/auth.log'",
    );
    assert_fires(&trace, &["Log File Cleared"], &["Clear Log Activities"]);
}

#[test]
fn shred_of_a_test_file() {
    let Some(dir) = scenario_dir(&["shred", "head"]) else {
        return;
    };
    let victim = dir.path().join("victim");
    let script = format!(
        "head -c 4096 /dev/zero > {v} && shred -u {v}",
        v = sh_quote(&victim)
    );
    let trace = record_script(dir.path(), &script);
    assert_fires(
        &trace,
        &["Data Destruction Command"],
        &["Remove Bulk Data from Disk"],
    );
}

/// History files of the test's own directory: one removed, one replaced by a link to
/// /dev/null. The first is written with `>>`: `>` would open it with O_TRUNC, which the rule
/// also matches, and the test would no longer show that the removal fires.
#[test]
fn shell_history_removed_and_linked_to_dev_null() {
    let Some(dir) = scenario_dir(&["rm", "ln"]) else {
        return;
    };
    let bash_history = dir.path().join(".bash_history");
    let zsh_history = dir.path().join(".zsh_history");
    let script = format!(
        "echo ls >> {b} && rm {b} && ln -sf /dev/null {z}",
        b = sh_quote(&bash_history),
        z = sh_quote(&zsh_history)
    );
    let trace = record_script(dir.path(), &script);
    assert_fires(&trace, &["Shell History Deleted Or Truncated"], &[]);
}

#[test]
fn setuid_and_setgid_bits_on_a_test_file() {
    let Some(dir) = scenario_dir(&["touch", "chmod"]) else {
        return;
    };
    let file = dir.path().join("backdoor");
    let script = format!(
        "touch {f} && chmod 4755 {f} && chmod g+s {f}",
        f = sh_quote(&file)
    );
    let trace = record_script(dir.path(), &script);
    assert_fires(&trace, &["Setuid Or Setgid Bit Set"], &[]);
}

/// LD_PRELOAD in an exec'd environment (a library that does not exist: the dynamic linker
/// only warns), and /etc/ld.so.preload written in a private tmpfs over /etc.
#[test]
fn ld_preload_in_an_environment_and_in_etc_ld_so_preload() {
    let Some(dir) = scenario_dir(&["unshare", "mount"]) else {
        return;
    };
    let trace = record_script(
        dir.path(),
        "LD_PRELOAD=/nonexistent/rhf-preload.so /bin/true 2> /dev/null && \
         unshare -m sh -c 'mount -t tmpfs rhf-test /etc && \
         echo /nonexistent/rhf-preload.so > /etc/ld.so.preload'",
    );
    assert_fires(
        &trace,
        &[
            "Process Started With LD_PRELOAD",
            "Dynamic Linker Preload File Modified",
            "Write Below System Directory",
        ],
        &[],
    );
}

/// A packet socket opened and closed at once (root only; nothing is captured), and a kernel
/// module load attempt with an invalid descriptor (finit_module(-1, "", 0) fails with EBADF).
const PACKET_SOCKET_AND_MODULE: &str = r#"
import ctypes, socket
socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
libc = ctypes.CDLL(None, use_errno=True)
SYS_finit_module = 313  # x86_64
assert libc.syscall(SYS_finit_module, -1, b"", 0) == -1
"#;

#[test]
fn packet_socket_and_kernel_module_attempt() {
    if !require(
        std::env::consts::ARCH == "x86_64",
        "x86_64 (the scenario calls finit_module by number)",
    ) {
        return;
    }
    let Some(dir) = scenario_dir(&["python3"]) else {
        return;
    };
    let trace = record_python(dir.path(), PACKET_SOCKET_AND_MODULE);
    assert_fires(
        &trace,
        &["Packet Socket Opened", "Kernel Module Loaded"],
        &[],
    );
}

// ---- The capture-start snapshot (procinfo events) --------------------------------------------

/// The live-indicators scenario (samples/scenarios/live-indicators.sh) until it is ready; its
/// trap ends every process it started when this is dropped.
struct LiveIndicators {
    child: Child,
    pids: Vec<String>,
}

impl LiveIndicators {
    fn start() -> LiveIndicators {
        let mut child = Command::new(root().join("samples/scenarios/live-indicators.sh"))
            .env_clear()
            .env("PATH", SYSTEM_PATH)
            .env("RHF_SCENARIO_SECONDS", "60")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start samples/scenarios/live-indicators.sh");
        let stdout = child.stdout.take().expect("scenario stdout");
        let mut scenario = LiveIndicators {
            child,
            pids: Vec::new(),
        };
        // The script prints `<indicator> <pid>` lines, then `ready`; it fails (and its output
        // ends) if an indicator does not show within seconds.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line == "ready" {
                return scenario;
            }
            match line.split_once(' ') {
                Some(("loopback_port", _)) | None => {}
                Some((_, pid)) => scenario.pids.push(pid.to_string()),
            }
        }
        panic!("the live-indicators scenario ended before it was ready");
    }
}

impl Drop for LiveIndicators {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// The snapshot rules fire on processes that were already running: a shell on a TCP socket,
/// a memfd executable, a deleted executable, LD_PRELOAD, a binary in /dev/shm, a password on
/// a command line.
#[test]
fn snapshot_of_running_indicators() {
    if !require(
        Path::new("/usr/bin/python3").exists(),
        "/usr/bin/python3 (the live-indicators scenario uses it)",
    ) {
        return;
    }
    let Some(dir) = scenario_dir(&["bash"]) else {
        return;
    };
    let scenario = LiveIndicators::start();
    let trace = dir.path().join("snapshot.rhf");
    let out = record()
        .args(["snapshot", "-o", trace.to_str().unwrap(), "--pid"])
        .arg(scenario.pids.join(","))
        .output()
        .expect("run rhf-record snapshot");
    assert!(out.status.success(), "snapshot failed: {}", text(&out));
    drop(scenario);
    assert_fires(
        &trace,
        &[
            "Shell With Network Socket On Standard Streams",
            "Fileless Execution From Memfd",
            "Running Executable Deleted From Disk",
            "Process Started With LD_PRELOAD",
            "Execution From Temporary Directory",
            "Secret On Command Line",
        ],
        &[],
    );
}

// ---- Benign work -----------------------------------------------------------------------------

/// Everyday work fires nothing from either rule set: listing and reading files, compiling a
/// small C program and running it, importing a Python module. The work directory lies under
/// target/ (or /run when the checkout is under /tmp), not in a temporary directory: running a
/// binary from /tmp is a rule of its own.
#[test]
fn benign_workload_fires_nothing() {
    if !scenario_ready(&["ls", "cat", "cc", "python3"]) {
        return;
    }
    // A checkout may itself live under /tmp (CI clones there): then work under /run, which
    // is root's and no rule treats as a dropper's directory.
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let in_temp = ["/tmp", "/var/tmp", "/dev/shm"]
        .iter()
        .any(|t| base.starts_with(t));
    let dir = tempfile::Builder::new()
        .prefix("rules-benign")
        .tempdir_in(if in_temp {
            std::path::Path::new("/run")
        } else {
            base
        })
        .expect("temporary work directory");
    let work = dir.path();
    std::fs::write(work.join("notes.txt"), "ordinary text\n").unwrap();
    std::fs::write(
        work.join("hello.c"),
        "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n",
    )
    .unwrap();
    let script = format!(
        "ls -la {w} > /dev/null && cat {w}/notes.txt > /dev/null && \
         cc -o {w}/hello {w}/hello.c && {w}/hello > /dev/null && python3 -c 'import json'",
        w = sh_quote(work)
    );
    let trace = record_script(work, &script);
    let ours = fired(&trace, None);
    assert!(ours.is_empty(), "rhf default rules fired: {ours:?}");
    if let Some(file) = upstream_rules() {
        let upstream = fired(&trace, Some(&file));
        assert!(upstream.is_empty(), "upstream rules fired: {upstream:?}");
    }
}
