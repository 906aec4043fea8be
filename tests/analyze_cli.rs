//! `rhf-analyze info` and `verify` driven as a user would, on the shipped sample and on
//! damaged copies of it.

use std::process::Output;

use rhf::{run_analyze, sample, text};

const SAMPLE_DIGEST: &str = "1b042c5e4bf0a40ae312df47bda18fda8dc1bdf1d0623acd3a87debb5a59cda1";

#[test]
fn info_on_the_sample_shows_host_counts_and_integrity() {
    let s = sample("synthetic-v1.0.rhf");
    let o = run_analyze(&["info", s.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("synthetic-node"), "{t}");
    assert!(t.contains("syscall 5000"), "{t}");
    assert!(
        t.contains(&format!("intact, digest {SAMPLE_DIGEST}")),
        "{t}"
    );

    let o = run_analyze(&["info", "--json", s.to_str().unwrap()]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["records"]["syscall"], 5000);
    assert_eq!(v["integrity"]["status"], "intact");
    assert_eq!(v["integrity"]["digest"], SAMPLE_DIGEST);
    assert_eq!(v["total_records"], 5074);
}

#[test]
fn verify_prints_the_digest_and_exits_zero_when_intact() {
    let s = sample("synthetic-v1.0.rhf");
    let o = run_analyze(&["verify", s.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains(SAMPLE_DIGEST));
}

#[test]
fn verify_names_the_damaged_chunk_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(sample("synthetic-v1.0.rhf")).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    let p = dir.path().join("flipped.rhf");
    std::fs::write(&p, &bytes).unwrap();
    let o = run_analyze(&["verify", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("DAMAGED") && t.contains("chunk ") && t.contains("offset"),
        "{t}"
    );
    // info still reports what it can, and says the file is damaged.
    let o = run_analyze(&["info", p.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(text(&o).contains("DAMAGED"));
}

#[test]
fn verify_reports_truncation_with_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(sample("synthetic-v1.0.rhf")).unwrap();
    let p = dir.path().join("cut.rhf");
    std::fs::write(&p, &bytes[..bytes.len() - 100]).unwrap();
    let o = run_analyze(&["verify", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("truncated after"), "{}", text(&o));
}

#[test]
fn info_never_panics_on_a_file_cut_at_any_byte() {
    // A small multi-chunk trace, so every offset can be tried in reasonable time.
    let opts = rhf_format::WriterOptions {
        chunk_bytes: 600,
        zstd_level: 1,
        ..Default::default()
    };
    let mut w =
        rhf_format::TraceWriter::new(Vec::new(), &rhf_format::synth::synthetic_header(2), opts)
            .unwrap();
    let synth = rhf_format::synth::SynthOptions {
        events: 40,
        processes: 2,
        seed: 2,
    };
    rhf_format::synth::generate(&mut w, &synth).unwrap();
    let (_, bytes) = w.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.rhf");
    let mut codes = std::collections::BTreeMap::new();
    for cut in 0..=bytes.len() {
        std::fs::write(&p, &bytes[..cut]).unwrap();
        for cmd in ["info", "verify"] {
            let o = run_analyze(&[cmd, p.to_str().unwrap()]);
            let code = o.status.code();
            assert_ne!(
                code,
                Some(101),
                "{cmd} panicked on a cut at {cut}: {}",
                text(&o)
            );
            assert!(
                code.is_some(),
                "{cmd} was killed by a signal on a cut at {cut}"
            );
            *codes.entry((cmd, code)).or_insert(0) += 1;
        }
    }
    // Only the uncut file verifies.
    assert_eq!(codes[&("verify", Some(0))], 1, "{codes:?}");
}

#[test]
fn help_documents_the_exit_codes() {
    let o = run_analyze(&["--help"]);
    let t = text(&o);
    for line in [
        "0  success",
        "2  invalid command line",
        "3  verify",
        "4  verify",
    ] {
        assert!(t.contains(line), "missing {line:?} in:\n{t}");
    }
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let o = run_analyze(&["info", "/nonexistent/case.rhf"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("/nonexistent/case.rhf"), "{}", text(&o));
}

#[test]
fn filter_selects_events_with_the_rule_language() {
    let trace = sample("pipeline.rhf").display().to_string();
    let out = run_analyze(&[
        "print",
        &trace,
        "--filter",
        "evt.type = openat and fd.name in (/etc/passwd, /etc/hostname)",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("openat(AT_FDCWD, \"/etc/passwd\""),
        "{text}"
    );
    assert!(lines[1].contains("\"/etc/hostname\""), "{text}");

    // summary counts only what the filter keeps; the process fields come from the timeline.
    let out = run_analyze(&[
        "summary",
        &trace,
        "--json",
        "--filter",
        "proc.name = grep and evt.type = openat",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = v.to_string();
    assert!(text.contains("openat") && !text.contains("mmap"), "{text}");

    // A mistake in the filter is a usage error that names the column.
    let out = run_analyze(&[
        "summary",
        &trace,
        "--filter",
        "proc.name = grep and fd.nme = x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("column 22") && err.contains("unknown field 'fd.nme'"),
        "{err}"
    );
}

#[test]
fn rules_output_is_the_same_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("r.yaml");
    std::fs::write(
        &rules,
        "- rule: etc opened\n  desc: d\n  condition: evt.type = openat and fd.name startswith /etc\n  output: \"%proc.name opened %fd.name (%evt.num)\"\n  priority: NOTICE\n  tags: [test]\n",
    )
    .unwrap();
    let trace = sample("synthetic-v1.0.rhf").display().to_string();
    let rules = rules.display().to_string();
    let outs: Vec<Output> = ["1", "2", "3"]
        .iter()
        .map(|t| run_analyze(&["rules", &trace, "-r", &rules, "--json", "--threads", t]))
        .collect();
    assert!(outs[0].status.success(), "{}", text(&outs[0]));
    let lines = String::from_utf8_lossy(&outs[0].stdout).lines().count();
    assert!(lines > 10, "{}", text(&outs[0]));
    for o in &outs[1..] {
        assert_eq!(o.stdout, outs[0].stdout);
    }
    // Alerts are in event-time order.
    let times: Vec<String> = String::from_utf8_lossy(&outs[0].stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["time"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    // --fail-on turns a notice into exit 6; an invalid rules file is exit 5.
    let o = run_analyze(&["rules", &trace, "-r", &rules, "--fail-on", "notice"]);
    assert_eq!(o.status.code(), Some(6));
    std::fs::write(dir.path().join("bad.yaml"), "- rule: x\n  desc: d\n").unwrap();
    let o = run_analyze(&[
        "rules",
        &trace,
        "-r",
        &dir.path().join("bad.yaml").display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(text(&o).contains("bad.yaml:1:3"), "{}", text(&o));
}
