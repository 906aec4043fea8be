use super::fixture::{analyze, json, ok, squash};
use super::node::{self, *};
use super::procfs::{CONTAINER_ID, CONTAINER_NETNS, HOST_NETNS};

#[test]
fn lsof_joins_sockets_with_the_tables_of_the_process_netns() {
    let dir = tempfile::tempdir().unwrap();
    let t = node::trace(dir.path());
    let out = squash(&ok("lsof", &t, &["--pid", &WEBAPP.to_string()]));
    let row = out
        .lines()
        .find(|l| l.contains("TCP 127.0.0.1:5000->127.0.0.1:41234 ESTABLISHED"))
        .expect(&out);
    assert!(row.starts_with("950 webapp - 3 IPv4 TCP"), "{row}");
    for want in [
        "FIFO pipe:[33001]",
        "a_inode inotify",
        "txt REG /usr/local/bin/webapp",
        "cwd DIR /",
        "CHR /dev/null",
    ] {
        assert!(out.contains(want), "{want:?} missing in\n{out}");
    }
    assert!(
        out.lines()
            .all(|l| l.starts_with("PID") || l.starts_with("950 ")),
        "--pid filters\n{out}"
    );
    let all = squash(&ok("lsof", &t, &[]));
    for want in [
        "UNIX /run/systemd/journal/stdout STREAM LISTEN",
        "UNIX /run/systemd/journal/stdout STREAM CONNECTED",
        "IPv6 TCP [::]:22->[::]:0 LISTEN",
        "REG memfd:payload (deleted)",
        "pack PACKET RAW protocol=0x0003 (ETH_P_ALL) iface=2",
        "RAW 0.0.0.0:1->0.0.0.0:0 CLOSE (IP protocol 1)",
        "a_inode eventpoll",
        "TCP 0.0.0.0:80->0.0.0.0:0 LISTEN",
    ] {
        assert!(all.contains(want), "{want:?} missing in\n{all}");
    }
    let nginx = all.lines().find(|l| l.contains("0.0.0.0:80")).unwrap();
    assert!(nginx.contains(&CONTAINER_ID[..12]), "{nginx}");
}

#[test]
fn lsof_json_names_netns_and_an_unknown_pid_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let t = node::trace(dir.path());
    let v = json("lsof", &t, &["--pid", &NGINX.to_string()]);
    let sock = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["fd"] == "6")
        .unwrap();
    assert_eq!(sock["netns"], CONTAINER_NETNS);
    assert_eq!(sock["type"], "IPv4");
    let r = analyze(&["lsof", t.to_str().unwrap(), "--pid", "424242"]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("pid 424242 is not in the snapshot"),
        "{}",
        r.stderr
    );
}

#[test]
fn netstat_lists_every_socket_with_its_owners() {
    let dir = tempfile::tempdir().unwrap();
    let t = node::trace(dir.path());
    let out = squash(&ok("netstat", &t, &[]));
    let row = |needle: &str| {
        out.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} in\n{out}"))
            .to_string()
    };
    let listen = row("0.0.0.0:22");
    assert!(
        listen.contains("LISTEN") && listen.contains("812/sshd") && listen.contains("root"),
        "{listen}"
    );
    let est = row("127.0.0.1:5000 127.0.0.1:41234");
    assert!(
        est.contains("ESTABLISHED") && est.contains("950/webapp") && est.contains("alice"),
        "{est}"
    );
    assert!(row("203.0.113.9:4444").contains("900/bash"));
    assert!(row("127.0.0.53:53").contains("systemd-resolve"));
    let journal = row("15124");
    assert!(
        journal.contains("CONNECTED STREAM") && journal.contains("/sshd") && journal.contains(","),
        "{journal}"
    );
    let v = json("netstat", &t, &[]);
    let rows = v.as_array().unwrap();
    for proto in ["tcp", "tcp6", "udp", "raw", "unix", "packet"] {
        assert!(
            rows.iter()
                .any(|r| r["proto"] == proto && r["netns"] == HOST_NETNS),
            "{proto}"
        );
    }
    let nginx = rows.iter().find(|r| r["inode"] == 99001).unwrap();
    assert_eq!(nginx["netns"], CONTAINER_NETNS);
    assert_eq!(nginx["owners"][0]["pid"], NGINX);
    let time_wait_free = rows.iter().filter(|r| r["inode"] == 0).count();
    assert_eq!(time_wait_free, 0, "the fixture has no inode-0 rows");
}
