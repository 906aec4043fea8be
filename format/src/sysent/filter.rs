//! strace's `-e trace=` syntax, for the recorder's `--trace`.
//!
//! The grammar is strace's (`basic_filters.c`): any number of leading `!` each invert the
//! set; `all` and `none` stand alone; otherwise comma-separated tokens, each optionally
//! prefixed by `?` (no error if it matches nothing) and suffixed by `@64`, `@32` or `@x32`
//! (one personality only). A token is a syscall number, a class (`%file`, legacy `file`), or a
//! syscall name. strace's `/regex` tokens are not supported: they are refused with an error
//! rather than silently matching nothing.

use super::{class, name, spec};
use crate::record::Abi;

/// Syscall numbers above this are never selected unless the set is inverted: no table on
/// x86 reaches it (x32 numbers are folded into x86_64 ones by clearing bit 30).
const MAX_NR: usize = 512;
const WORDS: usize = MAX_NR / 64;

/// A set of syscall numbers per ABI, as a bitset so the recorder's per-event test is a shift
/// and a mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallSelection {
    x86_64: [u64; WORDS],
    i386: [u64; WORDS],
    /// What numbers beyond the bitsets (unknown to every table) answer: true after an odd
    /// number of inversions, as in strace.
    beyond: bool,
}

impl SyscallSelection {
    /// Every syscall.
    pub fn all() -> SyscallSelection {
        SyscallSelection {
            x86_64: [u64::MAX; WORDS],
            i386: [u64::MAX; WORDS],
            beyond: true,
        }
    }

    /// No syscall.
    pub fn none() -> SyscallSelection {
        SyscallSelection {
            x86_64: [0; WORDS],
            i386: [0; WORDS],
            beyond: false,
        }
    }

    /// Whether syscall `nr` of `abi` is selected.
    pub fn contains(&self, abi: Abi, nr: u32) -> bool {
        let (bits, nr) = match abi {
            Abi::X86_64 => (&self.x86_64, nr),
            Abi::X32 => (&self.x86_64, nr & !(1 << 30)),
            Abi::I386 => (&self.i386, nr),
        };
        let nr = nr as usize;
        if nr >= MAX_NR {
            return self.beyond;
        }
        bits[nr / 64] & (1 << (nr % 64)) != 0
    }

    /// Whether every syscall is selected (the recorder can then skip the test).
    pub fn is_all(&self) -> bool {
        *self == SyscallSelection::all()
    }

    /// The selected x86_64 syscalls that exist, in number order (for a seccomp filter).
    pub fn x86_64_numbers(&self) -> impl Iterator<Item = u32> + '_ {
        super::numbers(Abi::X86_64).filter(|nr| self.contains(Abi::X86_64, *nr))
    }

    /// The selected x86_64 syscall names, in number order (for listings and the header).
    pub fn x86_64_names(&self) -> Vec<&'static str> {
        self.x86_64_numbers()
            .filter_map(|nr| name(Abi::X86_64, nr))
            .collect()
    }

    fn bits_mut(&mut self, abi: Abi) -> &mut [u64; WORDS] {
        match abi {
            Abi::X86_64 | Abi::X32 => &mut self.x86_64,
            Abi::I386 => &mut self.i386,
        }
    }

    fn set(&mut self, abi: Abi, nr: u32) {
        let nr = nr as usize;
        if nr < MAX_NR {
            self.bits_mut(abi)[nr / 64] |= 1 << (nr % 64);
        }
    }

    fn invert(&mut self) {
        for w in self.x86_64.iter_mut().chain(self.i386.iter_mut()) {
            *w = !*w;
        }
        self.beyond = !self.beyond;
    }
}

/// Parses a `--trace` expression (`%file,connect`, `!%memory`, `?foo,open@64`, `all`) into
/// the set of syscalls it selects. The error names the token that matched nothing.
pub fn select(expr: &str) -> Result<SyscallSelection, String> {
    let mut rest = expr;
    let mut inverted = false;
    while let Some(r) = rest.strip_prefix('!') {
        inverted = !inverted;
        rest = r;
    }
    let mut set = SyscallSelection::none();
    match rest {
        "none" => {}
        "all" => set.invert(),
        _ => {
            let mut any = false;
            // strace splits with strtok: empty tokens (`a,,b`, a trailing comma) vanish.
            for token in rest.split(',').filter(|t| !t.is_empty()) {
                any = true;
                add_token(&mut set, token)?;
            }
            if !any {
                return Err(format!("invalid system call '{expr}': empty list"));
            }
        }
    }
    if inverted {
        set.invert();
    }
    Ok(set)
}

const PERSONALITIES: [(&str, Abi); 3] = [("64", Abi::X86_64), ("32", Abi::I386), ("x32", Abi::X32)];

fn add_token(set: &mut SyscallSelection, token: &str) -> Result<(), String> {
    let optional = token.starts_with('?');
    let body = token.trim_start_matches('?');
    let (body, abis): (&str, &[Abi]) = match body.rsplit_once('@') {
        Some((b, pers)) => {
            let abi = PERSONALITIES
                .iter()
                .find(|(n, _)| *n == pers)
                .map(|(_, abi)| abi)
                .ok_or_else(|| format!("incorrect personality designator '{pers}' in '{token}'"))?;
            (b, std::slice::from_ref(abi))
        }
        // x32 shares x86_64's numbers here, so two tables cover the three personalities.
        None => (body, &[Abi::X86_64, Abi::I386]),
    };
    if body.starts_with('/') {
        return Err(format!(
            "'{token}': regular expressions in --trace are not supported; name the syscalls"
        ));
    }
    let mut found = false;
    for &abi in abis {
        found |= add_in_abi(set, abi, body);
    }
    if found || optional {
        Ok(())
    } else if body.starts_with('%') {
        Err(format!("unknown syscall class '{body}'"))
    } else {
        Err(format!("unknown syscall '{body}'"))
    }
}

/// Adds what `body` names in one ABI's table; false if it names nothing there.
fn add_in_abi(set: &mut SyscallSelection, abi: Abi, body: &str) -> bool {
    let numbers = || 0..MAX_NR as u32;
    if body.starts_with(|c: char| c.is_ascii_digit()) {
        return match body.parse::<u32>() {
            Ok(nr) if name(abi, nr).is_some() => {
                set.set(abi, nr);
                true
            }
            _ => false,
        };
    }
    if let Some(bits) = class::by_name(body) {
        for nr in numbers() {
            if spec(abi, nr).is_some_and(|s| s.classes & bits == bits) {
                set.set(abi, nr);
            }
        }
        // A class is valid even where it selects nothing, as in strace.
        return true;
    }
    let mut found = false;
    for nr in numbers() {
        if name(abi, nr) == Some(body) {
            set.set(abi, nr);
            found = true;
        }
    }
    found
}
