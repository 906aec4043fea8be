//! `rhf-analyze print`: every event as a `strace -f -ttt -T -yy` line, or as JSON lines.
//!
//! Events print in trace order, which is the order the recorder wrote them: a syscall record
//! is written when the call returns, stamped with its entry time, so lines of concurrent
//! threads can step back in time where strace would have split a call into `<unfinished ...>`
//! and `<... resumed>` lines. Chunks are rendered in parallel a batch at a time and written in
//! file order, so memory stays bounded and `| head` stops early.
//!
//! Unless `--show-secrets`, execve's argv is redacted as a command line, and strings, buffers
//! and paths by the free-text rules (token shapes, URL passwords, secret flags and variables
//! among their words); the environment only ever shows as a count (docs/REDACTION.md).

use std::io::Write;

use anyhow::Result;
use rayon::prelude::*;
use rhf_format::{ChunkInfo, FormatError, ProcessLifecycle, RecordBody, Source, TraceReader};

use super::event_filter::EventFilter;
use crate::clock::Clock;
use crate::redact::Redactor;
use crate::render::{json, line};

/// What to print and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub json: bool,
    pub filter: EventFilter,
    /// Secrets shown or hidden (the default hides them).
    pub redactor: Redactor,
}

/// What rendering a chunk leaves besides its text: stderr notes (loss notices in the text
/// view) and the error that stopped it, if any.
struct Rendered {
    notes: Vec<String>,
    error: Option<FormatError>,
}

/// Writes every wanted event to `out` and each note to `note`; returns the chunks that
/// could not be decoded (their records are missing from the output).
pub fn run<S: Source>(
    reader: &TraceReader<S>,
    opts: &Options,
    out: &mut dyn Write,
    note: &mut dyn FnMut(&str),
) -> Result<Vec<FormatError>> {
    let clock = Clock::from_header(reader.header());
    let mut failed = Vec::new();
    // Enough chunks per batch to keep every thread busy, few enough to bound memory. The
    // text buffers are reused from batch to batch: a chunk renders to megabytes, and fresh
    // pages for every chunk cost more than the rendering.
    let batch = rayon::current_num_threads().max(1) * 2;
    let mut buffers: Vec<String> = Vec::new();
    let starts = crate::state::chunk_starts(reader);
    let mut remaining = starts.len();
    for group in reader.chunks().chunks(batch) {
        if buffers.len() < group.len() {
            buffers.resize_with(group.len(), String::new);
        }
        let first = starts.len() - remaining;
        remaining -= group.len();
        let rendered: Vec<Rendered> = buffers[..group.len()]
            .par_iter_mut()
            .zip(group.par_iter().zip(starts[first..].par_iter()))
            .map(|(text, (info, start))| {
                text.clear();
                render_chunk(reader, info, *start, opts, &clock, text)
            })
            .collect();
        for (text, r) in buffers.iter().zip(rendered) {
            out.write_all(text.as_bytes())?;
            for n in &r.notes {
                note(n);
            }
            failed.extend(r.error);
        }
    }
    out.flush()?;
    Ok(failed)
}

fn render_chunk<S: Source>(
    reader: &TraceReader<S>,
    info: &ChunkInfo,
    start: u64,
    opts: &Options,
    clock: &Clock,
    text: &mut String,
) -> Rendered {
    let mut notes = Vec::new();
    let filter = &opts.filter;
    let redactor = &opts.redactor;
    let walked = reader.chunk_records(info).and_then(|records| {
        let mut num = start;
        records.for_each_ref(|r| {
            num += 1;
            match &r.body {
                RecordBody::Syscall(ev) => {
                    let failed = filter.failed(ev);
                    if !filter.syscall(ev, failed)
                        || !filter.condition_holds(num - 1, r.ts, ev, failed)
                    {
                        return;
                    }
                    let never_fails = filter.never_fails();
                    if opts.json {
                        json::syscall_with(ev, r.ts, clock, never_fails, redactor, text);
                    } else {
                        line::syscall_with(ev, r.ts, clock, never_fails, redactor, text);
                    }
                }
                // A --filter condition selects syscall events only.
                _ if filter.has_condition() => {}
                RecordBody::Lifecycle(ev) => {
                    if !lifecycle_wanted(filter, ev) {
                        return;
                    }
                    if opts.json {
                        push_json(&json::lifecycle_with(ev, r.ts, clock, redactor), text);
                    } else {
                        line::lifecycle(ev, r.ts, clock, text);
                    }
                }
                RecordBody::Signal(ev) if filter.process(ev.pid, ev.tid) => {
                    if opts.json {
                        push_json(&json::signal(ev, r.ts, clock), text);
                    } else {
                        line::signal(ev, r.ts, clock, text);
                    }
                }
                RecordBody::Loss(ev) if filter.process(ev.pid, ev.tid) => {
                    if opts.json {
                        push_json(&json::loss(ev, r.ts, clock), text);
                    } else {
                        // strace has no such line; keep stdout parseable and say it on stderr.
                        notes.push(format!(
                            "pid {} tid {}: {} events were not recorded at {}: {}",
                            ev.pid,
                            ev.tid,
                            ev.events_lost,
                            clock.iso(r.ts),
                            crate::escape::escape_str(&ev.reason)
                        ));
                    }
                }
                _ => {}
            }
        })
    });
    Rendered {
        notes,
        error: walked.err(),
    }
}

/// Lifecycle records pass the process filter by any of the processes they name; the name and
/// failure filters keep them, as strace keeps `+++ exited +++` lines under `-e trace=`.
fn lifecycle_wanted(filter: &EventFilter, ev: &ProcessLifecycle) -> bool {
    match ev {
        ProcessLifecycle::Spawn {
            parent_pid,
            parent_tid,
            child_pid,
            child_tid,
            ..
        } => filter.process(*parent_pid, *parent_tid) || filter.process(*child_pid, *child_tid),
        ProcessLifecycle::Exec {
            pid, tid, old_tid, ..
        } => filter.process(*pid, *tid) || old_tid.is_some_and(|t| filter.process(t, t)),
        ProcessLifecycle::Exit { pid, tid, .. }
        | ProcessLifecycle::Attached { pid, tid }
        | ProcessLifecycle::Detached { pid, tid } => filter.process(*pid, *tid),
    }
}

fn push_json(v: &serde_json::Value, out: &mut String) {
    // Serializing a Value into a String cannot fail.
    out.push_str(&v.to_string());
    out.push('\n');
}
