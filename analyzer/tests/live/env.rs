use super::fixture::{json, ok, raw, records, squash, write_trace, Proc};
use super::node::{self, *};

fn marker(secret: &str) -> String {
    rhf_analyzer::redact::marker(secret.as_bytes())
}

#[test]
fn env_redacts_values_and_shows_names() {
    let dir = tempfile::tempdir().unwrap();
    let t = node::trace(dir.path());
    let out = squash(&ok("env", &t, &["--pid", &SECRETS.to_string()]));
    assert!(
        out.contains(&format!(
            "1700 mysql - AWS_SECRET_ACCESS_KEY={}",
            marker(ENV_SECRET)
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("PATH={}", marker("/usr/local/bin:/usr/bin:/bin"))),
        "{out}"
    );
    let shown = ok(
        "env",
        &t,
        &["--pid", &SECRETS.to_string(), "--show-secrets"],
    );
    assert!(
        shown.contains(&format!("AWS_SECRET_ACCESS_KEY={ENV_SECRET}")),
        "{shown}"
    );
    assert!(shown.contains("PATH=/usr/local/bin:/usr/bin:/bin"));
}

#[test]
fn planted_secrets_never_leak_without_show_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let t = node::trace(dir.path());
    let views: [(&str, &[&str]); 7] = [
        ("ps", &[]),
        ("ps", &["--tree"]),
        ("ps", &["--json"]),
        ("env", &[]),
        ("env", &["--json"]),
        ("findings", &[]),
        ("findings", &["--json"]),
    ];
    for (cmd, extra) in views {
        let out = ok(cmd, &t, extra);
        for secret in [ENV_SECRET, CMDLINE_SECRET, URL_SECRET] {
            assert!(
                !out.contains(secret),
                "{cmd} {extra:?} leaks {secret}:\n{out}"
            );
        }
        let mut with = extra.to_vec();
        with.push("--show-secrets");
        let shown = ok(cmd, &t, &with);
        let expected: &[&str] = match cmd {
            "ps" => &[CMDLINE_SECRET],
            _ => &[ENV_SECRET, CMDLINE_SECRET, URL_SECRET],
        };
        for secret in expected {
            if cmd == "env" && *secret == CMDLINE_SECRET {
                continue;
            }
            assert!(
                shown.contains(secret),
                "{cmd} {with:?} hides {secret}:\n{shown}"
            );
        }
    }
    let ps = squash(&ok("ps", &t, &[]));
    let m = marker(CMDLINE_SECRET);
    assert!(
        ps.contains(&format!("mysql --password={m} -h db --token {m}")),
        "{ps}"
    );
}

#[test]
fn env_says_when_environ_is_unreadable_or_cut() {
    let dir = tempfile::tempdir().unwrap();
    let mut denied = Proc::new(
        50,
        1,
        "agetty",
        0,
        "/sbin/agetty",
        &["/sbin/agetty", "tty1"],
    );
    denied.files.push(super::fixture::failed(
        "environ",
        "Permission denied (os error 13)",
    ));
    let mut cut = Proc::new(51, 1, "java", 0, "/usr/bin/java", &["java"]);
    let mut environ = raw("environ", b"A=1\0B=2\0LONG=abc");
    environ.truncated = true;
    environ.full_len = Some(300_000);
    cut.files.push(environ);
    let bodies = vec![
        node::accounts(),
        rhf_format::RecordBody::Process(Box::new(denied.record())),
        rhf_format::RecordBody::Process(Box::new(cut.record())),
    ];
    let t = write_trace(dir.path(), "env.rhf", &records(bodies));
    let out = ok("env", &t, &[]);
    assert!(
        out.contains("(environ unreadable: Permission denied (os error 13))"),
        "{out}"
    );
    assert!(out.contains("(environ cut by the recorder's cap (300000 bytes in full); the last variable may be incomplete)"), "{out}");
    let v = json("env", &t, &[]);
    assert_eq!(v[0]["status"], "unreadable");
    assert_eq!(v[1]["status"], "truncated");
    assert_eq!(v[1]["variables"][2]["name"], "LONG");
}
