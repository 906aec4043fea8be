use rhf_format::{Bytes, FdEntry, NetworkTables, ProcessSnapshot};

use super::*;

const TCP_HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

fn tcp(netns: u64, row: &str) -> RecordBody {
    RecordBody::Network(NetworkTables {
        netns,
        via_pid: 1,
        files: vec![RawFile {
            name: "tcp".into(),
            content: Bytes::from(format!("{TCP_HEADER}{row}\n").into_bytes()),
            ..RawFile::default()
        }],
    })
}

fn process(pid: u32, tid: u32, netns: u64, comm: &str) -> RecordBody {
    RecordBody::Process(Box::new(ProcessSnapshot {
        pid,
        tid,
        namespaces: vec![("net".into(), netns)],
        files: vec![RawFile {
            name: "comm".into(),
            content: Bytes::from(format!("{comm}\n").into_bytes()),
            ..RawFile::default()
        }],
        fds: vec![FdEntry {
            fd: 3,
            target: Bytes::from(b"socket:[500]".to_vec()),
            fdinfo: None,
        }],
        ..ProcessSnapshot::default()
    }))
}

fn build(bodies: Vec<RecordBody>) -> HostSnapshot {
    let records = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| Record { ts: i as u64, body });
    HostSnapshot::from_records(&Header::default(), records)
}

#[test]
fn a_socket_resolves_in_the_holders_namespace_first() {
    // The same inode in two tables (forged or racy data): each holder sees its own row.
    let snap = build(vec![
        process(10, 10, 1, "a"),
        process(20, 20, 2, "b"),
        tcp(1, "   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 500 1"),
        tcp(2, "   0: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 500 1"),
    ]);
    let a = &snap.processes[&10];
    let b = &snap.processes[&20];
    assert_eq!(snap.socket_of(a, 500).unwrap().0, 1);
    assert_eq!(snap.socket_of(b, 500).unwrap().0, 2);
    assert_eq!(snap.socket_owners(500).len(), 2);
    assert!(snap.socket_of(a, 0).is_none());
}

#[test]
fn the_latest_record_wins_and_orphan_threads_are_noted() {
    let snap = build(vec![
        process(10, 10, 1, "old"),
        process(10, 10, 1, "new"),
        process(10, 11, 1, "worker"),
        process(99, 100, 1, "lost"),
    ]);
    assert_eq!(snap.processes[&10].comm, b"new");
    assert_eq!(snap.processes[&10].threads[0].comm, b"worker");
    assert!(
        snap.notes
            .iter()
            .any(|n| n.starts_with("1 thread record(s)")),
        "{:?}",
        snap.notes
    );
    assert!(snap
        .notes
        .iter()
        .any(|n| n.starts_with("no Accounts record")));
}

#[test]
fn an_empty_trace_is_a_note_not_an_error() {
    let snap = build(Vec::new());
    assert!(snap.processes.is_empty());
    assert!(snap.notes.iter().any(|n| n.contains("no process snapshot")));
}
