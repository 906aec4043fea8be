//! `rhf-analyze report`: each format pinned by an insta snapshot for the shipped samples, the
//! same bytes for any number of threads, alerts and counts equal to `rules` and `summary`,
//! escaping of hostile text, redaction, an HTML page that loads nothing, and a JSON schema
//! document that names every key.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rhf_analyzer::commands::rules::{self, LoadOptions, DEFAULT_RULES_NAME};
use rhf_analyzer::commands::summary;
use rhf_analyzer::redact::Redactor;
use rhf_analyzer::report::collect::Inputs;
use rhf_analyzer::report::model::{Limits, Report};
use rhf_analyzer::report::render::{render, Format};
use rhf_analyzer::report::scan::scan;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The sample traces and the rules each is reported with. pipeline.rhf gets two test rules on
/// top of the defaults (which find nothing in it), so its alert sections have content.
const CASES: &[(&str, &[&str])] = &[
    ("live-indicators", &[]),
    (
        "pipeline",
        &[
            "samples/rules/rhf_rules.yaml",
            "analyzer/tests/fixtures/report_rules.yaml",
        ],
    ),
];

fn engine(rules: &[&str]) -> rhf_analyzer::rules::engine::Engine {
    rules::load(&LoadOptions {
        paths: rules.iter().map(|r| root().join(r)).collect(),
        ..LoadOptions::default()
    })
    .expect("rules load")
}

/// The report of a sample, as the CLI builds it from the repository root (names relative to
/// it, so snapshots do not depend on where the checkout is).
fn report(sample: &str, rules: &[&str], show_secrets: bool, threads: usize) -> Report {
    let path = root().join(format!("samples/{sample}.rhf"));
    let reader = rhf_analyzer::trace::open(&path).expect("open sample");
    let engine = engine(rules);
    let name = format!("samples/{sample}.rhf");
    let inputs = Inputs {
        name: &name,
        engine: &engine,
        rules_files: if rules.is_empty() {
            vec![DEFAULT_RULES_NAME.to_string()]
        } else {
            rules.iter().map(|r| r.to_string()).collect()
        },
        redactor: Redactor::new(show_secrets),
        limits: Limits::default(),
    };
    rhf_analyzer::commands::report::build(&reader, &path, &inputs, Some(threads)).expect("report")
}

fn rendered(r: &Report, f: Format) -> String {
    render(r, f).expect("render")
}

#[test]
fn snapshots_pin_each_format_of_each_sample() {
    for (sample, rules) in CASES {
        let r = report(sample, rules, false, 2);
        let name = sample.replace('-', "_");
        insta::assert_snapshot!(format!("{name}_md"), rendered(&r, Format::Markdown));
        insta::assert_snapshot!(format!("{name}_html"), rendered(&r, Format::Html));
        insta::assert_snapshot!(format!("{name}_json"), rendered(&r, Format::Json));
    }
}

#[test]
fn reports_are_byte_identical_for_any_number_of_threads() {
    for (sample, rules) in CASES {
        let one = report(sample, rules, false, 1);
        for threads in [2, 3] {
            let other = report(sample, rules, false, threads);
            for f in [Format::Markdown, Format::Html, Format::Json] {
                assert_eq!(
                    rendered(&one, f),
                    rendered(&other, f),
                    "{sample} {f:?} with {threads} threads"
                );
            }
        }
    }
}

#[test]
fn alerts_are_those_rules_prints_and_counts_those_summary_prints() {
    for (sample, rules) in CASES {
        let path = root().join(format!("samples/{sample}.rhf"));
        let reader = rhf_analyzer::trace::open(&path).unwrap();
        let engine = engine(rules);
        let redactor = Redactor::new(false);
        let ours = scan(&reader, &engine, &redactor);
        let theirs = engine.evaluate(&reader, &redactor);
        let key = |a: &rhf_analyzer::rules::engine::Alert| {
            (a.ts, a.num, a.rule, a.pid, a.tid, a.output.text.clone())
        };
        assert_eq!(
            ours.alerts
                .iter()
                .map(|a| key(&a.alert))
                .collect::<Vec<_>>(),
            theirs.alerts.iter().map(key).collect::<Vec<_>>(),
            "{sample}"
        );
        assert_eq!(ours.events, theirs.events);
        let opts = summary::Options {
            sort: rhf_analyzer::render::count::SortBy::Nothing,
            columns: rhf_analyzer::render::count::DEFAULT_COLUMNS.to_vec(),
            per_process: false,
            filter: Default::default(),
        };
        let tables = summary::tables(&summary::collect(&reader, &opts), &opts);
        let mut expected: Vec<(String, u64, u64, u128)> = tables
            .iter()
            .flat_map(|t| &t.rows)
            .map(|r| {
                (
                    r.name.to_string(),
                    r.stats.calls,
                    r.stats.errors,
                    r.stats.total_ns,
                )
            })
            .collect();
        let mut got: Vec<(String, u64, u64, u128)> = ours
            .syscalls
            .iter()
            .map(|(&(slot, index), s)| {
                let abi = rhf_analyzer::render::calls::abi_of_slot(slot);
                let nr = rhf_analyzer::render::calls::number_of_slot(abi, index);
                (
                    rhf_analyzer::render::calls::syscall_name(abi, nr).to_string(),
                    s.calls,
                    s.errors,
                    s.total_ns,
                )
            })
            .collect();
        expected.sort();
        got.sort();
        assert_eq!(got, expected, "{sample}");
    }
}

/// The `src`/`href` values of every tag, and whether the page has other ways to load.
fn external_references(html: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let lower = html.to_ascii_lowercase();
    for forbidden in [
        "<link", "@import", "<script", "<iframe", "<object", "<embed",
    ] {
        if lower.contains(forbidden) {
            bad.push(forbidden.to_string());
        }
    }
    let mut rest = lower.as_str();
    while let Some(i) = rest.find("url(") {
        let after = rest[i + 4..].trim_start_matches(['"', '\'', ' ']);
        if !after.starts_with("data:") {
            bad.push(format!("url({}", &after[..after.len().min(40)]));
        }
        rest = &rest[i + 4..];
    }
    // Attributes live inside tags; node text is escaped, so every `<` opens a real tag.
    for tag in lower.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or("");
        for attr in [
            "src=",
            "href=",
            "srcset=",
            "action=",
            "xlink:href=",
            "poster=",
        ] {
            let mut t = tag;
            while let Some(i) = t.find(attr) {
                let boundary = i == 0 || t.as_bytes()[i - 1].is_ascii_whitespace();
                let value = t[i + attr.len()..]
                    .trim_start_matches(['"', '\''])
                    .split(['"', '\'', ' '])
                    .next()
                    .unwrap_or("");
                if boundary
                    && (value.contains("http:")
                        || value.contains("https:")
                        || value.contains("//")
                        || !(value.starts_with('#') || value.starts_with("data:")))
                {
                    bad.push(format!("{attr}{value}"));
                }
                t = &t[i + attr.len()..];
            }
        }
    }
    bad
}

#[test]
fn the_html_report_references_nothing_external() {
    for (sample, rules) in CASES {
        for show in [false, true] {
            let html = rendered(&report(sample, rules, show, 2), Format::Html);
            assert_eq!(external_references(&html), Vec::<String>::new(), "{sample}");
            assert!(html.contains("Content-Security-Policy"));
            assert!(
                html.contains("<svg class=\"lifetimes\""),
                "{sample}: timeline"
            );
        }
    }
    // The check itself sees what it is meant to see.
    for page in [
        "<img src=\"https://x/y.png\">",
        "<a href='//evil/x'>",
        "<link rel=stylesheet href=a.css>",
        "<style>@import 'x.css';</style>",
        "<div style=\"background:url(http://x)\">",
        "<img src=x.png>",
    ] {
        assert!(!external_references(page).is_empty(), "{page}");
    }
    assert!(external_references("<a href=\"#alerts\">x</a> http://example.com in text").is_empty());
}

#[test]
fn secrets_are_redacted_unless_asked_and_the_report_says_which() {
    let secret = "rhf-planted-cmdline-secret-9d2e";
    let env_secret = "rhf-planted-env-secret-5b1c";
    for show in [false, true] {
        let r = report("live-indicators", &[], show, 2);
        for f in [Format::Markdown, Format::Html, Format::Json] {
            let text = rendered(&r, f);
            assert_eq!(text.contains(secret), show, "{f:?} show={show}");
            assert_eq!(text.contains(env_secret), show, "{f:?}: environment values");
            let said = match (f, show) {
                (Format::Markdown, true) => "Secrets shown: **yes**",
                (Format::Markdown, false) => "Secrets shown: **no**",
                (Format::Html, true) => "secrets shown: yes",
                (Format::Html, false) => "secrets shown: no",
                (Format::Json, true) => "\"secrets_shown\": true",
                (Format::Json, false) => "\"secrets_shown\": false",
            };
            assert!(text.contains(said), "{f:?}: {said}");
        }
    }
}

#[test]
fn node_text_is_escaped_in_every_format() {
    let mut r = report("pipeline", CASES[1].1, false, 1);
    let hostile = "<script>alert(1)</script> a|b *x* _y_ [l](http://e) \u{1b}[31m\n\u{202e}";
    r.processes.tree[0].name = hostile.to_string();
    r.processes.tree[0].command = hostile.to_string();
    r.files.top[0].path = hostile.to_string();
    let g = &mut r.alerts[0].alerts[0];
    g.output = hostile.to_string();
    g.evidence.text = hostile.to_string();

    let md = rendered(&r, Format::Markdown);
    assert!(!md.contains("<script>"), "no raw HTML in Markdown");
    assert!(
        !md.contains('\u{1b}') && !md.contains('\u{202e}'),
        "controls escaped"
    );
    assert!(md.contains("\\<script\\>alert(1)\\</script\\> a\\|b \\*x\\* \\_y\\_ \\[l\\](http://e) \\\\e\\[31m\\\\n\\\\u\\{202e\\}"));
    for line in md
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("script"))
    {
        // A table row keeps its column count: the hostile pipe is escaped.
        let cells = line.replace("\\|", "").matches('|').count();
        assert!(cells >= 3, "{line}");
    }

    let html = rendered(&r, Format::Html);
    assert!(!html.contains("<script"), "no script element");
    assert!(!html.contains('\u{1b}') && !html.contains('\u{202e}'));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; a|b"),
        "in the SVG too"
    );
    assert_eq!(external_references(&html), Vec::<String>::new());

    let json = rendered(&r, Format::Json);
    assert!(!json.contains('\u{1b}'));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["processes"]["tree"][0]["name"], hostile);
}

/// Every key path of a JSON value: `trace.capture.started`, `alerts[].alerts[].rule`.
fn key_paths(v: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                key_paths(v, &p, out);
            }
        }
        serde_json::Value::Array(a) => {
            for v in a {
                key_paths(v, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_schema_document_names_every_json_key() {
    let doc = std::fs::read_to_string(root().join("docs/report-schema.md")).unwrap();
    let mut keys = BTreeSet::new();
    for (sample, rules) in CASES {
        let json = rendered(&report(sample, rules, false, 2), Format::Json);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        key_paths(&v, "", &mut keys);
    }
    // Free-form maps: their keys are data, documented as the map itself.
    let maps = ["trace.records.", "alerts[].alerts[].fields[].value."];
    // A child is a process node like its parent: documented once, under `processes.tree[]`.
    let keys: BTreeSet<String> = keys
        .into_iter()
        .map(|k| k.replace("children[].", ""))
        .collect();
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !maps.iter().any(|m| k.starts_with(m)))
        .filter(|k| !doc.contains(&format!("`{k}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "keys not in docs/report-schema.md: {missing:?}"
    );
    assert!(doc.contains(&format!(
        "schema_version` | string | `\"{}\"`",
        rhf_analyzer::report::model::SCHEMA_VERSION
    )));
}
