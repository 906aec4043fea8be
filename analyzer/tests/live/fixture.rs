//! Building snapshot traces by hand: one process at a time, then a file the binary reads.

use std::path::{Path, PathBuf};
use std::process::Command;

use rhf_format::{
    Bytes, ExecutableInfo, FdEntry, Header, HostInfo, ProcessSnapshot, RawFile, Record, RecordBody,
    TraceWriter, WriterOptions,
};

use super::procfs::{self, BOOT_NS, HOST_NETNS, USER_FLAGS};

pub fn raw(name: &str, content: &[u8]) -> RawFile {
    RawFile {
        name: name.into(),
        content: Bytes::from(content.to_vec()),
        ..RawFile::default()
    }
}

pub fn failed(name: &str, error: &str) -> RawFile {
    RawFile {
        name: name.into(),
        error: Some(error.into()),
        ..RawFile::default()
    }
}

/// A process to record; `record()` turns it into the recorder's `ProcessSnapshot`.
#[derive(Clone)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    pub comm: Vec<u8>,
    pub uid: u32,
    pub flags: u32,
    pub tty_nr: u32,
    pub argv: Vec<Vec<u8>>,
    pub env: Vec<Vec<u8>>,
    pub exe: Option<ExecutableInfo>,
    pub fds: Vec<FdEntry>,
    pub maps: Option<Vec<u8>>,
    pub netns: u64,
    pub cgroup: Vec<u8>,
    /// Files that replace the generated ones by name.
    pub files: Vec<RawFile>,
}

impl Proc {
    /// A user process running `exe` with argv `args`.
    pub fn new(pid: u32, ppid: u32, comm: &str, uid: u32, exe: &str, args: &[&str]) -> Proc {
        Proc {
            pid,
            ppid,
            comm: comm.as_bytes().to_vec(),
            uid,
            flags: USER_FLAGS,
            tty_nr: 0,
            argv: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            env: vec![
                b"PATH=/usr/local/bin:/usr/bin:/bin".to_vec(),
                b"LANG=C.UTF-8".to_vec(),
            ],
            exe: Some(ExecutableInfo {
                path: Bytes::from(exe.as_bytes().to_vec()),
                size: Some(35_000),
                inode: Some(1310742),
                ..ExecutableInfo::default()
            }),
            fds: vec![
                fd(0, b"/dev/null"),
                fd(1, b"socket:[15124]"),
                fd(2, b"socket:[15124]"),
            ],
            maps: Some(procfs::maps(exe, &[])),
            netns: HOST_NETNS,
            cgroup: b"0::/system.slice/app.service\n".to_vec(),
            files: Vec::new(),
        }
    }

    /// A kernel thread: PF_KTHREAD, child of kthreadd, no exe, cmdline, environ or maps.
    pub fn kthread(pid: u32, comm: &str) -> Proc {
        Proc {
            ppid: 2,
            flags: procfs::KTHREAD_FLAGS,
            argv: Vec::new(),
            env: Vec::new(),
            exe: Some(ExecutableInfo {
                error: Some("No such file or directory (os error 2)".into()),
                ..ExecutableInfo::default()
            }),
            fds: Vec::new(),
            maps: Some(Vec::new()),
            cgroup: b"0::/\n".to_vec(),
            ..Proc::new(pid, 2, comm, 0, "", &[])
        }
    }

    pub fn record(&self) -> ProcessSnapshot {
        let mut cmdline = Vec::new();
        for a in &self.argv {
            cmdline.extend_from_slice(a);
            cmdline.push(0);
        }
        let mut environ = Vec::new();
        for e in &self.env {
            environ.extend_from_slice(e);
            environ.push(0);
        }
        let name = String::from_utf8_lossy(&self.comm).into_owned();
        let mut comm = self.comm.clone();
        comm.push(b'\n');
        let start = 1000 + u64::from(self.pid);
        let mut files = vec![
            raw(
                "stat",
                &procfs::stat_line(
                    self.pid,
                    &self.comm,
                    'S',
                    self.ppid,
                    self.tty_nr,
                    self.flags,
                    start,
                ),
            ),
            raw(
                "status",
                &procfs::status(&name, self.pid, self.ppid, self.uid, self.uid, 0),
            ),
            raw("cmdline", &cmdline),
            raw("environ", &environ),
            raw("comm", &comm),
            raw("cgroup", &self.cgroup),
            raw("loginuid", format!("{}", self.uid).as_bytes()),
        ];
        if let Some(m) = &self.maps {
            files.push(raw("maps", m));
        }
        for f in &self.files {
            files.retain(|g| g.name != f.name);
            files.push(f.clone());
        }
        ProcessSnapshot {
            pid: self.pid,
            tid: self.pid,
            ppid: self.ppid,
            exe: self.exe.clone(),
            cwd: Some(Bytes::from(b"/".to_vec())),
            root: Some(Bytes::from(b"/".to_vec())),
            files,
            namespaces: vec![("net".into(), self.netns), ("mnt".into(), 4026531841)],
            fds: self.fds.clone(),
            ..ProcessSnapshot::default()
        }
    }
}

pub fn fd(n: i32, target: &[u8]) -> FdEntry {
    FdEntry {
        fd: n,
        target: Bytes::from(target.to_vec()),
        fdinfo: Some(Bytes::from(
            b"pos:\t0\nflags:\t02\nmnt_id:\t25\nino:\t7\n".to_vec(),
        )),
    }
}

pub fn header() -> Header {
    Header {
        host: HostInfo {
            hostname: Bytes::from(b"web-01".to_vec()),
            kernel_release: Bytes::from(b"6.8.0-45-generic".to_vec()),
            arch: "x86_64".into(),
            boot_time_ns: BOOT_NS,
            clock_ticks: 100,
            page_size: 4096,
            ..HostInfo::default()
        },
        ..Header::default()
    }
}

/// Records in the snapshot order of docs/SNAPSHOT.md, timestamps increasing.
pub fn records(bodies: Vec<RecordBody>) -> Vec<Record> {
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| Record {
            ts: 5_000_000_000 + i as u64 * 1000,
            body,
        })
        .collect()
}

/// Writes a trace file into `dir`.
pub fn write_trace(dir: &Path, name: &str, records: &[Record]) -> PathBuf {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).expect("create trace");
    let mut w = TraceWriter::new(file, &header(), WriterOptions::default()).expect("writer");
    for r in records {
        w.push(r).expect("push");
    }
    w.finish().expect("finish");
    path
}

/// Output of one `rhf-analyze` run.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn analyze(args: &[&str]) -> Run {
    let o = Command::new(env!("CARGO_BIN_EXE_rhf-analyze"))
        .args(args)
        .output()
        .expect("run rhf-analyze");
    Run {
        code: o.status.code(),
        stdout: String::from_utf8(o.stdout).expect("output is UTF-8"),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Runs a command on `trace` and expects success.
pub fn ok(command: &str, trace: &Path, extra: &[&str]) -> String {
    let mut args = vec![command, trace.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    let r = analyze(&args);
    assert_eq!(
        r.code,
        Some(0),
        "{command} {extra:?}: {}{}",
        r.stdout,
        r.stderr
    );
    r.stdout
}

pub fn json(command: &str, trace: &Path, extra: &[&str]) -> serde_json::Value {
    let mut extra = extra.to_vec();
    extra.push("--json");
    serde_json::from_str(&ok(command, trace, &extra)).expect("valid JSON")
}

/// Output with every run of blanks reduced to one space, so tests do not depend on column
/// widths.
pub fn squash(out: &str) -> String {
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}
