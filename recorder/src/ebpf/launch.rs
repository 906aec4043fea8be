//! Starting the command for the eBPF backend: fork, let the child stop itself, let the caller
//! add it to the BPF filter, then continue it into `execv`, so its very first call (the
//! execve) is already seen. `std::process::Command` cannot do this: its spawn waits for the
//! exec, which would deadlock with a child that stops first.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use crate::ptrace::launch::EXEC_FAILED;

/// A forked command, stopped before its exec.
pub struct Stopped(Pid);

impl Stopped {
    pub fn pid(&self) -> Pid {
        self.0
    }

    /// Lets the command run into its exec.
    pub fn resume(self) -> Result<Pid> {
        kill(self.0, Signal::SIGCONT).context("cannot continue the command")?;
        Ok(self.0)
    }

    /// Kills the command before it ran anything of its own.
    pub fn abort(self) {
        let _ = kill(self.0, Signal::SIGKILL);
        let _ = waitpid(self.0, None);
    }
}

/// Forks the command; the child stops itself and runs `program` once resumed.
pub fn fork_stopped(program: &Path, argv: &[OsString], stdout_to_stderr: bool) -> Result<Stopped> {
    // Everything the child needs is prepared before fork: after it, the child may only make
    // async-signal-safe calls.
    let args: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()).map_err(|_| anyhow!("an argument contains a NUL byte")))
        .collect::<Result<_>>()?;
    if args.is_empty() {
        bail!("no command given");
    }
    let program = CString::new(program.as_os_str().as_bytes())
        .map_err(|_| anyhow!("the command path contains a NUL byte"))?;
    let mut pointers: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    pointers.push(std::ptr::null());
    let failure = b"rhf-record: could not start the command\n";
    // SAFETY: the child only calls dup2, prctl, getpid, kill, execv, write and _exit.
    match unsafe { fork() }.context("fork")? {
        ForkResult::Child => unsafe {
            if stdout_to_stderr {
                // The trace streams on standard output: the command must not write there.
                libc::dup2(2, 1);
            }
            // The command is ours: if the recorder is killed outright, so is the command (the
            // rest of its tree is killed by a recorder that stops normally).
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // A bare kill(2), not raise(3): raise also blocks and restores the signal mask,
            // and that restore would be the traced command's first recorded call.
            libc::kill(libc::getpid(), libc::SIGSTOP);
            libc::execv(program.as_ptr(), pointers.as_ptr());
            libc::write(2, failure.as_ptr().cast(), failure.len());
            libc::_exit(EXEC_FAILED);
        },
        ForkResult::Parent { child } => match waitpid(child, Some(WaitPidFlag::WUNTRACED)) {
            Ok(WaitStatus::Stopped(_, Signal::SIGSTOP)) => Ok(Stopped(child)),
            other => {
                let _ = kill(child, Signal::SIGKILL);
                bail!("the command did not stop before exec: {other:?}")
            }
        },
    }
}
