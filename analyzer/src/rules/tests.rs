//! The engine as a whole: upstream Falco files compile with every field known; errors in
//! conditions point at the file, line and column.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::engine::{CompileOptions, Engine};
use super::fields::Fid;
use super::load::RuleSet;

const UPSTREAM: [&str; 3] = [
    "falco_rules.yaml",
    "falco-incubating_rules.yaml",
    "falco-sandbox_rules.yaml",
];

/// The upstream rules directory, or `None` (a loud skip; a failure under `RHF_STRICT=1`).
fn upstream_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/compat/falco-rules");
    if dir.join(UPSTREAM[0]).is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("RHF_STRICT").as_deref() != Ok("1"),
        "RHF_STRICT=1 and the upstream rules are missing from {}",
        dir.display()
    );
    eprintln!(
        "SKIPPED: the upstream rules are missing from {}",
        dir.display()
    );
    None
}

fn compile_files(dir: &std::path::Path, files: &[&str]) -> Engine {
    let paths: Vec<PathBuf> = files.iter().map(|f| dir.join(f)).collect();
    let set = RuleSet::load_paths(&paths).unwrap_or_else(|e| panic!("{e}"));
    Engine::compile(&set, &CompileOptions::default()).unwrap_or_else(|e| {
        panic!(
            "{}",
            e.iter().map(|e| e.to_string() + "\n").collect::<String>()
        )
    })
}

#[test]
fn upstream_stable_rules_compile_with_every_field_known() {
    let Some(dir) = upstream_dir() else { return };
    let engine = compile_files(&dir, &UPSTREAM[..1]);
    assert_eq!(engine.rules.len(), 25);
    assert!(engine.skipped.is_empty(), "{:?}", engine.skipped);
    // Falco indexes every stable rule by event type; so must we, or each would meet every event.
    let untyped: Vec<&str> = engine.untyped_rules().map(|r| r.name.as_str()).collect();
    assert!(untyped.is_empty(), "{untyped:?}");
    for name in [
        "Read sensitive file untrusted",
        "Directory traversal monitored file read",
        "Run shell untrusted",
        "PTRACE attached to process",
        "Fileless execution via memfd_create",
    ] {
        assert!(engine.rules.iter().any(|r| r.name == name), "{name}");
    }
}

#[test]
fn upstream_incubating_and_sandbox_rules_compile() {
    let Some(dir) = upstream_dir() else { return };
    let engine = compile_files(&dir, &UPSTREAM);
    let loaded = engine.rules.len();
    eprintln!(
        "upstream stable + incubating + sandbox: {loaded} rules compiled, {} skipped",
        engine.skipped.len()
    );
    assert_eq!(loaded, 25 + 31 + 37);
    // Fields the language knows but a trace never holds (runtime and Kubernetes metadata):
    // they load, and have no value.
    let mut unrecorded = BTreeSet::new();
    for r in &engine.rules {
        for f in r.output.fields() {
            if matches!(f.def.id, Fid::ContainerMeta | Fid::K8sMeta) {
                unrecorded.insert(f.def.name);
            }
        }
    }
    eprintln!("fields without recorded values in these outputs: {unrecorded:?}");
}

fn compile_errors(yaml: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, yaml).unwrap();
    let set = RuleSet::load_paths(std::slice::from_ref(&path)).unwrap();
    match Engine::compile(&set, &CompileOptions::default()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .iter()
            .map(|e| {
                e.to_string()
                    .replace(&*path.to_string_lossy(), "rules.yaml")
            })
            .collect(),
    }
}

#[test]
fn condition_errors_name_file_line_and_column() {
    // A one-line condition: the column is the offending token's.
    let errors = compile_errors(
        "- rule: one line\n  desc: d\n  condition: evt.type = open and proc.nme = x\n  output: o\n  priority: INFO\n",
    );
    assert_eq!(
        errors,
        ["rules.yaml:3:34: rule 'one line': unknown field 'proc.nme'"]
    );
    // A folded condition: the error is found on its own line of the file.
    let errors = compile_errors(concat!(
        "- macro: opened\n",
        "  condition: evt.type in (open, openat)\n",
        "- rule: folded\n",
        "  desc: d\n",
        "  condition: >\n",
        "    opened\n",
        "    and fd.name startswith /etc\n",
        "    and user.uid = root\n",
        "  output: o\n",
        "  priority: INFO\n",
    ));
    assert_eq!(
        errors,
        ["rules.yaml:8:20: rule 'folded': 'user.uid' is numeric; 'root' is not a number"]
    );
    // An error inside a macro points into the macro, saying which rule used it.
    let errors = compile_errors(concat!(
        "- macro: broken\n",
        "  condition: fd.name startswith (/etc\n",
        "- rule: user\n",
        "  desc: d\n",
        "  condition: evt.type = open and broken\n",
        "  output: o\n",
        "  priority: INFO\n",
    ));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("rules.yaml:2:")
            && errors[0].contains("macro 'broken' (used by rule 'user')"),
        "{errors:?}"
    );
    // Undefined macros, and unknown fields in outputs.
    let errors = compile_errors(concat!(
        "- rule: a\n  desc: d\n  condition: nosuch_macro\n  output: o\n  priority: INFO\n",
        "- rule: b\n  desc: d\n  condition: evt.type = open\n  output: \"%proc.nosuch\"\n  priority: INFO\n",
    ));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("rules.yaml:3:14: rule 'a': undefined macro 'nosuch_macro'"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("rule 'b': output: unknown field 'proc.nosuch'"),
        "{errors:?}"
    );
}

#[test]
fn skip_if_unknown_filter_skips_instead_of_failing() {
    let errors = compile_errors(
        "- rule: future\n  desc: d\n  condition: evt.type = open and k8s.future.field = x\n  output: o\n  priority: INFO\n  skip-if-unknown-filter: true\n",
    );
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn macros_that_refer_to_themselves_are_an_error() {
    let errors = compile_errors(concat!(
        "- macro: a\n  condition: b\n",
        "- macro: b\n  condition: a\n",
        "- rule: r\n  desc: d\n  condition: evt.type = open and a\n  output: o\n  priority: INFO\n",
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("refers to itself: a -> b -> a"),
        "{errors:?}"
    );
}

/// `count` items `prefix{i}` whose conditions each name the next one twice.
fn doubling(kind: &str, count: usize) -> String {
    let mut y = String::new();
    for i in (0..count).rev() {
        if i + 1 == count {
            match kind {
                "macro" => y.push_str(&format!("- macro: m{i}\n  condition: proc.name = x\n")),
                _ => y.push_str(&format!("- list: l{i}\n  items: [x]\n")),
            }
        } else {
            match kind {
                "macro" => y.push_str(&format!(
                    "- macro: m{i}\n  condition: m{n} and m{n}\n",
                    n = i + 1
                )),
                _ => y.push_str(&format!("- list: l{i}\n  items: [l{n}, l{n}]\n", n = i + 1)),
            }
        }
    }
    y
}

#[test]
fn exponential_macros_are_refused_quickly() {
    let mut y = doubling("macro", 40);
    y.push_str("- rule: r\n  desc: d\n  condition: evt.type = open and m0\n  output: o\n  priority: INFO\n");
    let started = std::time::Instant::now();
    let errors = compile_errors(&y);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("too many tests"), "{errors:?}");
    assert!(started.elapsed().as_secs() < 20);
}

#[test]
fn exponential_lists_are_refused_quickly() {
    let mut y = doubling("list", 40);
    y.push_str(
        "- rule: r\n  desc: d\n  condition: proc.name in (l0)\n  output: o\n  priority: INFO\n",
    );
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, &y).unwrap();
    // The loader refuses the lists, or the compiler refuses the condition: either way an error.
    let refused = match RuleSet::load_paths(std::slice::from_ref(&path)) {
        Err(_) => true,
        Ok(set) => Engine::compile(&set, &CompileOptions::default()).is_err(),
    };
    assert!(refused);
    assert!(started.elapsed().as_secs() < 20);
}

#[test]
fn nesting_through_macros_is_bounded() {
    // Each macro nests 200 `not`s and names the next: 64 macros would recurse 12,800 levels.
    let nots = "not ".repeat(200);
    let mut y = String::from("- macro: m63\n  condition: proc.name = x\n");
    for i in (0..63).rev() {
        y.push_str(&format!("- macro: m{i}\n  condition: {nots}m{}\n", i + 1));
    }
    y.push_str("- rule: r\n  desc: d\n  condition: evt.type = open and m0\n  output: o\n  priority: INFO\n");
    // Run on a small stack, as a worker thread would: the limit must hold there too.
    let errors = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || compile_errors(&y))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("levels deep"), "{errors:?}");
}

#[test]
fn empty_lists_naming_each_other_are_refused_quickly() {
    // No item ever comes out, but the names visited grow as 2^40.
    let mut y = String::from("- list: l40\n  items: []\n");
    for i in (0..40).rev() {
        y.push_str(&format!("- list: l{i}\n  items: [l{n}, l{n}]\n", n = i + 1));
    }
    y.push_str(
        "- rule: r\n  desc: d\n  condition: proc.name in (x, l0)\n  output: o\n  priority: INFO\n",
    );
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, &y).unwrap();
    if let Ok(set) = RuleSet::load_paths(std::slice::from_ref(&path)) {
        let _ = Engine::compile(&set, &CompileOptions::default());
    }
    assert!(started.elapsed().as_secs() < 20);
}
