//! Every macro and rule condition of the upstream Falco rules files parses after list
//! substitution. The files are test data in `../shared`, never copied into the project.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value as Yaml;

use super::{line_col, parse, substitute_lists};

const FILES: [&str; 3] = [
    "falco_rules.yaml",
    "falco-incubating_rules.yaml",
    "falco-sandbox_rules.yaml",
];

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/compat/falco-rules")
}

/// A YAML scalar as Falco reads it into a string (list items may be numbers, e.g. ports).
fn scalar(value: &Yaml) -> String {
    match value {
        Yaml::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Adds a file's lists, expanding items that name an earlier list as Falco's loader does.
fn add_lists(items: &[Yaml], lists: &mut HashMap<String, Vec<String>>) {
    for item in items {
        let Some(name) = item.get("list").and_then(Yaml::as_str) else {
            continue;
        };
        let mut expanded = Vec::new();
        for entry in item["items"].as_array().into_iter().flatten().map(scalar) {
            match lists.get(&entry) {
                Some(nested) => expanded.extend(nested.iter().cloned()),
                None => expanded.push(entry),
            }
        }
        lists.insert(name.to_string(), expanded);
    }
}

#[test]
fn upstream_conditions_parse() {
    let dir = rules_dir();
    if !dir.join(FILES[0]).exists() {
        let what = format!("the upstream Falco rules in {}", dir.display());
        let strict = std::env::var("RHF_STRICT").is_ok_and(|v| v == "1");
        assert!(
            !strict,
            "RHF_STRICT=1 and this test needs {what}, which is missing"
        );
        eprintln!(
            "SKIPPED: this test needs {what}, which is missing (RHF_STRICT=1 makes this a failure)"
        );
        return;
    }
    // Falco loads every file before it compiles conditions, and lists have no visibility order
    // with conditions: each condition sees the lists of all files (the last definition wins).
    let files: Vec<(&str, Vec<Yaml>)> = FILES
        .iter()
        .map(|file| {
            let yaml = std::fs::read_to_string(dir.join(file)).expect("readable rules file");
            (*file, serde_saphyr::from_str(&yaml).expect("valid YAML"))
        })
        .collect();
    let mut lists = HashMap::new();
    for (_, items) in &files {
        add_lists(items, &mut lists);
    }
    let mut failures = Vec::new();
    let mut parsed = 0;
    for (file, items) in &files {
        let before = parsed;
        for item in items {
            let Some(condition) = item.get("condition").and_then(Yaml::as_str) else {
                continue;
            };
            let name = item.get("rule").or_else(|| item.get("macro")).map(scalar);
            let substituted = substitute_lists(condition, |n| lists.get(n).map(Vec::as_slice));
            match parse(&substituted.text) {
                Ok(_) => parsed += 1,
                Err(e) => {
                    let (line, column) = line_col(condition, substituted.original_offset(e.offset));
                    failures.push(format!(
                        "{file}: {}: {line}:{column}: {}",
                        name.unwrap_or_default(),
                        e.message
                    ));
                }
            }
        }
        eprintln!("{file}: {} conditions parsed", parsed - before);
    }
    eprintln!(
        "{parsed} upstream conditions parsed, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(parsed > 400, "only {parsed} conditions found");
}
