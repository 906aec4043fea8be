//! The sysent classes select exactly what the installed strace selects.
//!
//! A tiny static probe (tests/strace_probe.c) issues every syscall number the `syscalls`
//! crate knows, once through `syscall` (x86_64) and once through `int $0x80` (i386), with a
//! seccomp filter that makes every call fail before it runs. strace runs it once per class
//! (`-e trace=%file`, ...) and prints the numbers it selects (`-n`); they must be the numbers
//! whose spec has the class. Numbers the installed strace does not know (newer than it) are
//! left out of the comparison; execve, exit and exit_group are not probed (the probe needs
//! them) and are checked by the unit tests instead.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use rhf_format::sysent::{self, class};
use rhf_format::Abi;

fn strict() -> bool {
    std::env::var("RHF_STRICT").is_ok_and(|v| v == "1")
}

/// Skips loudly, or fails under `RHF_STRICT=1` as the workspace's other tests do.
fn require(available: bool, what: &str) -> bool {
    if !available {
        assert!(
            !strict(),
            "RHF_STRICT=1 and this test needs {what}, which is missing"
        );
        eprintln!(
            "SKIPPED: this test needs {what}, which is missing (RHF_STRICT=1 makes this a failure)"
        );
    }
    available
}

fn runs(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Builds the probe for `abi` in `dir`; false when the compiler cannot.
fn build_probe(dir: &Path, abi: Abi) -> bool {
    let skip: &[u32] = match abi {
        Abi::I386 => &[1, 11, 252],
        _ => &[59, 60, 231],
    };
    let nums: Vec<String> = sysent::numbers(abi)
        .filter(|nr| !skip.contains(nr))
        .map(|nr| nr.to_string())
        .collect();
    let header = format!("#define NUMS {},-1\n", nums.join(","));
    if std::fs::write(dir.join("nums.h"), header).is_err() {
        return false;
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/strace_probe.c");
    let mut cc = Command::new("cc");
    cc.args(["-O1", "-nostdlib", "-static", "-fno-stack-protector", "-I"])
        .arg(dir)
        .arg("-o")
        .arg(dir.join("probe"))
        .arg(source);
    if abi == Abi::I386 {
        cc.arg("-DPROBE_I386");
    }
    cc.status().is_ok_and(|s| s.success())
}

/// The syscall numbers strace selects with `-e trace=EXPR`, with the names it printed.
fn strace_selects(dir: &Path, expr: &str) -> Option<BTreeSet<(u32, String)>> {
    let out = dir.join("out.txt");
    let status = Command::new("strace")
        .args(["-n", "-qq", "-o"])
        .arg(&out)
        .arg("-e")
        .arg(format!("trace={expr}"))
        .arg(dir.join("probe"))
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    let text = std::fs::read_to_string(&out).ok()?;
    let mut set = BTreeSet::new();
    for line in text.lines() {
        // `[  42] connect(0, NULL, 0) = -1 ENOSYS ...`; only probed (failed) calls count.
        if !line.contains("ENOSYS") {
            continue;
        }
        let Some((nr, rest)) = line.strip_prefix('[').and_then(|l| l.split_once(']')) else {
            continue;
        };
        let Ok(nr) = nr.trim().parse::<u32>() else {
            continue;
        };
        let name = rest
            .trim_start()
            .split('(')
            .next()
            .unwrap_or("")
            .to_string();
        set.insert((nr, name));
    }
    Some(set)
}

#[test]
fn classes_match_installed_strace() {
    if !require(runs("strace", "-V"), "strace")
        || !require(runs("cc", "--version"), "a C compiler (cc)")
    {
        return;
    }
    let Ok(dir) = tempfile::tempdir() else {
        panic!("no temporary directory");
    };
    let mut problems = Vec::new();
    for abi in [Abi::X86_64, Abi::I386] {
        if !require(
            build_probe(dir.path(), abi),
            "cc able to build a static probe with Linux headers",
        ) {
            return;
        }
        let Some(all) = strace_selects(dir.path(), "all") else {
            // strace cannot trace here (no ptrace, or seccomp denied).
            require(false, "strace able to trace (ptrace permitted)");
            return;
        };
        // strace prints syscall_0x... for numbers it does not know; those are not compared.
        let known: BTreeSet<u32> = all
            .iter()
            .filter(|(_, n)| !n.starts_with("syscall_"))
            .map(|(nr, _)| *nr)
            .collect();
        assert!(
            known.len() > 300,
            "strace traced only {} of the probe's calls",
            known.len()
        );
        for (class_name, bits) in class::NAMES.iter().filter(|(n, _)| n.starts_with('%')) {
            let Some(theirs) = strace_selects(dir.path(), class_name) else {
                problems.push(format!("strace -e trace={class_name} failed"));
                continue;
            };
            // Numbers strace does not know show up under every class; they are not compared.
            let theirs: BTreeSet<u32> = theirs
                .iter()
                .map(|(nr, _)| *nr)
                .filter(|nr| known.contains(nr))
                .collect();
            let ours: BTreeSet<u32> = known
                .iter()
                .copied()
                .filter(|nr| sysent::spec(abi, *nr).is_some_and(|s| s.classes & bits == *bits))
                .collect();
            let describe = |nrs: Vec<&u32>| -> Vec<String> {
                nrs.into_iter()
                    .map(|nr| format!("{nr} {}", sysent::name(abi, *nr).unwrap_or("?")))
                    .collect()
            };
            let only_strace = describe(theirs.difference(&ours).collect());
            let only_ours = describe(ours.difference(&theirs).collect());
            if !only_strace.is_empty() || !only_ours.is_empty() {
                problems.push(format!(
                    "{abi:?} {class_name}: only strace selects {only_strace:?}; only we select {only_ours:?}"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "classes differ from strace's:\n{}",
        problems.join("\n")
    );
}
