use serde_json::Value;

use super::fixture::{json, ok, records, write_trace, Proc};
use super::node::{self, *};
use super::procfs::CONTAINER_ID;

fn findings_of(v: &Value, pid: u32) -> Vec<&Value> {
    v.as_array()
        .unwrap()
        .iter()
        .filter(|f| f["pid"] == pid)
        .collect()
}

fn one<'a>(v: &'a Value, pid: u32, indicator: &str) -> &'a Value {
    let all = findings_of(v, pid);
    let hits: Vec<_> = all.iter().filter(|f| f["indicator"] == indicator).collect();
    assert_eq!(hits.len(), 1, "{indicator} on {pid}: {all:#?}");
    hits[0]
}

#[test]
fn each_indicator_fires_for_the_right_pid_with_its_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let v = json("findings", &node::trace(dir.path()), &[]);
    let ev = |pid, ind| one(&v, pid, ind)["evidence"].as_str().unwrap().to_string();
    assert_eq!(
        ev(DELETED, "deleted_exe"),
        format!(
            "exe -> /opt/app/updater (deleted) sha256={}",
            "ab".repeat(32)
        )
    );
    let memfd = ev(MEMFD, "memfd_exec");
    assert!(
        memfd.starts_with("exe -> /memfd:payload (deleted)")
            && memfd.contains("maps: ")
            && memfd.contains("fd 3 -> /memfd:payload (deleted)"),
        "{memfd}"
    );
    let preload = ev(PRELOAD, "ld_preload");
    assert!(
        preload.starts_with("environ: LD_PRELOAD=[REDACTED:")
            && preload.ends_with("; mapped: /usr/lib/libhook.so"),
        "{preload}"
    );
    let host = one(&v, 0, "ld_preload");
    assert_eq!(
        host["evidence"],
        "/etc/ld.so.preload lists /usr/lib/libevil.so"
    );
    assert_eq!(host["process"], Value::Null);
    assert_eq!(ev(REVERSE_SHELL, "reverse_shell"), "fd 0,1,2 -> socket:[60001] TCP 10.0.0.5:43210->203.0.113.9:4444 ESTABLISHED netns 4026531840");
    assert_eq!(one(&v, REVERSE_SHELL, "reverse_shell")["severity"], "high");
    assert!(ev(SNIFFER, "packet_socket")
        .starts_with("fd 3 -> socket:[88001] PACKET RAW protocol=0x0003"));
    assert!(ev(RAW, "raw_socket").starts_with("fd 3 -> socket:[77001] RAW 0.0.0.0:1"));
    let fake = ev(FAKE_KTHREAD, "fake_kernel_thread");
    assert!(
        fake.starts_with("shown as [kworker/0:2]: PF_KTHREAD unset, exe -> /usr/lib/.cache/kw"),
        "{fake}"
    );
    assert_eq!(
        ev(TMP_EXEC, "exec_from_writable_dir"),
        "exe -> /tmp/.x/miner"
    );
    let search_path = ev(TMP_EXEC, "ld_preload");
    assert!(
        search_path.starts_with("environ: LD_LIBRARY_PATH=[REDACTED:")
            && search_path.ends_with("(an entry is under /tmp, /var/tmp or /dev/shm)"),
        "{search_path}"
    );
    let env: Vec<_> = findings_of(&v, SECRETS)
        .into_iter()
        .filter(|f| f["indicator"] == "secret_in_env")
        .map(|f| f["evidence"].as_str().unwrap())
        .collect();
    assert!(
        env[0].starts_with("environ: AWS_SECRET_ACCESS_KEY=[REDACTED:"),
        "{env:?}"
    );
    assert!(
        env[1].starts_with("environ: DATABASE_URI=[REDACTED:")
            && env[1].ends_with("(the value holds URL credentials)"),
        "{env:?}"
    );
    let cmd: Vec<_> = findings_of(&v, SECRETS)
        .into_iter()
        .filter(|f| f["indicator"] == "secret_on_cmdline")
        .map(|f| f["evidence"].as_str().unwrap())
        .collect();
    assert_eq!(cmd.len(), 2);
    assert!(
        cmd[0].starts_with("argv[1]: --password=[REDACTED:"),
        "{cmd:?}"
    );
    assert!(
        cmd[1].starts_with("argv[4..=5]: --token [REDACTED:"),
        "{cmd:?}"
    );
    let f = one(&v, DELETED, "deleted_exe");
    for key in [
        "indicator",
        "pid",
        "process",
        "container",
        "severity",
        "evidence",
        "detail",
    ] {
        assert!(f.get(key).is_some(), "{key}");
    }
}

#[test]
fn innocent_processes_yield_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let v = json("findings", &node::trace(dir.path()), &[]);
    for pid in [1, 2, 15, SLEEP, SSHD, WEBAPP, CLIENT, NGINX] {
        assert!(
            findings_of(&v, pid).is_empty(),
            "pid {pid}: {:#?}",
            findings_of(&v, pid)
        );
    }
    // A node holding only a plain sleep, and no ld.so.preload: no finding at all.
    let sleep = Proc::new(700, 1, "sleep", 1000, "/usr/bin/sleep", &["sleep", "100"]);
    let bodies = vec![
        node::host_files(None),
        node::accounts(),
        rhf_format::RecordBody::Process(Box::new(sleep.record())),
    ];
    let t = write_trace(dir.path(), "sleep.rhf", &records(bodies));
    assert_eq!(json("findings", &t, &[]), serde_json::json!([]));
    assert_eq!(
        ok("findings", &t, &[]).trim(),
        "PID  PROCESS  CONTAINER  SEVERITY  INDICATOR  EVIDENCE"
    );
}

#[test]
fn findings_are_sorted_and_name_the_container() {
    let dir = tempfile::tempdir().unwrap();
    let mut procs = node::processes();
    let shell = procs.iter_mut().find(|p| p.pid == REVERSE_SHELL).unwrap();
    shell.cgroup =
        format!("0::/kubepods/besteffort/pod0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/{CONTAINER_ID}\n")
            .into_bytes();
    let t = write_trace(dir.path(), "k8s.rhf", &records(node::bodies(&procs, None)));
    let v = json("findings", &t, &[]);
    assert_eq!(
        one(&v, REVERSE_SHELL, "reverse_shell")["container"],
        &CONTAINER_ID[..12]
    );
    let keys: Vec<(u64, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["pid"].as_u64().unwrap(),
                f["indicator"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(
        ok("findings", &t, &[]),
        ok("findings", &t, &[]),
        "deterministic"
    );
    let text = super::fixture::squash(&ok("findings", &t, &[]));
    assert!(
        text.contains(&format!(
            "900 bash {} high reverse_shell fd 0,1,2 -> socket:[60001]",
            &CONTAINER_ID[..12]
        )),
        "{text}"
    );
}
