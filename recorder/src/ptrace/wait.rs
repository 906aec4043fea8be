//! Waiting for the next tracee stop: a short spin on `waitpid(WNOHANG)` before blocking.
//!
//! A blocking `waitpid` puts the tracer to sleep, and every stop of a tracee running on another
//! CPU then has to wake it there. On virtual machines that wake-up is an inter-processor
//! interrupt through the hypervisor and dominates the cost of a stop: on these machines a
//! ptrace stop costs ~50 us when the tracer sleeps and ~15 us when it is already running
//! (docs/BENCHMARKS.md, issue 4). Syscall-heavy tracees stop again within a few microseconds,
//! so the tracer polls for a bounded time (`--spin-wait`, default 50 us) and only then sleeps:
//! a quiet tracee costs at most that much CPU per stop, and a busy one stops far faster (and
//! uses less CPU in all, since sleeping and waking cost CPU too). With one usable CPU spinning
//! would only delay the tracee, so it is off.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

use super::signals;

/// Waits for stops of any tracee.
#[derive(Debug, Clone, Copy)]
pub struct StopWaiter {
    spin: Duration,
}

impl StopWaiter {
    /// A waiter that spins for `spin` (zero: never) when more than one CPU is usable.
    pub fn new(spin: Duration) -> Self {
        let spin = if usable_cpus() > 1 {
            spin
        } else {
            Duration::ZERO
        };
        StopWaiter { spin }
    }

    /// The next stop, exit or event of any tracee. `EINTR` when a stop signal arrived, so the
    /// caller re-checks why it should stop.
    pub fn next(&self) -> nix::Result<WaitStatus> {
        let all = WaitPidFlag::__WALL;
        if !self.spin.is_zero() {
            let started = Instant::now();
            loop {
                match waitpid(None, Some(all | WaitPidFlag::WNOHANG))? {
                    WaitStatus::StillAlive => {}
                    status => return Ok(status),
                }
                if signals::requested().is_some() {
                    return Err(Errno::EINTR);
                }
                if started.elapsed() >= self.spin {
                    break;
                }
                std::hint::spin_loop();
            }
        }
        waitpid(None, Some(all))
    }
}

/// CPUs this process may run on.
fn usable_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
