//! Filling the report model: one pass over the trace ([`super::scan`]), the hash-chain
//! check, the snapshot's findings and the process tree, in one place.

use std::collections::BTreeMap;

use rhf_format::{RecordKind, TraceReader};

use super::model::*;
use super::scan::{self, Scanned};
use super::tree::{self, TreeInputs};
use crate::clock::Clock;
use crate::commands::findings;
use crate::commands::info::{self, HostSummary};
use crate::commands::verify::{self, Verdict};
use crate::escape::{escape_bytes, escape_str};
use crate::redact::Redactor;
use crate::render::calls::{abi_name, abi_of_slot, number_of_slot, syscall_name};
use crate::rules::engine::Engine;
use crate::rules::load::Priority;
use crate::snapshot::HostSnapshot;
use crate::trace::Integrity;

/// What a report is made from, besides the trace.
pub struct Inputs<'a> {
    /// How the report names the trace file (the path as given).
    pub name: &'a str,
    pub engine: &'a Engine,
    /// The rules files in load order, as the report lists them.
    pub rules_files: Vec<String>,
    pub redactor: Redactor,
    pub limits: Limits,
}

/// Builds the report of `reader`, in the current rayon pool.
pub fn collect(reader: &TraceReader, inp: &Inputs<'_>) -> Report {
    let mut scanned = scan::scan(reader, inp.engine, &inp.redactor);
    let header = reader.header();
    let clock = Clock::from_header(header);
    let origin = header.capture.start_monotonic_ns;
    let offset = |ts: u64| ts.saturating_sub(origin);
    let mut notes: Vec<String> = scanned
        .timeline
        .notes
        .iter()
        .map(|n| escape_str(n))
        .collect();
    notes.extend(crate::commands::scan::integrity_notes(
        reader,
        &scanned.failed_chunks,
    ));

    let snap = HostSnapshot::from_records(header, std::mem::take(&mut scanned.snapshot));
    notes.extend(snap.notes.iter().map(|n| escape_str(n)));
    let found = findings::collect(&snap, &inp.redactor);

    let chunks = reader.chunks();
    let with_records = chunks.iter().filter(|c| c.header.record_count > 0);
    let first = with_records.clone().map(|c| c.header.min_ts).min();
    let last = with_records.map(|c| c.header.max_ts).max();
    let end_offset = last.map_or(0, offset);

    let alerts = alert_groups(&scanned, inp, &clock, origin);
    let mut alerts_by_pid: BTreeMap<u32, usize> = BTreeMap::new();
    for a in &scanned.alerts {
        *alerts_by_pid.entry(a.alert.pid).or_default() += 1;
    }
    let mut findings_by_pid: BTreeMap<u32, usize> = BTreeMap::new();
    for f in found.iter().filter(|f| f.pid != 0) {
        *findings_by_pid.entry(f.pid).or_default() += 1;
    }
    let processes = tree::section(&TreeInputs {
        timeline: &scanned.timeline,
        redactor: &inp.redactor,
        clock,
        origin,
        end_offset,
        alerts: &alerts_by_pid,
        findings: &findings_by_pid,
        limits: inp.limits,
    });
    let syscalls = syscall_section(&scanned, inp.limits);
    let density = (
        scanned.events,
        first.zip(last).map_or(0, |(a, b)| b.saturating_sub(a)),
    );
    let excerpts = excerpts(reader, &alerts, inp, &clock, origin, density, &mut notes);
    let pre = reader.preamble();
    let total_records = scanned.kinds.values().sum();
    Report {
        schema_version: SCHEMA_VERSION,
        generator: format!("rhf-analyze {}", env!("CARGO_PKG_VERSION")),
        secrets_shown: inp.redactor.show_secrets,
        trace: TraceMeta {
            file: escape_str(inp.name),
            file_bytes: reader.file_len(),
            // The caller hashes the file beside the scan ([`file_sha256`]).
            file_sha256: None,
            format_version: format!("{}.{}", pre.major, pre.minor),
            host: HostSummary {
                hostname: escape_bytes(&header.host.hostname),
                kernel_release: escape_bytes(&header.host.kernel_release),
                kernel_version: escape_bytes(&header.host.kernel_version),
                arch: escape_str(&header.host.arch),
                boot_time: (header.host.boot_time_ns > 0)
                    .then(|| crate::clock::iso_from_unix_ns(header.host.boot_time_ns.into())),
            },
            capture: CaptureMeta {
                mode: header.capture.mode.name(),
                backend: escape_str(&header.capture.backend),
                recorder_version: escape_str(&header.capture.recorder_version),
                command_line: info::recorder_command_line(header, &inp.redactor),
                options: info::recorder_options(header, &inp.redactor)
                    .into_iter()
                    .map(|(name, value)| NameValue { name, value })
                    .collect(),
                started: clock.iso(origin),
                first_record: first.map(|t| clock.iso(t)),
                last_record: last.map(|t| clock.iso(t)),
                duration_ns: first.zip(last).map(|(a, b)| b.saturating_sub(a)),
            },
            records: scanned
                .kinds
                .iter()
                .map(|(k, n)| {
                    let name = RecordKind::from_u8(*k)
                        .map_or_else(|| format!("kind-{k}"), |k| k.name().to_string());
                    (name, *n)
                })
                .collect(),
            total_records,
            integrity: integrity(reader, &scanned),
        },
        rules: RulesMeta {
            files: inp.rules_files.iter().map(|f| escape_str(f)).collect(),
            loaded: inp.engine.rules.len(),
            enabled: inp.engine.rules.iter().filter(|r| r.enabled).count(),
        },
        overview: Overview {
            alerts: scanned.alerts.len(),
            worst_priority: alerts.first().map(|g| g.priority),
            findings: found.len(),
            worst_severity: found.iter().map(|f| f.severity).max().map(|s| s.name()),
            processes: scanned.timeline.process_count(),
            syscalls: syscalls.calls,
        },
        rules_fired: rules_fired(&scanned, inp.engine, &clock),
        alerts,
        findings: found,
        processes,
        syscalls,
        files: file_section(&scanned, inp),
        connections: connection_section(&scanned, inp),
        excerpts,
        notes,
    }
}

/// Records expected on each side of an excerpted alert within the window the timeline is
/// built over: far more than the few entries shown (most records are not timeline entries,
/// and reads and writes collapse), so the window rarely cuts an excerpt short.
const EXCERPT_SIDE_RECORDS: u64 = 2_000;
/// Records the excerpt timeline may span in all: building timeline entries costs far more per
/// record than the report's own pass, so excerpts are limited to alerts close enough in time.
const EXCERPT_SPAN_RECORDS: u64 = 200_000;

/// The timeline entries around the first [`Limits::excerpts`] alerts (in report order), from
/// `crate::timeline`: built only when there are alerts, and only over the time span they
/// cover. The span is sized by the trace's density (`records` over `duration_ns`): a window of
/// [`EXCERPT_SIDE_RECORDS`] around each alert, and alerts taken in report order while the
/// whole span stays within [`EXCERPT_SPAN_RECORDS`]; the others get no excerpt and a note.
#[allow(clippy::too_many_arguments)]
fn excerpts(
    reader: &TraceReader,
    groups: &[AlertGroup],
    inp: &Inputs<'_>,
    clock: &Clock,
    origin: u64,
    (records, duration_ns): (u64, u64),
    notes: &mut Vec<String>,
) -> ExcerptSection {
    let limits = inp.limits;
    let mut section = ExcerptSection {
        available: true,
        before: limits.excerpt_before,
        after: limits.excerpt_after,
        excerpts: Vec::new(),
    };
    let ts = |a: &AlertView| origin.saturating_add(a.offset_ns);
    // Mean time between records, in ns (at least 1).
    let gap = (duration_ns / records.max(1)).max(1);
    let side = gap.saturating_mul(EXCERPT_SIDE_RECORDS);
    let max_span = gap.saturating_mul(EXCERPT_SPAN_RECORDS);
    let candidates: Vec<&AlertView> = groups
        .iter()
        .flat_map(|g| &g.alerts)
        .take(limits.excerpts)
        .collect();
    let mut chosen: Vec<&AlertView> = Vec::new();
    let (mut from, mut to) = (u64::MAX, 0u64);
    for a in &candidates {
        let (f, t) = (from.min(ts(a)), to.max(ts(a)));
        if chosen.is_empty() || t - f <= max_span {
            chosen.push(a);
            (from, to) = (f, t);
        }
    }
    if chosen.is_empty() {
        return section;
    }
    if chosen.len() < candidates.len() {
        notes.push(format!(
            "timeline excerpts are shown for {} of the first {} alerts: the others are too far \
             in time from alert {} for one timeline (see `rhf-analyze timeline --from/--to`)",
            chosen.len(),
            candidates.len(),
            chosen[0].id
        ));
    }
    let ts = |a: &AlertView| origin.saturating_add(a.offset_ns);
    let opts = crate::timeline::Options {
        from: Some(from.saturating_sub(side)),
        to: Some(to.saturating_add(side)),
        alerts: false,
        ..crate::timeline::Options::default()
    };
    let found = match crate::timeline::collect(reader, None, &inp.redactor, &opts) {
        Ok(f) => f,
        Err(e) => {
            notes.push(escape_str(&format!("no timeline excerpts: {e:#}")));
            section.available = false;
            return section;
        }
    };
    section.excerpts = chosen
        .iter()
        .map(|a| {
            let around = crate::timeline::around(
                &found.entries,
                ts(a),
                limits.excerpt_before,
                limits.excerpt_after,
            );
            let mut entries: Vec<ExcerptEntry> = around
                .iter()
                .map(|e| ExcerptEntry {
                    time: clock.iso(e.ts),
                    offset_ns: e.ts.saturating_sub(origin),
                    event: e.num,
                    pid: e.pid,
                    process: e.process.clone(),
                    kind: e.kind.name(),
                    message: e.message.clone(),
                    count: e.count,
                    bytes: e.bytes,
                    alerted: e.num == a.event,
                })
                .collect();
            // The alert itself, after the entries at or before its event (as the timeline
            // places alerts: after the entry of the event they fired on).
            let at = around.partition_point(|e| (e.ts, e.num) <= (ts(a), a.event));
            entries.insert(
                at,
                ExcerptEntry {
                    time: a.time.clone(),
                    offset_ns: a.offset_ns,
                    event: a.event,
                    pid: a.pid,
                    process: a.process.clone().unwrap_or_default(),
                    kind: "alert",
                    message: format!("{}: {}", a.priority, a.output),
                    count: 1,
                    bytes: 0,
                    alerted: true,
                },
            );
            Excerpt {
                alert: a.id,
                rule: a.rule.clone(),
                entries,
            }
        })
        .collect();
    section
}

/// SHA-256 of a whole file, streamed.
pub fn file_sha256(path: &std::path::Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(rhf_format::hex(&hasher.finalize()))
}

/// The verdict of recomputing every checksum and the hash chain (`verify`), and of decoding
/// every chunk (a chunk whose checksum holds may still not decode).
fn integrity(reader: &TraceReader, scanned: &Scanned) -> IntegrityMeta {
    let so_far = || match Integrity::assess(reader, scanned.failed_chunks.first()) {
        Integrity::Truncated { digest_so_far, .. } => Some(digest_so_far),
        Integrity::Intact { digest } => Some(digest),
        Integrity::Damaged { .. } => None,
    };
    match verify::run(reader) {
        Verdict::Intact(v) => match scanned.failed_chunks.first() {
            None => IntegrityMeta {
                status: "intact",
                chain_digest: Some(rhf_format::hex(&v.digest)),
                detail: None,
            },
            Some(e) => IntegrityMeta {
                status: "damaged",
                chain_digest: Some(rhf_format::hex(&v.digest)),
                detail: Some(escape_str(&format!(
                    "the hash chain holds, but a chunk does not decode: {e}"
                ))),
            },
        },
        Verdict::Truncated(e) => IntegrityMeta {
            status: "truncated",
            chain_digest: so_far(),
            detail: Some(escape_str(&e.to_string())),
        },
        Verdict::Damaged(e) | Verdict::Unreadable(e) => IntegrityMeta {
            status: "damaged",
            chain_digest: None,
            detail: Some(escape_str(&e.to_string())),
        },
    }
}

/// Alerts by priority, most severe first, each group in event-time order and bounded.
fn alert_groups(
    scanned: &Scanned,
    inp: &Inputs<'_>,
    clock: &Clock,
    origin: u64,
) -> Vec<AlertGroup> {
    let engine = inp.engine;
    let mut by: BTreeMap<Priority, Vec<&scan::FoundAlert>> = BTreeMap::new();
    for a in &scanned.alerts {
        by.entry(engine.rules[a.alert.rule as usize].priority)
            .or_default()
            .push(a);
    }
    let mut id = 0;
    by.into_iter()
        .map(|(priority, list)| {
            let shown: Vec<AlertView> = list
                .iter()
                .take(inp.limits.alerts_per_priority)
                .map(|f| {
                    id += 1;
                    let a = &f.alert;
                    let rule = &engine.rules[a.rule as usize];
                    AlertView {
                        id,
                        rule: escape_str(&rule.name),
                        priority: priority.as_str(),
                        tags: rule.tags.iter().map(|t| escape_str(t)).collect(),
                        time: clock.iso(a.ts),
                        offset_ns: a.ts.saturating_sub(origin),
                        event: a.num,
                        pid: a.pid,
                        tid: a.tid,
                        process: scanned
                            .timeline
                            .at(a.pid, a.num)
                            .map(|p| escape_bytes(&p.comm)),
                        output: a.output.text.clone(),
                        fields: a
                            .output
                            .fields
                            .iter()
                            .map(|(name, value)| OutputField {
                                name: escape_str(name),
                                value: value.clone(),
                            })
                            .collect(),
                        evidence: Evidence {
                            kind: f.kind,
                            text: f.evidence.clone(),
                        },
                    }
                })
                .collect();
            AlertGroup {
                priority: priority.as_str(),
                count: list.len(),
                omitted: list.len() - shown.len(),
                alerts: shown,
            }
        })
        .collect()
}

/// How often each rule fired: most severe first, then most frequent, then by name.
fn rules_fired(scanned: &Scanned, engine: &Engine, clock: &Clock) -> Vec<RuleCount> {
    let mut by: BTreeMap<u32, (usize, u64, u64)> = BTreeMap::new();
    for a in &scanned.alerts {
        let e = by
            .entry(a.alert.rule)
            .or_insert((0, a.alert.ts, a.alert.ts));
        e.0 += 1;
        e.1 = e.1.min(a.alert.ts);
        e.2 = e.2.max(a.alert.ts);
    }
    let mut rows: Vec<(Priority, RuleCount)> = by
        .into_iter()
        .map(|(i, (count, first, last))| {
            let r = &engine.rules[i as usize];
            (
                r.priority,
                RuleCount {
                    rule: escape_str(&r.name),
                    priority: r.priority.as_str(),
                    count,
                    first: clock.iso(first),
                    last: clock.iso(last),
                },
            )
        })
        .collect();
    rows.sort_by(|(pa, a), (pb, b)| {
        (pa, std::cmp::Reverse(a.count), &a.rule).cmp(&(pb, std::cmp::Reverse(b.count), &b.rule))
    });
    rows.into_iter().map(|(_, r)| r).collect()
}

fn syscall_section(scanned: &Scanned, limits: Limits) -> SyscallSection {
    let mut rows: Vec<SyscallRow> = scanned
        .syscalls
        .iter()
        .map(|(&(slot, index), s)| {
            let abi = abi_of_slot(slot);
            SyscallRow {
                name: escape_str(&syscall_name(abi, number_of_slot(abi, index))),
                abi: abi_name(abi),
                calls: s.calls,
                errors: s.errors,
                total_ns: u64::try_from(s.total_ns).unwrap_or(u64::MAX),
                max_ns: s.max_ns,
            }
        })
        .collect();
    let calls = rows.iter().map(|r| r.calls).sum();
    let errors = rows.iter().map(|r| r.errors).sum();
    let total_ns = rows.iter().fold(0u64, |t, r| t.saturating_add(r.total_ns));
    let distinct = rows.len();
    // Stable: ties stay in (ABI, number) order.
    rows.sort_by_key(|r| std::cmp::Reverse(r.calls));
    rows.truncate(limits.syscalls);
    SyscallSection {
        calls,
        errors,
        total_ns,
        distinct,
        omitted: distinct - rows.len(),
        top: rows,
    }
}

/// Process names for a row: sorted, bounded, escaped.
fn names(set: &std::collections::BTreeSet<Vec<u8>>, limit: usize) -> (Vec<String>, usize) {
    let shown: Vec<String> = set.iter().take(limit).map(|n| escape_bytes(n)).collect();
    let more = set.len() - shown.len();
    (shown, more)
}

fn file_section(scanned: &Scanned, inp: &Inputs<'_>) -> FileSection {
    let mut rows: Vec<(&Vec<u8>, &scan::Tally)> = scanned.files.iter().collect();
    rows.sort_by(|a, b| {
        (std::cmp::Reverse(a.1.calls), a.0).cmp(&(std::cmp::Reverse(b.1.calls), b.0))
    });
    let opens = rows.iter().map(|(_, t)| t.calls).sum();
    let distinct = rows.len();
    let top: Vec<FileRow> = rows
        .into_iter()
        .take(inp.limits.files)
        .map(|(path, t)| {
            let (processes, more_processes) = names(&t.names, inp.limits.names);
            FileRow {
                path: escape_bytes(&inp.redactor.text(path)),
                opens: t.calls,
                failed: t.failed,
                processes,
                more_processes,
            }
        })
        .collect();
    FileSection {
        opens,
        distinct,
        omitted: distinct - top.len(),
        top,
    }
}

fn connection_section(scanned: &Scanned, inp: &Inputs<'_>) -> ConnectionSection {
    let mut rows: Vec<(&scan::ConnKey, &scan::Tally)> = scanned.connections.iter().collect();
    rows.sort_by(|a, b| {
        (std::cmp::Reverse(a.1.calls), a.0).cmp(&(std::cmp::Reverse(b.1.calls), b.0))
    });
    let calls = rows.iter().map(|(_, t)| t.calls).sum();
    let distinct = rows.len();
    let top: Vec<ConnectionRow> = rows
        .into_iter()
        .take(inp.limits.connections)
        .map(|(k, t)| {
            let (processes, more_processes) = names(&t.names, inp.limits.names);
            ConnectionRow {
                direction: k.direction,
                protocol: k.protocol,
                endpoint: escape_bytes(&inp.redactor.text(&k.endpoint)),
                peer: k.peer.clone(),
                calls: t.calls,
                failed: t.failed,
                processes,
                more_processes,
            }
        })
        .collect();
    ConnectionSection {
        calls,
        distinct,
        omitted: distinct - top.len(),
        top,
    }
}
