//! [`ProcLookup`] on the real `/proc`.
//!
//! Each call is one `readlink` or a read of one network table; nothing is cached here (the
//! decoder caches what it learns). Socket tables are read through `/proc/PID/net/`, which
//! shows the network namespace of that process, not the recorder's.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rhf_format::{Bytes, SockAddr};

use super::ProcLookup;

const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const AF_NETLINK: u16 = 16;

/// Network tables are read whole; this bounds one read (a host with a million sockets has
/// 150 MB of tcp table, and a connect must not stall the trace on it).
const NET_TABLE_CAP: u64 = 16 << 20;

/// Reads `/proc` (or another procfs mount, for tests).
#[derive(Debug, Clone)]
pub struct ProcfsLookup {
    root: PathBuf,
}

impl Default for ProcfsLookup {
    fn default() -> Self {
        ProcfsLookup::new("/proc")
    }
}

impl ProcfsLookup {
    pub fn new(root: impl Into<PathBuf>) -> ProcfsLookup {
        ProcfsLookup { root: root.into() }
    }

    fn readlink(&self, rel: &str) -> Option<Vec<u8>> {
        let target = std::fs::read_link(self.root.join(rel)).ok()?;
        Some(target.as_os_str().as_bytes().to_vec())
    }

    fn read_table(&self, pid: u32, name: &str) -> Option<String> {
        use std::io::Read;
        let file = std::fs::File::open(self.root.join(format!("{pid}/net/{name}"))).ok()?;
        let mut text = String::new();
        file.take(NET_TABLE_CAP).read_to_string(&mut text).ok()?;
        Some(text)
    }
}

impl ProcLookup for ProcfsLookup {
    fn fd_target(&mut self, pid: u32, fd: i32) -> Option<Vec<u8>> {
        self.readlink(&format!("{pid}/fd/{fd}"))
    }

    fn socket_endpoints(
        &mut self,
        pid: u32,
        inode: u64,
    ) -> Option<(u16, Option<SockAddr>, Option<SockAddr>)> {
        for (name, family) in [
            ("tcp", AF_INET),
            ("tcp6", AF_INET6),
            ("udp", AF_INET),
            ("udp6", AF_INET6),
        ] {
            if let Some(found) = self
                .read_table(pid, name)
                .and_then(|t| find_inet(&t, inode, family))
            {
                return Some(found);
            }
        }
        if let Some(found) = self
            .read_table(pid, "unix")
            .and_then(|t| find_unix(&t, inode))
        {
            return Some(found);
        }
        self.read_table(pid, "netlink")
            .and_then(|t| find_netlink(&t, inode))
    }

    fn cwd(&mut self, pid: u32) -> Option<Vec<u8>> {
        self.readlink(&format!("{pid}/cwd"))
    }
}

/// A `/proc/net/{tcp,udp}{,6}` line: `sl local rem st queues tr retrnsmt uid timeout inode`.
fn find_inet(
    table: &str,
    inode: u64,
    family: u16,
) -> Option<(u16, Option<SockAddr>, Option<SockAddr>)> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.get(9)?.parse::<u64>().ok()? != inode {
            return None;
        }
        Some((
            family,
            parse_inet(f.get(1)?, family),
            parse_inet(f.get(2)?, family),
        ))
    })
}

/// `0100007F:1F90` (IPv4) or 32 hex digits `:PORT` (IPv6): the address is printed as 32-bit
/// words in host (little-endian) order, the port as a plain number.
fn parse_inet(field: &str, family: u16) -> Option<SockAddr> {
    let (addr, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..addr.len() / 8)
        .map(|i| {
            addr.get(i * 8..i * 8 + 8)
                .and_then(|w| u32::from_str_radix(w, 16).ok())
        })
        .collect::<Option<_>>()?;
    match (family, words.as_slice()) {
        (AF_INET, [w]) => Some(SockAddr::Inet(w.to_le_bytes(), port)),
        (AF_INET6, [a, b, c, d]) => {
            let mut bytes = [0u8; 16];
            for (i, w) in [a, b, c, d].into_iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
            Some(SockAddr::Inet6(bytes, port, 0))
        }
        _ => None,
    }
}

/// A `/proc/net/unix` line: `Num RefCount Protocol Flags Type St Inode [Path]`. Only the
/// local name is known; an abstract name is printed with `@` for its leading NUL.
fn find_unix(table: &str, inode: u64) -> Option<(u16, Option<SockAddr>, Option<SockAddr>)> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.get(6)?.parse::<u64>().ok()? != inode {
            return None;
        }
        let local = f.get(7).map(|p| {
            let bytes = match p.strip_prefix('@') {
                Some(rest) => [&[0u8][..], rest.as_bytes()].concat(),
                None => p.as_bytes().to_vec(),
            };
            SockAddr::Unix(Bytes::from(bytes))
        });
        Some((AF_UNIX, local, None))
    })
}

/// A `/proc/net/netlink` line: `sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode`.
fn find_netlink(table: &str, inode: u64) -> Option<(u16, Option<SockAddr>, Option<SockAddr>)> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.get(9)?.parse::<u64>().ok()? != inode {
            return None;
        }
        let pid = f.get(2)?.parse().ok()?;
        let groups = u32::from_str_radix(f.get(3)?, 16).ok()?;
        Some((AF_NETLINK, Some(SockAddr::Netlink { pid, groups }), None))
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixListener;

    use super::*;
    use crate::decode::path::socket_inode;

    fn me() -> u32 {
        std::process::id()
    }

    #[test]
    fn tcp_endpoints_of_this_process() {
        let Ok(listener) = TcpListener::bind("127.0.0.1:0") else {
            panic!("cannot listen on loopback");
        };
        let Ok(server_addr) = listener.local_addr() else {
            panic!("no local addr")
        };
        let Ok(mut client) = TcpStream::connect(server_addr) else {
            panic!("cannot connect")
        };
        let Ok((_accepted, _)) = listener.accept() else {
            panic!("cannot accept")
        };
        let _ = client.write_all(b"x");
        let Ok(client_addr) = client.local_addr() else {
            panic!("no client addr")
        };

        let mut proc = ProcfsLookup::default();
        let link = proc.fd_target(me(), client.as_raw_fd());
        let inode = link.as_deref().and_then(socket_inode);
        assert!(inode.is_some(), "client link {link:?}");
        let ends = inode.and_then(|i| proc.socket_endpoints(me(), i));
        let port = |p: u16| p;
        assert_eq!(
            ends,
            Some((
                AF_INET,
                Some(SockAddr::Inet([127, 0, 0, 1], port(client_addr.port()))),
                Some(SockAddr::Inet([127, 0, 0, 1], server_addr.port())),
            ))
        );
        // The listener: bound, no peer.
        let inode = proc
            .fd_target(me(), listener.as_raw_fd())
            .as_deref()
            .and_then(socket_inode);
        let ends = inode.and_then(|i| proc.socket_endpoints(me(), i));
        assert_eq!(
            ends,
            Some((
                AF_INET,
                Some(SockAddr::Inet([127, 0, 0, 1], server_addr.port())),
                Some(SockAddr::Inet([0; 4], 0))
            ))
        );
    }

    #[test]
    fn udp6_unix_cwd_and_missing_fds() {
        let mut proc = ProcfsLookup::default();
        if let Ok(udp) = UdpSocket::bind("[::1]:0") {
            let inode = proc
                .fd_target(me(), udp.as_raw_fd())
                .as_deref()
                .and_then(socket_inode);
            let ends = inode.and_then(|i| proc.socket_endpoints(me(), i));
            let Ok(addr) = udp.local_addr() else {
                panic!("no addr")
            };
            let mut loopback = [0u8; 16];
            loopback[15] = 1;
            assert_eq!(
                ends.map(|e| (e.0, e.1)),
                Some((AF_INET6, Some(SockAddr::Inet6(loopback, addr.port(), 0))))
            );
        } else {
            eprintln!("no IPv6 loopback here: the udp6 part of this test did not run");
        }
        let dir = tempfile::tempdir().ok();
        let sock_path = dir.as_ref().map(|d| d.path().join("s"));
        if let Some(Ok(unix)) = sock_path.as_ref().map(UnixListener::bind) {
            let inode = proc
                .fd_target(me(), unix.as_raw_fd())
                .as_deref()
                .and_then(socket_inode);
            let ends = inode.and_then(|i| proc.socket_endpoints(me(), i));
            let expected =
                sock_path.map(|p| SockAddr::Unix(Bytes::from(p.as_os_str().as_bytes().to_vec())));
            assert_eq!(ends, Some((AF_UNIX, expected, None)));
        }
        let cwd = std::env::current_dir()
            .ok()
            .map(|p| p.as_os_str().as_bytes().to_vec());
        assert_eq!(proc.cwd(me()), cwd);
        assert_eq!(proc.fd_target(me(), 1_000_000), None);
        assert_eq!(proc.socket_endpoints(me(), u64::MAX), None);
    }

    #[test]
    fn parses_table_fields() {
        assert_eq!(
            parse_inet("0100007F:1F90", AF_INET),
            Some(SockAddr::Inet([127, 0, 0, 1], 8080))
        );
        assert_eq!(parse_inet("zz:1", AF_INET), None);
        assert_eq!(parse_inet("0100007F", AF_INET), None);
        let nl =
            "sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode\n0 0 1234 00000010 0 0 0 2 0 99\n";
        assert_eq!(
            find_netlink(nl, 99),
            Some((
                AF_NETLINK,
                Some(SockAddr::Netlink {
                    pid: 1234,
                    groups: 16
                }),
                None
            ))
        );
        let ux = "Num RefCount Protocol Flags Type St Inode Path\n0: 2 0 0 1 1 77 @abs\n";
        assert_eq!(
            find_unix(ux, 77),
            Some((
                AF_UNIX,
                Some(SockAddr::Unix(Bytes::from(b"\0abs".to_vec()))),
                None
            ))
        );
    }
}
