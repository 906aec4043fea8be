//! The report as data: what every format shows, serialized as is for `--format json`.
//!
//! The JSON schema is documented key by key in `docs/report-schema.md`; [`SCHEMA_VERSION`]
//! follows its versioning policy (a new key bumps the minor version, a removed, renamed or
//! retyped key the major one). Every string that came from the node or from a rules file is
//! already escaped (`crate::escape`) and, unless secrets are shown, redacted; renderers add
//! only their own format's escaping.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::commands::findings::Finding;
use crate::commands::info::HostSummary;

/// The version of the JSON document's shape (docs/report-schema.md).
pub const SCHEMA_VERSION: &str = "1.0";

/// One report of one trace.
#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: &'static str,
    /// `rhf-analyze VERSION`.
    pub generator: String,
    /// Whether `--show-secrets` turned redaction off.
    pub secrets_shown: bool,
    pub trace: TraceMeta,
    pub rules: RulesMeta,
    pub overview: Overview,
    /// Alerts by priority, most severe first; within a priority in event-time order.
    pub alerts: Vec<AlertGroup>,
    /// How often each rule fired, most severe priority first, then most frequent.
    pub rules_fired: Vec<RuleCount>,
    /// Live-response indicators of the snapshot (docs/FINDINGS.md), by pid.
    pub findings: Vec<Finding>,
    pub processes: ProcessSection,
    pub syscalls: SyscallSection,
    pub files: FileSection,
    pub connections: ConnectionSection,
    /// Timeline excerpts, one per shown alert (at most [`Limits::excerpts`]).
    pub excerpts: ExcerptSection,
    /// What the analyst should know about gaps: damaged chunks, truncation, bounds reached.
    pub notes: Vec<String>,
}

/// The trace file and the capture it holds.
#[derive(Debug, Serialize)]
pub struct TraceMeta {
    /// The file as named on the command line.
    pub file: String,
    pub file_bytes: u64,
    /// SHA-256 of the whole file (what `sha256sum` prints), when it could be read.
    pub file_sha256: Option<String>,
    /// `MAJOR.MINOR` of the rhf format.
    pub format_version: String,
    pub host: HostSummary,
    pub capture: CaptureMeta,
    /// Records per kind, from decoding every chunk.
    pub records: BTreeMap<String, u64>,
    pub total_records: u64,
    pub integrity: IntegrityMeta,
}

/// How and when the capture was made.
#[derive(Debug, Clone, Serialize)]
pub struct CaptureMeta {
    /// `snapshot`, `launch` or `attach`.
    pub mode: &'static str,
    pub backend: String,
    pub recorder_version: String,
    /// The recorder's own command line, secrets redacted.
    pub command_line: Vec<String>,
    pub options: Vec<NameValue>,
    /// When the capture started (ISO 8601 UTC, ns): time 0 of every `*_offset_ns`.
    pub started: String,
    pub first_record: Option<String>,
    pub last_record: Option<String>,
    /// From the first to the last record.
    pub duration_ns: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NameValue {
    pub name: String,
    pub value: String,
}

/// Whether the file is the one the recorder wrote.
#[derive(Debug, Clone, Serialize)]
pub struct IntegrityMeta {
    /// `intact`, `truncated` or `damaged`: every chunk's checksum and the hash chain
    /// recomputed (`rhf-analyze verify`), and every chunk decoded.
    pub status: &'static str,
    /// The SHA-256 chain digest: the final one when intact (compare it with the case notes),
    /// else the chain value after the last intact chunk.
    pub chain_digest: Option<String>,
    /// What is wrong, when not intact.
    pub detail: Option<String>,
}

/// Which rules ran.
#[derive(Debug, Clone, Serialize)]
pub struct RulesMeta {
    /// The rules files in load order (`rhf_rules.yaml (built in)` without `-r`).
    pub files: Vec<String>,
    pub loaded: usize,
    pub enabled: usize,
}

/// The headline numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub alerts: usize,
    /// The most severe priority that fired.
    pub worst_priority: Option<&'static str>,
    pub findings: usize,
    /// The most severe finding severity.
    pub worst_severity: Option<&'static str>,
    /// Processes the trace shows.
    pub processes: usize,
    /// Syscall events (finished calls).
    pub syscalls: u64,
}

/// The alerts of one priority.
#[derive(Debug, Clone, Serialize)]
pub struct AlertGroup {
    /// Falco's capitalised name: `Critical`, `Warning`, ...
    pub priority: &'static str,
    /// Alerts of this priority in the trace.
    pub count: usize,
    /// The first [`Limits::alerts_per_priority`] of them, in event-time order.
    pub alerts: Vec<AlertView>,
    /// `count - alerts.len()`.
    pub omitted: usize,
}

/// One alert and the event it fired on.
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    /// Position in the report's alert order (1-based); excerpts refer to it.
    pub id: usize,
    pub rule: String,
    pub priority: &'static str,
    pub tags: Vec<String>,
    /// Event time, ISO 8601 UTC with ns.
    pub time: String,
    /// Event time relative to the capture start.
    pub offset_ns: u64,
    /// Event number in the trace (from 1).
    pub event: u64,
    pub pid: u32,
    pub tid: u32,
    /// The process name (`comm`) at the event.
    pub process: Option<String>,
    /// The rule's output line.
    pub output: String,
    /// Each field of the output template with its typed value (`null`: not known).
    pub fields: Vec<OutputField>,
    pub evidence: Evidence,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutputField {
    pub name: String,
    pub value: Value,
}

/// The event an alert fired on.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// `syscall` or `procinfo` (a process of the capture-start snapshot).
    pub kind: &'static str,
    /// A syscall as `rhf-analyze print` shows it, or the snapshot process.
    pub text: String,
}

/// One rule's alerts.
#[derive(Debug, Clone, Serialize)]
pub struct RuleCount {
    pub rule: String,
    pub priority: &'static str,
    pub count: usize,
    pub first: String,
    pub last: String,
}

/// The process tree of the processes involved.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessSection {
    /// `involved`: processes with alerts or findings, their ancestors and descendants;
    /// `all`: nothing was involved, so every process.
    pub scope: &'static str,
    /// Processes in the trace.
    pub total: usize,
    /// Processes in `tree` (at most [`Limits::processes`]).
    pub shown: usize,
    pub omitted: usize,
    pub tree: Vec<ProcessNode>,
}

/// A process and its children.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessNode {
    pub pid: u32,
    pub ppid: u32,
    /// `comm` of its last recorded version.
    pub name: String,
    /// argv of its last recorded version, joined by spaces, secrets redacted.
    pub command: String,
    pub exe: Option<String>,
    /// The user name of the real uid (from the node's passwd), else the number.
    pub user: Option<String>,
    /// Start time (ISO 8601 UTC), when known.
    pub start: Option<String>,
    /// Whether it was running when the capture started.
    pub started_before_capture: bool,
    /// Lifetime within the capture, relative to the capture start.
    pub from_offset_ns: u64,
    pub to_offset_ns: u64,
    pub exit: Option<ExitView>,
    /// Alerts and findings on this process itself.
    pub alerts: usize,
    pub findings: usize,
    /// Whether it has alerts or findings (otherwise it is here for its lineage).
    pub involved: bool,
    pub children: Vec<ProcessNode>,
}

/// How a process ended during the capture.
#[derive(Debug, Clone, Serialize)]
pub struct ExitView {
    pub time: String,
    pub code: Option<i32>,
    pub signal: Option<String>,
    pub core_dumped: bool,
}

/// The syscalls, as `summary` counts them.
#[derive(Debug, Clone, Serialize)]
pub struct SyscallSection {
    pub calls: u64,
    pub errors: u64,
    pub total_ns: u64,
    /// Distinct syscalls (per ABI).
    pub distinct: usize,
    /// The most frequent first, ties in syscall-number order.
    pub top: Vec<SyscallRow>,
    pub omitted: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SyscallRow {
    pub name: String,
    /// `x86_64`, `i386` or `x32`.
    pub abi: &'static str,
    pub calls: u64,
    pub errors: u64,
    pub total_ns: u64,
    pub max_ns: u64,
}

/// Paths opened (`open`, `openat`, `openat2`, `creat`).
#[derive(Debug, Clone, Serialize)]
pub struct FileSection {
    pub opens: u64,
    pub distinct: usize,
    /// Most opened first, ties by path.
    pub top: Vec<FileRow>,
    pub omitted: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileRow {
    /// Absolute when the recorder could resolve it, else as passed.
    pub path: String,
    pub opens: u64,
    pub failed: u64,
    /// Names of the processes that opened it, sorted; at most [`Limits::names`].
    pub processes: Vec<String>,
    pub more_processes: usize,
}

/// Endpoints of `connect` and `accept`/`accept4`.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionSection {
    pub calls: u64,
    pub distinct: usize,
    /// Most frequent first, ties by direction, protocol, endpoint, peer.
    pub top: Vec<ConnectionRow>,
    pub omitted: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionRow {
    /// `connect` (outbound) or `accept` (inbound).
    pub direction: &'static str,
    /// `tcp`, `udp`, `unix`, ... (`unknown` when the socket was not known).
    pub protocol: &'static str,
    /// The server end: `ip:port`, `[ipv6]:port` or a unix socket path.
    pub endpoint: String,
    /// For accepts: the client's address, without its (ephemeral) port.
    pub peer: Option<String>,
    pub calls: u64,
    pub failed: u64,
    pub processes: Vec<String>,
    pub more_processes: usize,
}

/// The timeline around alerts.
#[derive(Debug, Clone, Serialize)]
pub struct ExcerptSection {
    /// Whether excerpts were built (`false` when there is nothing to show them around).
    pub available: bool,
    /// Entries shown before and after each alert's time.
    pub before: usize,
    pub after: usize,
    pub excerpts: Vec<Excerpt>,
}

/// The timeline entries around one alert.
#[derive(Debug, Clone, Serialize)]
pub struct Excerpt {
    /// [`AlertView::id`] of the alert.
    pub alert: usize,
    pub rule: String,
    pub entries: Vec<ExcerptEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExcerptEntry {
    pub time: String,
    pub offset_ns: u64,
    pub event: u64,
    pub pid: u32,
    pub process: String,
    /// The timeline's entry kind (`exec`, `file_open`, `connect`, ...; docs/TIMELINE.md), or
    /// `alert` for the alert itself.
    pub kind: &'static str,
    pub message: String,
    /// Events the entry stands for (a collapsed run of reads or writes).
    pub count: u64,
    pub bytes: u64,
    /// The alert itself, or the entry of the event it fired on.
    pub alerted: bool,
}

/// How much of each section a report shows. Bounds keep a report of a busy trace readable
/// and of bounded size; each section says how much it left out.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub alerts_per_priority: usize,
    pub processes: usize,
    pub syscalls: usize,
    pub files: usize,
    pub connections: usize,
    /// Process names per file or connection row.
    pub names: usize,
    /// Alerts that get a timeline excerpt (the first ones in report order).
    pub excerpts: usize,
    /// Timeline entries before and after an alert.
    pub excerpt_before: usize,
    pub excerpt_after: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            alerts_per_priority: 50,
            processes: 200,
            syscalls: 15,
            files: 15,
            connections: 15,
            names: 5,
            excerpts: 20,
            excerpt_before: 5,
            excerpt_after: 5,
        }
    }
}
