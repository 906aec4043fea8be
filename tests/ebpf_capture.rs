//! The eBPF backend end to end: a launched command's calls and errors per syscall equal
//! strace's, also with a `--trace` selection (filtered in the kernel). Skipped (loudly; a failure under RHF_STRICT=1) when not root or when rhf-record
//! was built without the eBPF backend.

use std::path::Path;
use std::process::Stdio;

use rhf::{have_tool, is_root, record, require, strace_counts, summary_counts};

/// True when this rhf-record has the eBPF backend and may load BPF programs here.
fn ebpf_available(dir: &Path) -> bool {
    if !require(is_root(), "root (to load BPF programs)") {
        return false;
    }
    let out = record()
        .args(["--backend", "ebpf", "--force", "-o"])
        .arg(dir.join("probe.rhf"))
        .args(["--", "/bin/true"])
        .stdin(Stdio::null())
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

#[test]
fn ebpf_summary_matches_strace_calls_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    if !ebpf_available(dir.path()) || !require(have_tool("strace"), "strace") {
        return;
    }
    // (command, --trace selection): the selection is filtered in the kernel.
    let cases: [(&[&str], Option<&str>); 3] = [
        (&["/bin/ls", "/"], None),
        (&["/bin/cat", "/etc/hostname"], None),
        (
            &["/bin/cat", "/etc/hostname"],
            Some("openat,close,read,%process"),
        ),
    ];
    for (cmd, selection) in cases {
        let trace_arg = selection.map(|s| format!("--trace={s}"));
        let extra: Vec<&str> = trace_arg.iter().map(String::as_str).collect();
        let expected = strace_counts(dir.path(), &extra, cmd);

        let trace = dir.path().join("e.rhf");
        let out = record()
            .args([
                "--backend",
                "ebpf",
                "--force",
                "-o",
                trace.to_str().unwrap(),
            ])
            .args(&extra)
            .arg("--")
            .args(cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .output()
            .expect("run rhf-record");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("LOST"),
            "events were lost: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            summary_counts(&trace),
            expected,
            "calls and errors per syscall differ from strace for {cmd:?} {trace_arg:?}"
        );
    }
}
