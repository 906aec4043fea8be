//! What the rules-engine fuzz targets run (see docs/FUZZING.md, "Fuzzing the rules engine").
//!
//! - [`exercise_condition`]: one condition text through list substitution, the parser and the
//!   compiler (no macros), checking the offsets and spans that hold by construction.
//! - [`exercise_rules`]: one rules file through the YAML loader and `Engine::compile`.
//!
//! Besides "no panic, no hang, no runaway allocation", every `assert!` here is an invariant of
//! the code under test: a failed one is a crash like any other.

use std::collections::HashMap;
use std::sync::OnceLock;

use rhf_analyzer::rules::compile::{self, CompileError};
use rhf_analyzer::rules::condition::ast::{Expr, FieldExpr, Rhs, Span};
use rhf_analyzer::rules::condition::{self, Substituted};
use rhf_analyzer::rules::engine::{CompileOptions, Engine};
use rhf_analyzer::rules::load::RuleSet;

/// The lists `parse_condition` substitutes: plain ones, an empty one, lists naming lists (one
/// level and two, through an empty list), cycles, a list naming itself, and items that
/// `substitute_lists` has to quote or escape. Short names (`e`, `l`) are easy for the fuzzer to
/// hit; the others appear in the seeds (`shell_binaries`) or exercise nesting.
pub const LISTS: &[(&str, &[&str])] = &[
    ("shell_binaries", &["bash", "sh", "zsh"]),
    ("empty_list", &[]),
    ("e", &[]),
    ("nested", &["shell_binaries", "empty_list", "/usr/bin/x"]),
    ("deeper", &["nested", "extra", "e", "nested"]),
    ("l", &["e", "x", "shell_binaries"]),
    ("cycle_a", &["cycle_b", "a"]),
    ("cycle_b", &["cycle_a", "b"]),
    ("self_list", &["self_list", "s"]),
    (
        "odd_items",
        &[
            "a b",
            "it's",
            "x=y",
            "",
            "\"quoted\"",
            "'single'",
            "a,b",
            "tab\there",
            "back\\",
            "a \\",
            "(paren)",
            "\u{fc}n\u{ef}",
        ],
    ),
    ("ports", &["22", "80", "0x1bb", "-1"]),
    ("nets", &["10.0.0.0/8", "192.168.0.1", "::1", "fe80::/10"]),
];

fn lists() -> &'static [(String, Vec<String>)] {
    static LISTS_OWNED: OnceLock<Vec<(String, Vec<String>)>> = OnceLock::new();
    LISTS_OWNED.get_or_init(|| {
        LISTS
            .iter()
            .map(|(name, items)| {
                (
                    name.to_string(),
                    items.iter().map(|s| s.to_string()).collect(),
                )
            })
            .collect()
    })
}

/// Linear search with `==` (a `memcmp`), so libFuzzer's comparison hooks can learn the names.
fn lookup(name: &str) -> Option<&'static [String]> {
    lists()
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, items)| items.as_slice())
}

/// `parse_condition`: the bytes (invalid UTF-8 replaced by U+FFFD) as a rule condition.
pub fn exercise_condition(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;

    let subst = condition::substitute_lists(text, lookup);
    check_substitution(text, &subst);

    let expr = match condition::parse(&subst.text) {
        Ok(expr) => expr,
        Err(e) => {
            assert!(!e.message.is_empty(), "empty parse error message");
            check_offset(text, &subst, e.offset, "parse error");
            return;
        }
    };
    check_expr(&expr, subst.text.len());

    let macros: HashMap<String, Result<Expr, CompileError>> = HashMap::new();
    match compile::compile(&expr, &macros) {
        Ok(_node) => assert!(
            !has_macro(&expr),
            "compiled without macros, yet the condition names one: {expr:?}"
        ),
        Err(e) => {
            assert!(!e.message.is_empty(), "empty compile error message");
            assert_eq!(
                e.in_macro, None,
                "an error inside a macro, with no macros defined"
            );
            check_offset(text, &subst, e.offset, "compile error");
        }
    }
}

/// The mapping back to the original text: every offset of the new text (and past its end)
/// maps inside the original, monotonically, char boundaries to char boundaries; nothing
/// substituted means the text is unchanged; `used` names known lists, each once.
fn check_substitution(original: &str, subst: &Substituted) {
    if subst.used.is_empty() {
        assert_eq!(
            subst.text, original,
            "text changed with no list substituted"
        );
    }
    for (n, name) in subst.used.iter().enumerate() {
        assert!(
            lookup(name).is_some(),
            "used names '{name}', which is not a list"
        );
        assert!(
            !subst.used[..n].contains(name),
            "'{name}' recorded twice in used"
        );
    }
    let new_len = subst.text.len();
    let mut previous = 0;
    for offset in 0..=new_len + 1 {
        let mapped = subst.original_offset(offset);
        assert!(
            mapped <= original.len(),
            "original_offset({offset}) = {mapped} > original length {}",
            original.len()
        );
        assert!(
            mapped >= previous,
            "original_offset not monotonic: {offset} -> {mapped} after {previous}"
        );
        if subst.text.is_char_boundary(offset) {
            assert!(
                original.is_char_boundary(mapped),
                "original_offset({offset}) = {mapped} is inside a character"
            );
        }
        previous = mapped;
    }
    assert_eq!(subst.original_offset(new_len), original.len());
}

/// An error offset is within the parsed text; it maps back into the original text; both give
/// a line and column without panicking.
fn check_offset(original: &str, subst: &Substituted, offset: usize, what: &str) {
    assert!(
        offset <= subst.text.len(),
        "{what} offset {offset} past the end of the text ({} bytes)",
        subst.text.len()
    );
    let (line, column) = condition::line_col(&subst.text, offset);
    assert!(line >= 1 && column >= 1);
    assert!(line <= subst.text.matches('\n').count() + 1);
    let mapped = subst.original_offset(offset);
    assert!(mapped <= original.len());
    let (line, column) = condition::line_col(original, mapped);
    assert!(line >= 1 && column >= 1);
    assert!(line <= original.matches('\n').count() + 1);
}

/// Every span is a range inside the text; `and`/`or` have at least two operands.
fn check_expr(expr: &Expr, len: usize) {
    match expr {
        Expr::And(operands) | Expr::Or(operands) => {
            assert!(
                operands.len() >= 2,
                "and/or with {} operand(s)",
                operands.len()
            );
            for e in operands {
                check_expr(e, len);
            }
        }
        Expr::Not(e) => check_expr(e, len),
        Expr::Macro { name, span } => {
            assert!(!name.is_empty(), "macro with an empty name");
            check_span(*span, len);
        }
        Expr::Check(c) => {
            check_span(c.span, len);
            check_field(&c.lhs, len);
            match &c.rhs {
                None => {}
                Some(Rhs::Value(v)) => check_span(v.span, len),
                Some(Rhs::List(values, span)) => {
                    check_span(*span, len);
                    for v in values {
                        check_span(v.span, len);
                    }
                }
                Some(Rhs::Field(f)) => check_field(f, len),
            }
        }
    }
}

fn check_field(f: &FieldExpr, len: usize) {
    assert!(!f.name.is_empty(), "field with an empty name");
    check_span(f.span, len);
    check_span(f.name_span, len);
}

fn check_span(span: Span, len: usize) {
    assert!(
        span.start <= span.end && span.end <= len,
        "span {span:?} outside a text of {len} bytes"
    );
}

fn has_macro(expr: &Expr) -> bool {
    match expr {
        Expr::And(v) | Expr::Or(v) => v.iter().any(has_macro),
        Expr::Not(e) => has_macro(e),
        Expr::Macro { .. } => true,
        Expr::Check(_) => false,
    }
}

/// `load_rules`: the bytes (invalid UTF-8 replaced by U+FFFD) as a rules file named
/// `fuzz.yaml`, loaded into an empty rule set and, if it loads, compiled. Nothing is evaluated.
pub fn exercise_rules(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut set = RuleSet::default();
    if let Err(errors) = set.load_str("fuzz.yaml", &text) {
        assert!(!errors.0.is_empty(), "load failed without an error");
        // "On error nothing changes."
        assert_eq!(
            set,
            RuleSet::default(),
            "a failed load changed the rule set"
        );
        let _ = errors.to_string();
        return;
    }
    for w in &set.warnings {
        let _ = w.to_string();
    }
    for list in &set.lists {
        assert_eq!(set.list_items(&list.name), Some(list.items.as_slice()));
    }
    match Engine::compile(&set, &CompileOptions::default()) {
        Ok(engine) => {
            // Every rule either compiled or was skipped (skip-if-unknown-filter).
            assert_eq!(
                engine.rules.len() + engine.skipped.len(),
                set.rules.len(),
                "rules lost in compilation"
            );
            let _ = engine.untyped_rules().count();
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "compile failed without an error");
            for e in &errors {
                let _ = e.to_string();
            }
        }
    }
}
