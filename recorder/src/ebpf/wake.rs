//! What wakes the capture loop before its next tick: the ring buffer's forced wake-up (a busy
//! ring) or the launched command's exit. Without the second, a short command would wait out
//! the rest of a 10 ms tick before the capture noticed it had ended.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use anyhow::{Context, Result};

/// An epoll set over the ring buffer's own epoll descriptor and, optionally, a pidfd.
pub struct Wake {
    epoll: OwnedFd,
    /// Kept open for as long as it is watched.
    _pidfd: Option<OwnedFd>,
}

impl Wake {
    /// Watches `ring_epoll` (libbpf's epoll descriptor for the ring buffer) and, when given,
    /// the exit of process `pid` (a pidfd is readable once the process has exited; it is
    /// watched once, as it stays readable after).
    pub fn new(ring_epoll: RawFd, pid: Option<u32>) -> Result<Wake> {
        // SAFETY: plain syscalls; every returned descriptor is checked and owned at once.
        let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epoll < 0 {
            return Err(std::io::Error::last_os_error()).context("epoll_create1");
        }
        let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
        add(&epoll, ring_epoll, libc::EPOLLIN as u32).context("watching the ring buffer")?;
        let pidfd = match pid {
            Some(pid) => {
                let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
                if fd < 0 {
                    return Err(std::io::Error::last_os_error())
                        .with_context(|| format!("pidfd_open of process {pid}"));
                }
                let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
                add(
                    &epoll,
                    fd.as_raw_fd(),
                    (libc::EPOLLIN | libc::EPOLLONESHOT) as u32,
                )
                .context("watching the command's exit")?;
                Some(fd)
            }
            None => None,
        };
        Ok(Wake {
            epoll,
            _pidfd: pidfd,
        })
    }

    /// Waits until something is ready or `timeout` passed; a signal ends the wait early (the
    /// caller then looks at why).
    pub fn wait(&self, timeout: Duration) -> Result<()> {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 2];
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: `events` outlives the call and its length is passed.
        let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), 2, ms) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(err).context("waiting for the ring buffer");
            }
        }
        Ok(())
    }
}

fn add(epoll: &OwnedFd, fd: RawFd, events: u32) -> std::io::Result<()> {
    let mut event = libc::epoll_event {
        events,
        u64: fd as u64,
    };
    // SAFETY: `event` is a valid epoll_event for the duration of the call.
    if unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
