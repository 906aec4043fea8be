//! One process as the views see it, built from its `Process` record's raw files.

use rhf_format::{ExecutableInfo, ProcessSnapshot, RawFile, SnapshotReason};

use super::cgroup::{self, ContainerRef};
use super::cmdline::{self, EnvVar};
use super::fd::OpenFd;
use super::maps::{self, MapsSummary};
use super::stat::{self, PF_KTHREAD};
use super::status::{self, Capabilities, IdSet};

/// How completely a raw file was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    Complete,
    /// Cut at the recorder's cap; the full length when known.
    Truncated(Option<u64>),
    /// The read failed (the recorder's error text).
    Unreadable(String),
    /// The record holds no such file.
    Missing,
}

impl FileState {
    fn of(file: Option<&RawFile>) -> FileState {
        match file {
            None => FileState::Missing,
            Some(f) if f.content.is_empty() && f.error.is_some() => {
                FileState::Unreadable(f.error.clone().unwrap_or_default())
            }
            Some(f) if f.truncated => FileState::Truncated(f.full_len),
            Some(_) => FileState::Complete,
        }
    }
}

/// A thread other than the main one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadInfo {
    pub tid: u32,
    pub comm: Vec<u8>,
    pub state: Option<char>,
}

/// Facts of the node needed to interpret process files.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeClock {
    pub boot_time_ns: u64,
    pub clock_ticks: u64,
}

/// A process: the latest record of its pid, parsed. Every field parsed from a raw file is
/// optional or empty when the file was missing, unreadable or malformed; `notes` says which.
#[derive(Debug, Clone)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    pub reason: SnapshotReason,
    /// Monotonic time the record was taken.
    pub ts: u64,
    /// `comm`, from the `comm` file or else from `stat`; empty when neither was readable.
    pub comm: Vec<u8>,
    pub argv: Vec<Vec<u8>>,
    pub cmdline_state: FileState,
    pub environ: Vec<EnvVar>,
    pub environ_state: FileState,
    pub uids: Option<IdSet>,
    pub gids: Option<IdSet>,
    pub caps: Option<Capabilities>,
    pub tracer_pid: Option<u32>,
    pub no_new_privs: Option<bool>,
    pub seccomp: Option<u32>,
    pub state: Option<char>,
    /// The `flags` word of `stat` (`PF_*`).
    pub flags: Option<u32>,
    pub tty: Option<String>,
    /// The raw controlling-terminal device number; 0 when there is none.
    pub tty_nr: u32,
    pub pgid: Option<u32>,
    pub sid: Option<u32>,
    pub start_ticks: Option<u64>,
    pub start_unix_ns: Option<i128>,
    pub exe: Option<ExecutableInfo>,
    pub cwd: Option<Vec<u8>>,
    pub root: Option<Vec<u8>>,
    pub fds: Vec<OpenFd>,
    pub namespaces: Vec<(String, u64)>,
    pub cgroups: Vec<String>,
    pub container: Option<ContainerRef>,
    /// `None` when the record holds no readable `maps`.
    pub maps: Option<MapsSummary>,
    /// `None` when unreadable or unset (`4294967295`).
    pub loginuid: Option<u32>,
    pub threads: Vec<ThreadInfo>,
    /// Problems the recorder met (its `errors` and the files' read errors).
    pub errors: Vec<String>,
    /// What the analyzer could not parse, and what was cut.
    pub notes: Vec<String>,
}

/// A raw file of a record by name (`stat`, or a path ending in `/stat`).
pub fn file<'a>(files: &'a [RawFile], name: &str) -> Option<&'a RawFile> {
    files.iter().find(|f| {
        f.name == name
            || f.name
                .strip_suffix(name)
                .is_some_and(|head| head.ends_with('/'))
    })
}

impl Process {
    pub fn from_record(ts: u64, rec: &ProcessSnapshot, clock: NodeClock) -> Process {
        let mut p = Process {
            pid: rec.pid,
            ppid: rec.ppid,
            reason: rec.reason,
            ts,
            comm: Vec::new(),
            argv: Vec::new(),
            cmdline_state: FileState::of(file(&rec.files, "cmdline")),
            environ: Vec::new(),
            environ_state: FileState::of(file(&rec.files, "environ")),
            uids: None,
            gids: None,
            caps: None,
            tracer_pid: None,
            no_new_privs: None,
            seccomp: None,
            state: None,
            flags: None,
            tty: None,
            tty_nr: 0,
            pgid: None,
            sid: None,
            start_ticks: None,
            start_unix_ns: None,
            exe: rec.exe.clone(),
            cwd: rec.cwd.as_ref().map(|c| c.to_vec()),
            root: rec.root.as_ref().map(|c| c.to_vec()),
            fds: rec
                .fds
                .iter()
                .map(|f| OpenFd::new(f.fd, &f.target, f.fdinfo.as_ref().map(|i| i.as_slice())))
                .collect(),
            namespaces: rec.namespaces.clone(),
            cgroups: Vec::new(),
            container: None,
            maps: None,
            loginuid: None,
            threads: Vec::new(),
            errors: rec.errors.clone(),
            notes: Vec::new(),
        };
        for f in &rec.files {
            if let Some(e) = &f.error {
                let line = format!("{}: {e}", f.name);
                if !p.errors.contains(&line) {
                    p.errors.push(line);
                }
            }
            if f.truncated {
                let of = f.full_len.map(|n| format!(" of {n}")).unwrap_or_default();
                p.notes.push(format!(
                    "{}: cut at {}{of} bytes by the recorder's cap",
                    f.name,
                    f.content.len()
                ));
            }
        }
        p.read_stat(file(&rec.files, "stat"), clock);
        p.read_status(file(&rec.files, "status"));
        if let Some(c) = file(&rec.files, "comm").filter(|f| !f.content.is_empty()) {
            p.comm = c.content.strip_suffix(b"\n").unwrap_or(&c.content).to_vec();
        }
        if let Some(c) = file(&rec.files, "cmdline") {
            p.argv = cmdline::split_argv(&c.content);
        }
        if let Some(e) = file(&rec.files, "environ") {
            p.environ = cmdline::split_environ(&e.content);
        }
        if let Some(c) = file(&rec.files, "cgroup") {
            let (paths, notes) = cgroup::parse(&c.content);
            p.container = cgroup::container_of(&paths);
            p.cgroups = paths;
            p.notes.extend(notes);
        }
        if let Some(m) = file(&rec.files, "maps").filter(|m| m.error.is_none()) {
            let summary = maps::summarize(&m.content);
            if summary.bad_lines > 0 {
                p.notes.push(format!(
                    "maps: {} malformed line(s) skipped",
                    summary.bad_lines
                ));
            }
            p.maps = Some(summary);
        }
        p.loginuid = file(&rec.files, "loginuid")
            .and_then(|f| std::str::from_utf8(&f.content).ok())
            .and_then(|t| t.trim().parse::<u32>().ok())
            .filter(|id| *id != u32::MAX);
        p
    }

    fn read_stat(&mut self, f: Option<&RawFile>, clock: NodeClock) {
        let Some(f) = f.filter(|f| !f.content.is_empty()) else {
            return;
        };
        match stat::parse(&f.content) {
            Ok(s) => {
                self.comm = s.comm;
                self.state = Some(s.state);
                self.flags = Some(s.flags);
                self.tty = stat::tty_name(s.tty);
                self.tty_nr = s.tty_nr as u32;
                self.pgid = u32::try_from(s.pgrp).ok();
                self.sid = u32::try_from(s.session).ok();
                self.start_ticks = Some(s.starttime);
                self.start_unix_ns =
                    stat::start_unix_ns(s.starttime, clock.boot_time_ns, clock.clock_ticks);
                if self.ppid == 0 {
                    self.ppid = u32::try_from(s.ppid).unwrap_or(0);
                }
            }
            Err(e) => self.notes.push(format!("stat: {e}")),
        }
    }

    fn read_status(&mut self, f: Option<&RawFile>) {
        let Some(f) = f.filter(|f| !f.content.is_empty()) else {
            return;
        };
        let (s, note) = status::parse(&f.content);
        self.notes.extend(note);
        self.uids = s.uids;
        self.gids = s.gids;
        self.caps = s.caps;
        self.tracer_pid = s.tracer_pid;
        self.no_new_privs = s.no_new_privs;
        self.seccomp = s.seccomp;
        if self.ppid == 0 {
            self.ppid = s.ppid.unwrap_or(0);
        }
    }

    /// A thread record of this process, reduced to what differs per thread.
    pub fn thread_from_record(rec: &ProcessSnapshot) -> ThreadInfo {
        let stat = file(&rec.files, "stat").and_then(|f| stat::parse(&f.content).ok());
        let comm = file(&rec.files, "comm")
            .filter(|f| !f.content.is_empty())
            .map(|f| f.content.strip_suffix(b"\n").unwrap_or(&f.content).to_vec())
            .or_else(|| stat.as_ref().map(|s| s.comm.clone()))
            .unwrap_or_default();
        ThreadInfo {
            tid: rec.tid,
            comm,
            state: stat.map(|s| s.state),
        }
    }

    /// `PF_KTHREAD` is set in `stat`'s flags.
    pub fn is_kernel_thread(&self) -> bool {
        self.flags.is_some_and(|f| f & PF_KTHREAD != 0)
    }

    /// The inode of the process's network namespace.
    pub fn netns(&self) -> Option<u64> {
        self.namespaces
            .iter()
            .find(|(name, _)| name == "net")
            .map(|(_, inode)| *inode)
    }

    /// The name `ps` would show first: argv[0] when the command line is not empty, else the
    /// `comm` name in brackets, as `ps` shows kernel threads and zombies.
    pub fn display_name(&self) -> Vec<u8> {
        match self.argv.first() {
            Some(a0) => a0.clone(),
            None => [&b"["[..], &self.comm, b"]"].concat(),
        }
    }

    /// The first 12 hex digits of the container id, when the process runs in one.
    pub fn container_id(&self) -> Option<&str> {
        self.container.as_ref().map(ContainerRef::short_id)
    }

    /// The `exe` link target when the link resolved.
    pub fn exe_path(&self) -> Option<&[u8]> {
        self.exe
            .as_ref()
            .filter(|e| e.error.is_none() && !e.path.is_empty())
            .map(|e| e.path.as_slice())
    }
}
