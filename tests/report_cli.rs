//! `rhf-analyze report` driven as a user would: the three formats on the shipped samples,
//! private output files that are never clobbered, bad rules, a damaged trace, and the HTML
//! report opened in headless Chromium (scripts/screenshot-report.sh).

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use rhf::{have_tool, require, root, run_analyze, sample, text};

fn live() -> String {
    sample("live-indicators.rhf").display().to_string()
}

#[test]
fn each_format_goes_to_standard_output() {
    let md = run_analyze(&["report", &live()]);
    assert!(md.status.success(), "{}", text(&md));
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.starts_with("# rhf report: "), "{md}");
    assert!(md.contains("Secrets shown: **no**"));
    assert!(
        md.contains("| Fileless Execution From Memfd | Critical | 1 |"),
        "{md}"
    );

    let html = run_analyze(&["report", "--format", "html", &live()]);
    assert!(html.status.success(), "{}", text(&html));
    let html = String::from_utf8(html.stdout).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));

    let json = run_analyze(&["report", "--format", "json", "--show-secrets", &live()]);
    assert!(json.status.success(), "{}", text(&json));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["schema_version"], "1.0");
    assert_eq!(v["secrets_shown"], true);
    assert_eq!(v["trace"]["integrity"]["status"], "intact");
    assert_eq!(v["overview"]["alerts"], 7);

    let bad = run_analyze(&["report", "--format", "pdf", &live()]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
}

#[test]
fn output_files_are_private_and_never_clobbered() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("case.html");
    let out_s = out.display().to_string();
    let o = run_analyze(&["report", "--format", "html", "-o", &out_s, &live()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(o.stdout.is_empty(), "nothing on stdout with -o");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let first = std::fs::read(&out).unwrap();

    let again = run_analyze(&["report", "--format", "html", "-o", &out_s, &live()]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("--force"), "{}", text(&again));
    assert_eq!(std::fs::read(&out).unwrap(), first, "left untouched");

    let link = dir.path().join("link.html");
    std::os::unix::fs::symlink(&out, &link).unwrap();
    let through = run_analyze(&[
        "report",
        "--force",
        "-o",
        &link.display().to_string(),
        &live(),
    ]);
    assert_eq!(through.status.code(), Some(1), "{}", text(&through));
    assert!(
        text(&through).contains("symbolic link"),
        "{}",
        text(&through)
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        first,
        "never written through a link"
    );

    let forced = run_analyze(&["report", "--force", "--format", "md", "-o", &out_s, &live()]);
    assert!(forced.status.success(), "{}", text(&forced));
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .starts_with("# rhf report"));
}

#[test]
fn rules_that_do_not_load_exit_5_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("bad.yaml");
    std::fs::write(
        &rules,
        "- rule: x\n  desc: d\n  condition: evt.type = (\n  output: o\n  priority: WARNING\n",
    )
    .unwrap();
    let out = dir.path().join("r.md");
    let o = run_analyze(&[
        "report",
        "-r",
        &rules.display().to_string(),
        "-o",
        &out.display().to_string(),
        &live(),
    ]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(text(&o).contains("bad.yaml:3:"), "{}", text(&o));
    assert!(!out.exists());
}

#[test]
fn a_damaged_trace_is_reported_as_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("damaged.rhf");
    let mut bytes = std::fs::read(sample("pipeline.rhf")).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&copy, &bytes).unwrap();
    let o = run_analyze(&["report", "--format", "json", &copy.display().to_string()]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["trace"]["integrity"]["status"], "damaged", "{v}");
    assert!(!v["notes"].as_array().unwrap().is_empty(), "{v}");
}

#[test]
fn the_html_report_opens_in_headless_chromium() {
    if !require(
        have_tool("chromium"),
        "chromium (Debian's package; .ci/run installs it)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for name in ["live-indicators.rhf", "pipeline.rhf"] {
        let html = dir.path().join(format!("{name}.html"));
        let o = run_analyze(&[
            "report",
            "--format",
            "html",
            "-o",
            &html.display().to_string(),
            &sample(name).display().to_string(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        let png = dir.path().join(format!("{name}.png"));
        let shot = Command::new(root().join("scripts/screenshot-report.sh"))
            .arg(&html)
            .arg(&png)
            .output()
            .expect("run scripts/screenshot-report.sh");
        assert!(shot.status.success(), "{}", text(&shot));
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: not a PNG");
        // A blank 1400x2000 page compresses to a few kB; a rendered report is far larger.
        assert!(bytes.len() > 50_000, "{name}: {} bytes", bytes.len());
    }
}
