//! Builds the eBPF backend's BPF program when this machine can: clang to compile it and the
//! kernel's BTF to generate `vmlinux.h` for CO-RE. When either is missing, the recorder is
//! built without the eBPF backend (ptrace still works) and the build says why, because a
//! missing compiler must not make rhf unbuildable on a responder's machine.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use libbpf_cargo::SkeletonBuilder;

const BPF_SOURCE: &str = "src/bpf/syscalls.bpf.c";
const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(rhf_ebpf)");
    println!("cargo:rerun-if-changed={BPF_SOURCE}");
    println!("cargo:rerun-if-changed=src/bpf/syscalls.h");
    println!("cargo:rerun-if-env-changed=RHF_NO_EBPF");

    if env::var_os("RHF_NO_EBPF").is_some() {
        leave_out("RHF_NO_EBPF is set");
        return;
    }
    if let Err(why) = build_bpf() {
        leave_out(&why);
        return;
    }
    println!("cargo:rustc-cfg=rhf_ebpf");
}

/// Says, in the build output, that the eBPF backend is not built and why.
fn leave_out(why: &str) {
    println!(
        "cargo:warning=the eBPF backend is left out of rhf-record: {why}. \
         Install clang (and bpftool; the kernel must expose {KERNEL_BTF}) to build it; \
         the ptrace backend is unaffected."
    );
}

/// Generates `vmlinux.h`, compiles the BPF program and its Rust skeleton into OUT_DIR.
fn build_bpf() -> Result<(), String> {
    // libbpf-cargo panics when clang cannot be run, so it is probed first.
    probe("clang", &["--version"])?;
    if !Path::new(KERNEL_BTF).exists() {
        return Err(format!("this kernel has no BTF at {KERNEL_BTF}"));
    }
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let vmlinux = out_dir.join("vmlinux.h");
    write_vmlinux_h(&vmlinux)?;
    let skeleton = out_dir.join("syscalls.skel.rs");
    SkeletonBuilder::new()
        .source(BPF_SOURCE)
        .clang_args([
            "-I".as_ref(),
            out_dir.as_os_str(),
            "-Wall".as_ref(),
            "-Werror".as_ref(),
        ])
        .build_and_generate(&skeleton)
        .map_err(|e| format!("building {BPF_SOURCE} failed: {e:#}"))
}

/// Runs `program args` and fails when it cannot be started or fails.
fn probe(program: &str, args: &[&str]) -> Result<(), String> {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!("`{program}` failed ({})", out.status)),
        Err(e) => Err(format!("`{program}` cannot be run ({e})")),
    }
}

/// `bpftool btf dump file /sys/kernel/btf/vmlinux format c` into `dest`.
fn write_vmlinux_h(dest: &Path) -> Result<(), String> {
    let out = Command::new("bpftool")
        .args(["btf", "dump", "file", KERNEL_BTF, "format", "c"])
        .output()
        .map_err(|e| format!("`bpftool` cannot be run ({e})"))?;
    if !out.status.success() {
        return Err(format!(
            "`bpftool btf dump` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    std::fs::write(dest, &out.stdout).map_err(|e| format!("writing {}: {e}", dest.display()))
}
