//! Falco rule conditions: list substitution on the text, then parsing into an [`ast::Expr`].
//!
//! Falco resolves lists textually before it parses (a list name becomes its items), so a
//! condition goes through two steps: [`substitute_lists`], then [`parse`]. Parse errors carry
//! byte offsets into the substituted text; [`Substituted::original_offset`] maps them back to
//! the text the user wrote, and [`line_col`] turns them into a line and column. Macros are not
//! resolved here: a bare name parses as [`ast::Expr::Macro`].
//!
//! ```
//! use rhf_analyzer::rules::condition::{self, ast::Expr};
//!
//! let items = vec!["bash".to_string(), "sh".to_string()];
//! let lookup = |name: &str| (name == "shell_binaries").then_some(items.as_slice());
//! let text = "spawned_process and proc.name in (shell_binaries)";
//! let substituted = condition::substitute_lists(text, lookup);
//! assert_eq!(substituted.text, "spawned_process and proc.name in (bash, sh)");
//!
//! let expr = condition::parse(&substituted.text)?;
//! assert!(matches!(expr, Expr::And(ref operands) if operands.len() == 2));
//!
//! let err = condition::parse("proc.name blah").unwrap_err();
//! assert_eq!(err.message, "expected an operator after field 'proc.name', found 'blah'");
//! assert_eq!(condition::line_col("proc.name blah", err.offset), (1, 11));
//! # Ok::<(), condition::ConditionError>(())
//! ```

pub mod ast;
mod lex;
mod lists;
mod parse;

#[cfg(test)]
mod lists_tests;
#[cfg(test)]
mod parse_tests;
#[cfg(test)]
mod upstream_tests;

pub use lists::{substitute_lists, Substituted, MAX_ITEMS};

/// A condition that does not parse: where, and what was expected and found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConditionError {
    /// Byte offset of the offending token in the parsed text.
    pub offset: usize,
    pub message: String,
}

/// Parses a condition whose lists are already substituted.
///
/// Never panics, and nesting deeper than 256 levels is an error, so any text is safe to feed.
pub fn parse(text: &str) -> Result<ast::Expr, ConditionError> {
    parse::parse(text)
}

/// The 1-based line and column (in characters) of a byte offset in `text`. An offset past the
/// end is the end; one inside a character counts as that character.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let line = before.matches('\n').count() + 1;
    (line, before[line_start..].chars().count() + 1)
}
