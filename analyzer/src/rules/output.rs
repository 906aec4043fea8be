//! Rule outputs: `%field` templates compiled once, filled per alert with escaped (and, unless
//! secrets are shown, redacted) values.

use super::compile::CompileError;
use super::condition::ast::Transformer;
use super::fields::{self, render_plain, Ctx, Field, Val};
use crate::escape::escape_bytes;
use crate::redact::Redactor;

/// A compiled output template.
#[derive(Debug)]
pub struct Output {
    parts: Vec<Part>,
}

#[derive(Debug)]
enum Part {
    Text(String),
    Field(Field),
}

/// A field's value in an alert: its text, and its JSON form.
#[derive(Debug, Clone, PartialEq)]
pub struct Filled {
    pub text: String,
    /// `(field as written, typed value)` for Falco's `output_fields`, in template order.
    pub fields: Vec<(String, serde_json::Value)>,
}

impl Output {
    /// Parses `%name`, `%name[arg]` and `%transformer(name)` references.
    pub fn compile(template: &str) -> Result<Output, CompileError> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let b = template.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'%' {
                let ch = template[i..].chars().next().unwrap_or(' ');
                text.push(ch);
                i += ch.len_utf8();
                continue;
            }
            match reference(template, i + 1) {
                Some((field, end)) => {
                    let field = field.map_err(|message| CompileError {
                        offset: i,
                        message,
                        in_macro: None,
                    })?;
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Field(field));
                    i = end;
                }
                None => {
                    text.push('%');
                    i += 1;
                }
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Output { parts })
    }

    /// The fields the template names.
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field(f) => Some(f),
            Part::Text(_) => None,
        })
    }

    /// Fills the template for one event.
    pub fn fill(&self, ctx: &Ctx<'_>, redactor: &Redactor) -> Filled {
        let mut text = String::new();
        let mut json = Vec::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => text.push_str(t),
                Part::Field(f) => {
                    let v = f.get(ctx);
                    let shown = shown(f, &v, ctx, redactor);
                    match &shown {
                        Some(bytes) => text.push_str(&escape_bytes(bytes)),
                        None => text.push_str("<NA>"),
                    }
                    let key = display_name(f);
                    if !json.iter().any(|(k, _)| *k == key) {
                        json.push((key, typed(&v, shown.as_deref())));
                    }
                }
            }
        }
        Filled { text, fields: json }
    }
}

/// `%tolower(proc.name)` keys as written; plain fields by name.
fn display_name(f: &Field) -> String {
    let mut s = f.text.clone();
    for t in f.transformers.iter().rev() {
        s = format!("{}({s})", transformer_name(*t));
    }
    s
}

fn transformer_name(t: Transformer) -> &'static str {
    match t {
        Transformer::ToLower => "tolower",
        Transformer::ToUpper => "toupper",
        Transformer::B64 => "b64",
        Transformer::Basename => "basename",
        Transformer::Len => "len",
    }
}

/// The bytes an output shows for a value; command lines and environments redacted.
fn shown(f: &Field, v: &Val<'_>, ctx: &Ctx<'_>, redactor: &Redactor) -> Option<Vec<u8>> {
    if v.is_none() {
        return None;
    }
    let raw = render_plain(v);
    if redactor.show_secrets {
        return Some(raw);
    }
    Some(fields::redacted(f, &raw, ctx, redactor).unwrap_or(raw))
}

fn typed(v: &Val<'_>, shown: Option<&[u8]>) -> serde_json::Value {
    match (v, shown) {
        (_, None) => serde_json::Value::Null,
        (Val::Num(n), _) => serde_json::Value::from(*n),
        (Val::Bool(b), _) => serde_json::Value::from(*b),
        (_, Some(bytes)) => serde_json::Value::from(escape_bytes(bytes)),
    }
}

/// Parses the reference after a `%` at `start`: the field and where it ends, `None` when the
/// `%` starts no reference (kept as text).
fn reference(t: &str, start: usize) -> Option<(Result<Field, String>, usize)> {
    let b = t.as_bytes();
    let name_end = |from: usize| {
        let mut j = from;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'.') {
            j += 1;
        }
        // A sentence may end right after a field: `file=%fd.name.`
        while j > from && b[j - 1] == b'.' {
            j -= 1;
        }
        j
    };
    let mut transformers = Vec::new();
    let mut i = start;
    loop {
        let j = name_end(i);
        if j == i {
            return None;
        }
        let word = &t[i..j];
        let tr = match word {
            "tolower" => Some(Transformer::ToLower),
            "toupper" => Some(Transformer::ToUpper),
            "b64" => Some(Transformer::B64),
            "basename" => Some(Transformer::Basename),
            "len" => Some(Transformer::Len),
            _ => None,
        };
        match tr {
            Some(tr) if b.get(j) == Some(&b'(') => {
                transformers.push(tr);
                i = j + 1;
            }
            _ => break,
        }
    }
    let j = name_end(i);
    let name = &t[i..j];
    let mut end = j;
    let mut arg = None;
    if b.get(j) == Some(&b'[') {
        let close = t[j..].find(']')? + j;
        arg = Some(&t[j + 1..close]);
        end = close + 1;
    }
    for _ in &transformers {
        if b.get(end) != Some(&b')') {
            return Some((
                Err(format!("unclosed transformer in output at '%{name}'")),
                end,
            ));
        }
        end += 1;
    }
    let mut text = name.to_string();
    if let Some(a) = arg {
        text = format!("{name}[{a}]");
    }
    Some((fields::resolve(name, arg, &transformers, text), end))
}
