//! What the decoder may ask `/proc` when the process is not stopped. Under ptrace the answer
//! describes the tracee at the very call being decoded; here the call was made a few
//! milliseconds before its record is read, and the process ran on (or exited) meanwhile.
//!
//! Descriptors the decoder does not know are still looked up (a late answer is usually
//! right, and nothing else can say), but the working directory is not: after a `chdir`, the
//! decoder then keeps the directory it resolved from the call's own path, where `/proc` could
//! already show a later `cd`. Launched commands are seeded with their cwd while stopped and
//! children inherit their parent's, so the cwd is known without `/proc`. The price: a `chdir`
//! through a symbolic link keeps the link's path rather than its target.

use rhf_format::SockAddr;

use crate::decode::{ProcLookup, ProcfsLookup};

/// `/proc` for descriptors and sockets; never for the working directory.
#[derive(Debug, Default)]
pub struct RunningLookup(ProcfsLookup);

impl ProcLookup for RunningLookup {
    fn fd_target(&mut self, pid: u32, fd: i32) -> Option<Vec<u8>> {
        self.0.fd_target(pid, fd)
    }

    fn socket_endpoints(
        &mut self,
        pid: u32,
        inode: u64,
    ) -> Option<(u16, Option<SockAddr>, Option<SockAddr>)> {
        self.0.socket_endpoints(pid, inode)
    }

    fn cwd(&mut self, _pid: u32) -> Option<Vec<u8>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_descriptors_but_not_the_cwd() {
        let mut lookup = RunningLookup::default();
        let me = std::process::id();
        assert!(lookup.fd_target(me, 0).is_some() || lookup.fd_target(me, 1).is_some());
        assert_eq!(lookup.cwd(me), None);
    }
}
