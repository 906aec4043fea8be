//! strace-style rendering of syscall events: the `-c` table, `-f -ttt -T -yy` lines, JSON.
//!
//! Text output quotes node bytes the way strace does (octal escapes), so it is pure ASCII
//! and safe on a terminal; JSON output escapes node text with [`crate::escape`].

pub mod calls;
pub mod count;
pub mod errno;
pub mod fd;
pub mod flags;
pub mod json;
pub mod line;
pub mod quote;
pub mod signals;
pub mod xlat;
