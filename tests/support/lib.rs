//! Helpers for the end-to-end tests: locating the binaries, samples, and loud skips.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `samples/`.
pub fn sample(name: &str) -> PathBuf {
    root().join("samples").join(name)
}

/// Path of a workspace binary, built once per test process: `cargo build` is cheap when the
/// binary is up to date, and a binary left from an older source (the analyzer embeds the
/// default rules file) must not be tested.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // Test executables live in target/<profile>/deps; binaries one level up.
    let exe = std::env::current_exe().expect("current test executable");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let path = dir.join(name);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if !built.iter().any(|b| b == name) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(root())
            .args(["build", "--quiet", "--workspace", "--bin", name]);
        if dir.file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building {name} failed");
        built.push(name.to_string());
    }
    path
}

/// A command running `rhf-analyze`.
pub fn analyze() -> Command {
    Command::new(binary("rhf-analyze"))
}

/// The PATH scenario recordings run with: the system's, so that nothing from the tester's own
/// PATH (shims that are shell scripts, for one) changes what gets executed.
pub const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `rhf-record -o dir/trace.rhf --force` in a clean environment (only [`SYSTEM_PATH`]), with
/// `dir` as the working directory and standard input closed: a recorded scenario depends on
/// nothing of the tester's shell. Add options, `--` and the command; returns the trace path too.
pub fn record_clean(dir: &Path) -> (Command, PathBuf) {
    let trace = dir.join("trace.rhf");
    let mut cmd = record();
    cmd.args(["-o", trace.to_str().expect("UTF-8 path"), "--force"])
        .env_clear()
        .env("PATH", SYSTEM_PATH)
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    (cmd, trace)
}

/// True when `RHF_STRICT=1`: missing capabilities fail tests instead of skipping them.
pub fn strict() -> bool {
    std::env::var("RHF_STRICT").is_ok_and(|v| v == "1")
}

/// Skips (returns `false`) with a visible message when `available` is false, or fails the
/// test under `RHF_STRICT=1`.
pub fn require(available: bool, what: &str) -> bool {
    if available {
        return true;
    }
    if strict() {
        panic!("RHF_STRICT=1 and this test needs {what}, which is missing");
    }
    // Straight to the standard error stream, not through eprintln!, which the test harness
    // captures and shows only for failing tests: a skip must be seen when the test passes.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: this test needs {what}, which is missing (RHF_STRICT=1 makes this a failure)"
    );
    false
}

/// A command running `rhf-record`.
pub fn record() -> Command {
    Command::new(binary("rhf-record"))
}

/// True when the tests run as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// True when `tool` is an executable on `PATH`.
pub fn have_tool(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

/// True when this rhf-record has the eBPF backend and may load BPF programs here (probed by
/// recording /bin/true into `dir`); a loud skip, or a failure under RHF_STRICT=1, otherwise.
pub fn ebpf_available(dir: &Path) -> bool {
    if !require(is_root(), "root (to load BPF programs)") {
        return false;
    }
    let out = record()
        .args(["--backend", "ebpf", "--force", "-o"])
        .arg(dir.join("probe.rhf"))
        .args(["--", "/bin/true"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run rhf-record");
    let built = !String::from_utf8_lossy(&out.stderr).contains("built without the eBPF backend");
    require(built, "an rhf-record built with the eBPF backend (clang)") && {
        assert!(
            out.status.success(),
            "rhf-record --backend ebpf failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        true
    }
}

/// Compiles a C fixture from tests/fixtures into `dir` (`None`, after a loud skip, without a
/// C compiler).
pub fn fixture(name: &str, dir: &Path) -> Option<PathBuf> {
    if !require(have_tool("cc"), "a C compiler (cc) for the test fixtures") {
        return None;
    }
    let out = dir.join(name);
    let status = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&out)
        .arg(root().join(format!("tests/fixtures/{name}.c")))
        .status()
        .expect("run cc");
    assert!(status.success(), "compiling {name}.c failed");
    Some(out)
}

/// Runs `rhf-analyze ARGS...` to completion.
pub fn run_analyze(args: &[&str]) -> std::process::Output {
    analyze().args(args).output().expect("run rhf-analyze")
}

/// A finished command's standard output then standard error, as text (for messages and
/// searches that do not care which stream said it).
pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `name -> (calls, errors)` from `strace -c` output.
fn parse_strace_c(text: &str) -> std::collections::BTreeMap<String, (u64, u64)> {
    let mut rows = std::collections::BTreeMap::new();
    for line in text.lines().skip(2) {
        if line.starts_with('-') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some((name, numbers)) = fields.split_last() else {
            continue;
        };
        if *name == "total" {
            continue;
        }
        // % time, seconds, usecs/call, calls, [errors]
        let calls = numbers.get(3).and_then(|v| v.parse().ok()).unwrap_or(0);
        let errors = numbers.get(4).and_then(|v| v.parse().ok()).unwrap_or(0);
        rows.insert(name.to_string(), (calls, errors));
    }
    rows
}

/// `name -> (calls, errors)` from `rhf-analyze summary --json`.
fn parse_summary_json(bytes: &[u8]) -> std::collections::BTreeMap<String, (u64, u64)> {
    let v: serde_json::Value = serde_json::from_slice(bytes).expect("summary --json is JSON");
    let tables = v["tables"].as_array().expect("summary tables");
    tables
        .iter()
        .flat_map(|t| t["syscalls"].as_array().cloned().unwrap_or_default())
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("?").to_string(),
                (
                    r["calls"].as_u64().unwrap_or(0),
                    r["errors"].as_u64().unwrap_or(0),
                ),
            )
        })
        .collect()
}

/// `name -> (calls, errors)` of `strace -f -c [extra...] CMD...`, run in `dir`. Its standard
/// error is a pipe, like the recorder's that a launched command inherits (python seeks its
/// standard streams).
pub fn strace_counts(
    dir: &Path,
    extra: &[&str],
    cmd: &[&str],
) -> std::collections::BTreeMap<String, (u64, u64)> {
    let out = dir.join("strace-c.txt");
    let status = Command::new("strace")
        .args(["-f", "-c", "-o", out.to_str().expect("utf-8 temp path")])
        .args(extra)
        .args(cmd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run strace")
        .status;
    assert!(status.success(), "strace {cmd:?} failed: {status}");
    parse_strace_c(&std::fs::read_to_string(&out).expect("strace output"))
}

/// `name -> (calls, errors)` of `rhf-analyze summary --json TRACE`.
pub fn summary_counts(trace: &Path) -> std::collections::BTreeMap<String, (u64, u64)> {
    let json = analyze()
        .args(["summary", "--json"])
        .arg(trace)
        .output()
        .expect("run rhf-analyze");
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    parse_summary_json(&json.stdout)
}
