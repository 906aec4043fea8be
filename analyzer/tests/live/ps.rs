use super::fixture::{json, ok, squash};
use super::node::{self, *};
use super::procfs::CONTAINER_ID;

fn line_of(out: &str, pid: u32) -> &str {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(&pid.to_string()))
        .unwrap_or_else(|| panic!("no row for pid {pid} in\n{out}"))
}

#[test]
fn ps_shows_user_start_tty_container_exe_and_cmd() {
    let dir = tempfile::tempdir().unwrap();
    let t = node::trace(dir.path());
    let out = squash(&ok("ps", &t, &[]));
    assert!(
        out.starts_with("PID PPID USER START TTY CONTAINER EXE CMD\n"),
        "{out}"
    );
    let sleep = line_of(&out, SLEEP);
    // start: 1000 + pid ticks at 100 Hz after boot (2024-03-01T08:00:00Z).
    for want in [
        "alice",
        "2024-03-01T08:00:17Z",
        "pts/0",
        " - ",
        "/usr/bin/sleep",
        "sleep 1000",
    ] {
        assert!(sleep.contains(want), "{want:?} missing in {sleep:?}");
    }
    assert!(line_of(&out, REVERSE_SHELL).contains("www-data"));
    assert!(line_of(&out, 2).contains("[kthreadd]"));
    assert!(line_of(&out, DELETED).contains("/opt/app/updater (deleted)"));
    assert!(line_of(&out, NGINX).contains(&CONTAINER_ID[..12]));
    assert!(
        !out.contains(&CONTAINER_ID[..13]),
        "only 12 hex digits are shown"
    );
}

#[test]
fn ps_json_has_null_container_on_the_host_and_threads() {
    let dir = tempfile::tempdir().unwrap();
    let v = json("ps", &node::trace(dir.path()), &[]);
    let row = |pid: u32| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["pid"] == pid)
            .unwrap()
            .clone()
    };
    assert_eq!(row(SLEEP)["container"], serde_json::Value::Null);
    assert_eq!(row(NGINX)["container"], &CONTAINER_ID[..12]);
    assert_eq!(row(NGINX)["container_id"], CONTAINER_ID);
    assert_eq!(row(WEBAPP)["threads"], serde_json::json!([WEBAPP + 1]));
    assert_eq!(row(15)["kernel_thread"], true);
    assert_eq!(row(15)["cmd"], "[kworker/0:1-events]");
    assert_eq!(row(DELETED)["exe_deleted"], true);
    assert_eq!(row(SLEEP)["user"], "alice");
}

#[test]
fn ps_tree_nests_children_under_parents() {
    let dir = tempfile::tempdir().unwrap();
    let t = node::trace(dir.path());
    let out = ok("ps", &t, &["--tree"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("systemd(1) root  /sbin/init splash"),
        "{out}"
    );
    assert!(out.contains("|-sleep(700) alice  sleep 1000"), "{out}");
    assert!(
        out.contains(&format!(
            "nginx(1800) root container={}",
            &CONTAINER_ID[..12]
        )),
        "{out}"
    );
    let kthreadd = lines
        .iter()
        .position(|l| l.starts_with("[kthreadd](2)"))
        .expect(&out);
    assert!(
        lines[kthreadd + 1].starts_with("`-[kworker/0:1-events](15)"),
        "{out}"
    );
    let v = json("ps", &t, &["--tree"]);
    let roots = v.as_array().unwrap();
    assert_eq!(roots.len(), 2);
    assert!(roots[0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["pid"] == REVERSE_SHELL));
}

#[test]
fn hostile_argv_is_escaped_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let t = node::trace(dir.path());
    for (cmd, extra) in [
        ("ps", &[][..]),
        ("ps", &["--tree"]),
        ("lsof", &[]),
        ("env", &[]),
        ("findings", &[]),
    ] {
        let out = ok(cmd, &t, extra);
        assert!(!out.contains('\x1b'), "{cmd}: raw escape in output");
        if cmd == "ps" {
            assert!(out.contains("evil\\e[31mred \\xff\\xfe\\n"), "{out}");
        }
    }
    let out = ok("lsof", &t, &["--pid", &HOSTILE.to_string()]);
    assert!(out.contains("evil\\e[2J"), "{out}");
    let v = json("ps", &t, &[]);
    let row = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pid"] == HOSTILE)
        .unwrap();
    assert_eq!(
        row["argv"],
        serde_json::json!(["evil\\e[31mred", "\\xff\\xfe\\n"])
    );
}
