//! Which pointer arguments the BPF program reads at a syscall's entry, worked out from
//! `rhf_format::sysent` (the table the decoder follows), so the kernel side knows nothing of
//! particular syscalls. One `struct rhf_capture_spec` (`src/bpf/syscalls.h`) per x86-64
//! number goes into the `arg_captures` array map before the programs are attached.
//!
//! Captured: strings and paths (`Path`, `Str`: the decoder resolves and shows them) and socket
//! addresses passed in (`SockaddrIn`, with its length argument). Not captured: buffers
//! (`BufIn`, `IovecIn`: copying data on every `write` is what made ptrace slow; the decoder
//! records their lengths only), argv/envp arrays (an array of pointers to chase; the exec
//! record carries the new program's arguments instead), and everything the kernel fills,
//! which would need a second read at exit.

use rhf_format::sysent::{self, ArgKind, SyscallSpec};
use rhf_format::Abi;

use super::event::MAX_CAPTURES;

/// `MAX_SYSCALL_NR` in the BPF program: the size of its per-number arrays.
pub const MAX_SYSCALL_NR: u32 = 1024;
/// `sizeof(struct rhf_capture_spec)`.
pub const SPEC_SIZE: usize = 16;
/// `RHF_CAPTURE_STR`.
const CAPTURE_STR: u8 = 1;
/// `RHF_CAPTURE_SOCKADDR`.
const CAPTURE_SOCKADDR: u8 = 2;

/// The capture spec of one syscall, as the bytes of a `struct rhf_capture_spec`; `None`
/// when the call has nothing to capture (the map's zeroed entry already says so). The first
/// [`MAX_CAPTURES`] capturable arguments are taken: only `mount` has more (its fourth
/// string, the filesystem's options, is then recorded as unreadable).
pub fn spec_bytes(spec: &SyscallSpec) -> Option<[u8; SPEC_SIZE]> {
    let slots: Vec<[u8; 4]> = spec
        .args
        .iter()
        .enumerate()
        .filter_map(|(i, arg)| {
            let i = u8::try_from(i).ok()?;
            match arg.kind {
                ArgKind::Path | ArgKind::Str => Some([i, CAPTURE_STR, 0, 0]),
                ArgKind::SockaddrIn { len } => Some([i, CAPTURE_SOCKADDR, len, 0]),
                _ => None,
            }
        })
        .take(MAX_CAPTURES)
        .collect();
    if slots.is_empty() {
        return None;
    }
    let mut bytes = [0u8; SPEC_SIZE];
    bytes[0] = slots.len() as u8;
    for (i, slot) in slots.iter().enumerate() {
        bytes[4 + 4 * i..8 + 4 * i].copy_from_slice(slot);
    }
    Some(bytes)
}

/// Every x86-64 syscall number that has something to capture, with its spec's bytes.
pub fn entries() -> impl Iterator<Item = (u32, [u8; SPEC_SIZE])> {
    sysent::numbers(Abi::X86_64)
        .filter(|nr| *nr < MAX_SYSCALL_NR)
        .filter_map(|nr| Some((nr, spec_bytes(sysent::spec(Abi::X86_64, nr)?)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(name: &str) -> Option<[u8; SPEC_SIZE]> {
        spec_bytes(sysent::spec_by_name(name).expect(name))
    }

    #[test]
    fn paths_strings_and_sockaddrs_are_captured_from_the_table() {
        // openat(dirfd, path, flags, mode): the path only.
        assert_eq!(
            of("openat"),
            Some([1, 0, 0, 0, 1, CAPTURE_STR, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        );
        // connect(fd, addr, addrlen): the address, its length in argument 2.
        assert_eq!(
            of("connect"),
            Some([
                1,
                0,
                0,
                0,
                1,
                CAPTURE_SOCKADDR,
                2,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0
            ])
        );
        // sendto's address length is its sixth argument; its buffer is not captured.
        assert_eq!(
            of("sendto").map(|b| b[..8].to_vec()),
            Some(vec![1, 0, 0, 0, 4, 2, 5, 0])
        );
        // renameat2: both paths.
        assert_eq!(of("renameat2").map(|b| b[0]), Some(2));
        // execve: the filename, not the argv/envp arrays.
        assert_eq!(
            of("execve").map(|b| b[..8].to_vec()),
            Some(vec![1, 0, 0, 0, 0, 1, 0, 0])
        );
    }

    #[test]
    fn calls_without_pointers_to_read_have_no_entry() {
        for name in ["read", "write", "close", "mmap", "getpid", "accept"] {
            assert_eq!(of(name), None, "{name}");
        }
        let numbers: Vec<u32> = entries().map(|(nr, _)| nr).collect();
        assert!(numbers.contains(&sysent::number(Abi::X86_64, "openat").unwrap()));
        assert!(!numbers.contains(&sysent::number(Abi::X86_64, "read").unwrap()));
        assert!(entries().all(|(_, b)| usize::from(b[0]) <= MAX_CAPTURES && b[0] > 0));
    }
}
