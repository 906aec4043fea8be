//! What each descriptor of each traced process refers to, and each process's cwd.
//!
//! Tables are kept per thread group. Processes created with `CLONE_FILES` share one table
//! (and with `CLONE_FS` one cwd), as the kernel does; everything else gets a copy at fork.
//! Shared state lives in slabs indexed by small integers with reference counts, so lookups
//! on the hot path are one hash of the pid and one vector index, and the decoder stays `Send`
//! without locks.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rhf_format::FdTarget;

/// Descriptors below this are kept in a vector, the rest in a map: a hostile
/// `dup2(0, 1000000)` must not allocate a million slots.
const DENSE_FDS: usize = 1024;

/// One open descriptor.
#[derive(Debug, Clone)]
pub struct Slot {
    pub target: Arc<FdTarget>,
    pub cloexec: bool,
}

/// The descriptors of one or more processes sharing a file table.
#[derive(Debug, Clone, Default)]
pub struct FdTable {
    dense: Vec<Option<Slot>>,
    sparse: HashMap<i32, Slot>,
    /// True when every open descriptor is known (seeded from a snapshot of a stopped
    /// process and followed since): an unknown fd is then not open, and /proc is not asked.
    pub complete: bool,
    /// Descriptors /proc said were not open, while incomplete: loops that close every
    /// possible fd must not cost one readlink per iteration twice.
    absent: HashSet<i32>,
    refs: u32,
}

impl FdTable {
    pub fn get(&self, fd: i32) -> Option<&Slot> {
        let i = usize::try_from(fd).ok()?;
        match self.dense.get(i) {
            Some(slot) => slot.as_ref(),
            None if i < DENSE_FDS => None,
            None => self.sparse.get(&fd),
        }
    }

    pub fn insert(&mut self, fd: i32, slot: Slot) {
        let Ok(i) = usize::try_from(fd) else { return };
        self.absent.remove(&fd);
        if i < DENSE_FDS {
            if self.dense.len() <= i {
                self.dense.resize(i + 1, None);
            }
            self.dense[i] = Some(slot);
        } else {
            self.sparse.insert(fd, slot);
        }
    }

    pub fn remove(&mut self, fd: i32) -> Option<Slot> {
        let i = usize::try_from(fd).ok()?;
        if i < DENSE_FDS {
            self.dense.get_mut(i).and_then(Option::take)
        } else {
            self.sparse.remove(&fd)
        }
    }

    pub fn set_cloexec(&mut self, fd: i32, cloexec: bool) {
        let i = usize::try_from(fd).unwrap_or(usize::MAX);
        let slot = if i < DENSE_FDS {
            self.dense.get_mut(i).and_then(Option::as_mut)
        } else {
            self.sparse.get_mut(&fd)
        };
        if let Some(slot) = slot {
            slot.cloexec = cloexec;
        }
    }

    /// Every open fd number, ascending.
    pub fn fds(&self) -> Vec<i32> {
        let mut fds: Vec<i32> = (0..self.dense.len())
            .filter(|i| self.dense[*i].is_some())
            .filter_map(|i| i32::try_from(i).ok())
            .chain(self.sparse.keys().copied())
            .collect();
        fds.sort_unstable();
        fds
    }

    /// Drops close-on-exec descriptors (a successful execve).
    pub fn drop_cloexec(&mut self) {
        for slot in &mut self.dense {
            if slot.as_ref().is_some_and(|s| s.cloexec) {
                *slot = None;
            }
        }
        self.sparse.retain(|_, s| !s.cloexec);
    }

    pub fn is_absent(&self, fd: i32) -> bool {
        self.absent.contains(&fd)
    }

    pub fn mark_absent(&mut self, fd: i32) {
        // Bounded: a process probing millions of fds must not grow this without limit.
        if self.absent.len() < 65_536 {
            self.absent.insert(fd);
        }
    }

    /// Descriptors may have appeared without a syscall we follow (SCM_RIGHTS, io_uring):
    /// from now on unknown fds are asked of /proc.
    pub fn mark_incomplete(&mut self) {
        self.complete = false;
        self.absent.clear();
    }
}

/// A process's working directory, shared between `CLONE_FS` processes.
#[derive(Debug, Clone, Default)]
pub struct FsState {
    pub cwd: Option<Vec<u8>>,
    refs: u32,
}

#[derive(Debug, Clone, Copy)]
struct ProcState {
    files: usize,
    fs: usize,
}

/// Reference-counted slots; freed slots are reused.
#[derive(Debug, Default)]
struct Slab<T> {
    items: Vec<Option<T>>,
    free: Vec<usize>,
}

impl<T> Slab<T> {
    fn add(&mut self, item: T) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.items[i] = Some(item);
                i
            }
            None => {
                self.items.push(Some(item));
                self.items.len() - 1
            }
        }
    }

    fn get(&self, i: usize) -> Option<&T> {
        self.items.get(i).and_then(Option::as_ref)
    }

    fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.items.get_mut(i).and_then(Option::as_mut)
    }

    fn remove(&mut self, i: usize) {
        if let Some(item) = self.items.get_mut(i) {
            if item.take().is_some() {
                self.free.push(i);
            }
        }
    }
}

/// Every traced thread group's descriptors and cwd.
#[derive(Debug, Default)]
pub struct FdTables {
    procs: HashMap<u32, ProcState>,
    files: Slab<FdTable>,
    fs: Slab<FsState>,
}

impl FdTables {
    pub fn contains(&self, pid: u32) -> bool {
        self.procs.contains_key(&pid)
    }

    /// Gives `pid` a fresh table and cwd, replacing what it had.
    pub fn reset(&mut self, pid: u32, table: FdTable, cwd: Option<Vec<u8>>) {
        self.remove(pid);
        let files = self.files.add(FdTable { refs: 1, ..table });
        let fs = self.fs.add(FsState { cwd, refs: 1 });
        self.procs.insert(pid, ProcState { files, fs });
    }

    /// The table of `pid`, created empty and incomplete if the process is new to us (attach
    /// mode, or a child seen before its parent's fork event). `None` only if the slabs were
    /// inconsistent, which callers treat as "nothing known".
    pub fn table_mut(&mut self, pid: u32) -> Option<&mut FdTable> {
        let files = self.state(pid).files;
        self.files.get_mut(files)
    }

    pub fn table(&self, pid: u32) -> Option<&FdTable> {
        self.procs.get(&pid).and_then(|p| self.files.get(p.files))
    }

    pub fn cwd(&self, pid: u32) -> Option<&[u8]> {
        let p = self.procs.get(&pid)?;
        self.fs.get(p.fs)?.cwd.as_deref()
    }

    pub fn set_cwd(&mut self, pid: u32, cwd: Option<Vec<u8>>) {
        let fs = self.state(pid).fs;
        if let Some(state) = self.fs.get_mut(fs) {
            state.cwd = cwd;
        }
    }

    fn state(&mut self, pid: u32) -> ProcState {
        if let Some(p) = self.procs.get(&pid) {
            return *p;
        }
        let files = self.files.add(FdTable {
            refs: 1,
            ..FdTable::default()
        });
        let fs = self.fs.add(FsState { cwd: None, refs: 1 });
        let p = ProcState { files, fs };
        self.procs.insert(pid, p);
        p
    }

    /// A new process `child` made by `parent` (not a thread: threads use their leader's
    /// state). `share_files`/`share_fs` are `CLONE_FILES`/`CLONE_FS`.
    pub fn spawn(&mut self, parent: u32, child: u32, share_files: bool, share_fs: bool) {
        self.remove(child);
        let p = self.state(parent);
        let files = if share_files {
            if let Some(t) = self.files.get_mut(p.files) {
                t.refs += 1;
            }
            p.files
        } else {
            let copy = self.files.get(p.files).cloned().unwrap_or_default();
            self.files.add(FdTable { refs: 1, ..copy })
        };
        let fs = if share_fs {
            if let Some(f) = self.fs.get_mut(p.fs) {
                f.refs += 1;
            }
            p.fs
        } else {
            let cwd = self.fs.get(p.fs).and_then(|f| f.cwd.clone());
            self.fs.add(FsState { cwd, refs: 1 })
        };
        self.procs.insert(child, ProcState { files, fs });
    }

    /// Gives `pid` a private copy of its table if it shares one (`execve`, `unshare`).
    pub fn unshare_files(&mut self, pid: u32) {
        let p = self.state(pid);
        let Some(table) = self.files.get_mut(p.files) else {
            return;
        };
        if table.refs <= 1 {
            return;
        }
        table.refs -= 1;
        let copy = FdTable {
            refs: 1,
            ..table.clone()
        };
        let files = self.files.add(copy);
        self.procs.insert(pid, ProcState { files, ..p });
    }

    pub fn unshare_fs(&mut self, pid: u32) {
        let p = self.state(pid);
        let Some(fs) = self.fs.get_mut(p.fs) else {
            return;
        };
        if fs.refs <= 1 {
            return;
        }
        fs.refs -= 1;
        let cwd = fs.cwd.clone();
        let fs = self.fs.add(FsState { cwd, refs: 1 });
        self.procs.insert(pid, ProcState { fs, ..p });
    }

    /// The thread group is gone: its table and cwd go when nobody else shares them.
    pub fn remove(&mut self, pid: u32) {
        let Some(p) = self.procs.remove(&pid) else {
            return;
        };
        if let Some(t) = self.files.get_mut(p.files) {
            t.refs = t.refs.saturating_sub(1);
            if t.refs == 0 {
                self.files.remove(p.files);
            }
        }
        if let Some(f) = self.fs.get_mut(p.fs) {
            f.refs = f.refs.saturating_sub(1);
            if f.refs == 0 {
                self.fs.remove(p.fs);
            }
        }
    }

    /// How many thread groups are tracked (for tests and stats).
    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }
}
