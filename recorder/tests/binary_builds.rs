//! Having an integration test here makes `cargo test --workspace` build `rhf-record`, which
//! the end-to-end tests in the workspace's `tests/` drive.

#[test]
fn the_binary_answers_version() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rhf-record"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("rhf-record "));
}
