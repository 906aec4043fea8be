//! `rhf-analyze timeline`: the entries of [`crate::timeline`] as text for people, or as JSON
//! lines and CSV with the columns timeline tools such as Timesketch ingest (docs/TIMELINE.md).
//!
//! Entries are rendered in parallel, a batch at a time, and written in order: the bytes do
//! not depend on the number of threads.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use rayon::prelude::*;
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::clock::Clock;
use crate::timeline::{Entry, Fields};

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One line per entry: `TIME  pid P (name)  message`.
    #[default]
    Text,
    /// One JSON object per line.
    Jsonl,
    /// RFC 4180 CSV with a header row.
    Csv,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Format::Text),
            "jsonl" | "json" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            other => Err(format!("unknown format '{other}' (text, jsonl, csv)")),
        }
    }
}

/// The CSV header row (without the line end).
pub const CSV_HEADER: &str =
    "message,datetime,timestamp,timestamp_desc,kind,pid,tid,process,event_num,count,bytes,details";

/// Entries rendered per parallel task.
const BATCH: usize = 4096;

/// Writes `entries` to `out` in `format`, rendering in a pool of `threads` threads (the
/// global pool when `None`). Batches are rendered in parallel into buffers reused from group
/// to group (fresh pages for every batch cost more than the rendering), then written in order.
pub fn write(
    out: &mut dyn Write,
    entries: &[Entry],
    clock: &Clock,
    format: Format,
    threads: Option<usize>,
) -> Result<()> {
    let pool = threads
        .map(|n| rayon::ThreadPoolBuilder::new().num_threads(n).build())
        .transpose()
        .context("cannot start the worker threads")?;
    if format == Format::Csv {
        writeln!(out, "{CSV_HEADER}")?;
    }
    let workers = pool
        .as_ref()
        .map_or_else(rayon::current_num_threads, |p| p.current_num_threads());
    let slots = workers.max(1) * 2;
    let mut buffers: Vec<Vec<u8>> = vec![Vec::new(); slots];
    for group in entries.chunks(BATCH * slots) {
        let mut render_group = || {
            buffers
                .par_iter_mut()
                .zip(group.par_chunks(BATCH))
                .for_each(|(buf, batch)| {
                    buf.clear();
                    let mut dates = Dates::default();
                    for e in batch {
                        render_with(e, clock, &mut dates, format, buf);
                    }
                })
        };
        match &pool {
            Some(p) => p.install(render_group),
            None => render_group(),
        }
        for buf in buffers.iter().take(group.len().div_ceil(BATCH)) {
            out.write_all(buf)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Appends one entry in `format`, with its line end.
pub fn render(e: &Entry, clock: &Clock, format: Format, out: &mut Vec<u8>) {
    render_with(e, clock, &mut Dates::default(), format, out);
}

fn render_with(e: &Entry, clock: &Clock, dates: &mut Dates, format: Format, out: &mut Vec<u8>) {
    match format {
        Format::Text => text_line_with(e, clock, dates, out),
        Format::Jsonl => {
            // Writing into a Vec cannot fail, and the fields are plain JSON values.
            let _ = serde_json::to_writer(&mut *out, &json_line_with(e, clock, dates));
            out.push(b'\n');
        }
        Format::Csv => csv_line_with(e, clock, dates, out),
    }
}

/// `2026-11-28T21:15:16.690866Z`: ISO 8601 UTC with microseconds, and the same instant in
/// integer microseconds since the Unix epoch.
pub fn datetime(clock: &Clock, ts: u64) -> (String, i64) {
    Dates::default().get(clock, ts)
}

/// [`datetime`] for a stream of close times: the text up to the second is formatted once per
/// second, not once per entry.
#[derive(Debug, Default)]
pub struct Dates {
    second: Option<i64>,
    /// `2026-11-28T21:15:16.`
    prefix: String,
}

impl Dates {
    pub fn get(&mut self, clock: &Clock, ts: u64) -> (String, i64) {
        let us = clock.unix_ns(ts).div_euclid(1000);
        let us = i64::try_from(us).unwrap_or(if us < 0 { i64::MIN } else { i64::MAX });
        let second = us.div_euclid(1_000_000);
        if self.second != Some(second) {
            match DateTime::<Utc>::from_timestamp(second, 0) {
                Some(t) => {
                    let mut p = t.to_rfc3339_opts(SecondsFormat::Secs, true);
                    p.pop(); // the `Z`
                    p.push('.');
                    self.prefix = p;
                    self.second = Some(second);
                }
                None => return (format!("{us}us since 1970"), us),
            }
        }
        let mut text = String::with_capacity(self.prefix.len() + 7);
        text.push_str(&self.prefix);
        let _ = write!(text, "{:06}Z", us.rem_euclid(1_000_000));
        (text, us)
    }
}

/// What an entry's `timestamp` means, in Timesketch's `timestamp_desc` column.
pub fn timestamp_desc(e: &Entry) -> &'static str {
    match e.kind {
        crate::timeline::Kind::Snapshot => "Snapshot Time",
        _ if e.count > 1 => "First Event Time",
        _ => "Event Time",
    }
}

/// `2026-11-28T21:15:16.690866Z  pid 25365 (sh)  exec /usr/bin/sh -c 'echo hi'`; a thread
/// other than the main one shows as `pid 25365 tid 25366 (sh)`.
pub fn text_line(e: &Entry, clock: &Clock, out: &mut Vec<u8>) {
    text_line_with(e, clock, &mut Dates::default(), out);
}

fn text_line_with(e: &Entry, clock: &Clock, dates: &mut Dates, out: &mut Vec<u8>) {
    let (time, _) = dates.get(clock, e.ts);
    let mut who = format!("pid {}", e.pid);
    if e.tid != e.pid && e.tid != 0 {
        let _ = write!(who, " tid {}", e.tid);
    }
    let name = if e.process.is_empty() {
        "?"
    } else {
        &e.process
    };
    let _ = write!(who, " ({name})");
    // Writing into a Vec cannot fail.
    let _ = writeln!(out, "{time}  {who:<24}  {}", e.message);
}

/// The JSON line of an entry: the Timesketch columns (`message`, `datetime`, `timestamp`,
/// `timestamp_desc`), the entry's own (`kind`, `pid`, `tid`, `process`, `event_num`,
/// `count`, `bytes`, `last_datetime`, `last_timestamp`), then its fields.
pub fn json_line<'a>(e: &'a Entry, clock: &Clock) -> JsonLine<'a> {
    json_line_with(e, clock, &mut Dates::default())
}

fn json_line_with<'a>(e: &'a Entry, clock: &Clock, dates: &mut Dates) -> JsonLine<'a> {
    let (datetime, timestamp) = dates.get(clock, e.ts);
    let (last_datetime, last_timestamp) = if e.last_ts == e.ts {
        (datetime.clone(), timestamp)
    } else {
        dates.get(clock, e.last_ts)
    };
    JsonLine {
        message: &e.message,
        datetime,
        timestamp,
        timestamp_desc: timestamp_desc(e),
        kind: e.kind.name(),
        pid: e.pid,
        tid: e.tid,
        process: &e.process,
        event_num: e.num,
        count: e.count,
        bytes: e.bytes,
        last_datetime,
        last_timestamp,
        fields: &e.fields,
    }
}

/// One JSON line; [`json_line`] builds it. Serializes as one object: the columns in
/// [`JSON_COLUMNS`] order, then the fields by name.
#[derive(Debug)]
pub struct JsonLine<'a> {
    pub message: &'a str,
    pub datetime: String,
    pub timestamp: i64,
    pub timestamp_desc: &'static str,
    pub kind: &'static str,
    pub pid: u32,
    pub tid: u32,
    pub process: &'a str,
    pub event_num: u64,
    pub count: u64,
    pub bytes: u64,
    pub last_datetime: String,
    pub last_timestamp: i64,
    pub fields: &'a Fields,
}

impl Serialize for JsonLine<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(Some(JSON_COLUMNS.len() + self.fields.len()))?;
        m.serialize_entry("message", self.message)?;
        m.serialize_entry("datetime", &self.datetime)?;
        m.serialize_entry("timestamp", &self.timestamp)?;
        m.serialize_entry("timestamp_desc", self.timestamp_desc)?;
        m.serialize_entry("kind", self.kind)?;
        m.serialize_entry("pid", &self.pid)?;
        m.serialize_entry("tid", &self.tid)?;
        m.serialize_entry("process", self.process)?;
        m.serialize_entry("event_num", &self.event_num)?;
        m.serialize_entry("count", &self.count)?;
        m.serialize_entry("bytes", &self.bytes)?;
        m.serialize_entry("last_datetime", &self.last_datetime)?;
        m.serialize_entry("last_timestamp", &self.last_timestamp)?;
        for (k, v) in self.fields.iter() {
            // A field never takes a column's name (a test checks the names the model uses).
            if !JSON_COLUMNS.contains(&k) {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

/// The columns of [`JsonLine`] before the fields: no field may take one of these names.
pub const JSON_COLUMNS: [&str; 13] = [
    "message",
    "datetime",
    "timestamp",
    "timestamp_desc",
    "kind",
    "pid",
    "tid",
    "process",
    "event_num",
    "count",
    "bytes",
    "last_datetime",
    "last_timestamp",
];

/// One CSV record ([`CSV_HEADER`]'s columns); `details` holds the fields as compact JSON,
/// with `last_datetime` and `last_timestamp` added for a collapsed run.
pub fn csv_line(e: &Entry, clock: &Clock, out: &mut Vec<u8>) {
    csv_line_with(e, clock, &mut Dates::default(), out);
}

fn csv_line_with(e: &Entry, clock: &Clock, dates: &mut Dates, out: &mut Vec<u8>) {
    let (datetime, timestamp) = dates.get(clock, e.ts);
    let mut details = Vec::with_capacity(128);
    // Writing into a Vec cannot fail.
    if e.count > 1 {
        let mut f = e.fields.clone();
        let (last, last_us) = dates.get(clock, e.last_ts);
        f.insert("last_datetime", last);
        f.insert("last_timestamp", last_us);
        let _ = serde_json::to_writer(&mut details, &f);
    } else {
        let _ = serde_json::to_writer(&mut details, &e.fields);
    }
    csv_bytes(e.message.as_bytes(), out);
    // Times, numbers and kinds never need quotes.
    let _ = write!(
        out,
        ",{datetime},{timestamp},{},{},{},{},",
        timestamp_desc(e),
        e.kind.name(),
        e.pid,
        e.tid
    );
    csv_bytes(e.process.as_bytes(), out);
    let _ = write!(out, ",{},{},{},", e.num, e.count, e.bytes);
    csv_bytes(&details, out);
    out.push(b'\n');
}

/// One CSV field, quoted as RFC 4180 says when it holds a comma, a quote, CR or LF (quotes
/// doubled), or starts or ends with a blank (which some readers would trim).
pub fn csv_field(s: &str, out: &mut Vec<u8>) {
    csv_bytes(s.as_bytes(), out);
}

fn csv_bytes(s: &[u8], out: &mut Vec<u8>) {
    let blank = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    let needs = s.iter().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
        || blank(s.first())
        || blank(s.last());
    if !needs {
        out.extend_from_slice(s);
        return;
    }
    out.push(b'"');
    for part in s.split_inclusive(|b| *b == b'"') {
        out.extend_from_slice(part);
        if part.last() == Some(&b'"') {
            out.push(b'"');
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::Kind;
    use serde_json::Value;

    fn entry() -> Entry {
        let mut fields = Fields::new();
        fields.insert("path", "/tmp/a,b \"c\"");
        Entry {
            ts: 7_000_000_000_000,
            last_ts: 7_001_200_000_000,
            num: 42,
            pid: 10,
            tid: 11,
            process: "ba,sh".into(),
            kind: Kind::FileRead,
            message: "read fd 3 /tmp/a,b \"c\" ×3, 12 bytes, over 1.2s".into(),
            fields,
            count: 3,
            bytes: 12,
        }
    }

    fn clock() -> Clock {
        let mut h = rhf_format::Header::default();
        h.capture.start_realtime_ns = 1_795_900_516_000_000_000;
        h.capture.start_monotonic_ns = 7_000_000_000_000;
        Clock::from_header(&h)
    }

    #[test]
    fn dates_are_iso_8601_with_microseconds() {
        let c = clock();
        let mut d = Dates::default();
        let start = 7_000_000_000_000;
        assert_eq!(d.get(&c, start).0, "2026-11-28T21:15:16.000000Z");
        assert_eq!(
            d.get(&c, start + 123_456_789),
            (
                "2026-11-28T21:15:16.123456Z".to_string(),
                1_795_900_516_123_456
            )
        );
        assert_eq!(
            d.get(&c, start + 1_000_000_001).0,
            "2026-11-28T21:15:17.000000Z"
        );
        // Before the epoch (a hostile header): still well-formed, floor to the microsecond.
        let mut h = rhf_format::Header::default();
        h.capture.start_monotonic_ns = 1_500;
        let early = Clock::from_header(&h);
        assert_eq!(
            d.get(&early, 0),
            ("1969-12-31T23:59:59.999998Z".to_string(), -2)
        );
        assert_eq!(datetime(&c, start).1, 1_795_900_516_000_000);
    }

    #[test]
    fn csv_fields_are_quoted_as_rfc_4180_says() {
        let mut s = Vec::new();
        for (input, want) in [
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("cr\r", "\"cr\r\""),
            (" lead", "\" lead\""),
            ("", ""),
        ] {
            s.clear();
            csv_field(input, &mut s);
            assert_eq!(String::from_utf8_lossy(&s), want, "{input:?}");
        }
        s.clear();
        csv_line(&entry(), &clock(), &mut s);
        assert_eq!(
            String::from_utf8_lossy(&s),
            "\"read fd 3 /tmp/a,b \"\"c\"\" ×3, 12 bytes, over 1.2s\",\
             2026-11-28T21:15:16.000000Z,1795900516000000,First Event Time,file_read,10,11,\
             \"ba,sh\",42,3,12,\"{\"\"last_datetime\"\":\"\"2026-11-28T21:15:17.200000Z\"\",\
             \"\"last_timestamp\"\":1795900517200000,\"\"path\"\":\"\"/tmp/a,b \\\"\"c\\\"\"\"\"}\"\n"
        );
    }

    #[test]
    fn json_lines_carry_the_timesketch_columns() {
        let mut s = Vec::new();
        render(&entry(), &clock(), Format::Jsonl, &mut s);
        let s = String::from_utf8(s).unwrap();
        let v: Value = serde_json::from_str(s.trim_end()).unwrap();
        assert_eq!(v["datetime"], "2026-11-28T21:15:16.000000Z");
        assert_eq!(v["timestamp"], 1_795_900_516_000_000i64);
        assert_eq!(v["timestamp_desc"], "First Event Time");
        assert_eq!(v["last_timestamp"], 1_795_900_517_200_000i64);
        assert_eq!(v["kind"], "file_read");
        assert_eq!(v["event_num"], 42);
        assert_eq!(v["path"], "/tmp/a,b \"c\"");
        assert!(s.ends_with("}\n") && s.matches('\n').count() == 1);
    }

    #[test]
    fn text_lines_show_time_process_and_message() {
        let mut s = Vec::new();
        let mut e = entry();
        text_line(&e, &clock(), &mut s);
        assert_eq!(
            String::from_utf8_lossy(&s),
            "2026-11-28T21:15:16.000000Z  pid 10 tid 11 (ba,sh)     read fd 3 /tmp/a,b \"c\" \
             ×3, 12 bytes, over 1.2s\n"
        );
        s.clear();
        e.tid = 10;
        e.process.clear();
        text_line(&e, &clock(), &mut s);
        let s = String::from_utf8(s).unwrap();
        assert!(
            s.starts_with(&format!(
                "2026-11-28T21:15:16.000000Z  {:<24}  read fd 3",
                "pid 10 (?)"
            )),
            "{s}"
        );
    }
}
