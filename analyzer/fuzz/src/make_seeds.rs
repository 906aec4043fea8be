//! Writes the seed corpora of the rules-engine fuzz targets:
//! `cargo run --release --bin make-seeds -- CORPUS_DIR RULES_DIR...` (see seed.sh).
//!
//! For every `*.yaml` file of the RULES_DIRs (sorted by name):
//! - the whole file goes to `CORPUS_DIR/load_rules/<dir>-<file>`;
//! - the `condition:` of every item (macros, rules, appends, overrides) goes to
//!   `CORPUS_DIR/parse_condition/<file stem>-<kind>-<n>`, duplicates skipped.
//!
//! The upstream files are read at run time and never copied into the repository: the corpus
//! directories are gitignored.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let corpus = PathBuf::from(
        args.next()
            .ok_or("usage: make-seeds CORPUS_DIR RULES_DIR...")?,
    );
    let rules_dirs: Vec<PathBuf> = args.map(PathBuf::from).collect();
    if rules_dirs.is_empty() {
        return Err("usage: make-seeds CORPUS_DIR RULES_DIR...".into());
    }
    let conditions_dir = corpus.join("parse_condition");
    let files_dir = corpus.join("load_rules");
    fs::create_dir_all(&conditions_dir)?;
    fs::create_dir_all(&files_dir)?;

    let mut seen = HashSet::new();
    let (mut files, mut conditions) = (0, 0);
    for dir in &rules_dirs {
        let mut paths: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        paths.sort();
        let dir_name = name_of(dir);
        for path in paths {
            let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            fs::write(
                files_dir.join(format!("{dir_name}-{}", name_of(&path))),
                &text,
            )?;
            files += 1;
            let stem = path
                .file_stem()
                .map_or("rules".into(), |s| s.to_string_lossy());
            let items: Vec<Value> = match serde_saphyr::from_str(&text) {
                Ok(Value::Array(items)) => items,
                Ok(_) => Vec::new(),
                Err(e) => {
                    eprintln!("{}: not read for conditions: {e}", path.display());
                    continue;
                }
            };
            for (n, item) in items.iter().enumerate() {
                let Some(condition) = item.get("condition").and_then(Value::as_str) else {
                    continue;
                };
                if !seen.insert(condition.to_string()) {
                    continue;
                }
                let kind = ["macro", "rule", "list"]
                    .into_iter()
                    .find(|k| item.get(k).is_some())
                    .unwrap_or("item");
                let file = conditions_dir.join(format!("{stem}-{kind}-{n:04}"));
                fs::write(file, condition)?;
                conditions += 1;
            }
        }
    }
    println!(
        "wrote {files} rules files to {} and {conditions} conditions to {}",
        files_dir.display(),
        conditions_dir.display()
    );
    Ok(())
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| "rules".into(), |n| n.to_string_lossy().into_owned())
}
