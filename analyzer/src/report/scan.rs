//! The report's one pass over the trace: alerts with their evidence, syscall counts, opened
//! files, connections, record kinds and snapshot records, chunk by chunk in parallel.
//!
//! It is [`Engine::evaluate`]'s pass with more consumers on it: the process timeline first
//! (`state::build_keeping`, which keeps the decompressed chunks for this pass), then every
//! chunk once, decoding whole only the syscalls a rule or a section needs (the others give
//! their number, result and duration, which is all the syscall counts use). Alerts come from
//! [`Engine::record_alerts`], so they are the alerts `rhf-analyze rules` prints (a test pins
//! that); the counts are `summary`'s (finished calls only, failures as strace counts them).
//! Per-chunk results merge in chunk order, so nothing depends on the number of threads.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rayon::prelude::*;
use rhf_format::{Abi, Arg, FormatError, Record, RecordBody, SockAddr, Source, TraceReader};

use crate::clock::Clock;
use crate::commands::event_filter::EventFilter;
use crate::escape::escape_bytes;
use crate::redact::Redactor;
use crate::render::calls::{slot, syscall_name, SyscallSet};
use crate::render::count::CallStats;
use crate::rules::engine::{Alert, Engine};
use crate::rules::fields::fd;
use crate::state::{self, Timeline};

/// An alert and the event it fired on, rendered while the record was at hand.
#[derive(Debug, Clone)]
pub struct FoundAlert {
    pub alert: Alert,
    /// `syscall` or `procinfo`.
    pub kind: &'static str,
    pub evidence: String,
}

/// How often something was done, and by which processes.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub calls: u64,
    pub failed: u64,
    /// Process names (`comm`, raw bytes).
    pub names: BTreeSet<Vec<u8>>,
}

impl Tally {
    fn add(&mut self, failed: bool, name: Option<&[u8]>) {
        self.calls += 1;
        self.failed += u64::from(failed);
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            if !self.names.contains(n) {
                self.names.insert(n.to_vec());
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.calls += other.calls;
        self.failed += other.failed;
        self.names.extend(other.names);
    }
}

/// A connection's identity in the report: direction, protocol, server end, client host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnKey {
    pub direction: &'static str,
    pub protocol: &'static str,
    /// Raw text: an address, or a unix socket path as the node gave it.
    pub endpoint: Vec<u8>,
    pub peer: Option<String>,
}

/// Everything the pass found.
#[derive(Debug, Default)]
pub struct Scanned {
    pub timeline: Timeline,
    /// In event-time order, then event number, then rule (as `rules` prints them).
    pub alerts: Vec<FoundAlert>,
    /// Records walked (every chunk that decoded, wholly or in part).
    pub events: u64,
    /// Chunks that failed to decode, in file order.
    pub failed_chunks: Vec<FormatError>,
    /// Records per kind (`RecordKind as u8`).
    pub kinds: BTreeMap<u8, u64>,
    /// Syscall counts by (ABI slot, number in that ABI's table).
    pub syscalls: BTreeMap<(usize, u32), CallStats>,
    /// Opened paths (resolved when possible).
    pub files: HashMap<Vec<u8>, Tally>,
    pub connections: HashMap<ConnKey, Tally>,
    /// The snapshot records (`Process`, `Network`, `Accounts`, `HostFiles`, `Executable`) in
    /// time order, then file order: what `HostSnapshot::from_records` takes.
    pub snapshot: Vec<Record>,
}

/// Which syscalls the pass decodes whole, and what each means to it.
struct Wanted<'e> {
    engine: &'e Engine,
    opens: SyscallSet,
    connects: SyscallSet,
    accepts: SyscallSet,
}

impl<'e> Wanted<'e> {
    fn new(engine: &'e Engine) -> Wanted<'e> {
        let set = |names: &[&str]| SyscallSet::from_names(names).unwrap_or_default();
        Wanted {
            engine,
            opens: set(&["open", "openat", "openat2", "creat"]),
            connects: set(&["connect"]),
            accepts: set(&["accept", "accept4"]),
        }
    }

    #[inline]
    fn whole(&self, abi: Abi, nr: u32) -> bool {
        self.engine.fires_on(abi, nr)
            || self.opens.contains(abi, nr)
            || self.connects.contains(abi, nr)
            || self.accepts.contains(abi, nr)
    }
}

/// Numbers below this are counted in a vector; anything above (corrupt or hostile numbers) in
/// a map.
const DENSE: u32 = 2048;

/// One chunk's findings.
#[derive(Default)]
struct Part {
    alerts: Vec<FoundAlert>,
    events: u64,
    /// Records per kind, indexed by `RecordKind as u8` (empty until the first record).
    kinds: Vec<u64>,
    dense: [Vec<CallStats>; 3],
    sparse: BTreeMap<(usize, u32), CallStats>,
    files: HashMap<Vec<u8>, Tally>,
    connections: HashMap<ConnKey, Tally>,
    /// (index in chunk, record).
    snapshot: Vec<(usize, Record)>,
}

/// What every chunk's walk shares.
struct Shared<'a> {
    engine: &'a Engine,
    timeline: &'a Timeline,
    redactor: &'a Redactor,
    clock: Clock,
    filter: EventFilter,
    wanted: Wanted<'a>,
}

/// Runs the pass in the current rayon pool.
pub fn scan<S: Source>(reader: &TraceReader<S>, engine: &Engine, redactor: &Redactor) -> Scanned {
    let (timeline, kept) = state::build_keeping(reader, state::KEEP_BUDGET);
    let starts = state::chunk_starts(reader);
    let shared = Shared {
        engine,
        timeline: &timeline,
        redactor,
        clock: Clock::from_header(reader.header()),
        filter: EventFilter::default(),
        wanted: Wanted::new(engine),
    };
    let want = |abi, nr| shared.wanted.whole(abi, nr);
    let parts: Vec<(Part, Option<FormatError>)> = reader
        .chunks()
        .par_iter()
        .zip(starts.par_iter().zip(kept.into_par_iter()))
        .map(|(info, (start, kept))| {
            let mut part = Part::default();
            let mut num = *start;
            let mut index = 0usize;
            let records = kept.map_or_else(|| reader.chunk_records(info), Ok);
            let walked = records.and_then(|records| {
                records.for_each_selected(&want, |r, whole| {
                    shared.visit(&mut part, num, index, r, whole);
                    num += 1;
                    index += 1;
                })
            });
            part.events = num - *start;
            match walked {
                Ok(()) => (part, None),
                // As `rules` does, alerts found before the damage are kept; the counts of the
                // chunk are left out whole, as `summary` leaves them out, so that the note
                // saying its records are missing is true.
                Err(e) => (
                    Part {
                        alerts: part.alerts,
                        events: part.events,
                        ..Part::default()
                    },
                    Some(e),
                ),
            }
        })
        .collect();
    let mut out = Scanned::default();
    let mut snapshot = Vec::new();
    for (chunk, (part, err)) in parts.into_iter().enumerate() {
        out.alerts.extend(part.alerts);
        out.events += part.events;
        out.failed_chunks.extend(err);
        for (k, n) in part.kinds.iter().enumerate().filter(|(_, n)| **n > 0) {
            *out.kinds.entry(k as u8).or_default() += n;
        }
        for (abi, v) in part.dense.iter().enumerate() {
            for (i, s) in v.iter().enumerate().filter(|(_, s)| s.calls > 0) {
                out.syscalls.entry((abi, i as u32)).or_default().merge(s);
            }
        }
        for (k, s) in part.sparse {
            out.syscalls.entry(k).or_default().merge(&s);
        }
        for (k, t) in part.files {
            out.files.entry(k).or_default().merge(t);
        }
        for (k, t) in part.connections {
            out.connections.entry(k).or_default().merge(t);
        }
        snapshot.extend(part.snapshot.into_iter().map(|(i, r)| (chunk, i, r)));
    }
    // Chunks may overlap in time: time, then file position, gives "latest wins" as
    // `HostSnapshot::load` orders them.
    snapshot.sort_by_key(|(chunk, i, r)| (r.ts, *chunk, *i));
    out.snapshot = snapshot.into_iter().map(|(_, _, r)| r).collect();
    out.alerts
        .sort_by_key(|a| (a.alert.ts, a.alert.num, a.alert.rule));
    out.timeline = timeline;
    out
}

impl Shared<'_> {
    fn visit(&self, part: &mut Part, num: u64, index: usize, r: &Record, whole: bool) {
        if part.kinds.is_empty() {
            part.kinds = vec![0; 256];
        }
        part.kinds[usize::from(r.body.kind() as u8)] += 1;
        if whole {
            let mut found = Vec::new();
            self.engine
                .record_alerts(num, r, self.timeline, self.redactor, &mut found);
            if !found.is_empty() {
                let (kind, evidence) = self.evidence(num, r);
                part.alerts
                    .extend(found.into_iter().map(|alert| FoundAlert {
                        alert,
                        kind,
                        evidence: evidence.clone(),
                    }));
            }
        }
        match &r.body {
            RecordBody::Syscall(ev) => {
                if ev.unfinished {
                    return;
                }
                let failed = self.filter.failed(ev);
                part.count(ev.abi, ev.nr, ev.duration_ns, failed);
                if whole {
                    self.sections(part, num, ev, failed);
                }
            }
            RecordBody::Process(_)
            | RecordBody::Network(_)
            | RecordBody::Accounts(_)
            | RecordBody::HostFiles(_)
            | RecordBody::Executable(_) => part.snapshot.push((index, r.clone())),
            _ => {}
        }
    }

    /// Files and connections of a wholly decoded syscall.
    fn sections(&self, part: &mut Part, num: u64, ev: &rhf_format::SyscallEvent, failed: bool) {
        let w = &self.wanted;
        let (abi, nr) = (ev.abi, ev.nr);
        let comm = || self.timeline.at(ev.pid, num).map(|p| p.comm.as_slice());
        if w.opens.contains(abi, nr) {
            let name = syscall_name(abi, nr);
            if let Some(path) = fd::view(ev, &name).and_then(|v| v.path) {
                // Most opens are of paths seen before: no allocation for those.
                match part.files.get_mut(&*path) {
                    Some(t) => t.add(failed, comm()),
                    None => part
                        .files
                        .entry(path.into_owned())
                        .or_default()
                        .add(failed, comm()),
                }
            }
        } else if w.connects.contains(abi, nr) || w.accepts.contains(abi, nr) {
            let accept = w.accepts.contains(abi, nr);
            let key = connection(ev, accept);
            part.connections.entry(key).or_default().add(failed, comm());
        }
    }

    /// The event an alert fired on: a syscall line as `print` shows it, or the snapshot
    /// process of a `procinfo` event.
    fn evidence(&self, num: u64, r: &Record) -> (&'static str, String) {
        match &r.body {
            RecordBody::Syscall(ev) => {
                let mut line = String::new();
                crate::render::line::syscall_with(
                    ev,
                    r.ts,
                    &self.clock,
                    self.filter.never_fails(),
                    self.redactor,
                    &mut line,
                );
                ("syscall", line.trim_end().to_string())
            }
            RecordBody::Process(p) => {
                let text = match self.timeline.at(p.pid, num) {
                    Some(s) => {
                        let argv: Vec<String> = self
                            .redactor
                            .argv(&s.argv)
                            .iter()
                            .map(|a| escape_bytes(a))
                            .collect();
                        let exe = s
                            .exepath
                            .as_deref()
                            .map_or_else(|| "?".to_string(), escape_bytes);
                        format!(
                            "pid {} ppid {} comm {} exe {exe} argv: {}",
                            s.pid,
                            s.ppid,
                            escape_bytes(&s.comm),
                            argv.join(" ")
                        )
                    }
                    None => format!("pid {}", p.pid),
                };
                ("procinfo", text)
            }
            _ => ("event", String::new()),
        }
    }
}

impl Part {
    #[inline]
    fn count(&mut self, abi: Abi, nr: u32, duration_ns: u64, failed: bool) {
        let (a, i) = slot(abi, nr);
        if i < DENSE {
            let v = &mut self.dense[a];
            let i = i as usize;
            if v.len() <= i {
                v.resize(i + 1, CallStats::default());
            }
            v[i].add(duration_ns, failed);
        } else {
            self.sparse
                .entry((a, i))
                .or_default()
                .add(duration_ns, failed);
        }
    }
}

/// The report's key for a `connect` or `accept`: the server end, and for accepts the client's
/// address without its ephemeral port (so one client's many connections count together).
fn connection(ev: &rhf_format::SyscallEvent, accept: bool) -> ConnKey {
    let direction = if accept { "accept" } else { "connect" };
    let name = if accept { "accept" } else { "connect" };
    let view = fd::view(ev, name);
    let sock = view.as_ref().and_then(|v| v.socket.as_ref());
    let protocol = sock
        .and_then(|s| s.l4proto)
        .or_else(|| view.as_ref().and_then(|v| v.ty))
        .unwrap_or_else(|| sockaddr_family(ev));
    let text = |(ip, port): fd::Endpoint| match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        v4 => format!("{v4}:{port}"),
    };
    let server = sock.and_then(|s| if accept { s.local } else { s.server() });
    let endpoint = match server {
        Some(e) => text(e).into_bytes(),
        None => view
            .as_ref()
            .and_then(|v| v.path.as_deref().map(<[u8]>::to_vec))
            .or_else(|| (!accept).then(|| sockaddr_text(ev)).flatten())
            .unwrap_or_else(|| b"?".to_vec()),
    };
    let peer = if accept {
        sock.and_then(|s| s.remote)
            .map(|(ip, _)| ip.to_string())
            .or_else(|| sockaddr_ip(ev))
    } else {
        None
    };
    ConnKey {
        direction,
        protocol,
        endpoint,
        peer,
    }
}

/// The address argument of a connect whose socket the recorder did not know.
fn sockaddr_text(ev: &rhf_format::SyscallEvent) -> Option<Vec<u8>> {
    ev.args.iter().find_map(|a| match a {
        Arg::Sockaddr(SockAddr::Inet(ip, port)) => {
            Some(format!("{}:{port}", std::net::Ipv4Addr::from(*ip)).into_bytes())
        }
        Arg::Sockaddr(SockAddr::Inet6(ip, port, _)) => {
            Some(format!("[{}]:{port}", std::net::Ipv6Addr::from(*ip)).into_bytes())
        }
        Arg::Sockaddr(SockAddr::Unix(p)) => Some(p.to_vec()),
        _ => None,
    })
}

/// The address of an accept's peer argument, without its port.
fn sockaddr_ip(ev: &rhf_format::SyscallEvent) -> Option<String> {
    ev.args.iter().find_map(|a| match a {
        Arg::Sockaddr(SockAddr::Inet(ip, _)) => Some(std::net::Ipv4Addr::from(*ip).to_string()),
        Arg::Sockaddr(SockAddr::Inet6(ip, _, _)) => Some(std::net::Ipv6Addr::from(*ip).to_string()),
        _ => None,
    })
}

fn sockaddr_family(ev: &rhf_format::SyscallEvent) -> &'static str {
    ev.args
        .iter()
        .find_map(|a| match a {
            Arg::Sockaddr(SockAddr::Inet(..)) => Some("ipv4"),
            Arg::Sockaddr(SockAddr::Inet6(..)) => Some("ipv6"),
            Arg::Sockaddr(SockAddr::Unix(_)) => Some("unix"),
            Arg::Sockaddr(SockAddr::Netlink { .. }) => Some("netlink"),
            _ => None,
        })
        .unwrap_or("unknown")
}
