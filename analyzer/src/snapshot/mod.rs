//! The state of the node at snapshot time, rebuilt from a trace's snapshot records.
//!
//! [`HostSnapshot::from_records`] turns `Process`, `Network`, `Accounts`, `HostFiles` and
//! `Executable` records (docs/SNAPSHOT.md) into processes, sockets and account names. Parsing
//! is total: a missing, cut or malformed raw file leaves fields empty and a note, never an
//! error that stops a view. When a pid has several records (a later `Exec` snapshot), the
//! latest wins.

pub mod accounts;
pub mod cgroup;
pub mod cmdline;
pub mod fd;
pub mod maps;
pub mod net;
pub mod process;
pub mod stat;
pub mod status;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use rhf_format::{CollectedExecutable, Header, RawFile, Record, RecordBody, TraceReader};

use crate::trace::{for_each_chunk, Integrity};
use accounts::AccountDb;
use net::{NetNamespace, Socket};
use process::{NodeClock, Process};

/// The node as its snapshot records describe it.
#[derive(Debug, Clone, Default)]
pub struct HostSnapshot {
    /// `uname -m` of the node (decides byte order and flag values).
    pub arch: String,
    pub processes: BTreeMap<u32, Process>,
    /// Socket tables by network namespace inode.
    pub netns: BTreeMap<u64, NetNamespace>,
    pub accounts: AccountDb,
    /// `/proc/modules`, `/etc/ld.so.preload`... as recorded.
    pub host_files: Vec<RawFile>,
    /// Copies of deleted or memfd executables (`--collect-exe`).
    pub executables: Vec<CollectedExecutable>,
    /// Problems with the trace as a whole (damage, missing records, orphan threads).
    pub notes: Vec<String>,
    /// socket inode -> (netns, index in that namespace's sockets).
    socket_index: HashMap<u64, Vec<(u64, usize)>>,
    /// socket inode -> (pid, fd) of every descriptor on it.
    fd_index: HashMap<u64, Vec<(u32, i32)>>,
}

impl HostSnapshot {
    /// Reads every snapshot record of a trace. Damage or truncation becomes a note: the
    /// records of the intact chunks are still used.
    pub fn load<S: rhf_format::Source>(reader: &TraceReader<S>) -> HostSnapshot {
        let kept = Mutex::new(Vec::new());
        let first_error = for_each_chunk(reader, |chunk| {
            let seq = chunk.info.header.seq;
            let mine: Vec<_> = chunk
                .records
                .into_iter()
                .enumerate()
                .filter(|(_, r)| is_snapshot_kind(&r.body))
                .map(|(i, r)| (seq, i, r))
                .collect();
            kept.lock().unwrap_or_else(|p| p.into_inner()).extend(mine);
        });
        let mut kept = kept.into_inner().unwrap_or_else(|p| p.into_inner());
        // Chunks decode in any order; time then file position gives "latest wins".
        kept.sort_by_key(|(seq, i, r)| (r.ts, *seq, *i));
        let mut snap =
            HostSnapshot::from_records(reader.header(), kept.into_iter().map(|(_, _, r)| r));
        match Integrity::assess(reader, first_error.as_ref()) {
            Integrity::Intact { .. } => {}
            Integrity::Truncated { offset, .. } => snap.notes.insert(
                0,
                format!(
                    "the trace is truncated at offset {offset}: records after the cut are missing"
                ),
            ),
            Integrity::Damaged { chunk, reason, .. } => snap.notes.insert(
                0,
                format!("the trace is damaged (chunk {chunk}: {reason}): its records are missing"),
            ),
        }
        snap
    }

    /// Builds the state from records in time order.
    pub fn from_records(header: &Header, records: impl IntoIterator<Item = Record>) -> Self {
        let clock = NodeClock {
            boot_time_ns: header.host.boot_time_ns,
            clock_ticks: header.host.clock_ticks,
        };
        let little_endian = net::little_endian(&header.host.arch);
        let mut snap = HostSnapshot {
            arch: header.host.arch.clone(),
            ..HostSnapshot::default()
        };
        let mut threads = BTreeMap::new();
        let mut saw_accounts = false;
        for r in records {
            match r.body {
                RecordBody::Process(p) if p.tid == p.pid || p.tid == 0 => {
                    snap.processes
                        .insert(p.pid, Process::from_record(r.ts, &p, clock));
                }
                RecordBody::Process(p) => {
                    threads.insert((p.pid, p.tid), Process::thread_from_record(&p));
                }
                RecordBody::Network(t) => {
                    snap.netns.insert(t.netns, net::parse(&t, little_endian));
                }
                RecordBody::Accounts(a) => {
                    saw_accounts = true;
                    snap.accounts = AccountDb::from_record(&a);
                }
                RecordBody::HostFiles(h) => snap.host_files = h.files,
                RecordBody::Executable(e) => snap.executables.push(*e),
                _ => {}
            }
        }
        let mut orphans = 0usize;
        for ((pid, _), t) in threads {
            match snap.processes.get_mut(&pid) {
                Some(p) => p.threads.push(t),
                None => orphans += 1,
            }
        }
        if orphans > 0 {
            snap.notes.push(format!(
                "{orphans} thread record(s) belong to pids without a process record"
            ));
        }
        if snap.processes.is_empty() {
            snap.notes
                .push("the trace holds no process snapshot records".into());
        }
        if !saw_accounts {
            snap.notes
                .push("no Accounts record: users are shown as numeric uids".into());
        }
        snap.notes.extend(snap.accounts.notes.iter().cloned());
        snap.index_sockets();
        snap
    }

    fn index_sockets(&mut self) {
        self.socket_index.clear();
        self.fd_index.clear();
        for p in self.processes.values() {
            for f in &p.fds {
                if let Some(inode) = f.socket_inode() {
                    self.fd_index.entry(inode).or_default().push((p.pid, f.fd));
                }
            }
        }
        for (netns, ns) in &self.netns {
            for (i, s) in ns.sockets.iter().enumerate() {
                self.socket_index
                    .entry(s.inode)
                    .or_default()
                    .push((*netns, i));
            }
        }
    }

    /// The table row of a socket inode held by `p`: from `p`'s own network namespace first,
    /// then from any other (socket inodes are unique system-wide, and a socket stays in the
    /// namespace it was created in when its process moves or receives it).
    pub fn socket_of(&self, p: &Process, inode: u64) -> Option<(u64, &Socket)> {
        // Inode 0 is shared by every socket in TIME_WAIT and similar states: never an owner.
        if inode == 0 {
            return None;
        }
        let hits = self.socket_index.get(&inode)?;
        let own = p.netns();
        let (netns, i) = hits
            .iter()
            .find(|(ns, _)| Some(*ns) == own)
            .or_else(|| hits.first())?;
        let socket = self.netns.get(netns)?.sockets.get(*i)?;
        Some((*netns, socket))
    }

    /// Processes holding a descriptor on socket `inode`, with the descriptor numbers, in pid
    /// and fd order.
    pub fn socket_owners(&self, inode: u64) -> Vec<(&Process, i32)> {
        if inode == 0 {
            return Vec::new();
        }
        self.fd_index
            .get(&inode)
            .into_iter()
            .flatten()
            .filter_map(|(pid, fd)| Some((self.processes.get(pid)?, *fd)))
            .collect()
    }

    /// A host-wide file by path (`/etc/ld.so.preload`).
    pub fn host_file(&self, path: &str) -> Option<&RawFile> {
        self.host_files.iter().find(|f| f.name == path)
    }

    /// The user name of a uid, from the node's passwd, else the number.
    pub fn user_name(&self, uid: u32) -> String {
        self.accounts
            .user(uid)
            .map_or_else(|| uid.to_string(), crate::escape::escape_bytes)
    }
}

fn is_snapshot_kind(body: &RecordBody) -> bool {
    matches!(
        body,
        RecordBody::Process(_)
            | RecordBody::Network(_)
            | RecordBody::Accounts(_)
            | RecordBody::HostFiles(_)
            | RecordBody::Executable(_)
    )
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
