//! Record framing inside a chunk payload, and the MessagePack bodies of records, header and
//! footer.
//!
//! A decompressed records payload is columnar (see [`Columns`]): record kinds, timestamp
//! deltas, body lengths, the fixed syscall fields one column each, then the bodies. Timestamps
//! are deltas from the previous record in the same chunk, which keeps every chunk decodable on
//! its own. Unknown kinds are skipped by their body length.

use std::sync::Arc;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::args;

use crate::record::{Abi, Record, RecordBody, RecordKind, SyscallEvent};

/// The footer chunk's content: an index of every chunk before it and per-kind counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Footer {
    pub chunks: Vec<ChunkIndexEntry>,
    /// `(record kind number, count)` for every kind written, ascending by kind.
    pub record_counts: Vec<(u8, u64)>,
}

/// Where one chunk is, and what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ChunkIndexEntry {
    pub offset: u64,
    pub record_count: u32,
    pub raw_len: u32,
    pub stored_len: u32,
    pub min_ts: u64,
    pub max_ts: u64,
}

/// Why a payload could not be decoded (the caller adds chunk number and offset).
#[derive(Debug)]
pub struct DecodeError(pub String);

pub fn encode_body<T: Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), String> {
    rmp_serde::encode::write(out, value).map_err(|e| e.to_string())
}

pub fn decode_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    rmp_serde::from_slice(bytes).map_err(|e| e.to_string())
}

/// The columns of a records payload, in their order on disk. Each is written as a varint
/// byte length followed by its bytes. Like values sit together, so zstd codes each column
/// close to its entropy and the argument bytes find long matches.
#[derive(Debug, Default, Clone)]
pub struct Columns {
    /// One byte per record: its kind.
    kinds: Vec<u8>,
    /// Per record: zigzag varint of `ts - previous ts` (the first from 0).
    ts: Vec<u8>,
    /// Per record: varint length of its body in `bodies`.
    lens: Vec<u8>,
    /// Per syscall record: varint pid.
    pids: Vec<u8>,
    /// Per syscall record: zigzag varint of `tid - pid`.
    tids: Vec<u8>,
    /// Per syscall record: varint syscall number.
    nrs: Vec<u8>,
    /// Per syscall record: one byte, bits 0-1 ABI, bit 2 unfinished.
    flags: Vec<u8>,
    /// Per syscall record: zigzag varint return value.
    rets: Vec<u8>,
    /// Per syscall record: varint duration in ns.
    durs: Vec<u8>,
    /// Per record: the body (syscall arguments, or a MessagePack record).
    bodies: Vec<u8>,
    /// Since 1.1. Per fd target defined in the chunk, in definition order: varint of the
    /// defining record's index minus the previous definition's (the first from 0). A reader
    /// finds target N's record at once instead of walking every earlier body to count.
    defs: Vec<u8>,
    prev_ts: u64,
    /// Record index of the last definition written to `defs`.
    prev_def: u64,
    fd_targets: args::FdTargetTable,
    scratch: Vec<u8>,
}

impl Columns {
    fn all(&self) -> [&Vec<u8>; COLUMNS] {
        [
            &self.kinds,
            &self.ts,
            &self.lens,
            &self.pids,
            &self.tids,
            &self.nrs,
            &self.flags,
            &self.rets,
            &self.durs,
            &self.bodies,
            &self.defs,
        ]
    }

    /// Raw payload bytes the columns will take.
    pub fn encoded_len(&self) -> usize {
        self.all().iter().map(|c| c.len() + 10).sum()
    }

    fn all_mut(&mut self) -> [&mut Vec<u8>; COLUMNS] {
        [
            &mut self.kinds,
            &mut self.ts,
            &mut self.lens,
            &mut self.pids,
            &mut self.tids,
            &mut self.nrs,
            &mut self.flags,
            &mut self.rets,
            &mut self.durs,
            &mut self.bodies,
            &mut self.defs,
        ]
    }

    pub fn clear(&mut self) {
        self.all_mut().into_iter().for_each(Vec::clear);
        self.prev_ts = 0;
        self.prev_def = 0;
        self.fd_targets.clear();
    }

    /// The current end of every column, to undo a push with [`Columns::rollback`].
    pub fn mark(&self) -> ColumnsMark {
        ColumnsMark {
            lens: self.all().map(|c| c.len()),
            prev_ts: self.prev_ts,
            prev_def: self.prev_def,
            fd_targets: self.fd_targets.len(),
        }
    }

    pub fn rollback(&mut self, mark: &ColumnsMark) {
        for (c, len) in self.all_mut().into_iter().zip(mark.lens) {
            c.truncate(len);
        }
        self.prev_ts = mark.prev_ts;
        self.prev_def = mark.prev_def;
        self.fd_targets.truncate(mark.fd_targets);
    }

    /// Appends one record.
    pub fn push(&mut self, rec: &Record) -> Result<(), String> {
        let scratch = &mut self.scratch;
        scratch.clear();
        match &rec.body {
            RecordBody::Syscall(ev) => {
                put_varint(&mut self.pids, u64::from(ev.pid));
                put_varint(
                    &mut self.tids,
                    zigzag(i64::from(ev.tid) - i64::from(ev.pid)),
                );
                put_varint(&mut self.nrs, u64::from(ev.nr));
                let abi = match ev.abi {
                    Abi::X86_64 => 0,
                    Abi::I386 => 1,
                    Abi::X32 => 2,
                };
                self.flags.push(abi | if ev.unfinished { 4 } else { 0 });
                put_varint(&mut self.rets, zigzag(ev.ret));
                put_varint(&mut self.durs, ev.duration_ns);
                let defined = self.fd_targets.len();
                args::encode_args(&ev.args, &mut self.fd_targets, scratch);
                let index = self.kinds.len() as u64;
                for _ in defined..self.fd_targets.len() {
                    put_varint(&mut self.defs, index - self.prev_def);
                    self.prev_def = index;
                }
                Ok(())
            }
            RecordBody::Process(v) => encode_body(v, scratch),
            RecordBody::Network(v) => encode_body(v, scratch),
            RecordBody::Mounts(v) => encode_body(v, scratch),
            RecordBody::Accounts(v) => encode_body(v, scratch),
            RecordBody::HostFiles(v) => encode_body(v, scratch),
            RecordBody::Executable(v) => encode_body(v, scratch),
            RecordBody::Lifecycle(v) => encode_body(v, scratch),
            RecordBody::Signal(v) => encode_body(v, scratch),
            RecordBody::Stats(v) => encode_body(v, scratch),
            RecordBody::Loss(v) => encode_body(v, scratch),
        }?;
        self.kinds.push(rec.body.kind() as u8);
        put_varint(
            &mut self.ts,
            zigzag(rec.ts.wrapping_sub(self.prev_ts) as i64),
        );
        self.prev_ts = rec.ts;
        put_varint(&mut self.lens, scratch.len() as u64);
        self.bodies.extend_from_slice(scratch);
        Ok(())
    }

    /// Writes the payload: every column as varint length + bytes.
    pub fn write_payload(&self, out: &mut Vec<u8>) {
        out.clear();
        for column in self.all() {
            put_varint(out, column.len() as u64);
            out.extend_from_slice(column);
        }
    }
}

/// Where the columns ended before a push.
#[derive(Debug, Clone, Copy)]
pub struct ColumnsMark {
    lens: [usize; COLUMNS],
    prev_ts: u64,
    prev_def: u64,
    fd_targets: usize,
}

/// Records decoded from one chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodedRecords {
    pub records: Vec<Record>,
    /// Records of kinds this version does not know, skipped.
    pub skipped_unknown: u32,
}

/// Columns this version writes: the ten of 1.0, and `defs` since 1.1.
const COLUMNS: usize = 11;

const COLUMN_NAMES: [&str; COLUMNS] = [
    "kinds", "ts", "lens", "pids", "tids", "nrs", "flags", "rets", "durs", "bodies", "defs",
];

/// Decodes the records of one chunk payload one at a time, so a consumer that handles each
/// record and drops it keeps its working set in cache instead of materialising the chunk.
///
/// The fixed-width columns are decoded up front, one tight loop per column (much faster than
/// interleaving them per record); bodies are decoded as records are asked for.
///
/// A clone shares the decoded columns (they never change) and copies only its position, so a
/// second pass over a chunk costs neither decompression nor a copy of the chunk.
#[derive(Debug, Clone)]
pub struct RecordDecoder {
    cols: Arc<DecodedColumns>,
    next_sys: usize,
    index: usize,
    fd_targets: args::FdTargets,
    skipped_unknown: u32,
    failed: bool,
}

/// A chunk's payload with its fixed columns decoded.
#[derive(Debug)]
struct DecodedColumns {
    payload: Vec<u8>,
    kinds: (usize, usize),
    /// Absolute timestamp of every record.
    times: Vec<u64>,
    /// Start of every record's body in `payload`; one more entry marks the end.
    body_starts: Vec<usize>,
    /// Per syscall record, in order.
    sys: SyscallColumns,
    /// The record defining each fd target, when the chunk has the `defs` column (1.1).
    defs: Option<Vec<usize>>,
}

/// What [`RecordDecoder::step`] did with a record.
enum Step {
    /// Decoded whole.
    Whole,
    /// A syscall with its fixed fields only.
    Fixed,
    /// A syscall passed over.
    Passed,
}

#[derive(Debug, Default, Clone)]
struct SyscallColumns {
    pids: Vec<u64>,
    tid_deltas: Vec<u64>,
    nrs: Vec<u64>,
    flags: Vec<u8>,
    rets: Vec<u64>,
    durs: Vec<u64>,
}

const KINDS: usize = 0;
const TS: usize = 1;
const LENS: usize = 2;
const PIDS: usize = 3;
const TIDS: usize = 4;
const NRS: usize = 5;
const FLAGS: usize = 6;
const RETS: usize = 7;
const DURS: usize = 8;
const BODIES: usize = 9;
const DEFS: usize = 10;

/// The `defs` column: the record index of each fd target definition, checked to lie within
/// the chunk's `n` records.
fn definition_records(column: &[u8], n: usize) -> Result<Vec<usize>, DecodeError> {
    let mut out = Vec::new();
    let (mut pos, mut at) = (0usize, 0usize);
    while pos < column.len() {
        let delta = get_varint(column, &mut pos)
            .ok_or_else(|| DecodeError("column defs: a value is cut short".into()))?;
        at = usize::try_from(delta)
            .ok()
            .and_then(|d| at.checked_add(d))
            .filter(|r| *r < n)
            .ok_or_else(|| {
                DecodeError(format!(
                    "column defs: a definition lies past the {n} records"
                ))
            })?;
        out.push(at);
    }
    Ok(out)
}

/// Decodes exactly `n` varints from a column.
fn varint_column(
    payload: &[u8],
    (start, end): (usize, usize),
    n: usize,
    col: usize,
) -> Result<Vec<u64>, DecodeError> {
    let buf = &payload[start..end];
    // Each varint takes at least one byte: the column length bounds the allocation.
    if n > buf.len() {
        return Err(DecodeError(format!(
            "column {} holds {} bytes, too few for {n} values",
            COLUMN_NAMES[col],
            buf.len()
        )));
    }
    let mut out = Vec::with_capacity(n);
    let mut pos = 0;
    for i in 0..n {
        match get_varint(buf, &mut pos) {
            Some(v) => out.push(v),
            None => {
                return Err(DecodeError(format!(
                    "column {}: value {i} is cut short or overlong",
                    COLUMN_NAMES[col]
                )))
            }
        }
    }
    Ok(out)
}

impl RecordDecoder {
    /// Checks the column layout of a payload that must hold exactly `expected` records and
    /// decodes its fixed columns.
    pub fn new(payload: Vec<u8>, expected: u32) -> Result<Self, DecodeError> {
        let mut pos = 0usize;
        let mut ranges = [(0usize, 0usize); COLUMNS];
        for (i, range) in ranges.iter_mut().enumerate() {
            // 1.0 payloads end after the 10th column; `defs` (1.1) is optional.
            if i == DEFS && pos == payload.len() {
                break;
            }
            let len = get_varint(&payload, &mut pos)
                .filter(|len| *len <= (payload.len() - pos) as u64)
                .ok_or_else(|| {
                    DecodeError(format!(
                        "column {} length is missing or runs past the payload",
                        COLUMN_NAMES[i]
                    ))
                })? as usize;
            *range = (pos, pos + len);
            pos += len;
        }
        // Columns added by later minor versions follow; this version ignores them.
        let n = ranges[KINDS].1 - ranges[KINDS].0;
        let defs = (ranges[DEFS].1 > ranges[DEFS].0 || pos > ranges[BODIES].1)
            .then(|| definition_records(&payload[ranges[DEFS].0..ranges[DEFS].1], n))
            .transpose()?;
        if n != expected as usize {
            return Err(DecodeError(format!(
                "payload holds {n} records, the chunk header declares {expected}"
            )));
        }
        let mut times = varint_column(&payload, ranges[TS], n, TS)?;
        let mut t = 0u64;
        for v in &mut times {
            t = t.wrapping_add(unzigzag(*v) as u64);
            *v = t;
        }
        let lens = varint_column(&payload, ranges[LENS], n, LENS)?;
        let mut body_starts = Vec::with_capacity(n + 1);
        let (mut at, bodies_end) = ranges[BODIES];
        body_starts.push(at);
        for (i, len) in lens.into_iter().enumerate() {
            at = usize::try_from(len)
                .ok()
                .and_then(|len| at.checked_add(len))
                .filter(|end| *end <= bodies_end)
                .ok_or_else(|| {
                    DecodeError(format!("record {i}: body runs past the bodies column"))
                })?;
            body_starts.push(at);
        }
        let syscalls = payload[ranges[KINDS].0..ranges[KINDS].1]
            .iter()
            .filter(|k| **k == RecordKind::Syscall as u8)
            .count();
        let (fs, fe) = ranges[FLAGS];
        if fe - fs < syscalls {
            return Err(DecodeError(format!(
                "column flags holds {} bytes for {syscalls} syscall records",
                fe - fs
            )));
        }
        let sys = SyscallColumns {
            pids: varint_column(&payload, ranges[PIDS], syscalls, PIDS)?,
            tid_deltas: varint_column(&payload, ranges[TIDS], syscalls, TIDS)?,
            nrs: varint_column(&payload, ranges[NRS], syscalls, NRS)?,
            flags: payload[fs..fs + syscalls].to_vec(),
            rets: varint_column(&payload, ranges[RETS], syscalls, RETS)?,
            durs: varint_column(&payload, ranges[DURS], syscalls, DURS)?,
        };
        Ok(RecordDecoder {
            cols: Arc::new(DecodedColumns {
                defs,
                kinds: ranges[KINDS],
                payload,
                times,
                body_starts,
                sys,
            }),
            next_sys: 0,
            index: 0,
            fd_targets: args::FdTargets::default(),
            skipped_unknown: 0,
            failed: false,
        })
    }

    /// Records of unknown kinds skipped so far.
    pub fn skipped_unknown(&self) -> u32 {
        self.skipped_unknown
    }

    /// Decodes everything that is left.
    pub fn decode_all(mut self) -> Result<DecodedRecords, DecodeError> {
        let mut records = Vec::with_capacity(self.cols.times.len() - self.index);
        for r in &mut self {
            records.push(r?);
        }
        Ok(DecodedRecords {
            records,
            skipped_unknown: self.skipped_unknown,
        })
    }

    /// Moves to the next record of a known kind: its index, kind and body range.
    fn advance(&mut self) -> Option<(usize, RecordKind, usize, usize)> {
        loop {
            let index = self.index;
            let kind = *self.cols.payload[self.cols.kinds.0..self.cols.kinds.1].get(index)?;
            self.index += 1;
            let (start, end) = (
                self.cols.body_starts[index],
                self.cols.body_starts[index + 1],
            );
            match RecordKind::from_u8(kind) {
                Some(kind) => return Some((index, kind, start, end)),
                None => self.skipped_unknown += 1,
            }
        }
    }

    fn next_record(&mut self) -> Result<Option<Record>, DecodeError> {
        let mut record = Record {
            ts: 0,
            body: RecordBody::Syscall(SyscallEvent::default()),
        };
        Ok(self.next_into(&mut record)?.then_some(record))
    }

    /// Decodes the next record into `record`, reusing its syscall argument vector when both
    /// are syscalls. Returns false at the end of the chunk.
    pub fn next_into(&mut self, record: &mut Record) -> Result<bool, DecodeError> {
        let Some((index, kind, start, end)) = self.advance() else {
            return Ok(false);
        };
        let fail = |what: &str| DecodeError(format!("record {index}: {what}"));
        record.ts = self.cols.times[index];
        if kind == RecordKind::Syscall {
            let s = self.next_sys;
            self.next_sys += 1;
            if !matches!(record.body, RecordBody::Syscall(_)) {
                record.body = RecordBody::Syscall(SyscallEvent::default());
            }
            if let RecordBody::Syscall(ev) = &mut record.body {
                self.syscall(s, start, end, ev).map_err(|e| fail(&e))?;
            }
        } else {
            record.body = decode_known(kind, &self.cols.payload[start..end])
                .map_err(|e| fail(&format!("{} record: {e}", kind.name())))?;
        }
        Ok(true)
    }

    /// Like [`Self::next_into`], but a syscall record is decoded only when `want(abi, nr)`
    /// says so; otherwise its arguments are skipped (the fd targets they define are kept for
    /// later records) and only `record.ts` and the fixed fields of `record`'s syscall are set,
    /// its arguments left empty. Returns `None` at the end of the chunk, else whether the
    /// record was decoded whole.
    pub fn next_selected(
        &mut self,
        record: &mut Record,
        want: &dyn Fn(Abi, u32) -> bool,
    ) -> Result<Option<bool>, DecodeError> {
        Ok(self
            .step(record, want, true)?
            .map(|step| matches!(step, Step::Whole)))
    }

    /// The next record that is not a syscall, or a syscall `want(abi, nr)` wants, decoded whole,
    /// with its position among the chunk's records of known kinds (the count a walk with
    /// [`Self::next_selected`] would have reached); the syscalls in between are passed over
    /// without decoding even their fixed fields. `None` at the end of the chunk.
    pub fn next_wanted(
        &mut self,
        record: &mut Record,
        want: &dyn Fn(Abi, u32) -> bool,
    ) -> Result<Option<usize>, DecodeError> {
        while let Some(step) = self.step(record, want, false)? {
            if matches!(step, Step::Whole) {
                return Ok(Some(self.index - 1 - self.skipped_unknown as usize));
            }
        }
        Ok(None)
    }

    fn step(
        &mut self,
        record: &mut Record,
        want: &dyn Fn(Abi, u32) -> bool,
        fixed_of_others: bool,
    ) -> Result<Option<Step>, DecodeError> {
        let Some((index, kind, start, end)) = self.advance() else {
            return Ok(None);
        };
        let fail = |what: &str| DecodeError(format!("record {index}: {what}"));
        if kind != RecordKind::Syscall {
            record.ts = self.cols.times[index];
            record.body = decode_known(kind, &self.cols.payload[start..end])
                .map_err(|e| fail(&format!("{} record: {e}", kind.name())))?;
            return Ok(Some(Step::Whole));
        }
        let s = self.next_sys;
        self.next_sys += 1;
        let abi = match self.cols.sys.flags[s] & 3 {
            0 => Abi::X86_64,
            1 => Abi::I386,
            2 => Abi::X32,
            _ => return Err(fail("unknown ABI")),
        };
        let nr =
            u32::try_from(self.cols.sys.nrs[s]).map_err(|_| fail("syscall number out of range"))?;
        let whole = want(abi, nr);
        if !whole {
            // The arguments are walked only if a later record needs the fd targets they define
            // (and not at all when the chunk says where each target is defined).
            if self.cols.defs.is_none() {
                self.fd_targets.skip(index);
            }
            if !fixed_of_others {
                return Ok(Some(Step::Passed));
            }
        }
        record.ts = self.cols.times[index];
        if !matches!(record.body, RecordBody::Syscall(_)) {
            record.body = RecordBody::Syscall(SyscallEvent::default());
        }
        let RecordBody::Syscall(ev) = &mut record.body else {
            unreachable!("set just above")
        };
        if whole {
            self.syscall(s, start, end, ev).map_err(|e| fail(&e))?;
            return Ok(Some(Step::Whole));
        }
        self.fixed(s, ev).map_err(|e| fail(&e))?;
        ev.args.clear();
        Ok(Some(Step::Fixed))
    }

    fn syscall(
        &mut self,
        s: usize,
        start: usize,
        end: usize,
        ev: &mut SyscallEvent,
    ) -> Result<(), String> {
        self.fixed(s, ev)?;
        let mut body = Cursor::new(&self.cols.payload[start..end]);
        args::decode_args_into(
            &mut body,
            &mut self.fd_targets,
            args::Bodies {
                payload: &self.cols.payload,
                starts: &self.cols.body_starts,
                defs: self.cols.defs.as_deref(),
            },
            &mut ev.args,
        )
        .map_err(|e| format!("syscall arguments: {e}"))
    }

    /// The fixed-width fields of syscall record `s`: ids, number, ABI, result, duration.
    fn fixed(&self, s: usize, ev: &mut SyscallEvent) -> Result<(), String> {
        let c = &self.cols.sys;
        let pid = c.pids[s];
        let tid = i64::try_from(pid)
            .ok()
            .and_then(|pid| pid.checked_add(unzigzag(c.tid_deltas[s])))
            .unwrap_or(-1);
        let (Ok(pid), Ok(tid), Ok(nr)) = (
            u32::try_from(pid),
            u32::try_from(tid),
            u32::try_from(c.nrs[s]),
        ) else {
            return Err("pid, tid or syscall number out of range".into());
        };
        let flag = c.flags[s];
        ev.abi = match flag & 3 {
            0 => Abi::X86_64,
            1 => Abi::I386,
            2 => Abi::X32,
            _ => return Err("unknown ABI".into()),
        };
        (ev.pid, ev.tid, ev.nr) = (pid, tid, nr);
        (ev.ret, ev.duration_ns) = (unzigzag(c.rets[s]), c.durs[s]);
        ev.unfinished = flag & 4 != 0;
        Ok(())
    }
}

impl Iterator for RecordDecoder {
    type Item = Result<Record, DecodeError>;

    /// The next record; after an error the decoder stops (later records depend on earlier
    /// timestamps and fd targets).
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_record() {
            Ok(r) => r.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

fn decode_known(kind: RecordKind, body: &[u8]) -> Result<RecordBody, String> {
    Ok(match kind {
        RecordKind::Process => RecordBody::Process(Box::new(decode_body(body)?)),
        RecordKind::Network => RecordBody::Network(decode_body(body)?),
        RecordKind::Mounts => RecordBody::Mounts(Box::new(decode_body(body)?)),
        RecordKind::Accounts => RecordBody::Accounts(Box::new(decode_body(body)?)),
        RecordKind::HostFiles => RecordBody::HostFiles(decode_body(body)?),
        RecordKind::Executable => RecordBody::Executable(Box::new(decode_body(body)?)),
        RecordKind::Syscall => return Err("syscall bodies are columnar".into()),
        RecordKind::Lifecycle => RecordBody::Lifecycle(decode_body(body)?),
        RecordKind::Signal => RecordBody::Signal(decode_body(body)?),
        RecordKind::Stats => RecordBody::Stats(Box::new(decode_body(body)?)),
        RecordKind::Loss => RecordBody::Loss(decode_body(body)?),
    })
}

/// A bounded reader over one column or body.
#[derive(Debug, Default, Clone, Copy)]
pub struct Cursor<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    #[inline]
    pub fn byte(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    #[inline]
    pub fn varint(&mut self) -> Option<u64> {
        get_varint(self.buf, &mut self.pos)
    }

    /// The next `len` bytes, if that many remain.
    pub fn take(&mut self, len: u64) -> Option<&'a [u8]> {
        let len = usize::try_from(len).ok()?;
        let end = self.pos.checked_add(len)?;
        let bytes = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
}

pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// LEB128 unsigned varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a LEB128 varint of at most 10 bytes; `None` when it is cut short or too long.
#[inline]
pub fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    // Most values in a trace fit in one byte.
    let first = *buf.get(*pos)?;
    if first < 0x80 {
        *pos += 1;
        return Some(u64::from(first));
    }
    get_varint_long(buf, pos)
}

/// Two bytes and more: the loop is unrolled by the compiler; at most 10 bytes, and the 10th may
/// only carry the top bit of a u64.
#[inline]
fn get_varint_long(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let bytes = buf.get(*pos..)?;
    let mut v = 0u64;
    for (i, &byte) in bytes.iter().take(10).enumerate() {
        if i == 9 && byte > 1 {
            return None;
        }
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            *pos += i + 1;
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trips_extremes() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut pos = 0;
            assert_eq!(get_varint(&b, &mut pos), Some(v));
            assert_eq!(pos, b.len());
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn overlong_varint_is_rejected() {
        let b = [0xffu8; 11];
        assert_eq!(get_varint(&b, &mut 0), None);
        assert_eq!(get_varint(&[0x80], &mut 0), None);
    }
}
