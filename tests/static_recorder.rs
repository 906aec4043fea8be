//! `rhf-record` deploys as one static binary: built by `scripts/build-static.sh`, copied into
//! an empty directory, run with an empty environment, it records a snapshot.

use std::process::Command;

use rhf::{require, root};

/// ELF program header type of a dynamic loader request.
const PT_INTERP: u32 = 3;

/// True when the ELF file has no PT_INTERP header, i.e. needs no dynamic loader.
fn has_no_interpreter(elf: &[u8]) -> bool {
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    assert_eq!(&elf[..4], b"\x7fELF");
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..phnum).all(|i| {
        let at = phoff + i * phentsize;
        u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) != PT_INTERP
    })
}

#[test]
fn the_static_recorder_runs_alone_in_an_empty_directory() {
    let gcc_present = rhf::have_tool("cc") || rhf::have_tool("gcc");
    if !require(gcc_present, "a C toolchain to link the static binary") {
        return;
    }
    let out = Command::new(root().join("scripts/build-static.sh"))
        .output()
        .expect("run scripts/build-static.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let built = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let bytes = std::fs::read(&built).unwrap();
    assert!(
        has_no_interpreter(&bytes),
        "{built} asks for a dynamic loader"
    );

    let empty = tempfile::tempdir().unwrap();
    let copy = empty.path().join("rhf-record");
    std::fs::copy(&built, &copy).unwrap();
    let run = Command::new(&copy)
        .current_dir(empty.path())
        .env_clear()
        .args([
            "snapshot",
            "-o",
            "snap.rhf",
            "--pid",
            &std::process::id().to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let reader = rhf_format::TraceReader::open(empty.path().join("snap.rhf")).unwrap();
    rhf_format::verify(&reader).unwrap();
    assert!(reader.header().host.kernel_release.len() > 1);
}
