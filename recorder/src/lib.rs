//! rhf-recorder: the capture side of rhf — what runs on the suspect node.
//!
//! It pushes records into an `rhf_format::RecordSink` and knows nothing of analysis. It must
//! never harm what it watches, never lose evidence silently, and never leave a trace file
//! readable by other users or write through a symlink planted by an attacker.

pub mod cli;
pub mod clock;
pub mod decode;
// Built only when build.rs could compile the BPF program (clang and kernel BTF present).
#[cfg(rhf_ebpf)]
pub mod ebpf;
pub mod output;
pub mod ptrace;
pub mod sink;
pub mod snapshot;
