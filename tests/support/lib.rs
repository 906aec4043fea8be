//! Helpers for the end-to-end tests: locating the binaries, samples, and loud skips.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `samples/`.
pub fn sample(name: &str) -> PathBuf {
    root().join("samples").join(name)
}

/// Path of a workspace binary, built on demand if `cargo test` did not build it already.
pub fn binary(name: &str) -> PathBuf {
    // Test executables live in target/<profile>/deps; binaries one level up.
    let exe = std::env::current_exe().expect("current test executable");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let path = dir.join(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(root())
            .args(["build", "--quiet", "--bin", name]);
        if dir.file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building {name} failed");
    }
    path
}

/// A command running `rhf-analyze`.
pub fn analyze() -> Command {
    Command::new(binary("rhf-analyze"))
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
    eprintln!(
        "SKIPPED: this test needs {what}, which is missing (RHF_STRICT=1 makes this a failure)"
    );
    false
}
