//! `rhf-analyze info`: what a trace holds, where it came from, and whether it is intact.

use std::collections::BTreeMap;
use std::sync::Mutex;

use rhf_format::{RecordKind, TraceReader};
use serde::Serialize;

use crate::clock::Clock;
use crate::escape::escape_bytes;
use crate::redact::Redactor;
use crate::trace::{for_each_chunk, Integrity};

/// Everything `info` reports; serialized as is for `--json`.
#[derive(Debug, Serialize)]
pub struct TraceInfo {
    pub file: String,
    pub format_version: String,
    pub host: HostSummary,
    pub capture: CaptureSummary,
    /// Records per kind (kind name -> count), from decoding every chunk.
    pub records: BTreeMap<String, u64>,
    pub total_records: u64,
    /// Records of kinds this analyzer does not know (written by a newer recorder).
    pub unknown_records_skipped: u64,
    /// Record chunks (the header and footer chunks are not counted).
    pub chunks: usize,
    pub file_bytes: u64,
    /// Payload bytes as stored (compressed) and after decompression, over record chunks.
    pub stored_bytes: u64,
    pub raw_bytes: u64,
    pub integrity: Integrity,
}

#[derive(Debug, Serialize)]
pub struct HostSummary {
    pub hostname: String,
    pub kernel_release: String,
    pub kernel_version: String,
    pub arch: String,
    pub boot_time: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CaptureSummary {
    pub mode: &'static str,
    pub backend: String,
    pub recorder_version: String,
    pub command_line: Vec<String>,
    pub options: Vec<(String, String)>,
    pub started: String,
    /// Time of the first and last record, when there are records.
    pub first_record: Option<String>,
    pub last_record: Option<String>,
    pub duration_seconds: Option<f64>,
}

/// The recorder's command line as views show it: secret-looking values redacted (unless
/// `redactor` shows secrets), each argument escaped.
pub fn recorder_command_line(header: &rhf_format::Header, redactor: &Redactor) -> Vec<String> {
    let argv: Vec<Vec<u8>> = header
        .capture
        .command_line
        .iter()
        .map(|a| a.to_vec())
        .collect();
    redactor
        .argv(&argv)
        .iter()
        .map(|a| escape_bytes(a))
        .collect()
}

/// The capture options recorded in the header, values free-text redacted and escaped.
pub fn recorder_options(header: &rhf_format::Header, redactor: &Redactor) -> Vec<(String, String)> {
    header
        .capture
        .options
        .iter()
        .map(|(k, v)| {
            (
                crate::escape::escape_str(k),
                escape_bytes(&redactor.text(v.as_bytes())),
            )
        })
        .collect()
}

/// What `info` shows of `reader`. The recorder's command line holds the traced command's
/// arguments: secret-looking values are redacted unless `redactor` shows secrets.
pub fn collect(file: &str, reader: &TraceReader, redactor: &Redactor) -> TraceInfo {
    let header = reader.header();
    let clock = Clock::from_header(header);
    let counts = Mutex::new((BTreeMap::<u8, u64>::new(), 0u64));
    let first_error = for_each_chunk(reader, |chunk| {
        let mut local = BTreeMap::<u8, u64>::new();
        for r in &chunk.records {
            *local.entry(r.body.kind() as u8).or_default() += 1;
        }
        let mut all = counts.lock().unwrap_or_else(|p| p.into_inner());
        for (k, n) in local {
            *all.0.entry(k).or_default() += n;
        }
        all.1 += u64::from(chunk.skipped_unknown);
    });
    let (counts, skipped) = counts.into_inner().unwrap_or_else(|p| p.into_inner());
    let chunks = reader.chunks();
    let with_records = chunks.iter().filter(|c| c.header.record_count > 0);
    let first = with_records.clone().map(|c| c.header.min_ts).min();
    let last = with_records.map(|c| c.header.max_ts).max();
    let pre = reader.preamble();
    TraceInfo {
        file: file.to_string(),
        format_version: format!("{}.{}", pre.major, pre.minor),
        host: HostSummary {
            hostname: escape_bytes(&header.host.hostname),
            kernel_release: escape_bytes(&header.host.kernel_release),
            kernel_version: escape_bytes(&header.host.kernel_version),
            arch: crate::escape::escape_str(&header.host.arch),
            boot_time: (header.host.boot_time_ns > 0)
                .then(|| crate::clock::iso_from_unix_ns(header.host.boot_time_ns.into())),
        },
        capture: CaptureSummary {
            mode: header.capture.mode.name(),
            backend: crate::escape::escape_str(&header.capture.backend),
            recorder_version: crate::escape::escape_str(&header.capture.recorder_version),
            command_line: recorder_command_line(header, redactor),
            options: recorder_options(header, redactor),
            started: clock.iso(header.capture.start_monotonic_ns),
            first_record: first.map(|t| clock.iso(t)),
            last_record: last.map(|t| clock.iso(t)),
            duration_seconds: first
                .zip(last)
                .map(|(a, b)| b.saturating_sub(a) as f64 / 1e9),
        },
        total_records: counts.values().sum(),
        records: counts
            .into_iter()
            .map(|(k, n)| {
                let name = RecordKind::from_u8(k)
                    .map_or_else(|| format!("kind-{k}"), |k| k.name().to_string());
                (name, n)
            })
            .collect(),
        unknown_records_skipped: skipped,
        chunks: chunks.len(),
        file_bytes: reader.file_len(),
        stored_bytes: chunks.iter().map(|c| u64::from(c.header.stored_len)).sum(),
        raw_bytes: chunks.iter().map(|c| u64::from(c.header.raw_len)).sum(),
        integrity: Integrity::assess(reader, first_error.as_ref()),
    }
}

/// The human-readable rendering.
pub fn render_text(info: &TraceInfo) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let c = &info.capture;
    let h = &info.host;
    let _ = writeln!(s, "file:        {}", crate::escape::escape_str(&info.file));
    let _ = writeln!(s, "format:      rhf {}", info.format_version);
    let _ = writeln!(
        s,
        "host:        {} (kernel {} {}, {})",
        h.hostname, h.kernel_release, h.kernel_version, h.arch
    );
    if let Some(boot) = &h.boot_time {
        let _ = writeln!(s, "boot time:   {boot}");
    }
    let backend = if c.backend.is_empty() {
        String::new()
    } else {
        format!(", backend {}", c.backend)
    };
    let _ = writeln!(
        s,
        "capture:     {}{backend}, by {}",
        c.mode, c.recorder_version
    );
    let _ = writeln!(s, "command:     {}", c.command_line.join(" "));
    if !c.options.is_empty() {
        let opts: Vec<String> = c.options.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(s, "options:     {}", opts.join(" "));
    }
    let _ = writeln!(s, "started:     {}", c.started);
    match (&c.first_record, &c.last_record, c.duration_seconds) {
        (Some(a), Some(b), Some(d)) => {
            let _ = writeln!(s, "records:     {a} .. {b} ({d:.6} s)");
        }
        _ => {
            let _ = writeln!(s, "records:     none");
        }
    }
    let kinds: Vec<String> = info
        .records
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(
        s,
        "counts:      {} total: {}",
        info.total_records,
        kinds.join(", ")
    );
    if info.unknown_records_skipped > 0 {
        let _ = writeln!(
            s,
            "skipped:     {} records of kinds unknown to this version",
            info.unknown_records_skipped
        );
    }
    let ratio = if info.stored_bytes > 0 {
        info.raw_bytes as f64 / info.stored_bytes as f64
    } else {
        0.0
    };
    let _ = writeln!(
        s,
        "chunks:      {} record chunks; {} bytes in the file, {} stored, {} raw ({ratio:.1}x)",
        info.chunks, info.file_bytes, info.stored_bytes, info.raw_bytes
    );
    let _ = match &info.integrity {
        Integrity::Intact { digest } => writeln!(s, "integrity:   intact, digest {digest}"),
        Integrity::Truncated { complete_chunks, offset, detail, digest_so_far } => writeln!(
            s,
            "integrity:   TRUNCATED after {complete_chunks} complete chunks at offset {offset} ({detail}); \
             the chunks before it are intact, chain value {digest_so_far}"
        ),
        Integrity::Damaged { chunk, offset, reason } => {
            writeln!(s, "integrity:   DAMAGED: chunk {chunk} at offset {offset}: {reason}")
        }
    };
    s
}
