use std::collections::HashMap;

use super::ast::{Expr, Rhs};
use super::{parse, substitute_lists, Substituted};

fn lists(entries: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
    entries
        .iter()
        .map(|(name, items)| {
            (
                name.to_string(),
                items.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect()
}

fn substitute(text: &str, lists: &HashMap<String, Vec<String>>) -> Substituted {
    substitute_lists(text, |name| lists.get(name).map(Vec::as_slice))
}

fn text(text: &str, lists: &HashMap<String, Vec<String>>) -> String {
    substitute(text, lists).text
}

/// The values of the list on the right of the condition's only check.
fn list_values(condition: &str) -> Vec<String> {
    match parse(condition) {
        Ok(Expr::Check(check)) => match check.rhs {
            Some(Rhs::List(values, _)) => values.into_iter().map(|v| v.text).collect(),
            other => panic!("{condition:?}: {other:?}"),
        },
        other => panic!("{condition:?}: {other:?}"),
    }
}

#[test]
fn names_become_items_without_added_parentheses() {
    let l = lists(&[("shell_binaries", &["bash", "sh"])]);
    assert_eq!(
        text("proc.name in (shell_binaries)", &l),
        "proc.name in (bash, sh)"
    );
    assert_eq!(
        text("proc.name in (zsh,shell_binaries,\n  csh)", &l),
        "proc.name in (zsh,bash, sh,\n  csh)"
    );
    assert_eq!(text("shell_binaries", &l), "bash, sh");
    // Bounded by `=` as well, as in Falco.
    assert_eq!(text("proc.name=shell_binaries", &l), "proc.name=bash, sh");
}

#[test]
fn bare_name_after_in_is_not_wrapped() {
    // Falco adds no parentheses, so only a one-item list works bare.
    let l = lists(&[("two", &["a", "b"]), ("one", &["a"])]);
    let two = text("proc.name in two", &l);
    assert_eq!(two, "proc.name in a, b");
    assert_eq!(
        parse(&two).unwrap_err().message,
        "a list after 'in' needs parentheses, found ','"
    );
    assert!(parse(&text("proc.name in one", &l)).is_ok());
}

#[test]
fn substrings_and_dotted_names_are_untouched() {
    let l = lists(&[("foo", &["x"])]);
    for unchanged in [
        "foobar = 1",
        "proc.foo = 1",
        "foo.bar = 1",
        "proc.name = xfoo",
        "proc.name in (foo_x, foo-y, a.foo)",
        "proc.aname[foo] = 1",
    ] {
        assert_eq!(text(unchanged, &l), unchanged);
    }
    assert_eq!(text("(foo)", &l), "(x)");
}

#[test]
fn quoted_strings_are_untouched() {
    let l = lists(&[("foo", &["x"])]);
    for unchanged in [
        "proc.cmdline contains \"foo\"",
        "proc.cmdline contains 'a (foo) b'",
        "proc.cmdline contains \"say \\\" foo \\\"\"",
        "proc.name = \"unterminated foo",
        "proc.name = foo\"bar\"",
    ] {
        assert_eq!(text(unchanged, &l), unchanged);
    }
    assert_eq!(
        text("a = \"foo\" or b in (foo)", &l),
        "a = \"foo\" or b in (x)"
    );
}

#[test]
fn empty_lists_drop_an_adjacent_comma() {
    let l = lists(&[("a", &["1"]), ("empty", &[]), ("none", &[])]);
    let cases = [
        ("x in (a, empty)", "x in (1)"),
        ("x in (empty, a)", "x in ( 1)"),
        ("x in (empty)", "x in ()"),
        ("x in (a, empty, a)", "x in (1, 1)"),
        ("x in (empty, none, a)", "x in (  1)"),
        ("x in (a, empty, none)", "x in (1)"),
        ("x in (empty , none)", "x in ( )"),
        ("x in (a,\n  empty\n)", "x in (1\n)"),
    ];
    for (condition, expected) in cases {
        let substituted = text(condition, &l);
        assert_eq!(substituted, expected, "{condition:?}");
        assert!(parse(&substituted).is_ok(), "{substituted:?}");
    }
    assert_eq!(list_values(&text("x in (empty, a, none)", &l)), ["1"]);
}

#[test]
fn items_keep_the_value_falco_compares() {
    let l = lists(&[
        ("plain", &["bash", "/bin/sh", "runc:[1:CHILD]", "1194"]),
        // A space: quoted as Falco does, escapes left for the parser.
        ("spaced", &["sh -c", "a\\tb c"]),
        // Already quoted in YAML: taken verbatim, the parser unquotes.
        (
            "quoted",
            &[
                "\"75-system-updat\"",
                "'/bin/sh'",
                "\"sh -c node -e \\\"require('nan')\\\"\"",
            ],
        ),
        // Would not survive bare; Falco would mangle these, we keep their literal value.
        (
            "odd",
            &[
                "a,b",
                "x=y",
                "it's",
                "",
                "say \"hi\" now",
                "tab\there",
                "ends\\",
            ],
        ),
    ]);
    let values = |name: &str| list_values(&text(&format!("x in ({name})"), &l));
    assert_eq!(
        values("plain"),
        ["bash", "/bin/sh", "runc:[1:CHILD]", "1194"]
    );
    assert_eq!(text("x in (spaced)", &l), "x in (\"sh -c\", \"a\\tb c\")");
    assert_eq!(values("spaced"), ["sh -c", "a\tb c"]);
    assert_eq!(
        values("quoted"),
        [
            "75-system-updat",
            "/bin/sh",
            "sh -c node -e \"require('nan')\""
        ]
    );
    assert_eq!(
        values("odd"),
        [
            "a,b",
            "x=y",
            "it's",
            "",
            "say \"hi\" now",
            "tab\there",
            "ends\\"
        ]
    );
}

#[test]
fn offsets_map_back_to_the_original() {
    let l = lists(&[("shells", &["bash", "zsh"]), ("empty", &[])]);
    let original = "proc.name in (shells) and fd.name in (empty) and x blah";
    let s = substitute(original, &l);
    assert_eq!(
        s.text,
        "proc.name in (bash, zsh) and fd.name in () and x blah"
    );
    // Before the list: unchanged.
    assert_eq!(s.original_offset(5), 5);
    // Inside the expansion: the start of the list name.
    for inside in 14..23 {
        assert_eq!(s.original_offset(inside), 14, "{inside}");
    }
    // After it: shifted back.
    assert_eq!(s.original_offset(23), 20);
    assert_eq!(s.original_offset(s.text.len()), original.len());
    assert_eq!(s.original_offset(s.text.len() + 5), original.len());
    // An error in the substituted text points at the right place in the original.
    let e = parse(&s.text).unwrap_err();
    assert_eq!(e.message, "trailing input after the condition: 'blah'");
    assert_eq!(&original[s.original_offset(e.offset)..], "blah");
}

#[test]
fn offsets_without_substitution_are_identity() {
    let s = substitute("a and b", &lists(&[]));
    assert_eq!(s.text, "a and b");
    assert!(s.used.is_empty());
    for offset in 0..=7 {
        assert_eq!(s.original_offset(offset), offset);
    }
}

#[test]
fn used_lists_are_recorded_once() {
    let l = lists(&[("a", &["1"]), ("b", &[]), ("c", &["3"])]);
    let s = substitute("x in (b, a) or y in (a) or z = q", &l);
    assert_eq!(s.used, ["b", "a"]);
}

#[test]
fn multibyte_text_around_names() {
    let l = lists(&[("foo", &["x"])]);
    let s = substitute("é = ü or y in (foo) and z = \"ï foo\"", &l);
    assert_eq!(s.text, "é = ü or y in (x) and z = \"ï foo\"");
    assert_eq!(s.original_offset(s.text.len() - 1), s.text.len() + 1);
}

#[test]
fn items_naming_lists_are_expanded() {
    // Falco expands a list named in another list's items, even one defined later.
    let l = lists(&[
        ("outer", &["a", "inner", "b"]),
        ("inner", &["x", "y"]),
        ("hollow", &["a", "empty"]),
        ("empty", &[]),
    ]);
    let s = substitute("p in (outer) and q in (hollow)", &l);
    assert_eq!(s.text, "p in (a, x, y, b) and q in (a)");
    assert_eq!(s.used, ["outer", "inner", "hollow", "empty"]);
    // A cycle stops at the list being expanded, which stays a plain value.
    let cycle = lists(&[("ping", &["pong", "1"]), ("pong", &["ping", "2"])]);
    assert_eq!(text("p in (ping)", &cycle), "p in (ping, 2, 1)");
}
