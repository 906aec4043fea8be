//! The memory the BPF program copied at a call's entry, offered to the shared decoder as a
//! [`TraceeMemory`]: a read inside a captured argument returns the captured bytes, anything
//! else reads nothing, which the decoder records as a fault (`Arg::Unreadable`). So paths,
//! strings and socket addresses decode exactly as they do under ptrace, by the same code.

use crate::decode::TraceeMemory;

use super::event::Capture;

/// The captures of one call, each placed at the address its argument held.
pub struct CapturedMemory<'a> {
    /// (address, bytes): a cut string has no NUL, so the decoder's next read past it finds
    /// nothing and marks the string cut.
    regions: Vec<(u64, &'a [u8])>,
}

impl<'a> CapturedMemory<'a> {
    /// `args` are the call's raw argument registers, which hold the captured addresses.
    pub fn new(args: &[u64; 6], captures: &[Capture<'a>]) -> CapturedMemory<'a> {
        CapturedMemory {
            regions: captures
                .iter()
                .filter_map(|c| Some((*args.get(usize::from(c.arg))?, c.bytes)))
                .collect(),
        }
    }
}

impl TraceeMemory for CapturedMemory<'_> {
    fn read(&mut self, _pid: u32, addr: u64, buf: &mut [u8]) -> usize {
        for &(start, bytes) in &self.regions {
            let Some(offset) = addr.checked_sub(start) else {
                continue;
            };
            let Some(rest) = usize::try_from(offset).ok().and_then(|o| bytes.get(o..)) else {
                continue;
            };
            if rest.is_empty() {
                continue;
            }
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            return n;
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::memory::{read_cstr, read_sockaddr};
    use rhf_format::SockAddr;

    #[test]
    fn reads_inside_captures_only() {
        let caps = [
            Capture {
                arg: 1,
                cut: false,
                bytes: b"/etc/hostname\0",
            },
            Capture {
                arg: 2,
                cut: true,
                bytes: b"abc",
            },
        ];
        let mut mem = CapturedMemory::new(&[0, 0x1000, 0x2000, 0, 0, 0], &caps);
        assert_eq!(
            read_cstr(&mut mem, 1, 0x1000, 4096),
            Some((b"/etc/hostname".to_vec(), false))
        );
        // Inside a capture, from an offset.
        assert_eq!(
            read_cstr(&mut mem, 1, 0x1005, 4096),
            Some((b"hostname".to_vec(), false))
        );
        // A cut capture ends without its NUL: the string is marked cut.
        assert_eq!(
            read_cstr(&mut mem, 1, 0x2000, 4096),
            Some((b"abc".to_vec(), true))
        );
        // Elsewhere: a fault.
        assert_eq!(read_cstr(&mut mem, 1, 0x3000, 4096), None);
        assert_eq!(read_cstr(&mut mem, 1, 0xfff, 4096), None);
        let mut buf = [0u8; 8];
        assert_eq!(
            CapturedMemory::new(&[0x1000; 6], &[]).read(1, 0x1000, &mut buf),
            0
        );
    }

    #[test]
    fn socket_addresses_decode_from_captured_bytes() {
        // sockaddr_in 127.0.0.1:8080
        let sin = [2, 0, 0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        let caps = [Capture {
            arg: 1,
            cut: false,
            bytes: &sin,
        }];
        let mut mem = CapturedMemory::new(&[3, 0x7000, 16, 0, 0, 0], &caps);
        assert_eq!(
            read_sockaddr(&mut mem, 1, 0x7000, 16),
            Some(SockAddr::Inet([127, 0, 0, 1], 8080))
        );
    }
}
