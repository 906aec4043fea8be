//! Exit-time decoding: output arguments, and what a successful call changes in the fd tables.

use std::sync::Arc;

use rhf_format::sysent::ArgKind;
use rhf_format::{Arg, Bytes, Captured, FdTarget, SockAddr, SocketInfo, SyscallEvent};

use super::effects::{Cloexec, Effect};
use super::entry::{iovec_arg, sockaddr_arg, Regs};
use super::fdtable::Slot;
use super::memory;
use super::path;
use super::{Decoder, PendingCall, ProcLookup, TraceeMemory};

const EINPROGRESS: i64 = 115;
const EBADF: i64 = 9;
const F_DUPFD: u32 = 0;
const F_SETFD: u32 = 2;
const F_DUPFD_CLOEXEC: u32 = 1030;
const CLOSE_RANGE_UNSHARE: u64 = 2;
const CLOSE_RANGE_CLOEXEC: u64 = 4;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const SOCK_CLOEXEC: u64 = 0o2_000_000;
const MFD_CLOEXEC: u64 = 1;
const AF_UNIX: u16 = 1;

impl Decoder {
    /// Decodes a syscall's exit: output buffers (up to the return value and the snaplen),
    /// kernel-filled socket addresses and fd pairs; then, if the call succeeded, updates the
    /// fd tables and cwd. The returned event has `duration_ns` 0: the caller times calls.
    pub fn on_exit<M, L>(
        &mut self,
        pending: PendingCall,
        ret: i64,
        mem: &mut M,
        lookup: &mut L,
    ) -> SyscallEvent
    where
        M: TraceeMemory + ?Sized,
        L: ProcLookup + ?Sized,
    {
        let mut call = pending;
        let regs = Regs::of(call.abi);
        if let Some(spec) = call.spec {
            for (i, arg) in spec.args.iter().enumerate() {
                let raw = regs.word(call.raw.get(i).copied().unwrap_or(0));
                let out = match arg.kind {
                    ArgKind::BufOut => self.buf_out(call.tid, raw, ret, mem),
                    ArgKind::IovecOut => {
                        let count = regs.word(call.raw.get(i + 1).copied().unwrap_or(0));
                        let moved = u64::try_from(ret).unwrap_or(0);
                        iovec_arg(
                            mem,
                            call.tid,
                            regs,
                            raw,
                            count,
                            self.opts.snaplen,
                            Some(moved),
                        )
                    }
                    ArgKind::SockaddrOut { len } if ret >= 0 && raw != 0 => {
                        let len_ptr =
                            regs.word(call.raw.get(usize::from(len)).copied().unwrap_or(0));
                        match memory::read_socklen(mem, call.tid, len_ptr) {
                            Some(n) if n > 0 => sockaddr_arg(mem, call.tid, raw, u64::from(n)),
                            _ => continue,
                        }
                    }
                    ArgKind::FdPair if ret == 0 && raw != 0 => {
                        match memory::read_int_pair(mem, call.tid, raw) {
                            Some([a, b]) => {
                                let mut data = Vec::with_capacity(8);
                                data.extend_from_slice(&a.to_le_bytes());
                                data.extend_from_slice(&b.to_le_bytes());
                                Arg::Buf(Captured {
                                    data: Bytes::from(data),
                                    full_len: 8,
                                })
                            }
                            None => Arg::Unreadable(raw),
                        }
                    }
                    _ => continue,
                };
                if let Some(slot) = call.args.get_mut(i) {
                    *slot = out;
                }
            }
        }
        let applies = match call.effect {
            // A non-blocking connect is under way: its address is known already.
            Effect::Connect => ret >= 0 || ret == -EINPROGRESS,
            // close releases the fd even when it reports an error (EINTR, EIO), except EBADF.
            Effect::Close => ret != -EBADF,
            _ => ret >= 0,
        };
        if applies {
            self.apply(&mut call, ret, lookup);
        }
        SyscallEvent {
            pid: call.pid,
            tid: call.tid,
            nr: call.nr,
            abi: call.abi,
            ret,
            duration_ns: 0,
            args: call.args,
            unfinished: false,
        }
    }

    fn buf_out<M: TraceeMemory + ?Sized>(&self, tid: u32, addr: u64, ret: i64, mem: &mut M) -> Arg {
        match u64::try_from(ret) {
            Ok(n) if n > 0 => self.buf_arg(tid, addr, n, mem),
            // Nothing was written (error or end of file).
            _ => Arg::Buf(Captured::default()),
        }
    }

    /// Applies a successful call's effect on the fd tables and cwd.
    fn apply<L: ProcLookup + ?Sized>(&mut self, call: &mut PendingCall, ret: i64, lookup: &mut L) {
        let (pid, tid) = (call.pid, call.tid);
        let regs = Regs::of(call.abi);
        let arg = |i: usize| regs.word(call.raw.get(i).copied().unwrap_or(0));
        let new_fd = i32::try_from(ret).ok();
        let cloexec_of = |rule: Cloexec| match rule {
            Cloexec::Never => false,
            Cloexec::Always => true,
            Cloexec::Flag { arg: i, mask } => arg(usize::from(i)) & mask != 0,
        };
        match call.effect {
            // Spawns are reported by the tracer (on_spawn), which knows the child.
            Effect::None | Effect::Spawn(_) => {}
            Effect::Open { .. } => {
                let Some(fd) = new_fd else { return };
                let dir = call.open_flags & path::O_DIRECTORY != 0;
                let resolved = call.args.iter().find_map(|a| match a {
                    Arg::Path(p) => p.resolved.clone(),
                    _ => None,
                });
                let target = match resolved {
                    Some(p) if dir => FdTarget::Directory(p),
                    Some(p) => FdTarget::File(p),
                    // Unresolvable (unknown cwd or dirfd): the kernel's name for it.
                    None => match lookup.fd_target(tid, fd) {
                        Some(link) => path::parse_link(&link, dir),
                        None => return self.forget(pid, fd),
                    },
                };
                self.put(pid, fd, target, call.open_flags & path::O_CLOEXEC != 0);
            }
            Effect::Socket => {
                let Some(fd) = new_fd else { return };
                let info = SocketInfo {
                    family: arg(0) as u16,
                    // SOCK_NONBLOCK and SOCK_CLOEXEC ride in the type's upper bits.
                    sock_type: (arg(1) & 0xf) as u16,
                    protocol: arg(2) as u16,
                    ..SocketInfo::default()
                };
                self.put(pid, fd, FdTarget::Socket(info), arg(1) & SOCK_CLOEXEC != 0);
            }
            Effect::SocketPair => {
                let Some(Arg::Buf(c)) = call.args.get(3) else {
                    return;
                };
                let fds = fd_pair(&c.data);
                let info = SocketInfo {
                    family: arg(0) as u16,
                    sock_type: (arg(1) & 0xf) as u16,
                    protocol: arg(2) as u16,
                    ..SocketInfo::default()
                };
                for fd in fds.into_iter().flatten() {
                    let target = match lookup
                        .fd_target(tid, fd)
                        .and_then(|l| path::socket_inode(&l))
                    {
                        Some(inode) => SocketInfo {
                            inode,
                            ..info.clone()
                        },
                        None => info.clone(),
                    };
                    self.put(
                        pid,
                        fd,
                        FdTarget::Socket(target),
                        arg(1) & SOCK_CLOEXEC != 0,
                    );
                }
            }
            Effect::Connect | Effect::Bind => {
                let fd = arg(0) as u32 as i32;
                let passed = match call.args.get(1) {
                    Some(Arg::Sockaddr(a)) => Some(a.clone()),
                    _ => None,
                };
                let (local, remote) = if call.effect == Effect::Bind {
                    (passed, None)
                } else {
                    (None, passed)
                };
                let target = self.socket_after(pid, tid, fd, fd, local, remote, lookup);
                if let (Some(target), Some(Arg::Fd(_, t))) = (target, call.args.get_mut(0)) {
                    // The event shows the socket as the call left it (with its new address).
                    *t = Some(target);
                }
            }
            Effect::Accept { flags_arg } => {
                let Some(fd) = new_fd else { return };
                let listener = arg(0) as u32 as i32;
                let peer = match call.args.get(1) {
                    Some(Arg::Sockaddr(a)) => Some(a.clone()),
                    _ => None,
                };
                let cloexec = flags_arg.is_some_and(|i| arg(usize::from(i)) & SOCK_CLOEXEC != 0);
                if self
                    .socket_after(pid, tid, listener, fd, None, peer, lookup)
                    .is_some()
                {
                    if let Some(t) = self.tables.table_mut(pid) {
                        t.set_cloexec(fd, cloexec);
                    }
                }
            }
            Effect::Dup { cloexec } => {
                let Some(fd) = new_fd else { return };
                let old = arg(0) as u32 as i32;
                // dup2(fd, fd) changes nothing, not even close-on-exec.
                if old != fd {
                    self.copy_fd(pid, tid, old, fd, cloexec_of(cloexec), lookup);
                }
            }
            Effect::Fcntl => {
                let fd = arg(0) as u32 as i32;
                match arg(1) as u32 {
                    F_DUPFD | F_DUPFD_CLOEXEC => {
                        if let Some(new) = new_fd {
                            let cloexec = arg(1) as u32 == F_DUPFD_CLOEXEC;
                            self.copy_fd(pid, tid, fd, new, cloexec, lookup);
                        }
                    }
                    F_SETFD => {
                        if let Some(t) = self.tables.table_mut(pid) {
                            // FD_CLOEXEC is 1.
                            t.set_cloexec(fd, arg(2) & 1 != 0);
                        }
                    }
                    _ => {}
                }
            }
            Effect::Pipe { cloexec } => {
                let Some(Arg::Buf(c)) = call.args.first() else {
                    return;
                };
                let fds = fd_pair(&c.data);
                // Both ends are one pipe inode: one readlink names both.
                let inode = fds[0].and_then(|fd| lookup.fd_target(tid, fd));
                let target = match inode.map(|l| path::parse_link(&l, false)) {
                    Some(t @ FdTarget::Pipe(_)) => t,
                    _ => FdTarget::Pipe(0),
                };
                for fd in fds.into_iter().flatten() {
                    self.put(pid, fd, target.clone(), cloexec_of(cloexec));
                }
            }
            Effect::Close => self.forget(pid, arg(0) as u32 as i32),
            Effect::CloseRange => {
                let (first, last, flags) = (arg(0) as u32, arg(1) as u32, arg(2));
                if flags & CLOSE_RANGE_UNSHARE != 0 {
                    self.tables.unshare_files(pid);
                }
                let Some(t) = self.tables.table_mut(pid) else {
                    return;
                };
                for fd in t.fds() {
                    if (first..=last).contains(&(fd as u32)) {
                        if flags & CLOSE_RANGE_CLOEXEC != 0 {
                            t.set_cloexec(fd, true);
                        } else {
                            t.remove(fd);
                        }
                    }
                }
            }
            Effect::Memfd => {
                let Some(fd) = new_fd else { return };
                let name = match call.args.first() {
                    Some(Arg::Str(s)) => s.data.clone(),
                    _ => Bytes::new(),
                };
                self.put(pid, fd, FdTarget::Memfd(name), arg(1) & MFD_CLOEXEC != 0);
            }
            Effect::Anon { kind, cloexec } => {
                let Some(fd) = new_fd else { return };
                self.put(
                    pid,
                    fd,
                    FdTarget::Anon(kind.to_string()),
                    cloexec_of(cloexec),
                );
            }
            Effect::NewFd { cloexec } => {
                let Some(fd) = new_fd else { return };
                match lookup.fd_target(tid, fd) {
                    Some(link) => {
                        self.put(pid, fd, path::parse_link(&link, false), cloexec_of(cloexec))
                    }
                    None => self.forget(pid, fd),
                }
            }
            Effect::Bpf => {
                // Only some commands return a descriptor; all such are anon inodes.
                let Some(fd) = new_fd.filter(|fd| *fd > 0) else {
                    return;
                };
                if let Some(link) = lookup.fd_target(tid, fd) {
                    let target = path::parse_link(&link, false);
                    if matches!(target, FdTarget::Anon(_)) {
                        self.put(pid, fd, target, true);
                    }
                }
            }
            Effect::Chdir | Effect::Fchdir => {
                let fallback = match call.args.first() {
                    Some(Arg::Path(p)) => p.resolved.as_ref().map(|b| b.to_vec()),
                    Some(Arg::Fd(_, Some(t))) => path::target_dir(t).map(<[u8]>::to_vec),
                    _ => None,
                };
                // The kernel's answer is exact (symlinks followed); the lexical one is not.
                let cwd = lookup.cwd(tid).or(fallback);
                self.tables.set_cwd(pid, cwd);
            }
            Effect::Exec => {
                if ret == 0 {
                    self.on_exec(pid);
                }
            }
            Effect::Unshare => {
                if arg(0) & CLONE_FILES != 0 {
                    self.tables.unshare_files(pid);
                }
                if arg(0) & CLONE_FS != 0 {
                    self.tables.unshare_fs(pid);
                }
            }
            Effect::MayAddFds => {
                let fd = arg(0) as u32 as i32;
                let unix_or_unknown = match self.fd_target(pid, fd).as_deref() {
                    Some(FdTarget::Socket(s)) => s.family == AF_UNIX || s.family == 0,
                    Some(FdTarget::Anon(k)) => k == "io_uring",
                    _ => true,
                };
                if unix_or_unknown {
                    if let Some(t) = self.tables.table_mut(pid) {
                        t.mark_incomplete();
                    }
                }
            }
        }
    }

    fn put(&mut self, pid: u32, fd: i32, target: FdTarget, cloexec: bool) {
        if let Some(t) = self.tables.table_mut(pid) {
            t.insert(
                fd,
                Slot {
                    target: Arc::new(target),
                    cloexec,
                },
            );
        }
    }

    fn forget(&mut self, pid: u32, fd: i32) {
        if let Some(t) = self.tables.table_mut(pid) {
            t.remove(fd);
        }
    }

    fn copy_fd<L: ProcLookup + ?Sized>(
        &mut self,
        pid: u32,
        tid: u32,
        old: i32,
        new: i32,
        cloexec: bool,
        lookup: &mut L,
    ) {
        let target = match self.target_of(pid, tid, old, lookup) {
            Some(t) => Some(t),
            None => lookup
                .fd_target(tid, new)
                .map(|l| Arc::new(path::parse_link(&l, false))),
        };
        if let (Some(target), Some(t)) = (target, self.tables.table_mut(pid)) {
            t.insert(new, Slot { target, cloexec });
        }
    }

    /// Refreshes the socket `fd` of `pid` after connect/bind/accept: the inode from its link,
    /// the endpoints from /proc/net (falling back to the addresses the call carried), the
    /// family/type/protocol from what `from` (the same socket, or the listener) was.
    #[allow(clippy::too_many_arguments)]
    fn socket_after<L: ProcLookup + ?Sized>(
        &mut self,
        pid: u32,
        tid: u32,
        from: i32,
        fd: i32,
        local: Option<SockAddr>,
        remote: Option<SockAddr>,
        lookup: &mut L,
    ) -> Option<Arc<FdTarget>> {
        let mut info = match self.target_of(pid, tid, from, lookup).as_deref() {
            Some(FdTarget::Socket(s)) => s.clone(),
            _ => SocketInfo::default(),
        };
        if from != fd {
            // A new connection: the listener's addresses and inode are not its own.
            info.inode = 0;
            info.local = None;
            info.remote = None;
        }
        if let Some(inode) = lookup
            .fd_target(tid, fd)
            .and_then(|l| path::socket_inode(&l))
        {
            info.inode = inode;
        }
        let found = if info.inode != 0 {
            lookup.socket_endpoints(tid, info.inode)
        } else {
            None
        };
        match found {
            Some((family, l, r)) => {
                info.family = family;
                info.local = l.or(local).or(info.local);
                info.remote = r.or(remote).or(info.remote);
            }
            None => {
                info.local = local.or(info.local);
                info.remote = remote.or(info.remote);
            }
        }
        if info.family == 0 {
            info.family = match info.local.as_ref().or(info.remote.as_ref()) {
                Some(SockAddr::Inet(..)) => 2,
                Some(SockAddr::Inet6(..)) => 10,
                Some(SockAddr::Unix(_)) => 1,
                Some(SockAddr::Netlink { .. }) => 16,
                Some(SockAddr::Other(f, _)) => *f,
                None => 0,
            };
        }
        let target = Arc::new(FdTarget::Socket(info));
        let t = self.tables.table_mut(pid)?;
        let cloexec = t.get(fd).is_some_and(|s| s.cloexec);
        t.insert(
            fd,
            Slot {
                target: target.clone(),
                cloexec,
            },
        );
        Some(target)
    }
}

/// The two fds of a captured `int[2]`.
fn fd_pair(data: &[u8]) -> [Option<i32>; 2] {
    let at = |i: usize| {
        data.get(i..i + 4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .filter(|fd| *fd >= 0)
    };
    [at(0), at(4)]
}
