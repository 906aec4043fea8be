//! Record builders and a folding helper shared by the tests of the timeline and its users.

use rhf_format::{ProcessLifecycle, Record, RecordBody};

use super::{Folder, Timeline};
use crate::snapshot::process::NodeClock;

/// A timeline of `records`, numbered from 1.
pub fn fold(records: &[Record]) -> Timeline {
    let mut t = Timeline::default();
    let mut f = Folder {
        t: &mut t,
        node: NodeClock::default(),
        little_endian: true,
    };
    for (i, r) in records.iter().enumerate() {
        f.fold(i as u64 + 1, r);
    }
    t
}

/// A successful execve of `filename` by `pid`.
pub fn exec(pid: u32, filename: &str, argv: &[&str]) -> Record {
    Record {
        ts: 10,
        body: RecordBody::Lifecycle(ProcessLifecycle::Exec {
            pid,
            tid: pid,
            filename: filename.as_bytes().to_vec().into(),
            argv: argv.iter().map(|a| a.as_bytes().to_vec().into()).collect(),
            old_tid: None,
        }),
    }
}

/// `parent` makes `child` with these clone flags.
pub fn spawn(parent: u32, child: u32, flags: u64) -> Record {
    Record {
        ts: 5,
        body: RecordBody::Lifecycle(ProcessLifecycle::Spawn {
            parent_pid: parent,
            parent_tid: parent,
            child_pid: child,
            child_tid: child,
            clone_flags: flags,
        }),
    }
}
