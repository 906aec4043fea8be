//! Rule exceptions: reading them (falco `rule_loader_reader.cpp`), checking them and merging
//! appended values (`rule_loader_collector.cpp`), and folding them into the condition text
//! (`rule_loader_compiler.cpp`, `build_rule_exception_infos`).

use std::collections::HashSet;

use serde_saphyr::Spanned;

use super::item::{string_node, unknown_key_message, Cx};
use super::yaml::{self, Node, Pos};
use super::{Exception, ExceptionValue};

/// Whether exceptions define (fields required) or append to a rule (fields may be omitted to
/// add values to an existing exception of the same name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Define,
    Append,
}

#[derive(Debug)]
pub(super) enum StrOrList {
    One(String),
    Many(Vec<String>),
}

/// One value as written: a scalar (single-field exceptions) or a tuple.
#[derive(Debug)]
pub(super) enum ValueSpec {
    Scalar(String),
    Tuple(Vec<ExceptionValue>),
}

/// An exception as written, before it is checked against its fields.
#[derive(Debug)]
pub(super) struct ExceptionSpec {
    pub name: String,
    pub pos: Pos,
    /// Some part had an error (reported): the spec is not resolved.
    pub broken: bool,
    pub fields: Option<StrOrList>,
    pub comps: Option<StrOrList>,
    pub values: Option<Vec<(ValueSpec, Pos)>>,
}

/// The comparison operators an exception may use (docs/RULES.md).
const OPERATORS: &[&str] = &[
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
    "in",
    "intersects",
    "pmatch",
    "exists",
];

/// Operators whose right-hand side is a list.
const LIST_OPERATORS: &[&str] = &["in", "intersects", "pmatch"];

/// Reads a rule's `exceptions:` (null means none). Returns the exceptions that have a name;
/// errors are reported in `cx`.
pub(super) fn parse(node: &Spanned<Node>, mode: Mode, cx: &mut Cx) -> Vec<ExceptionSpec> {
    let items = match &node.value {
        Node::Null => return Vec::new(),
        Node::Seq(items) => items,
        other => {
            cx.error(
                Pos::of(&node.referenced),
                format!("'exceptions' must be a list, not {}", yaml::kind(other)),
            );
            return Vec::new();
        }
    };
    let mut out: Vec<ExceptionSpec> = Vec::new();
    let mut names = HashSet::new();
    for item in items {
        if let Some(mut spec) = parse_one(item, mode, cx) {
            if !names.insert(spec.name.clone()) {
                cx.error(
                    spec.pos,
                    format!(
                        "exception '{}': exception names must be unique within a rule",
                        spec.name
                    ),
                );
                spec.broken = true;
            }
            out.push(spec);
        }
    }
    out
}

/// Reads and checks exceptions that define (a new rule, or `override: {exceptions: replace}`).
pub(super) fn parse_complete(node: &Spanned<Node>, cx: &mut Cx) -> Vec<Exception> {
    parse(node, Mode::Define, cx)
        .into_iter()
        .filter_map(|spec| resolve(spec, Mode::Define, cx))
        .collect()
}

fn parse_one(node: &Spanned<Node>, mode: Mode, cx: &mut Cx) -> Option<ExceptionSpec> {
    let pos = Pos::of(&node.referenced);
    let Node::Map(entries) = &node.value else {
        cx.error(
            pos,
            format!(
                "an exception must be a mapping of name, fields, comps, values, not {}",
                yaml::kind(&node.value)
            ),
        );
        return None;
    };
    let (mut name, mut fields, mut comps, mut values) = (None, None, None, None);
    for (key, value) in entries {
        let key_pos = Pos::of(&key.referenced);
        let slot = match key.value.as_str() {
            "name" => &mut name,
            "fields" => &mut fields,
            "comps" => &mut comps,
            "values" => &mut values,
            other => {
                let known = ["name", "fields", "comps", "values"].into_iter();
                cx.error(key_pos, unknown_key_message(other, known));
                continue;
            }
        };
        if slot.is_some() {
            cx.error(key_pos, format!("duplicate key '{}'", key.value));
        }
        *slot = Some(value);
    }
    // Unknown keys are reported but do not stop the exception being checked.
    let errors_before = cx.error_count();
    let Some(name_node) = name else {
        cx.error(pos, "an exception has no 'name'");
        return None;
    };
    let name = string_node(name_node, "name", cx)?;
    let what = format!("exception '{name}'");
    let fields = fields.and_then(|f| str_or_list(f, &what, "fields", cx));
    let comps = comps.and_then(|c| str_or_list(c, &what, "comps", cx));
    if fields.is_none() && mode == Mode::Define && cx.error_count() == errors_before {
        cx.error(pos, format!("{what}: missing key 'fields'"));
    }
    let values = match values {
        None => {
            if mode == Mode::Append {
                cx.warn(
                    pos,
                    format!("{what}: appending an exception with no values"),
                );
            }
            None
        }
        Some(v) => values_spec(v, &what, cx),
    };
    Some(ExceptionSpec {
        name,
        pos,
        broken: cx.error_count() > errors_before,
        fields,
        comps,
        values,
    })
}

/// `fields`/`comps`: one non-empty string or a non-empty list of them.
fn str_or_list(node: &Spanned<Node>, what: &str, key: &str, cx: &mut Cx) -> Option<StrOrList> {
    let pos = Pos::of(&node.referenced);
    match &node.value {
        Node::Seq(items) if items.is_empty() => {
            cx.error(pos, format!("{what}: '{key}' must not be empty"));
            None
        }
        Node::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(one_string(item, what, key, cx)?);
            }
            Some(StrOrList::Many(out))
        }
        _ => one_string(node, what, key, cx).map(StrOrList::One),
    }
}

fn one_string(node: &Spanned<Node>, what: &str, key: &str, cx: &mut Cx) -> Option<String> {
    match yaml::scalar(node, cx.src) {
        Some(s) if !s.trim().is_empty() => Some(s.into_owned()),
        _ => {
            cx.error(
                Pos::of(&node.referenced),
                format!(
                    "{what}: '{key}' must be a non-empty string or a list of them, not {}",
                    if matches!(node.value, Node::Str(_) | Node::Typed) {
                        "an empty string"
                    } else {
                        yaml::kind(&node.value)
                    }
                ),
            );
            None
        }
    }
}

/// `values`: a list of scalars or of tuples; a tuple element is a scalar or a list of scalars.
fn values_spec(node: &Spanned<Node>, what: &str, cx: &mut Cx) -> Option<Vec<(ValueSpec, Pos)>> {
    let Node::Seq(items) = &node.value else {
        cx.error(
            Pos::of(&node.referenced),
            format!(
                "{what}: 'values' must be a list, not {}",
                yaml::kind(&node.value)
            ),
        );
        return None;
    };
    let errors_before = cx.error_count();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let pos = Pos::of(&item.referenced);
        let value = match &item.value {
            Node::Seq(elements) => {
                let mut tuple = Vec::with_capacity(elements.len());
                for element in elements {
                    match &element.value {
                        Node::Seq(list) => {
                            let mut strings = Vec::with_capacity(list.len());
                            for s in list {
                                if let Some(s) = value_scalar(s, what, cx) {
                                    strings.push(s);
                                }
                            }
                            tuple.push(ExceptionValue::List(strings));
                        }
                        _ => {
                            if let Some(s) = value_scalar(element, what, cx) {
                                tuple.push(ExceptionValue::Value(s));
                            }
                        }
                    }
                }
                ValueSpec::Tuple(tuple)
            }
            _ => match value_scalar(item, what, cx) {
                Some(s) => ValueSpec::Scalar(s),
                None => continue,
            },
        };
        out.push((value, pos));
    }
    (cx.error_count() == errors_before).then_some(out)
}

fn value_scalar(node: &Spanned<Node>, what: &str, cx: &mut Cx) -> Option<String> {
    match yaml::scalar(node, cx.src) {
        Some(s) if !s.is_empty() => Some(s.into_owned()),
        _ => {
            cx.error(
                Pos::of(&node.referenced),
                format!(
                    "{what}: a value must be a non-empty string, not {}",
                    if matches!(node.value, Node::Str(_) | Node::Typed) {
                        "an empty string"
                    } else {
                        yaml::kind(&node.value)
                    }
                ),
            );
            None
        }
    }
}

/// Checks a complete exception (a definition, a replacement, or a new exception appended to a
/// rule) and builds it (falco `validate_exception_info`).
pub(super) fn resolve(spec: ExceptionSpec, mode: Mode, cx: &mut Cx) -> Option<Exception> {
    if spec.broken {
        return None;
    }
    let what = format!("exception '{}'", spec.name);
    let Some(fields) = spec.fields else {
        cx.error(spec.pos, format!("{what}: missing key 'fields'"));
        return None;
    };
    if mode == Mode::Append && spec.values.as_ref().is_none_or(Vec::is_empty) {
        cx.error(
            spec.pos,
            format!("{what}: a new exception appended to a rule must have 'values'"),
        );
        return None;
    }
    let (fields, comps, single_field) = match (fields, spec.comps) {
        (StrOrList::One(field), None) => (vec![field], vec!["in".to_owned()], true),
        (StrOrList::One(field), Some(StrOrList::One(comp))) => {
            if !LIST_OPERATORS.contains(&comp.as_str()) {
                cx.error(
                    spec.pos,
                    format!("{what}: when 'fields' is a single field, 'comps' must be one of in, pmatch, intersects"),
                );
                return None;
            }
            (vec![field], vec![comp], true)
        }
        (StrOrList::One(_), Some(StrOrList::Many(_))) => {
            cx.error(
                spec.pos,
                format!("{what}: 'fields' and 'comps' must both be strings or both be lists"),
            );
            return None;
        }
        (StrOrList::Many(fields), None) => {
            let comps = vec!["=".to_owned(); fields.len()];
            (fields, comps, false)
        }
        (StrOrList::Many(fields), Some(comps)) => {
            let comps = match comps {
                StrOrList::Many(c) if c.len() == fields.len() => c,
                _ => {
                    cx.error(
                        spec.pos,
                        format!("{what}: 'fields' and 'comps' lists must have equal length"),
                    );
                    return None;
                }
            };
            (fields, comps, false)
        }
    };
    let errors_before = cx.error_count();
    for field in &fields {
        if field.chars().any(char::is_whitespace) {
            cx.error(spec.pos, format!("{what}: '{field}' is not a field name"));
        }
    }
    for comp in &comps {
        if !OPERATORS.contains(&comp.as_str()) {
            cx.error(
                spec.pos,
                format!("{what}: '{comp}' is not a supported comparison operator"),
            );
        }
    }
    let values = convert_values(
        spec.values.unwrap_or_default(),
        single_field,
        fields.len(),
        &what,
        cx,
    );
    if cx.error_count() > errors_before {
        return None;
    }
    Some(Exception {
        name: spec.name,
        fields,
        comps,
        values: values?,
        single_field,
        origin: cx.origin(spec.pos),
    })
}

/// Values appended to an existing exception of the same name: only `values` may be given.
pub(super) fn append_values(
    existing: &Exception,
    spec: ExceptionSpec,
    cx: &mut Cx,
) -> Option<Vec<Vec<ExceptionValue>>> {
    if spec.broken {
        return None;
    }
    let what = format!("exception '{}'", spec.name);
    if spec.fields.is_some() || spec.comps.is_some() {
        cx.error(
            spec.pos,
            format!(
                "{what}: cannot append 'fields' or 'comps' to an existing exception, only 'values'"
            ),
        );
        return None;
    }
    convert_values(
        spec.values.unwrap_or_default(),
        existing.single_field,
        existing.fields.len(),
        &what,
        cx,
    )
}

fn convert_values(
    values: Vec<(ValueSpec, Pos)>,
    single_field: bool,
    field_count: usize,
    what: &str,
    cx: &mut Cx,
) -> Option<Vec<Vec<ExceptionValue>>> {
    let errors_before = cx.error_count();
    let mut out = Vec::with_capacity(values.len());
    for (value, pos) in values {
        match (value, single_field) {
            (ValueSpec::Scalar(s), true) => out.push(vec![ExceptionValue::Value(s)]),
            (ValueSpec::Tuple(_), true) => cx.error(
                pos,
                format!("{what}: 'fields' is a single field, so each value must be a string, not a list"),
            ),
            (ValueSpec::Tuple(t), false) if t.len() == field_count => out.push(t),
            (_, false) => cx.error(
                pos,
                format!(
                    "{what}: each value must be a list of {field_count} values, one per field ('fields' and values lists must have equal length)"
                ),
            ),
        }
    }
    (cx.error_count() == errors_before).then_some(out)
}

/// The condition with its exceptions, in the shape of Falco's `build_rule_exception_infos`:
/// `(cond) and not (f in (v1, v2)) and not ((f1 = a and f2 = b) or (f1 = c and f2 = d))`.
/// An exception without values adds nothing (the parentheses around `cond` stay, as in Falco).
///
/// Values are quoted (`"` and `\` escaped) except: the name of a list (`is_list`), left bare so
/// list substitution expands it; a value already in quotes, kept as written (Falco passes such
/// values through); and, for `in`/`pmatch`/`intersects`, a scalar already in parentheses.
pub(super) fn render(
    condition: &str,
    exceptions: &[Exception],
    is_list: &dyn Fn(&str) -> bool,
) -> String {
    if exceptions.is_empty() {
        return condition.to_owned();
    }
    let mut out = format!("({condition})");
    for ex in exceptions {
        if ex.values.is_empty() {
            continue;
        }
        out.push_str(" and not ");
        if ex.single_field {
            let (field, comp) = (&ex.fields[0], &ex.comps[0]);
            let values: Vec<String> = ex
                .values
                .iter()
                .flatten()
                .map(|v| match v {
                    ExceptionValue::Value(s) => scalar(s, is_list),
                    ExceptionValue::List(l) => list(l, is_list),
                })
                .collect();
            out.push_str(&format!("({field} {comp} ({}))", values.join(", ")));
        } else {
            let tuples: Vec<String> = ex
                .values
                .iter()
                .map(|tuple| {
                    let checks: Vec<String> = ex
                        .fields
                        .iter()
                        .zip(&ex.comps)
                        .zip(tuple)
                        .map(|((field, comp), value)| {
                            format!("{field} {comp} {}", element(value, comp, is_list))
                        })
                        .collect();
                    format!("({})", checks.join(" and "))
                })
                .collect();
            out.push_str(&format!("({})", tuples.join(" or ")));
        }
    }
    out
}

fn element(value: &ExceptionValue, comp: &str, is_list: &dyn Fn(&str) -> bool) -> String {
    match value {
        ExceptionValue::List(l) => list(l, is_list),
        ExceptionValue::Value(s) if LIST_OPERATORS.contains(&comp) => {
            if s.starts_with('(') {
                s.clone()
            } else {
                format!("({})", scalar(s, is_list))
            }
        }
        ExceptionValue::Value(s) => scalar(s, is_list),
    }
}

fn list(items: &[String], is_list: &dyn Fn(&str) -> bool) -> String {
    let items: Vec<String> = items.iter().map(|s| scalar(s, is_list)).collect();
    format!("({})", items.join(", "))
}

fn scalar(s: &str, is_list: &dyn Fn(&str) -> bool) -> String {
    let quoted = s.len() >= 2
        && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\'')));
    if quoted || is_list(s) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
