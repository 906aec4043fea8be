//! Indicators about sockets: reverse shells, packet and raw sockets.

use super::{Finding, Severity};
use crate::snapshot::net::{Proto, Socket};
use crate::snapshot::process::Process;
use crate::snapshot::HostSnapshot;

/// Programs that give a remote user a command interpreter when their standard streams are
/// a socket. `python*` also matches `python3`, `python3.12`.
const SHELLS: [&str; 18] = [
    "sh", "bash", "dash", "zsh", "ksh", "ash", "busybox", "fish", "tcsh", "csh", "perl", "ruby",
    "php", "nc", "ncat", "netcat", "socat", "lua",
];

fn basename(name: &[u8]) -> &[u8] {
    let base = name.rsplit(|b| *b == b'/').next().unwrap_or(name);
    // Login shells are started as `-bash`.
    base.strip_prefix(b"-").unwrap_or(base)
}

fn is_shell_name(name: &[u8]) -> bool {
    let base = basename(name);
    base.starts_with(b"python") || SHELLS.iter().any(|s| s.as_bytes() == base)
}

/// True when `comm` or argv[0] names an interpreter.
pub fn is_shell(p: &Process) -> bool {
    is_shell_name(&p.comm) || p.argv.first().is_some_and(|a| is_shell_name(a))
}

/// How suspicious a socket on a standard stream is, or `None` when it is not.
fn stream_socket_severity(fd: i32, s: &Socket) -> Option<Severity> {
    match s.proto {
        Proto::Tcp | Proto::Tcp6 if s.state == "ESTABLISHED" => Some(Severity::High),
        Proto::Udp | Proto::Udp6 if s.state == "ESTABLISHED" => Some(Severity::Medium),
        // systemd connects the stdout and stderr of every service to journald over a unix
        // socket, so only a connected unix socket on stdin counts.
        Proto::Unix if fd == 0 && s.state == "CONNECTED" => Some(Severity::Medium),
        _ => None,
    }
}

/// `reverse_shell`: an interpreter whose fd 0, 1 or 2 is a socket that is an ESTABLISHED
/// tcp/tcp6 row (high), a connected udp row (medium), or a connected unix socket on stdin
/// (medium), in its network namespace.
pub fn reverse_shell(snap: &HostSnapshot, p: &Process) -> Option<Finding> {
    if !is_shell(p) || p.is_kernel_thread() {
        return None;
    }
    let mut worst = None;
    // One entry per socket, with every standard stream on it (usually all three).
    let mut hits: Vec<(u64, Vec<i32>, String)> = Vec::new();
    let mut std_fds: Vec<_> = p.fds.iter().filter(|f| (0..=2).contains(&f.fd)).collect();
    std_fds.sort_by_key(|f| f.fd);
    for f in std_fds {
        let Some(inode) = f.socket_inode() else {
            continue;
        };
        let Some((netns, s)) = snap.socket_of(p, inode) else {
            continue;
        };
        let Some(sev) = stream_socket_severity(f.fd, s) else {
            continue;
        };
        worst = worst.max(Some(sev));
        if let Some(hit) = hits.iter_mut().find(|(i, _, _)| *i == inode) {
            hit.1.push(f.fd);
            continue;
        }
        let kind = match s.proto {
            Proto::Udp | Proto::Udp6 => " (connected udp socket)",
            Proto::Unix => " (connected unix socket)",
            _ => "",
        };
        hits.push((
            inode,
            vec![f.fd],
            format!("{}{kind} netns {netns}", s.describe()),
        ));
    }
    let parts: Vec<String> = hits
        .iter()
        .map(|(inode, fds, row)| {
            let fds: Vec<String> = fds.iter().map(i32::to_string).collect();
            format!("fd {} -> socket:[{inode}] {row}", fds.join(","))
        })
        .collect();
    Some(Finding::on(p, "reverse_shell", worst?, parts.join("; ")))
}

/// `packet_socket` and `raw_socket`: a descriptor whose inode is a row of
/// `/proc/net/packet`, or of `/proc/net/raw` / `raw6`. One finding per socket.
pub fn special_sockets(snap: &HostSnapshot, p: &Process) -> Vec<Finding> {
    let mut out = Vec::new();
    for f in &p.fds {
        let Some(inode) = f.socket_inode() else {
            continue;
        };
        let Some((netns, s)) = snap.socket_of(p, inode) else {
            continue;
        };
        let indicator = match s.proto {
            Proto::Packet => "packet_socket",
            Proto::Raw | Proto::Raw6 => "raw_socket",
            _ => continue,
        };
        let evidence = format!(
            "fd {} -> socket:[{inode}] {} netns {netns}",
            f.fd,
            s.describe()
        );
        out.push(Finding::on(p, indicator, Severity::Medium, evidence));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreters_are_recognised_by_basename() {
        for yes in [
            &b"bash"[..],
            b"/bin/sh",
            b"-bash",
            b"python3.12",
            b"/usr/bin/python",
            b"nc",
        ] {
            assert!(is_shell_name(yes), "{yes:?}");
        }
        for no in [&b"sleep"[..], b"sshd", b"bashful", b"/usr/bin/ncdu", b""] {
            assert!(!is_shell_name(no), "{no:?}");
        }
    }
}
