//! One version of one process: the facts rules and timelines ask about.

use std::sync::Arc;

use crate::snapshot::fd::OpenFd;
use crate::snapshot::process::{FileState, Process};

/// What a process was between two state changes. Strings are raw bytes from the node.
#[derive(Debug, Clone, Default)]
pub struct ProcState {
    pub pid: u32,
    pub ppid: u32,
    /// The kernel's task name (`comm`, at most 15 bytes): Falco's `proc.name`.
    pub comm: Vec<u8>,
    pub argv: Vec<Vec<u8>>,
    /// `argv[1..]` joined by spaces: Falco's `proc.args`.
    pub args: Vec<u8>,
    /// `comm` then the arguments: Falco's `proc.cmdline`.
    pub cmdline: Vec<u8>,
    /// The executable's full path (`/proc/PID/exe`, else the path given to execve).
    pub exepath: Option<Vec<u8>>,
    pub cwd: Option<Vec<u8>>,
    pub uid: Option<u32>,
    pub euid: Option<u32>,
    pub gid: Option<u32>,
    pub egid: Option<u32>,
    /// The audit login uid; `None` when unset.
    pub loginuid: Option<u32>,
    pub loginuid_known: bool,
    /// Controlling terminal device number, 0 when none.
    pub tty: u32,
    pub sid: Option<u32>,
    pub pgid: Option<u32>,
    /// `NAME=value` entries; `env_known` says whether the environment was recorded at all.
    pub env: Vec<Vec<u8>>,
    pub env_known: bool,
    /// Unix ns of the process start.
    pub start_unix_ns: Option<i128>,
    /// The 12-character container id, `host` for host processes, `None` when unknown.
    pub container_id: Option<String>,
    pub cap_effective: Option<u64>,
    pub cap_permitted: Option<u64>,
    pub cap_inheritable: Option<u64>,
    pub exe_deleted: Option<bool>,
    pub exe_from_memfd: Option<bool>,
    pub exe_ino: Option<u64>,
    pub exe_ctime_ns: Option<i64>,
    pub exe_mtime_ns: Option<i64>,
    /// Descriptors at snapshot time (only snapshot versions hold them).
    pub fds: Arc<Vec<OpenFd>>,
}

impl ProcState {
    /// A process as a `/proc` snapshot saw it.
    pub fn from_snapshot(p: &Process) -> ProcState {
        let exe = p.exe.as_ref();
        let mut s = ProcState {
            pid: p.pid,
            ppid: p.ppid,
            comm: p.comm.clone(),
            argv: p.argv.clone(),
            exepath: exe
                .filter(|e| e.error.is_none() && !e.path.is_empty())
                .map(|e| strip_deleted(&e.path).to_vec()),
            cwd: p.cwd.clone(),
            uid: p.uids.map(|u| u.real),
            euid: p.uids.map(|u| u.effective),
            gid: p.gids.map(|g| g.real),
            egid: p.gids.map(|g| g.effective),
            loginuid: p.loginuid,
            loginuid_known: true,
            tty: p.tty_nr,
            sid: p.sid,
            pgid: p.pgid,
            env: p
                .environ
                .iter()
                .map(|e| {
                    let mut kv = e.name.clone();
                    if let Some(v) = &e.value {
                        kv.push(b'=');
                        kv.extend_from_slice(v);
                    }
                    kv
                })
                .collect(),
            env_known: matches!(
                p.environ_state,
                FileState::Complete | FileState::Truncated(_)
            ),
            start_unix_ns: p.start_unix_ns,
            container_id: if p.cgroups.is_empty() {
                None
            } else {
                Some(
                    p.container
                        .as_ref()
                        .map_or_else(|| "host".to_string(), |c| c.short_id().to_string()),
                )
            },
            cap_effective: p.caps.map(|c| c.effective),
            cap_permitted: p.caps.map(|c| c.permitted),
            cap_inheritable: p.caps.map(|c| c.inheritable),
            exe_deleted: exe.filter(|e| e.error.is_none()).map(|e| e.deleted),
            exe_from_memfd: exe
                .filter(|e| e.error.is_none())
                .map(|e| e.path.starts_with(b"/memfd:") || e.path.starts_with(b"memfd:")),
            exe_ino: exe.and_then(|e| e.inode),
            exe_ctime_ns: exe.and_then(|e| e.ctime_ns),
            exe_mtime_ns: exe.and_then(|e| e.mtime_ns),
            fds: Arc::new(p.fds.clone()),
            ..ProcState::default()
        };
        if s.comm.is_empty() {
            if let Some(a0) = s.argv.first() {
                s.comm = comm_of(a0);
            }
        }
        s.refresh_cmdline();
        s
    }

    /// For a snapshot taken just after an exec: what it could not read (a process that was
    /// already exiting, as the eBPF backend can find it, has no readable exe, cmdline or cwd)
    /// is taken from the state the exec itself left (`prev`), instead of becoming unknown.
    pub fn keep_what_the_exec_said(&mut self, prev: &ProcState) {
        if self.argv.is_empty() && !prev.argv.is_empty() {
            self.argv = prev.argv.clone();
            if self.comm.is_empty() {
                self.comm = prev.comm.clone();
            }
            self.refresh_cmdline();
        }
        if self.exepath.is_none() {
            self.exepath = prev.exepath.clone();
        }
        if self.exe_from_memfd.is_none() {
            self.exe_from_memfd = prev.exe_from_memfd;
        }
        if self.cwd.is_none() {
            self.cwd = prev.cwd.clone();
        }
        if self.uid.is_none() {
            (self.uid, self.euid, self.gid, self.egid) = (prev.uid, prev.euid, prev.gid, prev.egid);
        }
    }

    /// A process nothing was recorded about but its number and parent.
    pub fn unknown(pid: u32, ppid: u32) -> ProcState {
        ProcState {
            pid,
            ppid,
            ..ProcState::default()
        }
    }

    /// The child a fork/clone made: a copy of the parent under a new pid.
    pub fn forked(parent: &ProcState, pid: u32, ppid: u32, start: Option<i128>) -> ProcState {
        ProcState {
            pid,
            ppid,
            start_unix_ns: start,
            fds: Arc::default(),
            ..parent.clone()
        }
    }

    /// The process after a successful execve of `filename` with `argv`. The snapshot that
    /// follows an exec refines this (real executable path, environment, credentials).
    pub fn exec(&mut self, filename: &[u8], argv: &[Vec<u8>]) {
        self.comm = comm_of(filename);
        self.argv = argv.to_vec();
        self.exepath = Some(filename.to_vec());
        self.exe_from_memfd = Some(
            filename.starts_with(b"/proc/self/fd/")
                || filename.starts_with(b"/dev/fd/")
                || filename.starts_with(b"/memfd:"),
        );
        self.exe_deleted = None;
        self.exe_ino = None;
        self.exe_ctime_ns = None;
        self.exe_mtime_ns = None;
        self.fds = Arc::default();
        self.refresh_cmdline();
    }

    /// Rebuilds `args` and `cmdline` from `comm` and `argv`.
    pub fn refresh_cmdline(&mut self) {
        self.args = join(self.argv.iter().skip(1));
        self.cmdline = self.comm.clone();
        if !self.args.is_empty() {
            self.cmdline.push(b' ');
            self.cmdline.extend_from_slice(&self.args);
        }
    }

    /// `argv[0]`: Falco's `proc.exe`.
    pub fn exe(&self) -> Option<&[u8]> {
        self.argv.first().map(Vec::as_slice)
    }

    /// One environment variable's value.
    pub fn env_var(&self, name: &[u8]) -> Option<&[u8]> {
        self.env.iter().find_map(|kv| {
            kv.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(b"="))
        })
    }
}

/// The task name the kernel gives a program: the file name, cut to 15 bytes.
fn comm_of(path: &[u8]) -> Vec<u8> {
    let base = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
    base[..base.len().min(15)].to_vec()
}

fn join<'a>(parts: impl Iterator<Item = &'a Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(p);
    }
    out
}

/// `/proc/PID/exe` of a deleted file ends in ` (deleted)`; the path is what came before.
fn strip_deleted(path: &[u8]) -> &[u8] {
    path.strip_suffix(b" (deleted)").unwrap_or(path)
}
