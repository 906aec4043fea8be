//! The three renderings of a report: JSON (the model as is), Markdown and HTML (minijinja
//! templates in `analyzer/templates/`, built into the binary).
//!
//! Escaping is done by the template environment, not by template authors remembering to:
//! every `{{ value }}` goes through a formatter that escapes control characters (the model's
//! text is escaped already; this is the second line of defence), then, in HTML, through
//! minijinja's auto-escaping (on by the template's `.html.jinja` name). Markdown text goes
//! through the `md` filter, which also neutralises Markdown's own syntax (`|` would end a
//! table cell, `*` or `_` start emphasis, `<` start inline HTML).

use std::fmt::Write as _;

use minijinja::value::{Serde, Value};
use minijinja::{AutoEscape, Environment, Error, ErrorKind};

use super::model::Report;
use super::svg;

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
    Json,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "md" | "markdown" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            "json" => Ok(Format::Json),
            other => Err(format!(
                "unknown format '{other}' (expected md, html or json)"
            )),
        }
    }
}

const MD_TEMPLATE: &str = include_str!("../../templates/report.md.jinja");
const HTML_TEMPLATE: &str = include_str!("../../templates/report.html.jinja");
const MD_NAME: &str = "report.md.jinja";
const HTML_NAME: &str = "report.html.jinja";

/// Renders `report` as `format`; the text ends with a newline.
pub fn render(report: &Report, format: Format) -> Result<String, Error> {
    match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(report)
                .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
            s.push('\n');
            Ok(s)
        }
        Format::Markdown => template(MD_NAME, Value::from(Serde(report)), Value::UNDEFINED),
        Format::Html => {
            let timeline = Value::from_safe_string(svg::lifetimes(report));
            template(HTML_NAME, Value::from(Serde(report)), timeline)
        }
    }
}

fn template(name: &str, report: Value, timeline_svg: Value) -> Result<String, Error> {
    let env = environment()?;
    let mut out = env.get_template(name)?.render(minijinja::context! {
        report => report,
        timeline_svg => timeline_svg,
    })?;
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// The template environment: both templates, the filters, and the escaping formatter.
fn environment() -> Result<Environment<'static>, Error> {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()?,
    );
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // HTML auto-escaping for `*.html.jinja` (minijinja's default callback strips `.jinja`).
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html.jinja") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(|out, state, value| {
        if value.is_safe() {
            return minijinja::escape_formatter(out, state, value);
        }
        match value.as_str() {
            Some(s) => minijinja::escape_formatter(out, state, &Value::from(controls(s))),
            None => minijinja::escape_formatter(out, state, value),
        }
    });
    env.add_filter("md", md);
    env.add_filter("seconds", seconds);
    env.add_filter("pct", pct);
    env.add_filter("plural", plural);
    env.add_template(MD_NAME, MD_TEMPLATE)?;
    env.add_template(HTML_NAME, HTML_TEMPLATE)?;
    Ok(env)
}

/// Control characters and bidi overrides as `crate::escape` writes them (`\n`, `\e`,
/// `\u{202e}`); everything else, backslashes included, unchanged, so text the model already
/// escaped is not escaped twice.
pub fn controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut buf = [0u8; 4];
    for c in s.chars() {
        if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.push_str(&crate::escape::escape_str(c.encode_utf8(&mut buf)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Markdown-safe text for a table cell or a line of prose: control characters escaped, then
/// a backslash before every character Markdown (GitHub's, GitLab's, Jira's) could read as
/// syntax, so node text shows as written and cannot add links, images, HTML or table cells.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in controls(s).chars() {
        if matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '{'
                | '}'
                | '['
                | ']'
                | '<'
                | '>'
                | '#'
                | '|'
                | '~'
                | '&'
                | '$'
                | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn md(value: Value) -> String {
    match value.as_str() {
        Some(s) => md_escape(s),
        None if value.is_none() || value.is_undefined() => String::new(),
        None => md_escape(&value.to_string()),
    }
}

/// Nanoseconds as seconds with 6 decimals: `0.016537`.
fn seconds(ns: Value) -> Result<String, Error> {
    let ns = u64::try_from(ns)?;
    Ok(format!(
        "{}.{:06}",
        ns / 1_000_000_000,
        (ns % 1_000_000_000) / 1000
    ))
}

/// `part` as a percentage of `whole`, two decimals.
fn pct(part: Value, whole: Value) -> Result<String, Error> {
    let (part, whole) = (u64::try_from(part)?, u64::try_from(whole)?);
    if whole == 0 {
        return Ok("0.00".into());
    }
    let hundredths = (u128::from(part) * 10_000 + u128::from(whole) / 2) / u128::from(whole);
    let mut s = String::new();
    let _ = write!(s, "{}.{:02}", hundredths / 100, hundredths % 100);
    Ok(s)
}

/// `1 alert`, `2 alerts`: `{{ n|plural("alert") }}`; `{{ n|plural("process", "processes") }}`.
fn plural(n: Value, word: String, plural: Option<String>) -> Result<String, Error> {
    let n = u64::try_from(n)?;
    Ok(match (n, plural) {
        (1, _) => format!("1 {word}"),
        (n, Some(p)) => format!("{n} {p}"),
        (n, None) => format!("{n} {word}s"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escaping_neutralises_syntax_and_controls() {
        assert_eq!(md_escape("a|b"), "a\\|b");
        assert_eq!(md_escape("/x/__init__.py"), "/x/\\_\\_init\\_\\_.py");
        assert_eq!(md_escape("<img src=x>"), "\\<img src=x\\>");
        assert_eq!(md_escape("[x](http://e)"), "\\[x\\](http://e)");
        assert_eq!(md_escape("a\x1bb\nc"), "a\\\\eb\\\\nc");
        assert_eq!(md_escape("back\\\\slash"), "back\\\\\\\\slash");
        assert_eq!(md_escape("plain text, 1.5"), "plain text, 1.5");
    }

    #[test]
    fn control_escaping_keeps_escaped_text_as_is() {
        assert_eq!(controls("a\\nb"), "a\\nb");
        assert_eq!(controls("a\nb\u{202e}"), "a\\nb\\u{202e}");
    }

    #[test]
    fn number_filters() {
        assert_eq!(seconds(Value::from(16_537_499u64)).unwrap(), "0.016537");
        assert_eq!(pct(Value::from(1u64), Value::from(3u64)).unwrap(), "33.33");
        assert_eq!(pct(Value::from(0u64), Value::from(0u64)).unwrap(), "0.00");
    }
}
