//! The compact tag-length encoding of syscall arguments (the hot path of every trace).
//!
//! Syscall arguments make up most of a trace, so they are not MessagePack with variant names
//! but one tag byte per value followed by LEB128 varints and length-prefixed bytes, as
//! `docs/FORMAT.md` specifies. Decoding is bounded by the body it reads from.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::codec::{put_varint, unzigzag, zigzag, Cursor};
use crate::record::{Arg, Bytes, Captured, FdTarget, PathArg, SockAddr, SocketInfo};

/// Largest argument count accepted per event (syscalls take at most six; margin for growth).
const MAX_ARGS: u64 = 16;

/// The fd targets already written in the current chunk. A repeated target is written as a
/// reference to its first appearance (tag 8): most events name one of a few descriptors.
#[derive(Debug, Default, Clone)]
pub struct FdTargetTable {
    index: HashMap<Arc<FdTarget>, u32>,
    order: Vec<Arc<FdTarget>>,
}

impl FdTargetTable {
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn clear(&mut self) {
        self.index.clear();
        self.order.clear();
    }

    /// Forgets the targets added after the table had `len` entries.
    pub fn truncate(&mut self, len: usize) {
        for t in self.order.drain(len..) {
            self.index.remove(&t);
        }
    }
}

/// The fd targets defined so far in a chunk, as a decoder knows them. Definitions are
/// numbered in the order records make them, but the arguments of a skipped record are not
/// walked when it is skipped, only noted: its definitions are counted and read when a later
/// reference needs a number they settle. A pass that decodes few records whole (the process
/// state, the rules' opens) then never walks the arguments of the others.
///
/// Chunks written since 1.1 say which record defines each target (the `defs` column): a
/// reference then reads that one record, and nothing is noted or walked in order.
#[derive(Debug, Default, Clone)]
pub struct FdTargets {
    /// Targets read through the `defs` column, by number.
    direct: HashMap<usize, Arc<FdTarget>>,
    /// Definitions whose number is settled: number `i` is `settled[i]`.
    settled: Vec<Arc<FdTarget>>,
    /// What follows them, in record order: skipped records not walked yet, and definitions
    /// made by decoded records after them (their numbers depend on the walk).
    pending: VecDeque<Pending>,
}

#[derive(Debug, Clone)]
enum Pending {
    /// Skipped syscall records `from..to` (record indexes), not walked yet.
    Unread {
        from: usize,
        to: usize,
    },
    Defined(Arc<FdTarget>),
}

/// Where a chunk's record bodies lie: record `i`'s body is `payload[starts[i]..starts[i + 1]]`;
/// and, since 1.1, which record defines each fd target (`defs[n]` for target `n`).
#[derive(Debug, Clone, Copy)]
pub struct Bodies<'p> {
    pub payload: &'p [u8],
    pub starts: &'p [usize],
    pub defs: Option<&'p [usize]>,
}

impl<'p> Bodies<'p> {
    fn get(&self, i: usize) -> Option<&'p [u8]> {
        let (start, end) = (*self.starts.get(i)?, *self.starts.get(i + 1)?);
        self.payload.get(start..end)
    }
}

impl FdTargets {
    /// Notes skipped syscall record `index` (runs of them are noted as one range).
    pub fn skip(&mut self, index: usize) {
        if let Some(Pending::Unread { to, .. }) = self.pending.back_mut() {
            if *to == index {
                *to += 1;
                return;
            }
        }
        self.pending.push_back(Pending::Unread {
            from: index,
            to: index + 1,
        });
    }

    /// Target `i`, read from the record `defs` names (the how-many-th of that record's
    /// definitions it is follows from the records before).
    fn read_direct(
        &mut self,
        i: usize,
        defs: &[usize],
        bodies: Bodies<'_>,
    ) -> Option<Arc<FdTarget>> {
        if let Some(t) = self.direct.get(&i) {
            return Some(Arc::clone(t));
        }
        let record = *defs.get(i)?;
        let before = defs.partition_point(|r| *r < record);
        let nth = i - before;
        let mut defined = Vec::new();
        skip_args(&mut Cursor::new(bodies.get(record)?), &mut defined, before).ok()?;
        let t = defined.into_iter().nth(nth)?;
        self.direct.insert(i, Arc::clone(&t));
        Some(t)
    }

    /// A target defined by the record being decoded.
    fn define(&mut self, t: Arc<FdTarget>) {
        if self.pending.is_empty() {
            self.settled.push(t);
        } else {
            self.pending.push_back(Pending::Defined(t));
        }
    }

    /// Target number `i`, settling pending numbers in order until it is known.
    fn get(&mut self, i: u64, bodies: Bodies<'_>) -> Result<Arc<FdTarget>, String> {
        let unknown = || format!("fd target reference {i} is unknown");
        let i = usize::try_from(i).map_err(|_| unknown())?;
        if let Some(defs) = bodies.defs {
            return self.read_direct(i, defs, bodies).ok_or_else(unknown);
        }
        while i >= self.settled.len() {
            match self.pending.pop_front() {
                None => break,
                Some(Pending::Defined(t)) => self.settled.push(t),
                Some(Pending::Unread { from, to }) => {
                    for index in from..to {
                        let body = bodies
                            .get(index)
                            .ok_or_else(|| format!("skipped record {index}: body out of range"))?;
                        skip_args(&mut Cursor::new(body), &mut self.settled, 0)
                            .map_err(|e| format!("in skipped record {index}: {e}"))?;
                    }
                }
            }
        }
        self.settled.get(i).cloned().ok_or_else(unknown)
    }
}

pub fn encode_args(args: &[Arg], table: &mut FdTargetTable, out: &mut Vec<u8>) {
    put_varint(out, args.len() as u64);
    for arg in args {
        match arg {
            Arg::Int(v) => {
                out.push(0);
                put_varint(out, zigzag(*v));
            }
            Arg::Hex(v) => {
                out.push(1);
                put_varint(out, *v);
            }
            Arg::Fd(fd, target) => {
                out.push(2);
                put_varint(out, zigzag(i64::from(*fd)));
                match target {
                    Some(t) if table.index.contains_key(t) => {
                        out.push(8);
                        put_varint(out, u64::from(table.index[t]));
                    }
                    Some(t) => {
                        put_fd_target(out, Some(t.as_ref()));
                        table.index.insert(t.clone(), table.order.len() as u32);
                        table.order.push(t.clone());
                    }
                    None => out.push(0),
                }
            }
            Arg::Path(p) => {
                out.push(3);
                put_bytes(out, &p.raw);
                put_opt_bytes(out, p.resolved.as_ref().map(|b| b.as_slice()));
            }
            Arg::Str(c) => {
                out.push(4);
                put_bytes(out, &c.data);
                put_varint(out, c.full_len);
            }
            Arg::Buf(c) => {
                out.push(5);
                put_bytes(out, &c.data);
                put_varint(out, c.full_len);
            }
            Arg::StrList(items, truncated) => {
                out.push(6);
                put_varint(out, items.len() as u64);
                for item in items {
                    put_bytes(out, item);
                }
                out.push(u8::from(*truncated));
            }
            Arg::Sockaddr(addr) => {
                out.push(7);
                put_sockaddr(out, Some(addr));
            }
            Arg::Unreadable(ptr) => {
                out.push(8);
                put_varint(out, *ptr);
            }
        }
    }
}

/// Decodes a syscall body into `args`, which is cleared first (its allocation is reused).
/// `bodies` are the chunk's, where the skipped records noted in `table` lie.
pub fn decode_args_into(
    c: &mut Cursor<'_>,
    table: &mut FdTargets,
    bodies: Bodies<'_>,
    args: &mut Vec<Arg>,
) -> Result<(), String> {
    args.clear();
    let n = c.varint().ok_or("argument count missing")?;
    if n > MAX_ARGS {
        return Err(format!(
            "{n} arguments declared, at most {MAX_ARGS} allowed"
        ));
    }
    args.reserve(n as usize);
    for i in 0..n {
        let tag = c
            .byte()
            .ok_or_else(|| format!("argument {i}: tag missing"))?;
        let arg = match tag {
            0 => Arg::Int(unzigzag(varint(c)?)),
            1 => Arg::Hex(varint(c)?),
            2 => {
                let fd = i32::try_from(unzigzag(varint(c)?)).map_err(|_| "fd out of range")?;
                let target = if c.buf.get(c.pos) == Some(&8) {
                    c.pos += 1;
                    Some(table.get(varint(c)?, bodies)?)
                } else {
                    let t = get_fd_target(c)?.map(Arc::new);
                    match &t {
                        // With `defs`, numbers are found without counting definitions.
                        Some(t) if bodies.defs.is_none() => table.define(Arc::clone(t)),
                        _ => {}
                    }
                    t
                };
                Arg::Fd(fd, target)
            }
            3 => Arg::Path(PathArg {
                raw: bytes(c)?,
                resolved: opt_bytes(c)?,
            }),
            4 => Arg::Str(Captured {
                data: bytes(c)?,
                full_len: varint(c)?,
            }),
            5 => Arg::Buf(Captured {
                data: bytes(c)?,
                full_len: varint(c)?,
            }),
            6 => {
                let count = varint(c)?;
                // Each item takes at least one byte, so the body bounds the allocation.
                if count > c.remaining() as u64 {
                    return Err(format!("string list of {count} items exceeds its body"));
                }
                let mut items = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    items.push(bytes(c)?);
                }
                Arg::StrList(items, c.byte().ok_or("string list flag missing")? != 0)
            }
            7 => Arg::Sockaddr(get_sockaddr(c)?.ok_or("empty socket address")?),
            8 => Arg::Unreadable(varint(c)?),
            other => return Err(format!("argument {i}: unknown tag {other}")),
        };
        args.push(arg);
    }
    Ok(())
}

/// Walks the arguments of one record without building them, keeping only what later records
/// depend on: the fd targets defined here join `table`, so a backreference in a later record
/// still finds its target. Much cheaper than [`decode_args_into`] (no allocation for strings,
/// paths or buffers). References are checked against `base` targets defined before this
/// record (when `table` holds only this record's definitions) plus those in `table`.
fn skip_args(
    c: &mut Cursor<'_>,
    table: &mut Vec<Arc<FdTarget>>,
    base: usize,
) -> Result<(), String> {
    let n = c.varint().ok_or("argument count missing")?;
    if n > MAX_ARGS {
        return Err(format!(
            "{n} arguments declared, at most {MAX_ARGS} allowed"
        ));
    }
    let skip = |c: &mut Cursor<'_>| -> Result<(), String> {
        let len = varint(c)?;
        c.take(len)
            .map(|_| ())
            .ok_or_else(|| format!("byte string of {len} bytes runs past its body"))
    };
    for i in 0..n {
        match c
            .byte()
            .ok_or_else(|| format!("argument {i}: tag missing"))?
        {
            0 | 1 | 8 => {
                varint(c)?;
            }
            2 => {
                varint(c)?;
                if c.buf.get(c.pos) == Some(&8) {
                    c.pos += 1;
                    let r = varint(c)?;
                    if usize::try_from(r).map_or(true, |r| r >= base + table.len()) {
                        return Err(format!("fd target reference {r} is unknown"));
                    }
                } else if let Some(t) = get_fd_target(c)? {
                    table.push(Arc::new(t));
                }
            }
            3 => {
                skip(c)?;
                match varint(c)? {
                    0 => {}
                    n => {
                        c.take(n - 1).ok_or("byte string runs past its body")?;
                    }
                }
            }
            4 | 5 => {
                skip(c)?;
                varint(c)?;
            }
            6 => {
                let count = varint(c)?;
                if count > c.remaining() as u64 {
                    return Err(format!("string list of {count} items exceeds its body"));
                }
                for _ in 0..count {
                    skip(c)?;
                }
                c.byte().ok_or("string list flag missing")?;
            }
            7 => {
                get_sockaddr(c)?.ok_or("empty socket address")?;
            }
            other => return Err(format!("argument {i}: unknown tag {other}")),
        }
    }
    Ok(())
}

fn varint(c: &mut Cursor<'_>) -> Result<u64, String> {
    c.varint()
        .ok_or_else(|| "truncated or overlong varint".to_string())
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn bytes(c: &mut Cursor<'_>) -> Result<Bytes, String> {
    let len = varint(c)?;
    let b = c
        .take(len)
        .ok_or_else(|| format!("byte string of {len} bytes runs past its body"))?;
    Ok(Bytes::from(b.to_vec()))
}

/// `0` for none, else `len + 1` and the bytes.
fn put_opt_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => out.push(0),
        Some(b) => {
            put_varint(out, b.len() as u64 + 1);
            out.extend_from_slice(b);
        }
    }
}

fn opt_bytes(c: &mut Cursor<'_>) -> Result<Option<Bytes>, String> {
    match varint(c)? {
        0 => Ok(None),
        n => {
            let b = c
                .take(n - 1)
                .ok_or_else(|| format!("byte string of {} bytes runs past its body", n - 1))?;
            Ok(Some(Bytes::from(b.to_vec())))
        }
    }
}

fn put_fd_target(out: &mut Vec<u8>, t: Option<&FdTarget>) {
    match t {
        None => out.push(0),
        Some(FdTarget::File(p)) => {
            out.push(1);
            put_bytes(out, p);
        }
        Some(FdTarget::Directory(p)) => {
            out.push(2);
            put_bytes(out, p);
        }
        Some(FdTarget::Socket(s)) => {
            out.push(3);
            put_varint(out, s.inode);
            put_varint(out, u64::from(s.family));
            put_varint(out, u64::from(s.sock_type));
            put_varint(out, u64::from(s.protocol));
            put_sockaddr(out, s.local.as_ref());
            put_sockaddr(out, s.remote.as_ref());
        }
        Some(FdTarget::Pipe(inode)) => {
            out.push(4);
            put_varint(out, *inode);
        }
        Some(FdTarget::Anon(kind)) => {
            out.push(5);
            put_bytes(out, kind.as_bytes());
        }
        Some(FdTarget::Memfd(name)) => {
            out.push(6);
            put_bytes(out, name);
        }
        Some(FdTarget::Other(name)) => {
            out.push(7);
            put_bytes(out, name);
        }
    }
}

fn get_fd_target(c: &mut Cursor<'_>) -> Result<Option<FdTarget>, String> {
    let small = |v: u64, what: &str| u16::try_from(v).map_err(|_| format!("{what} out of range"));
    Ok(Some(match c.byte().ok_or("fd target tag missing")? {
        0 => return Ok(None),
        1 => FdTarget::File(bytes(c)?),
        2 => FdTarget::Directory(bytes(c)?),
        3 => FdTarget::Socket(SocketInfo {
            inode: varint(c)?,
            family: small(varint(c)?, "socket family")?,
            sock_type: small(varint(c)?, "socket type")?,
            protocol: small(varint(c)?, "socket protocol")?,
            local: get_sockaddr(c)?,
            remote: get_sockaddr(c)?,
        }),
        4 => FdTarget::Pipe(varint(c)?),
        5 => FdTarget::Anon(String::from_utf8_lossy(&bytes(c)?).into_owned()),
        6 => FdTarget::Memfd(bytes(c)?),
        7 => FdTarget::Other(bytes(c)?),
        other => return Err(format!("unknown fd target tag {other}")),
    }))
}

fn put_sockaddr(out: &mut Vec<u8>, a: Option<&SockAddr>) {
    match a {
        None => out.push(0),
        Some(SockAddr::Inet(ip, port)) => {
            out.push(1);
            out.extend_from_slice(ip);
            put_varint(out, u64::from(*port));
        }
        Some(SockAddr::Inet6(ip, port, scope)) => {
            out.push(2);
            out.extend_from_slice(ip);
            put_varint(out, u64::from(*port));
            put_varint(out, u64::from(*scope));
        }
        Some(SockAddr::Unix(path)) => {
            out.push(3);
            put_bytes(out, path);
        }
        Some(SockAddr::Netlink { pid, groups }) => {
            out.push(4);
            put_varint(out, u64::from(*pid));
            put_varint(out, u64::from(*groups));
        }
        Some(SockAddr::Other(family, data)) => {
            out.push(5);
            put_varint(out, u64::from(*family));
            put_bytes(out, data);
        }
    }
}

fn get_sockaddr(c: &mut Cursor<'_>) -> Result<Option<SockAddr>, String> {
    let port =
        |c: &mut Cursor<'_>| u16::try_from(varint(c)?).map_err(|_| "port out of range".to_string());
    let u32v = |c: &mut Cursor<'_>| {
        u32::try_from(varint(c)?).map_err(|_| "value out of range".to_string())
    };
    Ok(Some(
        match c.byte().ok_or("socket address tag missing")? {
            0 => return Ok(None),
            1 => {
                let ip: [u8; 4] = c
                    .take(4)
                    .and_then(|b| b.try_into().ok())
                    .ok_or("IPv4 address cut short")?;
                SockAddr::Inet(ip, port(c)?)
            }
            2 => {
                let ip: [u8; 16] = c
                    .take(16)
                    .and_then(|b| b.try_into().ok())
                    .ok_or("IPv6 address cut short")?;
                SockAddr::Inet6(ip, port(c)?, u32v(c)?)
            }
            3 => SockAddr::Unix(bytes(c)?),
            4 => SockAddr::Netlink {
                pid: u32v(c)?,
                groups: u32v(c)?,
            },
            5 => {
                let family = u16::try_from(varint(c)?).map_err(|_| "family out of range")?;
                SockAddr::Other(family, bytes(c)?)
            }
            other => return Err(format!("unknown socket address tag {other}")),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Record bodies laid end to end, as a chunk holds them, with their starts.
    fn chunk(records: &[Vec<Arg>]) -> (Vec<u8>, Vec<usize>) {
        let mut table = FdTargetTable::default();
        let (mut payload, mut starts) = (Vec::new(), vec![0]);
        for args in records {
            encode_args(args, &mut table, &mut payload);
            starts.push(payload.len());
        }
        (payload, starts)
    }

    fn file(p: &str) -> Option<Arc<FdTarget>> {
        Some(Arc::new(FdTarget::File(p.as_bytes().to_vec().into())))
    }

    fn decode(
        targets: &mut FdTargets,
        payload: &[u8],
        starts: &[usize],
        i: usize,
    ) -> Result<Vec<Arg>, String> {
        let mut args = Vec::new();
        let bodies = Bodies {
            payload,
            starts,
            defs: None,
        };
        let mut c = Cursor::new(bodies.get(i).unwrap());
        decode_args_into(&mut c, targets, bodies, &mut args).map(|()| args)
    }

    #[test]
    fn skipped_definitions_are_read_when_a_reference_needs_them() {
        let (payload, starts) = chunk(&[
            vec![Arg::Fd(3, file("/a"))],
            vec![Arg::Fd(4, file("/b"))],
            vec![Arg::Fd(5, file("/c")), Arg::Fd(3, file("/a"))],
            vec![Arg::Fd(4, file("/b")), Arg::Fd(5, file("/c"))],
        ]);
        let mut targets = FdTargets::default();
        targets.skip(0);
        targets.skip(1);
        // Record 2 defines /c (number 2, after the two skipped definitions) and refers to /a.
        assert_eq!(
            decode(&mut targets, &payload, &starts, 2).unwrap(),
            [Arg::Fd(5, file("/c")), Arg::Fd(3, file("/a"))]
        );
        assert_eq!(
            decode(&mut targets, &payload, &starts, 3).unwrap(),
            [Arg::Fd(4, file("/b")), Arg::Fd(5, file("/c"))]
        );
    }

    #[test]
    fn with_the_defs_column_a_reference_reads_only_the_defining_record() {
        let (payload, starts) = chunk(&[
            vec![Arg::Fd(3, file("/a"))],
            vec![Arg::Int(1), Arg::Fd(4, file("/b"))],
            vec![Arg::Fd(3, file("/a")), Arg::Fd(5, file("/c"))],
            vec![Arg::Fd(5, file("/c")), Arg::Fd(4, file("/b"))],
        ]);
        let defs = [0, 1, 2];
        let mut targets = FdTargets::default();
        let mut args = Vec::new();
        let bodies = Bodies {
            payload: &payload,
            starts: &starts,
            defs: Some(&defs),
        };
        let mut c = Cursor::new(bodies.get(3).unwrap());
        decode_args_into(&mut c, &mut targets, bodies, &mut args).unwrap();
        assert_eq!(args, [Arg::Fd(5, file("/c")), Arg::Fd(4, file("/b"))]);
        // A defs column that names the wrong record is an unknown reference, not a panic.
        let wrong = [0, 0, 0];
        let bodies = Bodies {
            defs: Some(&wrong),
            ..bodies
        };
        let mut c = Cursor::new(bodies.get(3).unwrap());
        let mut targets = FdTargets::default();
        assert!(decode_args_into(&mut c, &mut targets, bodies, &mut args).is_err());
    }

    #[test]
    fn a_damaged_skipped_record_is_reported_when_it_is_needed() {
        let (mut payload, starts) =
            chunk(&[vec![Arg::Fd(3, file("/a"))], vec![Arg::Fd(3, file("/a"))]]);
        // Record 0's body: count, tag 2, fd, then the target: make its tag unknown.
        payload[3] = 0x7f;
        let mut targets = FdTargets::default();
        targets.skip(0);
        let err = decode(&mut targets, &payload, &starts, 1).unwrap_err();
        assert!(err.contains("in skipped record 0"), "{err}");
    }
}
