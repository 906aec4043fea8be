//! `rhf-analyze rules`: Falco rules over a trace, alerts in Falco's text or JSON format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::clock::Clock;
use crate::rules::engine::{Alert, CompileOptions, Engine};
use crate::rules::load::{LoadError, Priority, RuleSet};

/// rhf's default rules, built in so the binary works anywhere.
pub const DEFAULT_RULES: &str = include_str!("../../../samples/rules/rhf_rules.yaml");
/// The name errors and `--list` give the built-in rules.
pub const DEFAULT_RULES_NAME: &str = "rhf_rules.yaml (built in)";

/// How to load the rules.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Files or directories in order; empty: the built-in defaults.
    pub paths: Vec<PathBuf>,
    pub min_priority: Option<Priority>,
    /// Name globs or `tag:NAME`, applied in order: enables first, then disables.
    pub enable: Vec<String>,
    pub disable: Vec<String>,
}

/// Loading failed: every error, each naming file, line and column.
#[derive(Debug)]
pub struct RulesError(pub Vec<LoadError>);

impl std::fmt::Display for RulesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RulesError {}

/// Loads, compiles and selects the rules.
pub fn load(opts: &LoadOptions) -> Result<Engine, RulesError> {
    let set = if opts.paths.is_empty() {
        let mut set = RuleSet::default();
        set.load_str(DEFAULT_RULES_NAME, DEFAULT_RULES)
            .map_err(|e| RulesError(e.0))?;
        set
    } else {
        RuleSet::load_paths(&opts.paths).map_err(|e| RulesError(e.0))?
    };
    let mut engine = Engine::compile(
        &set,
        &CompileOptions {
            min_priority: opts.min_priority,
        },
    )
    .map_err(RulesError)?;
    let selector_error = |s: &str, e: String| {
        RulesError(vec![LoadError {
            file: "command line".into(),
            line: 0,
            column: 0,
            item: Some(format!("selector '{s}'")),
            message: e,
        }])
    };
    for s in &opts.enable {
        engine
            .set_enabled(s, true)
            .map_err(|e| selector_error(s, e))?;
    }
    for s in &opts.disable {
        engine
            .set_enabled(s, false)
            .map_err(|e| selector_error(s, e))?;
    }
    Ok(engine)
}

/// `HH:MM:SS.nnnnnnnnn: Priority output`, as Falco prints an alert.
pub fn text_line(engine: &Engine, a: &Alert, clock: &Clock, iso: bool) -> String {
    let rule = &engine.rules[a.rule as usize];
    format!(
        "{}: {} {}",
        alert_time(clock, a.ts, iso),
        rule.priority.as_str(),
        a.output.text
    )
}

fn alert_time(clock: &Clock, ts: u64, iso: bool) -> String {
    let full = clock.iso(ts);
    if iso {
        return full;
    }
    full.get(11..full.len().saturating_sub(1))
        .map_or_else(|| full.clone(), str::to_string)
}

/// One alert in Falco's JSON output format.
pub fn json_alert(engine: &Engine, a: &Alert, clock: &Clock, hostname: &str) -> Value {
    let rule = &engine.rules[a.rule as usize];
    let mut fields: BTreeMap<String, Value> = a.output.fields.iter().cloned().collect();
    let unix = clock.unix_ns(a.ts);
    fields.insert(
        "evt.time".into(),
        i64::try_from(unix).map_or(Value::Null, Value::from),
    );
    json!({
        "time": clock.iso(a.ts),
        "rule": rule.name,
        "priority": rule.priority.as_str(),
        "source": rule.source,
        "hostname": hostname,
        "output": text_line(engine, a, clock, false),
        "tags": rule.tags,
        "output_fields": fields,
    })
}

/// `--list`: every loaded rule, its state and where it was defined.
pub fn list_text(engine: &Engine) -> String {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(["RULE", "PRIORITY", "STATE", "TYPES", "DEFINED AT", "TAGS"]);
    for r in &engine.rules {
        let types = match &r.types {
            None => "any".to_string(),
            Some(t) => t.iter().filter(|b| **b).count().to_string(),
        };
        table.add_row([
            crate::escape::escape_str(&r.name),
            r.priority.as_str().to_string(),
            if r.enabled { "enabled" } else { "disabled" }.to_string(),
            types,
            format!("{}:{}", r.origin.file, r.origin.line),
            r.tags.join(","),
        ]);
    }
    let mut out = table.trim_fmt();
    out.push('\n');
    for (name, why) in &engine.skipped {
        let _ = writeln!(out, "skipped: {}: {why}", crate::escape::escape_str(name));
    }
    out
}

/// `--list --json`.
pub fn list_json(engine: &Engine) -> Value {
    Value::Array(
        engine
            .rules
            .iter()
            .map(|r| {
                json!({
                    "rule": r.name,
                    "priority": r.priority.as_str(),
                    "enabled": r.enabled,
                    "source": r.source,
                    "tags": r.tags,
                    "file": &*r.origin.file,
                    "line": r.origin.line,
                    "any_event_type": r.types.is_none(),
                })
            })
            .collect(),
    )
}
