//! `rhf-analyze summary`: strace's `-c` table from a trace, in wall time, in parallel.
//!
//! Each chunk is folded into counts per (ABI, syscall number) on its own rayon task, decoding
//! records into one reused buffer (`for_each_ref`); the per-chunk counts are integers, merged
//! in chunk order, so the table is the same whatever the number of threads. Calls that never
//! returned (`unfinished`: `exit_group`, a capture that ended mid-call) are not counted,
//! as strace does not count them.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use rhf_format::{Abi, FormatError, RecordBody, Source, SyscallEvent, TraceReader};
use serde_json::{json, Value};

use super::event_filter::EventFilter;
use crate::render::calls::{
    abi_name, abi_of_slot, number_of_slot, personality, slot, syscall_name,
};
use crate::render::count::{self, CallStats, Column, Row, Shown, SortBy};

/// What to count and how to show it.
#[derive(Debug, Clone)]
pub struct Options {
    pub sort: SortBy,
    pub columns: Vec<Column>,
    /// One table (per ABI) per process instead of one for everything.
    pub per_process: bool,
    pub filter: EventFilter,
}

/// Numbers below this are counted in a vector indexed by number; syscall numbers are far
/// below it, anything above (a corrupt or hostile number) goes to a map.
const DENSE: u32 = 2048;

/// Counts per syscall, one table per ABI.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    dense: [Vec<CallStats>; 3],
    sparse: BTreeMap<(usize, u32), CallStats>,
}

impl Counts {
    #[inline]
    fn add(&mut self, ev: &SyscallEvent, failed: bool) {
        let (abi, index) = slot(ev.abi, ev.nr);
        if index < DENSE {
            let v = &mut self.dense[abi];
            let i = index as usize;
            if v.len() <= i {
                v.resize(i + 1, CallStats::default());
            }
            v[i].add(ev.duration_ns, failed);
        } else {
            self.sparse
                .entry((abi, index))
                .or_default()
                .add(ev.duration_ns, failed);
        }
    }

    fn merge(&mut self, other: &Counts) {
        for (mine, theirs) in self.dense.iter_mut().zip(&other.dense) {
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), CallStats::default());
            }
            for (m, t) in mine.iter_mut().zip(theirs) {
                if t.calls > 0 {
                    m.merge(t);
                }
            }
        }
        for (k, v) in &other.sparse {
            self.sparse.entry(*k).or_default().merge(v);
        }
    }

    /// The rows of one ABI in syscall-number order (strace's order before sorting).
    fn rows(&self, abi_slot: usize) -> Vec<Row> {
        let dense = self.dense[abi_slot]
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u32, s));
        let sparse = self
            .sparse
            .range((abi_slot, 0)..=(abi_slot, u32::MAX))
            .map(|((_, i), s)| (*i, s));
        dense
            .chain(sparse)
            .filter(|(_, s)| s.calls > 0)
            .map(|(i, s)| row(abi_slot, i, s))
            .collect()
    }
}

/// What one pass over the trace found.
#[derive(Debug, Default)]
pub struct Collected {
    /// Everything, when not per process.
    pub all: Counts,
    /// Per (thread-group id, ABI slot, number), when per process. Sparse, so a capture of
    /// many short-lived processes costs memory per syscall each used, not per number.
    pub per_process: BTreeMap<(u32, usize, u32), CallStats>,
    /// Chunks that could not be decoded, in file order.
    pub failed_chunks: Vec<FormatError>,
}

#[derive(Default)]
struct Partial {
    all: Counts,
    per_process: HashMap<(u32, usize, u32), CallStats>,
}

/// Counts the syscalls of every chunk in parallel (in the current rayon pool).
pub fn collect<S: Source>(reader: &TraceReader<S>, opts: &Options) -> Collected {
    let filter = &opts.filter;
    let per_process = opts.per_process;
    let starts = crate::state::chunk_starts(reader);
    let partials: Vec<(Partial, Option<FormatError>)> = reader
        .chunks()
        .par_iter()
        .zip(starts.par_iter())
        .map(|(info, start)| {
            let mut part = Partial::default();
            let mut num = *start;
            let walked = reader.chunk_records(info).and_then(|records| {
                records.for_each_ref(|r| {
                    num += 1;
                    let RecordBody::Syscall(ev) = &r.body else {
                        return;
                    };
                    if ev.unfinished {
                        return;
                    }
                    let failed = filter.failed(ev);
                    if !filter.syscall(ev, failed)
                        || !filter.condition_holds(num - 1, r.ts, ev, failed)
                    {
                        return;
                    }
                    if per_process {
                        let (abi, index) = slot(ev.abi, ev.nr);
                        part.per_process
                            .entry((ev.pid, abi, index))
                            .or_default()
                            .add(ev.duration_ns, failed);
                    } else {
                        part.all.add(ev, failed);
                    }
                })
            });
            match walked {
                Ok(()) => (part, None),
                // A chunk that fails part-way is left out whole, so the note is true.
                Err(e) => (Partial::default(), Some(e)),
            }
        })
        .collect();
    let mut out = Collected::default();
    for (part, error) in partials {
        out.all.merge(&part.all);
        for (key, stats) in &part.per_process {
            out.per_process.entry(*key).or_default().merge(stats);
        }
        out.failed_chunks.extend(error);
    }
    out
}

/// One printed table: a process (when per process) and an ABI, rows sorted.
#[derive(Debug, Clone)]
pub struct Table {
    pub pid: Option<u32>,
    pub abi: Abi,
    pub rows: Vec<Row>,
}

/// The tables in print order: per process by pid, within each x86_64, then i386, then x32,
/// the ABIs without calls left out (as strace leaves out personalities it never saw).
pub fn tables(collected: &Collected, opts: &Options) -> Vec<Table> {
    let mut out = Vec::new();
    let mut push = |pid: Option<u32>, slot: usize, mut rows: Vec<Row>| {
        if !rows.is_empty() {
            count::sort(&mut rows, opts.sort);
            out.push(Table {
                pid,
                abi: abi_of_slot(slot),
                rows,
            });
        }
    };
    if opts.per_process {
        // The map is ordered by pid, ABI slot, number: each run of equal (pid, slot) is one
        // table, its rows already in number order.
        let mut current: Option<(u32, usize)> = None;
        let mut rows = Vec::new();
        for (&(pid, slot, index), stats) in &collected.per_process {
            if current != Some((pid, slot)) {
                if let Some((p, s)) = current {
                    push(Some(p), s, std::mem::take(&mut rows));
                }
                current = Some((pid, slot));
            }
            rows.push(row(slot, index, stats));
        }
        if let Some((p, s)) = current {
            push(Some(p), s, rows);
        }
    } else {
        for slot in 0..3 {
            push(None, slot, collected.all.rows(slot));
        }
    }
    out
}

fn row(slot: usize, index: u32, stats: &CallStats) -> Row {
    let abi = abi_of_slot(slot);
    Row {
        name: syscall_name(abi, number_of_slot(abi, index)),
        stats: *stats,
    }
}

/// The text: strace's tables, with strace's header line before each non-64-bit table and a
/// header line per process.
pub fn render_text(tables: &[Table], columns: &[Column]) -> String {
    let mut out = String::new();
    let mut current_pid = None;
    for t in tables {
        if t.pid.is_some() && t.pid != current_pid {
            if current_pid.is_some() {
                out.push('\n');
            }
            if let Some(pid) = t.pid {
                out.push_str(&format!("System call usage summary for process {pid}:\n"));
            }
            current_pid = t.pid;
        }
        if t.abi != Abi::X86_64 {
            out.push_str(&format!(
                "System call usage summary for {} mode:\n",
                personality(t.abi)
            ));
        }
        out.push_str(&count::table(&t.rows, columns));
    }
    out
}

/// The JSON document: one object per table, rows in table order, numbers as the text shows
/// them plus exact nanoseconds.
pub fn to_json(tables: &[Table]) -> Value {
    let tables: Vec<Value> = tables
        .iter()
        .map(|t| {
            let total = count::totals(&t.rows);
            let total_seconds = count::seconds(total.total_ns);
            let rows: Vec<Value> = t
                .rows
                .iter()
                .map(|r| {
                    let mut v = numbers(&r.stats, &Shown::of(&r.stats, total_seconds));
                    v["name"] = r.name.as_ref().into();
                    v
                })
                .collect();
            json!({
                "pid": t.pid,
                "abi": abi_name(t.abi),
                "mode": personality(t.abi),
                "syscalls": rows,
                "total": numbers(&total, &Shown::total(&total)),
            })
        })
        .collect();
    json!({ "time": "wall", "tables": tables })
}

fn numbers(s: &CallStats, shown: &Shown) -> Value {
    json!({
        "calls": s.calls,
        "errors": s.errors,
        "seconds": shown.seconds,
        // Saturating: a JSON number past u64 would not read back in most tools.
        "total_ns": u64::try_from(s.total_ns).unwrap_or(u64::MAX),
        "usecs_per_call": shown.usecs_per_call,
        "min_seconds": shown.min_seconds,
        "max_seconds": shown.max_seconds,
        "min_ns": s.min_ns,
        "max_ns": s.max_ns,
        "percent": shown.percent,
    })
}
