//! `rhf-analyze timeline` end to end on the shipped samples: the text story, the JSONL and
//! CSV columns timeline tools ingest, scoping by process and time, redaction, and output that
//! does not depend on the number of threads.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use rhf::{analyze, have_tool, require, sample};
use serde_json::Value;

const PIPELINE: &str = "pipeline.rhf";
const LIVE: &str = "live-indicators.rhf";

/// The documented JSONL columns before an entry's own fields, with their JSON types.
const COLUMNS: [(&str, &str); 13] = [
    ("message", "string"),
    ("datetime", "string"),
    ("timestamp", "integer"),
    ("timestamp_desc", "string"),
    ("kind", "string"),
    ("pid", "integer"),
    ("tid", "integer"),
    ("process", "string"),
    ("event_num", "integer"),
    ("count", "integer"),
    ("bytes", "integer"),
    ("last_datetime", "string"),
    ("last_timestamp", "integer"),
];

const CSV_HEADER: [&str; 12] = [
    "message",
    "datetime",
    "timestamp",
    "timestamp_desc",
    "kind",
    "pid",
    "tid",
    "process",
    "event_num",
    "count",
    "bytes",
    "details",
];

fn timeline(file: &str, args: &[&str]) -> Output {
    analyze()
        .arg("timeline")
        .arg(sample(file))
        .args(args)
        .output()
        .expect("run rhf-analyze timeline")
}

/// stdout of a successful run.
fn stdout(file: &str, args: &[&str]) -> String {
    let out = timeline(file, args);
    assert!(
        out.status.success(),
        "timeline {file} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn jsonl(file: &str, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--format", "jsonl"];
    all.extend_from_slice(args);
    stdout(file, &all)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Unix ns of the capture start, from the header.
fn capture_start_unix_ns(file: &str) -> u64 {
    let reader = rhf_format::TraceReader::open(sample(file)).expect("open sample");
    reader.header().capture.start_realtime_ns
}

fn is_iso_micros(s: &str) -> bool {
    // 2026-11-28T21:15:16.690866Z
    let b = s.as_bytes();
    b.len() == 27
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && b[26] == b'Z'
        && b[20..26].iter().all(u8::is_ascii_digit)
}

#[test]
fn text_tells_the_pipeline_story() {
    let text = stdout(PIPELINE, &[]);
    for want in [
        "exec /usr/bin/sh -c 'grep -c root /etc/passwd",
        "exec /usr/bin/grep -c root /etc/passwd",
        "exec /usr/bin/tr 0-9 a-j",
        "exec /usr/bin/sort /etc/hostname",
        "exec /usr/bin/head -1",
        "open /etc/passwd (read) as fd 3",
        "exit 0",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    // The shell's four children start, each with its parent.
    let starts: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("  start, parent "))
        .collect();
    assert_eq!(starts.len(), 4, "{text}");
    assert!(starts.iter().all(|l| l.contains("(sh)")), "{starts:?}");
    // Every line: time, process, message; no control characters.
    for line in text.lines() {
        assert!(is_iso_micros(&line[..27]), "{line}");
        assert!(line[27..].starts_with("  pid "), "{line}");
        assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
    }
    // A collapsed run says how many, how much, over how long.
    assert!(
        text.lines()
            .any(|l| l.contains("read fd 3 /lib/x86_64-linux-gnu/libc.so.6 ×3, 2400 bytes, over")),
        "{text}"
    );
}

#[test]
fn jsonl_lines_carry_the_documented_columns() {
    for file in [PIPELINE, LIVE] {
        let lines = jsonl(file, &[]);
        assert!(!lines.is_empty(), "{file}");
        let mut last = (i64::MIN, 0);
        for v in &lines {
            let obj = v.as_object().expect("an object per line");
            for (name, ty) in COLUMNS {
                let value = &obj[name];
                let ok = match ty {
                    "string" => value.is_string(),
                    _ => value.is_i64() || value.is_u64(),
                };
                assert!(ok, "{file}: {name} is not a {ty} in {v}");
            }
            let dt = obj["datetime"].as_str().unwrap();
            assert!(is_iso_micros(dt), "{dt}");
            let ts = obj["timestamp"].as_i64().unwrap();
            assert_eq!(
                &dt[20..26],
                format!("{:06}", ts.rem_euclid(1_000_000)),
                "datetime and timestamp agree: {v}"
            );
            assert!(obj["last_timestamp"].as_i64().unwrap() >= ts);
            assert!(obj["count"].as_u64().unwrap() >= 1);
            // Chronological: time, then event number.
            let key = (ts, obj["event_num"].as_u64().unwrap());
            assert!(key >= last, "{file}: out of order at {v}");
            last = key;
        }
        let kinds: BTreeSet<&str> = lines.iter().map(|v| v["kind"].as_str().unwrap()).collect();
        if file == PIPELINE {
            for k in [
                "exec",
                "process_start",
                "exit",
                "file_open",
                "file_read",
                "file_write",
            ] {
                assert!(kinds.contains(k), "{k} missing: {kinds:?}");
            }
        } else {
            assert!(
                kinds.contains("snapshot") && kinds.contains("alert"),
                "{kinds:?}"
            );
        }
    }
}

#[test]
fn csv_parses_with_its_header() {
    if !require(
        have_tool("python3"),
        "python3 (its csv module parses the output)",
    ) {
        return;
    }
    for file in [PIPELINE, LIVE] {
        let csv = stdout(file, &["--format", "csv"]);
        // Python's csv module, as an independent RFC 4180 reader: rows as a JSON array.
        let mut child = Command::new("python3")
            .args([
                "-c",
                "import csv, json, sys; print(json.dumps(list(csv.reader(sys.stdin))))",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run python3");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(csv.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let rows: Vec<Vec<String>> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rows[0], CSV_HEADER, "{file}");
        let lines = jsonl(file, &[]);
        assert_eq!(rows.len() - 1, lines.len(), "{file}: one row per entry");
        for (row, v) in rows[1..].iter().zip(&lines) {
            assert_eq!(row.len(), CSV_HEADER.len(), "{row:?}");
            assert_eq!(row[0], v["message"].as_str().unwrap());
            assert_eq!(row[1], v["datetime"].as_str().unwrap());
            assert_eq!(row[2], v["timestamp"].to_string());
            assert_eq!(row[4], v["kind"].as_str().unwrap());
            assert_eq!(row[7], v["process"].as_str().unwrap());
            let details: Value = serde_json::from_str(&row[11]).expect("details is JSON");
            for (k, dv) in details.as_object().unwrap() {
                if !k.starts_with("last_") {
                    assert_eq!(&v[k], dv, "{k}");
                }
            }
        }
    }
}

#[test]
fn pid_subtree_and_time_scope() {
    let all = jsonl(PIPELINE, &["--no-alerts"]);
    let pid_of = |exe: &str| {
        all.iter()
            .find(|v| v["kind"] == "exec" && v["path"] == exe)
            .and_then(|v| v["pid"].as_u64())
            .unwrap_or_else(|| panic!("no exec of {exe}"))
    };
    let (sh, grep) = (pid_of("/usr/bin/sh"), pid_of("/usr/bin/grep"));
    let pids = |lines: &[Value]| -> BTreeSet<u64> {
        lines.iter().map(|v| v["pid"].as_u64().unwrap()).collect()
    };

    let tree = jsonl(PIPELINE, &["--pid", &sh.to_string(), "--subtree"]);
    assert_eq!(
        pids(&tree),
        pids(&all),
        "every process descends from the shell"
    );
    assert_eq!(tree.len(), all.len());

    let own = jsonl(PIPELINE, &["--pid", &grep.to_string()]);
    assert_eq!(pids(&own), BTreeSet::from([grep]));
    assert!(own.iter().any(|v| v["kind"] == "exec"));
    assert!(own.len() < all.len());

    // The shell alone: its own events and the starts of its children.
    let shell = jsonl(PIPELINE, &["--pid", &sh.to_string()]);
    assert!(shell
        .iter()
        .all(|v| v["pid"] == sh || (v["kind"] == "process_start" && v["ppid"] == sh)));
    assert_eq!(
        shell
            .iter()
            .filter(|v| v["kind"] == "process_start")
            .count(),
        4
    );

    let start_us = (capture_start_unix_ns(PIPELINE) / 1000) as i64;
    let later = jsonl(PIPELINE, &["--from", "+0.01s"]);
    assert!(!later.is_empty() && later.len() < all.len());
    assert!(later
        .iter()
        .all(|v| v["timestamp"].as_i64().unwrap() >= start_us + 10_000));
    let dropped = all
        .iter()
        .filter(|v| v["timestamp"].as_i64().unwrap() < start_us + 10_000)
        .count();
    assert_eq!(later.len() + dropped, all.len());

    // --to with an absolute time: everything up to the first exec's own time.
    let first = all[0]["datetime"].as_str().unwrap();
    let upto = jsonl(PIPELINE, &["--to", first]);
    assert!(upto
        .iter()
        .all(|v| v["datetime"].as_str().unwrap() <= first));
    assert!(!upto.is_empty());

    let only_grep = jsonl(PIPELINE, &["--filter", "proc.name = grep"]);
    assert!(!only_grep.is_empty());
    assert!(
        only_grep.iter().all(|v| v["process"] == "grep"),
        "{only_grep:?}"
    );
}

#[test]
fn threads_do_not_change_the_output() {
    for file in [PIPELINE, LIVE, "synthetic-v1.0.rhf"] {
        for format in ["text", "jsonl", "csv"] {
            let one = stdout(file, &["--format", format, "--threads", "1"]);
            let two = stdout(file, &["--format", format, "--threads", "2"]);
            assert!(!one.is_empty());
            assert!(one == two, "{file} {format}: --threads 1 and 2 differ");
        }
    }
}

#[test]
fn secrets_are_redacted_unless_asked_for() {
    let text = stdout(LIVE, &[]);
    assert!(text.contains("--password=[REDACTED:"), "{text}");
    assert!(text.contains("LD_PRELOAD=[REDACTED:"), "{text}");
    let shown = stdout(LIVE, &["--show-secrets"]);
    assert!(!shown.contains("[REDACTED:"), "{shown}");
    // Alerts on snapshot processes come with the rest.
    assert!(
        text.contains("alert Critical [Fileless Execution From Memfd]"),
        "{text}"
    );
    assert!(!stdout(LIVE, &["--no-alerts"]).contains("alert "));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["--from", "yesterday"][..],
        &["--to", "+2parsecs"],
        &["--subtree"],
        &["--filter", "proc.nme = x"],
        &["--format", "xml"],
    ] {
        let out = timeline(PIPELINE, args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let missing = analyze()
        .args(["timeline", "/nonexistent.rhf"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    let bad_rules = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad_rules.path(), "- rule: x\n  condition: evt.type =\n").unwrap();
    let out = timeline(PIPELINE, &["-r", path_str(bad_rules.path())]);
    assert_eq!(out.status.code(), Some(5));
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temporary path")
}
