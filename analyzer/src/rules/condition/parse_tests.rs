use super::ast::{Check, Expr, FieldExpr, Modifier, Op, Rhs, Span, Transformer, Value};
use super::{line_col, parse};

fn ok(text: &str) -> Expr {
    parse(text).unwrap_or_else(|e| panic!("{text:?} failed at {}: {}", e.offset, e.message))
}

fn err(text: &str) -> (usize, String) {
    match parse(text) {
        Ok(expr) => panic!("{text:?} parsed as {}", show(&expr)),
        Err(e) => (e.offset, e.message),
    }
}

/// Asserts that `text` fails at `offset` with exactly `message`.
#[track_caller]
fn fails(text: &str, offset: usize, message: &str) {
    assert_eq!(err(text), (offset, message.to_string()), "{text:?}");
}

fn check(text: &str) -> Check {
    match ok(text) {
        Expr::Check(check) => check,
        other => panic!("{text:?} is not a check: {}", show(&other)),
    }
}

/// A compact rendering that makes tree shapes easy to compare.
fn show(expr: &Expr) -> String {
    let join = |operands: &[Expr]| operands.iter().map(show).collect::<Vec<_>>().join(" ");
    match expr {
        Expr::And(operands) => format!("(and {})", join(operands)),
        Expr::Or(operands) => format!("(or {})", join(operands)),
        Expr::Not(inner) => format!("(not {})", show(inner)),
        Expr::Macro { name, .. } => name.clone(),
        Expr::Check(c) => {
            let modifier = c.modifier.map(|m| format!(" {m:?}")).unwrap_or_default();
            let rhs = c.rhs.as_ref().map(show_rhs).unwrap_or_default();
            format!("[{} {:?}{modifier}{rhs}]", show_field(&c.lhs), c.op)
        }
    }
}

fn show_field(field: &FieldExpr) -> String {
    let arg = field
        .arg
        .as_ref()
        .map(|a| format!("[{a}]"))
        .unwrap_or_default();
    let mut text = format!("{}{arg}", field.name);
    for t in field.transformers.iter().rev() {
        text = format!("{t:?}({text})");
    }
    text
}

fn show_value(value: &Value) -> String {
    if value.quoted {
        format!("{:?}", value.text)
    } else {
        value.text.clone()
    }
}

fn show_rhs(rhs: &Rhs) -> String {
    match rhs {
        Rhs::Value(v) => format!(" {}", show_value(v)),
        Rhs::List(values, _) => {
            let items: Vec<String> = values.iter().map(show_value).collect();
            format!(" ({})", items.join(", "))
        }
        Rhs::Field(f) => format!(" val({})", show_field(f)),
    }
}

#[test]
fn every_operator() {
    let cases = [
        ("proc.name exists", Op::Exists),
        ("proc.name = a", Op::Eq),
        ("proc.name == a", Op::Eq),
        ("proc.name != a", Op::Ne),
        ("proc.pid < 1", Op::Lt),
        ("proc.pid <= 1", Op::Le),
        ("proc.pid > 1", Op::Gt),
        ("proc.pid >= 1", Op::Ge),
        ("fd.name glob /etc/*", Op::Glob),
        ("fd.name iglob /ETC/*", Op::IGlob),
        ("proc.args contains -c", Op::Contains),
        ("proc.args icontains -C", Op::IContains),
        ("evt.buffer bcontains cafebabe", Op::BContains),
        ("fd.name startswith /etc/", Op::StartsWith),
        ("evt.buffer bstartswith 7f454c46", Op::BStartsWith),
        ("fd.name endswith .so", Op::EndsWith),
        ("proc.name regex \"^py.*\"", Op::Regex),
        ("proc.name in (a, b)", Op::In),
        ("proc.args intersects (a, b)", Op::Intersects),
        ("fd.name pmatch (/etc, /usr)", Op::PMatch),
    ];
    for (text, op) in cases {
        assert_eq!(check(text).op, op, "{text}");
    }
    assert_eq!(check("proc.name exists").rhs, None);
}

#[test]
fn symbol_operators_need_no_blanks() {
    assert_eq!(show(&ok("evt.type=open")), "[evt.type Eq open]");
    assert_eq!(show(&ok("fd.num>=0")), "[fd.num Ge 0]");
    assert_eq!(show(&ok("evt.rawres<0")), "[evt.rawres Lt 0]");
    assert_eq!(show(&ok("proc.name!=bash")), "[proc.name Ne bash]");
    assert_eq!(
        show(&ok("k8s.ns.name=kube-system")),
        "[k8s.ns.name Eq kube-system]"
    );
    // A value may be an operator character: the legacy `evt.dir=<`.
    assert_eq!(show(&ok("evt.dir=<")), "[evt.dir Eq <]");
    assert_eq!(show(&ok("evt.dir = >")), "[evt.dir Eq >]");
}

#[test]
fn word_operators_need_a_boundary() {
    assert_eq!(show(&ok("proc.name in(a,b)")), "[proc.name In (a, b)]");
    assert_eq!(
        show(&ok("proc.args contains\"-c\"")),
        "[proc.args Contains \"-c\"]"
    );
    let (at, message) = err("proc.name containsx");
    assert_eq!(
        (at, message.as_str()),
        (
            10,
            "expected an operator after field 'proc.name', found 'containsx'"
        )
    );
    let (_, message) = err("fd.name startswith/etc");
    assert_eq!(
        message,
        "expected an operator after field 'fd.name', found 'startswith/etc'"
    );
}

#[test]
fn every_modifier() {
    let c = check("proc.name startswith anyof (ssh, sudo)");
    assert_eq!((c.op, c.modifier), (Op::StartsWith, Some(Modifier::AnyOf)));
    assert_eq!(
        show(&Expr::Check(c)),
        "[proc.name StartsWith AnyOf (ssh, sudo)]"
    );
    assert_eq!(
        check("proc.name == oneof (a)").modifier,
        Some(Modifier::OneOf)
    );
    assert_eq!(
        check("proc.name != allof (a, b)").modifier,
        Some(Modifier::AllOf)
    );
    assert_eq!(show(&ok("proc.name = anyof ()")), "[proc.name Eq AnyOf ()]");
    assert_eq!(
        show(&ok(
            "proc.name regex anyof (\"^python[23]\\\\.[0-9]+$\", \"^node\")"
        )),
        "[proc.name Regex AnyOf (\"^python[23]\\\\.[0-9]+$\", \"^node\")]"
    );
    for op in [
        "glob",
        "iglob",
        "contains",
        "icontains",
        "bcontains",
        "bstartswith",
        "endswith",
    ] {
        let text = format!("proc.name {op} oneof (a,b)");
        assert_eq!(check(&text).modifier, Some(Modifier::OneOf), "{text}");
    }
    // A modifier word that is part of a longer value is a value.
    assert_eq!(show(&ok("proc.name = oneof-x")), "[proc.name Eq oneof-x]");
    assert_eq!(
        show(&ok("proc.name = \"oneof\"")),
        "[proc.name Eq \"oneof\"]"
    );
}

#[test]
fn every_transformer() {
    let cases = [
        ("tolower(proc.name) = bash", Transformer::ToLower),
        ("toupper(proc.name) = BASH", Transformer::ToUpper),
        ("b64(evt.arg.data) = x", Transformer::B64),
        ("basename(proc.exepath) = bash", Transformer::Basename),
        ("len(proc.args) > 100", Transformer::Len),
    ];
    for (text, transformer) in cases {
        assert_eq!(check(text).lhs.transformers, vec![transformer], "{text}");
    }
    let c = check("tolower( basename(fd.name) ) = passwd");
    assert_eq!(
        c.lhs.transformers,
        vec![Transformer::ToLower, Transformer::Basename]
    );
    assert_eq!(c.lhs.name, "fd.name");
    assert_eq!(c.lhs.span, Span::new(0, 28));
    assert_eq!(c.lhs.name_span, Span::new(18, 25));
    // Without a `(` right after it, a transformer name is an ordinary name or value.
    assert_eq!(show(&ok("tolower")), "tolower");
    assert_eq!(show(&ok("proc.name = tolower")), "[proc.name Eq tolower]");
}

#[test]
fn val_and_transformers_on_the_right() {
    assert_eq!(
        show(&ok("proc.name = val(proc.pname)")),
        "[proc.name Eq val(proc.pname)]"
    );
    assert_eq!(
        show(&ok("proc.name != val( tolower(proc.aname[2]) )")),
        "[proc.name Ne val(ToLower(proc.aname[2]))]"
    );
    assert_eq!(
        show(&ok("proc.name = toupper(proc.pname)")),
        "[proc.name Eq val(ToUpper(proc.pname))]"
    );
    assert_eq!(
        show(&ok("proc.pid > val(proc.ppid)")),
        "[proc.pid Gt val(proc.ppid)]"
    );
    assert_eq!(
        show(&ok("proc.name in val(proc.pname)")),
        "[proc.name In val(proc.pname)]"
    );
    let Some(Rhs::Field(field)) = check("proc.name = val(proc.pname)").rhs else {
        panic!("not a field")
    };
    assert_eq!(
        (field.span, field.name_span),
        (Span::new(12, 27), Span::new(16, 26))
    );
}

#[test]
fn precedence_not_and_or() {
    assert_eq!(show(&ok("a or b and not c")), "(or a (and b (not c)))");
    assert_eq!(show(&ok("not a and b or c")), "(or (and (not a) b) c)");
    assert_eq!(show(&ok("a and b and c or d or e")), "(or (and a b c) d e)");
    assert_eq!(show(&ok("(a or b) and c")), "(and (or a b) c)");
    assert_eq!(show(&ok("(a and b) and c")), "(and (and a b) c)");
    assert_eq!(show(&ok("not not a")), "(not (not a))");
}

#[test]
fn not_forms() {
    assert_eq!(show(&ok("not(a)")), "(not a)");
    assert_eq!(show(&ok("not\na")), "(not a)");
    assert_eq!(show(&ok("not\t(a or b)")), "(not (or a b))");
    assert_eq!(show(&ok("a and not(b)")), "(and a (not b))");
    assert_eq!(show(&ok("a and(b)or(c)")), "(or (and a b) c)");
    // A name that merely starts with a keyword is a name.
    assert_eq!(show(&ok("not_this and order")), "(and not_this order)");
    assert_eq!(show(&ok("android or nothing")), "(or android nothing)");
}

#[test]
fn nested_parentheses_and_whitespace() {
    let text = "(\n  (proc.name = a\n\tor (proc.name = b))\n)\n";
    assert_eq!(show(&ok(text)), "(or [proc.name Eq a] [proc.name Eq b])");
    assert_eq!(show(&ok("((((a))))")), "a");
}

#[test]
fn macros_and_fields() {
    let expr = ok("  open_read");
    assert_eq!(
        expr,
        Expr::Macro {
            name: "open_read".to_string(),
            span: Span::new(2, 11)
        }
    );
    assert_eq!(
        show(&ok("shell_procs and proc.tty != 0")),
        "(and shell_procs [proc.tty Ne 0])"
    );
    // An undotted name with an operator is a check; the compiler judges the field.
    assert_eq!(show(&ok("foo = 1")), "[foo Eq 1]");
}

#[test]
fn field_arguments() {
    let c = check("proc.aname[2]=sshd");
    assert_eq!(
        (c.lhs.name.as_str(), c.lhs.arg.as_deref()),
        ("proc.aname", Some("2"))
    );
    assert_eq!(c.lhs.name_span, Span::new(0, 10));
    assert_eq!(c.lhs.span, Span::new(0, 13));
    assert_eq!(
        check("proc.env[HOME] exists").lhs.arg.as_deref(),
        Some("HOME")
    );
    assert_eq!(check("evt.arg[1] = x").lhs.arg.as_deref(), Some("1"));
    assert_eq!(check("fd.types[0] = ipv4").lhs.arg.as_deref(), Some("0"));
    assert_eq!(
        show(&ok("evt.arg.flags contains O_TRUNC")),
        "[evt.arg.flags Contains O_TRUNC]"
    );
    assert_eq!(
        show(&ok("container.image.repository in (docker.io/falco)")),
        "[container.image.repository In (docker.io/falco)]"
    );
}

#[test]
fn bare_and_quoted_values() {
    assert_eq!(
        show(&ok("fd.name = /etc/passwd")),
        "[fd.name Eq /etc/passwd]"
    );
    assert_eq!(
        show(&ok("proc.name in (runc:[1:CHILD], [)")),
        "[proc.name In (runc:[1:CHILD], [)]"
    );
    let value = |text: &str| match check(text).rhs {
        Some(Rhs::Value(v)) => v,
        other => panic!("{other:?}"),
    };
    let v = value("proc.cmdline contains \"a b\"");
    assert_eq!(
        (v.text.as_str(), v.quoted, v.span),
        ("a b", true, Span::new(22, 27))
    );
    assert_eq!(value(r#"proc.cmdline = "say \"hi\"""#).text, r#"say "hi""#);
    assert_eq!(value(r"proc.cmdline = 'it\'s'").text, "it's");
    assert_eq!(value(r#"proc.cmdline = 'say "hi"'"#).text, r#"say "hi""#);
    assert_eq!(value(r#"proc.name regex "\d+\.so""#).text, r"\d+\.so");
    assert_eq!(value(r#"proc.name = "a\\b""#).text, r"a\b");
    assert_eq!(value(r#"proc.name = "tab\there""#).text, "tab\there");
    // Falco's unescape turns `\ ` into a lone backslash; an upstream rule depends on it.
    assert_eq!(value(r#"proc.args contains "\ ""#).text, "\\");
    assert_eq!(value(r"proc.args endswith \").text, "\\");
    assert_eq!(value("proc.name = ''").text, "");
    let v = value("proc.name = bash");
    assert_eq!((v.quoted, v.span), (false, Span::new(12, 16)));
}

#[test]
fn lists() {
    let c = check("proc.name in (a, \"b c\",\n  'd')");
    let Some(Rhs::List(values, span)) = c.rhs else {
        panic!("not a list")
    };
    let texts: Vec<&str> = values.iter().map(|v| v.text.as_str()).collect();
    assert_eq!(texts, ["a", "b c", "d"]);
    assert_eq!(span, Span::new(13, 30));
    assert_eq!(c.span, Span::new(0, 30));
    assert_eq!(show(&ok("proc.name in ()")), "[proc.name In ()]");
    assert_eq!(show(&ok("proc.name in (  \n )")), "[proc.name In ()]");
    // A single identifier is what a one-item list name substitutes to; Falco accepts it.
    assert_eq!(show(&ok("proc.name in bash")), "[proc.name In bash]");
}

#[test]
fn spans() {
    let text = "a and proc.name = x";
    let Expr::And(operands) = ok(text) else {
        panic!()
    };
    let Expr::Check(c) = &operands[1] else {
        panic!()
    };
    assert_eq!(c.span, Span::new(6, 19));
    assert_eq!(c.lhs.span, Span::new(6, 15));
    assert_eq!(check("proc.name exists ").span, Span::new(0, 16));
    assert_eq!(
        check("proc.name startswith anyof (a) ").span,
        Span::new(0, 30)
    );
}

#[test]
fn error_messages() {
    fails("", 0, "empty condition");
    fails(" \n\t", 0, "empty condition");
    fails(
        "proc.name blah",
        10,
        "expected an operator after field 'proc.name', found 'blah'",
    );
    fails("proc.name", 9, "field 'proc.name' needs an operator");
    fails("proc.name and a", 10, "field 'proc.name' needs an operator");
    fails(
        "(proc.aname[1])",
        14,
        "field 'proc.aname[1]' needs an operator",
    );
    fails(
        "tolower(proc.name) or a",
        19,
        "field 'tolower(proc.name)' needs an operator",
    );
    fails(
        "a and (b or c",
        13,
        "unclosed parenthesis opened at column 7",
    );
    fails(
        "a and\n  (b or c",
        15,
        "unclosed parenthesis opened at line 2, column 3",
    );
    fails("(a b)", 3, "expected 'and', 'or' or ')', found 'b'");
    fails("proc.name = \"abc", 12, "unterminated quoted string");
    fails("proc.name = 'abc\\'", 12, "unterminated quoted string");
    fails(
        "proc.name startswith oneof ssh",
        27,
        "'oneof' needs a list in parentheses, found 'ssh'",
    );
    fails(
        "proc.name = allof",
        17,
        "'allof' needs a list in parentheses, found end of input",
    );
    fails("a)", 1, "unexpected ')'");
    fails("a b", 2, "trailing input after the condition: 'b'");
    fails(
        "a and",
        5,
        "expected a condition after 'and', found end of input",
    );
    fails("a or )", 5, "expected a condition after 'or', found ')'");
    fails(
        "not",
        3,
        "expected a condition after 'not', found end of input",
    );
    fails("()", 1, "expected a condition after '(', found ')'");
    fails("a and or b", 6, "expected a condition, found 'or'");
    fails("1 = 2", 0, "expected a condition, found '1'");
    fails(
        "proc.name in (a, )",
        17,
        "expected a value after ',' in the list, found ')'",
    );
    fails(
        "proc.name in (, a)",
        14,
        "expected a value or ')' in the list, found ','",
    );
    fails(
        "proc.name in (a b)",
        16,
        "expected ',' or ')' in the list, found 'b'",
    );
    fails(
        "proc.name in (a",
        15,
        "expected ',' or ')' in the list, found end of input",
    );
    fails(
        "proc.name in sh, bash",
        15,
        "a list after 'in' needs parentheses, found ','",
    );
    fails(
        "proc.name in /bin/sh",
        13,
        "expected a list in parentheses after 'in', found '/bin/sh'",
    );
    fails(
        "proc.name pmatch",
        16,
        "expected a list in parentheses after 'pmatch', found end of input",
    );
    fails(
        "proc.name =",
        11,
        "expected a value after '=', found end of input",
    );
    fails(
        "proc.pid <= )",
        12,
        "expected a value after '<=', found ')'",
    );
    fails(
        "proc.name = (a, b)",
        12,
        "expected a value after '=', found '(' \
             (a list needs 'in' or a modifier such as 'anyof')",
    );
    fails(
        "tolower(proc.name = x",
        18,
        "expected ')' closing 'tolower(', found '='",
    );
    fails(
        "tolower() = x",
        8,
        "expected a field inside 'tolower(', found ')'",
    );
    fails(
        "proc.name = val(123)",
        16,
        "expected a field inside 'val(', found '123'",
    );
    fails(
        "proc.name = val(proc.pname",
        26,
        "expected ')' closing 'val(', found end of input",
    );
    fails(
        "foo(proc.name) = x",
        0,
        "unknown transformer 'foo' (expected tolower, toupper, b64, basename or len)",
    );
    fails(
        "val(proc.name) = x",
        0,
        "'val(...)' can only be used on the right-hand side of a comparison",
    );
    fails("proc.aname[2 = x", 10, "unclosed '[' in field argument");
    fails("proc.aname[] = x", 10, "empty field argument '[]'");
    fails(
        "proc.name = x and",
        17,
        "expected a condition after 'and', found end of input",
    );
    fails(
        "proc.cmdline contains aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbb",
        63,
        "trailing input after the condition: 'bbb'",
    );
    fails(
        "a bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        2,
        "trailing input after the condition: 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...'",
    );
}

#[test]
fn error_display_is_the_message() {
    let e = parse("a b").unwrap_err();
    assert_eq!(e.to_string(), "trailing input after the condition: 'b'");
}

#[test]
fn nesting_is_bounded() {
    let depth = super::parse::MAX_DEPTH;
    let nested = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(show(&ok(&nested(depth))), "a");
    assert_eq!(
        err(&nested(depth + 1)),
        (
            depth,
            format!("condition nested deeper than {depth} levels")
        )
    );
    let nots = "not ".repeat(depth + 1) + "a";
    assert_eq!(
        err(&nots).1,
        format!("condition nested deeper than {depth} levels")
    );
    let transformers = format!(
        "{}proc.name{} = a",
        "tolower(".repeat(depth + 1),
        ")".repeat(depth + 1)
    );
    assert_eq!(
        err(&transformers).1,
        format!("condition nested deeper than {depth} levels")
    );
    // Far deeper input fails the same way instead of overflowing the stack.
    assert!(parse(&"(".repeat(100_000)).is_err());
    assert!(parse(&"not ".repeat(100_000)).is_err());
}

#[test]
fn never_panics_on_prefixes_and_noise() {
    let text = "spawned_process and not proc.name in (a, \"b c\") and tolower(proc.aname[2]) \
                startswith anyof ('x', y) or fd.num>=0 and proc.name = val(toupper(proc.pname))";
    for end in (0..=text.len()).filter(|&e| text.is_char_boundary(e)) {
        let _ = parse(&text[..end]);
        let _ = parse(&text[end..]);
    }
    // A small deterministic fuzz over the grammar's interesting pieces.
    let pieces = [
        "(",
        ")",
        " ",
        "\n",
        ",",
        "=",
        "==",
        "!=",
        "<",
        ">=",
        "\"",
        "'",
        "\\",
        "[",
        "]",
        "not",
        "and",
        "or",
        "in",
        "exists",
        "anyof",
        "tolower(",
        "val(",
        "proc.name",
        "a",
        "é",
        "0",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        let mut input = String::new();
        for _ in 0..(seed % 12) {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            input.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
        }
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        if let Err(e) = parse(&input) {
            assert!(e.offset <= input.len(), "{input:?}: {e:?}");
            assert!(!e.message.is_empty(), "{input:?}");
        }
    }
}

#[test]
fn line_and_column() {
    let text = "a and\n  é proc";
    assert_eq!(line_col(text, 0), (1, 1));
    assert_eq!(line_col(text, 5), (1, 6));
    assert_eq!(line_col(text, 6), (2, 1));
    assert_eq!(line_col(text, 8), (2, 3));
    // The column counts characters, not bytes: `é` is two bytes.
    assert_eq!(line_col(text, 11), (2, 5));
    assert_eq!(line_col(text, 9), (2, 3));
    assert_eq!(line_col(text, 1000), (2, 9));
}
