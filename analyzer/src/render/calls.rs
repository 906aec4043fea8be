//! What strace knows about a syscall beyond the trace: its printed name, whether a return
//! value is a failure, and sets of syscalls looked up by number in the hot loops.

use std::borrow::Cow;
use std::collections::HashSet;

use rhf_format::{sysent, Abi};

/// x32 numbers are x86_64 numbers with this bit set.
const X32_BIT: u32 = 1 << 30;

/// The name strace prints: the table's name, or `syscall_0x1b4` for a number it lacks.
pub fn syscall_name(abi: Abi, nr: u32) -> Cow<'static, str> {
    match sysent::name(abi, nr) {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(format!("syscall_{nr:#x}")),
    }
}

/// The errno when `ret` is a negated errno (-4095..=-1), the kernel's failure convention.
/// A 32-bit call returns in a 32-bit register, so only its low half counts, whether the
/// recorder sign-extended it or not.
pub fn negated_errno(abi: Abi, ret: i64) -> Option<i64> {
    let ret = match abi {
        Abi::I386 => i64::from(ret as u32 as i32),
        Abi::X86_64 | Abi::X32 => ret,
    };
    // Lazily: negating i64::MIN (a hostile value) would overflow.
    (-4095..=-1).contains(&ret).then(|| -ret)
}

/// Syscalls that cannot fail, so strace never reads their return value as an error (its
/// `NF` flag): a `getuid` of 4294967295 is a uid, not `-1`.
pub const NEVER_FAILS: [&str; 18] = [
    "getpid",
    "getppid",
    "getpgrp",
    "gettid",
    "getuid",
    "getgid",
    "geteuid",
    "getegid",
    "getuid32",
    "getgid32",
    "geteuid32",
    "getegid32",
    "umask",
    "setfsuid",
    "setfsgid",
    "setfsuid32",
    "setfsgid32",
    "personality",
];

/// Syscalls whose return value is an address, printed in hex (used when the syscall table
/// has no spec for the call).
pub fn returns_address(name: &str) -> bool {
    matches!(name, "mmap" | "mmap2" | "brk" | "mremap" | "shmat")
}

/// A set of syscalls by ABI and number, built from names once and then tested per event
/// without hashing for ordinary numbers.
#[derive(Debug, Clone, Default)]
pub struct SyscallSet {
    dense: [Vec<bool>; 3],
    sparse: HashSet<(u8, u32)>,
}

/// Numbers below this are kept in a bitmap; syscall numbers are far below it.
const DENSE: u32 = 2048;

impl SyscallSet {
    /// The syscalls named `names` in every ABI that has them. `syscall_0x1b4` names a number
    /// in every ABI. Names no ABI knows are returned as the error.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<SyscallSet, Vec<String>> {
        let mut set = SyscallSet::default();
        let mut unknown = Vec::new();
        for name in names {
            let name = name.as_ref();
            let mut found = false;
            for abi in [Abi::X86_64, Abi::I386, Abi::X32] {
                if let Some(nr) = number(abi, name) {
                    set.insert(abi, nr);
                    found = true;
                }
            }
            if !found {
                unknown.push(name.to_string());
            }
        }
        if unknown.is_empty() {
            Ok(set)
        } else {
            Err(unknown)
        }
    }

    /// The syscalls that never fail ([`NEVER_FAILS`]).
    pub fn never_fails() -> SyscallSet {
        let mut set = SyscallSet::default();
        for name in NEVER_FAILS {
            for abi in [Abi::X86_64, Abi::I386, Abi::X32] {
                if let Some(nr) = sysent::number(abi, name) {
                    set.insert(abi, nr);
                }
            }
        }
        set
    }

    fn insert(&mut self, abi: Abi, nr: u32) {
        let (a, i) = slot(abi, nr);
        if i < DENSE {
            let v = &mut self.dense[a];
            if v.len() <= i as usize {
                v.resize(i as usize + 1, false);
            }
            v[i as usize] = true;
        } else {
            self.sparse.insert((a as u8, i));
        }
    }

    pub fn contains(&self, abi: Abi, nr: u32) -> bool {
        let (a, i) = slot(abi, nr);
        if i < DENSE {
            self.dense[a].get(i as usize).copied().unwrap_or(false)
        } else {
            self.sparse.contains(&(a as u8, i))
        }
    }
}

/// The ABI's index and the number within its table (x32 without its marker bit).
pub fn slot(abi: Abi, nr: u32) -> (usize, u32) {
    match abi {
        Abi::X86_64 => (0, nr),
        Abi::I386 => (1, nr),
        Abi::X32 => (2, nr & !X32_BIT),
    }
}

/// The ABI of a slot index (the inverse of [`slot`]'s first half).
pub fn abi_of_slot(i: usize) -> Abi {
    match i {
        1 => Abi::I386,
        2 => Abi::X32,
        _ => Abi::X86_64,
    }
}

/// The event number of `index` in `abi`'s table (x32 numbers carry their marker bit).
pub fn number_of_slot(abi: Abi, index: u32) -> u32 {
    match abi {
        Abi::X32 => index | X32_BIT,
        _ => index,
    }
}

/// The number of `name` in `abi`, accepting strace's `syscall_0x1b4` spelling too.
fn number(abi: Abi, name: &str) -> Option<u32> {
    if let Some(hex) = name.strip_prefix("syscall_0x") {
        return u32::from_str_radix(hex, 16).ok();
    }
    sysent::number(abi, name)
}

/// strace's personality names, for the per-ABI table headers.
pub fn personality(abi: Abi) -> &'static str {
    match abi {
        Abi::X86_64 => "64 bit",
        Abi::I386 => "32 bit",
        Abi::X32 => "x32",
    }
}

/// The ABI as JSON names it.
pub fn abi_name(abi: Abi) -> &'static str {
    match abi {
        Abi::X86_64 => "x86_64",
        Abi::I386 => "i386",
        Abi::X32 => "x32",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_names_and_sets() {
        assert_eq!(negated_errno(Abi::X86_64, -2), Some(2));
        assert_eq!(negated_errno(Abi::X86_64, -4096), None);
        assert_eq!(negated_errno(Abi::X86_64, 0x7f00_0000_0000), None);
        assert_eq!(negated_errno(Abi::I386, 0xffff_fffe), Some(2));
        assert_eq!(negated_errno(Abi::I386, -13), Some(13));
        assert_eq!(syscall_name(Abi::X86_64, 257), "openat");
        assert_eq!(syscall_name(Abi::X86_64, 0x1b4_000), "syscall_0x1b4000");

        let set = SyscallSet::from_names(&["open", "syscall_0x3e7"]).unwrap();
        assert!(set.contains(Abi::X86_64, 2));
        assert!(set.contains(Abi::I386, 5));
        assert!(set.contains(Abi::X32, 2 | X32_BIT));
        assert!(set.contains(Abi::I386, 0x3e7));
        assert!(!set.contains(Abi::X86_64, 257));
        assert_eq!(
            SyscallSet::from_names(&["nosuchcall"]).unwrap_err(),
            vec!["nosuchcall".to_string()]
        );
        let nf = SyscallSet::never_fails();
        assert!(nf.contains(Abi::X86_64, 39) && nf.contains(Abi::I386, 199));
        assert!(!nf.contains(Abi::X86_64, 0));
    }
}
