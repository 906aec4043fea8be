use rhf_format::{Bytes, NetworkTables, RawFile};

use super::*;

pub(crate) const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1461 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1388 0100007F:A112 01 00000000:00000000 00:00000000 00000000  1000        0 54321 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:9F39 0100007F:8B70 06 00000000:00000000 03:00000B2C 00000000     0        0 0 3 0000000000000000
";
const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1462 1 0000000000000000 100 0 0 10 0
";
const RAW: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
   1: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 77001 2 0000000000000000 0
";
const UNIX: &[u8] = b"Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 15123 /run/my app.sock
0000000000000000: 00000003 00000000 00000000 0001 03 15124
0000000000000000: 00000002 00000000 00000000 0002 01 15125 @/tmp/.X11-\xff
";
const PACKET: &str = "sk               RefCnt Type Proto  Iface R Rmem   User   Inode
ffff8a1b7a4ed800 3      3    0003   2     1 0      0      88001
";

fn file(name: &str, content: &[u8]) -> RawFile {
    RawFile {
        name: name.into(),
        content: Bytes::from(content.to_vec()),
        ..RawFile::default()
    }
}

fn tables() -> NetworkTables {
    NetworkTables {
        netns: 4026531840,
        via_pid: 1,
        files: vec![
            file("tcp", TCP.as_bytes()),
            file("tcp6", TCP6.as_bytes()),
            file("raw", RAW.as_bytes()),
            file("unix", UNIX),
            file("packet", PACKET.as_bytes()),
            RawFile {
                name: "udp".into(),
                error: Some("Permission denied (os error 13)".into()),
                ..RawFile::default()
            },
        ],
    }
}

fn find(ns: &NetNamespace, inode: u64) -> &Socket {
    ns.sockets.iter().find(|s| s.inode == inode).unwrap()
}

#[test]
fn real_tables_become_rows() {
    let ns = parse(&tables(), true);
    assert_eq!(
        find(&ns, 54321).describe(),
        "TCP 127.0.0.1:5000->127.0.0.1:41234 ESTABLISHED"
    );
    assert_eq!(find(&ns, 54321).uid, Some(1000));
    assert_eq!(
        find(&ns, 1461).describe(),
        "TCP 0.0.0.0:22->0.0.0.0:0 LISTEN"
    );
    assert_eq!(find(&ns, 1462).local_text(), "[::1]:22");
    assert_eq!(
        find(&ns, 77001).describe(),
        "RAW 0.0.0.0:1->0.0.0.0:0 CLOSE (IP protocol 1)"
    );
    assert_eq!(
        find(&ns, 15123).describe(),
        "UNIX /run/my app.sock STREAM LISTEN"
    );
    assert_eq!(
        find(&ns, 15124).describe(),
        "UNIX socket:[15124] STREAM CONNECTED"
    );
    assert_eq!(find(&ns, 15125).local_text(), "@/tmp/.X11-\\xff");
    assert_eq!(
        find(&ns, 88001).describe(),
        "PACKET RAW protocol=0x0003 (ETH_P_ALL) iface=2"
    );
    assert_eq!(
        ns.notes,
        vec!["udp: Permission denied (os error 13)".to_string()]
    );
}

#[test]
fn big_endian_nodes_print_addresses_the_other_way() {
    let ns = parse(&tables(), false);
    // The same hex word read in the other byte order.
    assert_eq!(find(&ns, 54321).local_text(), "1.0.0.127:5000");
}

#[test]
fn cut_and_malformed_tables_keep_their_good_rows() {
    let t = tables();
    for f in &t.files {
        for cut in 0..f.content.len() {
            let mut t2 = t.clone();
            t2.files = vec![RawFile {
                content: Bytes::from(f.content[..cut].to_vec()),
                truncated: true,
                ..f.clone()
            }];
            let _ = parse(&t2, true);
        }
    }
    let mut bad = TCP.to_string();
    bad.push_str("   3: ZZZZ:1 0:0 99\n   4: \u{e9}\u{e9}\n");
    let ns = parse(
        &NetworkTables {
            files: vec![file("tcp", bad.as_bytes()), file("packet", b"hdr\n1 2 3\n")],
            ..NetworkTables::default()
        },
        true,
    );
    assert_eq!(ns.sockets.len(), 3);
    assert!(
        ns.notes[0].starts_with("tcp: 2 line(s) skipped, first: line 5:"),
        "{:?}",
        ns.notes
    );
    assert!(
        ns.notes[1].starts_with("packet: 1 line(s) skipped"),
        "{:?}",
        ns.notes
    );
}
