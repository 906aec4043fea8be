//! Reading typed values out of a tracee's memory through [`TraceeMemory`].
//!
//! Everything read here is controlled by the traced process: lengths are capped before any
//! allocation, a fault ends a read without failing the event, and nothing is trusted to be
//! NUL-terminated or well-formed.

use rhf_format::{Bytes, SockAddr};

use super::TraceeMemory;

/// Reads stop at page boundaries so that a string ending just before an unmapped page is
/// still read whole (one `process_vm_readv` cannot cross into a page that faults).
const PAGE: u64 = 4096;

/// Largest socket address read (`sizeof(struct sockaddr_storage)`).
pub const SOCKADDR_MAX: usize = 128;

/// Reads exactly what the tracee has at `addr`, up to `len` bytes; `None` if nothing could
/// be read. A short result means a fault part-way.
pub fn read_bytes<M: TraceeMemory + ?Sized>(
    mem: &mut M,
    pid: u32,
    addr: u64,
    len: usize,
) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        let n = mem.read(pid, addr.wrapping_add(got as u64), &mut buf[got..]);
        if n == 0 {
            break;
        }
        got += n.min(len - got);
    }
    if got == 0 && len > 0 {
        return None;
    }
    buf.truncate(got);
    Some(buf)
}

/// Reads a NUL-terminated string of at most `cap` bytes (the NUL excluded). Returns the
/// bytes and whether the string was cut (at the cap, or by a fault before any NUL); `None`
/// when the first byte cannot be read.
pub fn read_cstr<M: TraceeMemory + ?Sized>(
    mem: &mut M,
    pid: u32,
    addr: u64,
    cap: usize,
) -> Option<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    // Most strings are short: a first small read avoids touching a whole page.
    let mut chunk = [0u8; 256];
    let mut at = addr;
    loop {
        let to_page_end = (PAGE - at % PAGE) as usize;
        let want = chunk.len().min(to_page_end).min(cap + 1 - out.len());
        let n = mem.read(pid, at, &mut chunk[..want]);
        if n == 0 {
            return if out.is_empty() {
                None
            } else {
                Some((out, true))
            };
        }
        let n = n.min(want);
        if let Some(nul) = chunk[..n].iter().position(|b| *b == 0) {
            out.extend_from_slice(&chunk[..nul]);
            return Some((out, false));
        }
        out.extend_from_slice(&chunk[..n]);
        if out.len() > cap {
            out.truncate(cap);
            return Some((out, true));
        }
        at = at.wrapping_add(n as u64);
    }
}

/// Limits for [`read_str_array`].
#[derive(Debug, Clone, Copy)]
pub struct ArrayCaps {
    pub max_items: usize,
    pub max_bytes: usize,
}

/// Reads a NULL-terminated array of string pointers (argv, envp). Returns the strings and
/// whether the list was cut (item or byte cap, or a fault); `None` when the array itself
/// cannot be read at all.
///
/// The pointers are read a block at a time (up to the end of their page), not one read per
/// pointer: an exec with a few dozen environment variables would otherwise cost as many
/// extra reads while the tracee waits.
pub fn read_str_array<M: TraceeMemory + ?Sized>(
    mem: &mut M,
    pid: u32,
    addr: u64,
    ptr_size: usize,
    caps: ArrayCaps,
) -> Option<(Vec<Bytes>, bool)> {
    const BLOCK: usize = 64;
    let ptr_size = ptr_size.clamp(1, 8);
    let mut items = Vec::new();
    let mut bytes = 0usize;
    let mut block = [0u8; BLOCK * 8];
    let mut at = addr;
    loop {
        let to_page_end = (PAGE - at % PAGE) as usize;
        // At least one whole pointer, even when it straddles a page boundary.
        let want = (BLOCK * ptr_size).min(to_page_end.max(ptr_size));
        let got = mem.read(pid, at, &mut block[..want]).min(want) / ptr_size;
        if got == 0 {
            return if items.is_empty() && at == addr {
                None
            } else {
                Some((items, true))
            };
        }
        for raw in block[..got * ptr_size].chunks_exact(ptr_size) {
            let mut word = [0u8; 8];
            word[..ptr_size].copy_from_slice(raw);
            let p = u64::from_le_bytes(word);
            if p == 0 {
                return Some((items, false));
            }
            if items.len() >= caps.max_items || bytes >= caps.max_bytes {
                return Some((items, true));
            }
            match read_cstr(mem, pid, p, caps.max_bytes - bytes) {
                Some((s, cut)) => {
                    bytes += s.len() + 1;
                    items.push(Bytes::from(s));
                    if cut {
                        return Some((items, true));
                    }
                }
                None => return Some((items, true)),
            }
        }
        at = at.wrapping_add((got * ptr_size) as u64);
    }
}

/// Reads two `int`s (the fds `pipe` and `socketpair` write).
pub fn read_int_pair<M: TraceeMemory + ?Sized>(
    mem: &mut M,
    pid: u32,
    addr: u64,
) -> Option<[i32; 2]> {
    let mut b = [0u8; 8];
    if mem.read(pid, addr, &mut b) < 8 {
        return None;
    }
    let [a0, a1, a2, a3, b0, b1, b2, b3] = b;
    Some([
        i32::from_le_bytes([a0, a1, a2, a3]),
        i32::from_le_bytes([b0, b1, b2, b3]),
    ])
}

/// Reads a `socklen_t`.
pub fn read_socklen<M: TraceeMemory + ?Sized>(mem: &mut M, pid: u32, addr: u64) -> Option<u32> {
    let mut b = [0u8; 4];
    if mem.read(pid, addr, &mut b) < 4 {
        return None;
    }
    Some(u32::from_le_bytes(b))
}

/// Reads and decodes a socket address of `len` bytes (capped at `sockaddr_storage`).
pub fn read_sockaddr<M: TraceeMemory + ?Sized>(
    mem: &mut M,
    pid: u32,
    addr: u64,
    len: usize,
) -> Option<SockAddr> {
    let bytes = read_bytes(mem, pid, addr, len.min(SOCKADDR_MAX))?;
    parse_sockaddr(&bytes)
}

/// Decodes a `struct sockaddr` by family. `None` if shorter than its family field.
pub fn parse_sockaddr(b: &[u8]) -> Option<SockAddr> {
    let family = u16::from_le_bytes([*b.first()?, *b.get(1)?]);
    let port = |b: &[u8]| b.get(2..4).map(|p| u16::from_be_bytes([p[0], p[1]]));
    let u32_at = |i: usize| {
        b.get(i..i + 4)
            .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]))
    };
    let other = || SockAddr::Other(family, Bytes::from(b[2..].to_vec()));
    Some(match family {
        1 => {
            let path = &b[2..];
            // Abstract names start with NUL and run to the given length; paths end at a NUL.
            let path = if path.first() == Some(&0) {
                path
            } else {
                path.split(|c| *c == 0).next().unwrap_or(path)
            };
            SockAddr::Unix(Bytes::from(path.to_vec()))
        }
        2 => match (port(b), b.get(4..8)) {
            (Some(port), Some(a)) => SockAddr::Inet([a[0], a[1], a[2], a[3]], port),
            _ => other(),
        },
        10 => match (port(b), b.get(8..24), u32_at(24)) {
            (Some(port), Some(a), Some(scope)) => {
                let mut addr = [0u8; 16];
                addr.copy_from_slice(a);
                SockAddr::Inet6(addr, port, scope)
            }
            _ => other(),
        },
        16 => match (u32_at(4), u32_at(8)) {
            (Some(pid), Some(groups)) => SockAddr::Netlink { pid, groups },
            _ => other(),
        },
        _ => other(),
    })
}

/// Reads an iovec array of `count` entries and concatenates the buffers, up to `limit`
/// bytes (and never past `max_total` when the kernel reported fewer bytes moved). Returns
/// the bytes and the sum of all `iov_len`s; `None` if the array cannot be read.
pub fn read_iovec<M: TraceeMemory + ?Sized>(
    mem: &mut M,
    pid: u32,
    addr: u64,
    count: u64,
    ptr_size: usize,
    limit: usize,
    max_total: Option<u64>,
) -> Option<(Vec<u8>, u64)> {
    // IOV_MAX: the kernel refuses more, so more is never worth reading.
    let count = count.min(1024) as usize;
    let entry = 2 * ptr_size;
    let array = read_bytes(mem, pid, addr, count * entry)?;
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        w[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
        u64::from_le_bytes(w)
    };
    let mut total = 0u64;
    let mut data = Vec::new();
    let mut budget = limit as u64;
    if let Some(max) = max_total {
        budget = budget.min(max);
    }
    for e in array.chunks_exact(entry) {
        let (base, len) = (word(&e[..ptr_size]), word(&e[ptr_size..]));
        total = total.saturating_add(len);
        let take = len.min(budget - (data.len() as u64).min(budget)) as usize;
        if take > 0 {
            match read_bytes(mem, pid, base, take) {
                Some(b) => data.extend_from_slice(&b),
                None => break,
            }
        }
    }
    Some((data, max_total.unwrap_or(total)))
}
