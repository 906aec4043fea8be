//! Starting the command to trace: fork, let the child stop itself, seize it, continue it into
//! `execv`. `std::process::Command` cannot be used: its spawn waits for the exec, which would
//! deadlock with a child that stops first.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::sys::ptrace::{self, Options};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use seccompiler::BpfProgram;

/// Exit status of the child when `execv` failed, as shells use.
pub const EXEC_FAILED: i32 = 127;
/// Exit status of the child when the seccomp filter could not be installed.
pub const FILTER_FAILED: i32 = 126;

/// Finds `cmd` the way `execvp` will, so a typo is reported before anything is forked.
pub fn resolve(cmd: &std::ffi::OsStr) -> Option<PathBuf> {
    let path = Path::new(cmd);
    if cmd.as_bytes().contains(&b'/') {
        return path.is_file().then(|| path.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(cmd))
            .find(|candidate| candidate.is_file())
    })
}

/// Forks and seizes the command; it runs once the tracer resumes it. `program` is the
/// command's resolved path: the child execs it directly, so the trace holds one execve, not
/// one failed attempt per PATH entry.
pub fn launch(
    program: &Path,
    argv: &[OsString],
    options: Options,
    filter: Option<&BpfProgram>,
    stdout_to_stderr: bool,
) -> Result<Pid, String> {
    // Everything the child needs is prepared before fork: after it, the child may only make
    // async-signal-safe calls.
    let args: Vec<CString> = argv
        .iter()
        .map(|a| {
            CString::new(a.as_bytes()).map_err(|_| "an argument contains a NUL byte".to_string())
        })
        .collect::<Result<_, _>>()?;
    if args.is_empty() {
        return Err("no command given".into());
    }
    let program = CString::new(program.as_os_str().as_bytes())
        .map_err(|_| "the command path contains a NUL byte".to_string())?;
    let mut pointers: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    pointers.push(std::ptr::null());
    let failure = b"rhf-record: could not start the command\n";
    // SAFETY: the child only calls dup2, raise, prctl/seccomp (via install), execv, write and
    // _exit.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => unsafe {
            if stdout_to_stderr {
                // The trace streams on standard output: the command must not write there.
                libc::dup2(2, 1);
            }
            libc::raise(libc::SIGSTOP);
            if let Some(filter) = filter {
                if !super::seccomp::install(filter) {
                    libc::write(2, failure.as_ptr().cast(), failure.len());
                    libc::_exit(FILTER_FAILED);
                }
            }
            libc::execv(program.as_ptr(), pointers.as_ptr());
            libc::write(2, failure.as_ptr().cast(), failure.len());
            libc::_exit(EXEC_FAILED);
        },
        ForkResult::Parent { child } => {
            match waitpid(child, Some(WaitPidFlag::WUNTRACED)) {
                Ok(WaitStatus::Stopped(_, Signal::SIGSTOP)) => {}
                other => {
                    let _ = kill(child, Signal::SIGKILL);
                    return Err(format!("the command did not stop before exec: {other:?}"));
                }
            }
            ptrace::seize(child, options).map_err(|e| {
                let _ = kill(child, Signal::SIGKILL);
                format!("cannot trace the command (ptrace): {e}; is ptrace allowed here (yama ptrace_scope, seccomp, containers)?")
            })?;
            kill(child, Signal::SIGCONT)
                .map_err(|e| format!("cannot continue the command: {e}"))?;
            Ok(child)
        }
    }
}
