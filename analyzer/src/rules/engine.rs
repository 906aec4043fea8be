//! A loaded rule set compiled for evaluation, and its run over a trace: chunks in parallel,
//! each event meeting only the rules indexed under its type, alerts merged in event order.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use rhf_format::{FormatError, Record, RecordBody, SnapshotReason, Source, TraceReader};

use rayon::prelude::*;

use super::compile::{self, CompileError, Macros, Node};
use super::condition::{self, ast::Expr, Substituted};
use super::eval::Memo;
use super::evttype::{EventTypes, PROCINFO};
use super::fields::{Ctx, EventKind, EventMeta};
use super::load::{LoadError, Origin, Priority, RuleSelector, RuleSet};
use super::locate;
use super::output::{Filled, Output};
use crate::redact::Redactor;
use crate::render::calls::{negated_errno, SyscallSet};
use crate::state::{self, Timeline};

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub name: String,
    pub desc: String,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub source: String,
    pub enabled: bool,
    pub condition: Node,
    pub output: Output,
    /// Event types it can fire on; `None`: every type.
    pub types: Option<Vec<bool>>,
    pub origin: Origin,
}

/// Rules ready to run, indexed by event type.
#[derive(Debug)]
pub struct Engine {
    pub rules: Vec<Rule>,
    /// Rules skipped at compile time (`skip-if-unknown-filter`), with why.
    pub skipped: Vec<(String, String)>,
    types: EventTypes,
    /// Per event type, the enabled rules that can fire on it, with their conditions as they
    /// stand for that type (`evt.type` tests decided: [`EventTypes::specialize`]).
    index: Vec<Vec<(u32, Arc<Node>)>>,
    never_fails: SyscallSet,
    /// Distinct comparisons of the rule set (the slots of a [`Memo`]).
    check_slots: usize,
}

/// Whether `node` holds an `evt.type` test anywhere.
fn tests_type(node: &Node) -> bool {
    match node {
        Node::Check(c) => c.field.def.id == super::fields::Fid::EvtType,
        Node::Not(n) => tests_type(n),
        Node::And(v) | Node::Or(v) => v.iter().any(tests_type),
    }
}

/// What a [`Ctx`] is made of, before it is made.
struct Event<'a> {
    meta: EventMeta,
    kind: EventKind<'a>,
    type_name: &'a str,
    timeline: &'a Timeline,
}

thread_local! {
    /// Each evaluating thread's memory of the comparisons made for its current event.
    static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
}

/// Options applied when compiling.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// Rules less severe than this are disabled.
    pub min_priority: Option<Priority>,
}

/// One alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Record timestamp (monotonic ns) and event number: the order alerts are shown in.
    pub ts: u64,
    pub num: u64,
    pub rule: u32,
    pub pid: u32,
    pub tid: u32,
    pub output: Filled,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Evaluation {
    pub alerts: Vec<Alert>,
    pub events: u64,
    /// Chunks that could not be decoded, in file order.
    pub failed_chunks: Vec<FormatError>,
    /// The process timeline of the whole trace.
    pub timeline: Timeline,
}

/// A parsed macro body with the substitution that produced its text.
struct MacroBody {
    parsed: Result<Expr, CompileError>,
    subst: Substituted,
    origin: Origin,
    text: String,
}

struct MacroTable(HashMap<String, MacroBody>);

impl Macros for MacroTable {
    fn get(&self, name: &str) -> Option<Result<&Expr, CompileError>> {
        self.0
            .get(name)
            .map(|m| m.parsed.as_ref().map_err(Clone::clone))
    }
}

impl Engine {
    /// Compiles every rule of `set`. All errors are returned together, each with file, line and
    /// column.
    pub fn compile(set: &RuleSet, opts: &CompileOptions) -> Result<Engine, Vec<LoadError>> {
        let lookup = |n: &str| set.list_items(n);
        let macros = MacroTable(
            set.macros
                .iter()
                .map(|m| {
                    let subst = condition::substitute_lists(&m.condition, lookup);
                    let parsed = overflow(&subst)
                        .and_then(|()| {
                            condition::parse(&subst.text).map_err(|e| CompileError {
                                offset: e.offset,
                                message: e.message,
                                in_macro: None,
                            })
                        })
                        .map_err(|e| CompileError {
                            in_macro: Some(m.name.clone()),
                            ..e
                        });
                    (
                        m.name.clone(),
                        MacroBody {
                            parsed,
                            subst,
                            origin: m.condition_origin.clone(),
                            text: m.condition.clone(),
                        },
                    )
                })
                .collect(),
        );
        let mut errors = Vec::new();
        let mut rules = Vec::new();
        let mut skipped = Vec::new();
        let mut budget = compile::DEFAULT_BUDGET;
        let mut checks = compile::Checks::default();
        let mut files = locate::Files::default();
        for def in &set.rules {
            let subst = condition::substitute_lists(&def.condition, lookup);
            let compiled = overflow(&subst)
                .and_then(|()| {
                    condition::parse(&subst.text).map_err(|e| CompileError {
                        offset: e.offset,
                        message: e.message,
                        in_macro: None,
                    })
                })
                .and_then(|expr| {
                    let mut share = budget.min(compile::RULE_BUDGET);
                    let start = share;
                    let node = compile::compile_within(&expr, &macros, &mut share, &mut checks);
                    budget -= start - share;
                    node
                })
                .and_then(|node| {
                    Output::compile(&def.output)
                        .map(|o| (node, o))
                        .map_err(|e| CompileError {
                            message: format!("output: {}", e.message),
                            offset: usize::MAX,
                            ..e
                        })
                });
            match compiled {
                Ok((condition, output)) => rules.push(Rule {
                    name: def.name.clone(),
                    desc: def.desc.clone(),
                    priority: def.priority,
                    tags: def.tags.clone(),
                    source: def.source.clone(),
                    enabled: def.enabled && opts.min_priority.is_none_or(|min| def.priority <= min),
                    condition,
                    output,
                    types: None,
                    origin: def.origin.clone(),
                }),
                Err(e) if def.skip_if_unknown_filter && e.message.starts_with("unknown field") => {
                    skipped.push((def.name.clone(), e.message))
                }
                Err(e) => {
                    let item = format!("rule '{}'", def.name);
                    errors.push(match (&e.in_macro, e.offset) {
                        (_, usize::MAX) => error_at(&def.origin, &item, e.message),
                        (Some(m), _) => match macros.0.get(m) {
                            Some(body) => {
                                let off = body.subst.original_offset(e.offset);
                                let (line, column) = files.position(&body.origin, &body.text, off);
                                LoadError {
                                    file: body.origin.file.clone(),
                                    line,
                                    column,
                                    item: Some(format!("macro '{m}' (used by {item})")),
                                    message: e.message,
                                }
                            }
                            None => error_at(&def.condition_origin, &item, e.message),
                        },
                        (None, off) => {
                            let off = subst.original_offset(off);
                            let (line, column) =
                                files.position(&def.condition_origin, &def.condition, off);
                            LoadError {
                                file: def.condition_origin.file.clone(),
                                line,
                                column,
                                item: Some(item),
                                message: e.message,
                            }
                        }
                    })
                }
            }
        }
        if !errors.is_empty() {
            errors.dedup_by(|a, b| a.to_string() == b.to_string());
            return Err(errors);
        }
        let types = EventTypes::default();
        for r in &mut rules {
            r.types = types.of_condition(&r.condition);
        }
        let mut engine = Engine {
            rules,
            skipped,
            index: Vec::new(),
            types,
            never_fails: SyscallSet::never_fails(),
            check_slots: checks.len(),
        };
        engine.reindex();
        Ok(engine)
    }

    /// Rebuilds the per-type index from the rules' `enabled` flags.
    pub fn reindex(&mut self) {
        let mut index = vec![Vec::new(); self.types.len()];
        for (i, r) in self.rules.iter().enumerate().filter(|(_, r)| r.enabled) {
            // A condition without type tests is the same for every type: shared, not copied.
            let whole = Arc::new(r.condition.clone());
            let typed = tests_type(&r.condition);
            for (t, slot) in index.iter_mut().enumerate() {
                if !r.types.as_ref().is_none_or(|s| s[t]) {
                    continue;
                }
                if !typed {
                    slot.push((i as u32, Arc::clone(&whole)));
                } else if let Some(node) = self.types.specialize(&r.condition, t as u16) {
                    slot.push((i as u32, Arc::new(node)));
                }
            }
        }
        self.index = index;
    }

    /// Whether some enabled rule can fire on syscall `nr` of `abi`: the calls a pass must
    /// decode whole for [`Self::record_alerts`].
    #[inline]
    pub fn fires_on(&self, abi: rhf_format::Abi, nr: u32) -> bool {
        self.types
            .of_syscall(abi, nr)
            .is_some_and(|t| !self.index[usize::from(t)].is_empty())
    }

    /// Rules that can fire on any event type (Falco warns about these: they cost the most).
    pub fn untyped_rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(|r| r.enabled && r.types.is_none())
    }

    /// Runs the enabled rules over every event of the trace: the process timeline first (one
    /// pass decoding only what changes processes), then the chunks in parallel, each decoding
    /// whole only the syscalls some rule can fire on.
    pub fn evaluate<S: Source>(&self, reader: &TraceReader<S>, redactor: &Redactor) -> Evaluation {
        let (timeline, kept) = state::build_keeping(reader, state::KEEP_BUDGET);
        let starts = state::chunk_starts(reader);
        let want = |abi, nr| self.fires_on(abi, nr);
        let parts: Vec<(Vec<Alert>, u64, Option<FormatError>)> = reader
            .chunks()
            .par_iter()
            .zip(starts.par_iter().zip(kept.into_par_iter()))
            .map(|(info, (start, kept))| {
                let mut alerts = Vec::new();
                let mut num = *start;
                let records = kept.map_or_else(|| reader.chunk_records(info), Ok);
                let walked = records.and_then(|records| {
                    records.for_each_selected(&want, |r, whole| {
                        if whole {
                            self.record_alerts(num, r, &timeline, redactor, &mut alerts);
                        }
                        num += 1;
                    })
                });
                (alerts, num - *start, walked.err())
            })
            .collect();
        let mut out = Evaluation::default();
        for (alerts, events, err) in parts {
            out.alerts.extend(alerts);
            out.events += events;
            out.failed_chunks.extend(err);
        }
        out.alerts.sort_by_key(|a| (a.ts, a.num, a.rule));
        out.timeline = timeline;
        out
    }

    /// Evaluates the rules that can fire on record `r` (event number `num`).
    pub fn record_alerts(
        &self,
        num: u64,
        r: &Record,
        timeline: &Timeline,
        redactor: &Redactor,
        alerts: &mut Vec<Alert>,
    ) {
        match &r.body {
            RecordBody::Syscall(ev) => {
                let Some(t) = self.types.of_syscall(ev.abi, ev.nr) else {
                    return;
                };
                let rules = &self.index[usize::from(t)];
                if rules.is_empty() {
                    return;
                }
                let failed = !ev.unfinished
                    && negated_errno(ev.abi, ev.ret).is_some()
                    && !self.never_fails.contains(ev.abi, ev.nr);
                let event = Event {
                    meta: EventMeta {
                        num,
                        ts: r.ts,
                        pid: ev.pid,
                        tid: ev.tid,
                        failed,
                    },
                    kind: EventKind::Syscall(ev),
                    type_name: self.types.name(t),
                    timeline,
                };
                self.fire(rules, event, redactor, alerts);
            }
            RecordBody::Process(p)
                if p.reason == SnapshotReason::CaptureStart && (p.tid == p.pid || p.tid == 0) =>
            {
                let Some(t) = self.types.id(PROCINFO) else {
                    return;
                };
                let rules = &self.index[usize::from(t)];
                if rules.is_empty() {
                    return;
                }
                let event = Event {
                    meta: EventMeta {
                        num,
                        ts: r.ts,
                        pid: p.pid,
                        tid: p.pid,
                        failed: false,
                    },
                    kind: EventKind::ProcInfo,
                    type_name: PROCINFO,
                    timeline,
                };
                self.fire(rules, event, redactor, alerts);
            }
            _ => {}
        }
    }

    fn fire(
        &self,
        rules: &[(u32, Arc<Node>)],
        event: Event<'_>,
        redactor: &Redactor,
        alerts: &mut Vec<Alert>,
    ) {
        MEMO.with(|memo| {
            let mut memo = memo.borrow_mut();
            memo.next_event(self.check_slots);
            let ctx = Ctx::new(event.meta, event.kind, event.type_name, event.timeline);
            self.fire_remembering(rules, &ctx.with_memo(&memo), redactor, alerts);
        });
    }

    fn fire_remembering(
        &self,
        rules: &[(u32, Arc<Node>)],
        ctx: &Ctx<'_>,
        redactor: &Redactor,
        alerts: &mut Vec<Alert>,
    ) {
        for (i, condition) in rules {
            let i = *i;
            let rule = &self.rules[i as usize];
            if condition.eval(ctx) {
                alerts.push(Alert {
                    ts: ctx.ts,
                    num: ctx.num,
                    rule: i,
                    pid: ctx.pid,
                    tid: ctx.tid,
                    output: rule.output.fill(ctx, redactor),
                });
            }
        }
    }

    /// Sets `enabled` on rules matching `selector` (a name glob, or `tag:NAME`); returns how
    /// many matched.
    pub fn set_enabled(&mut self, selector: &str, enabled: bool) -> Result<usize, String> {
        let selector = RuleSelector::parse(selector)?;
        let mut n = 0;
        for r in self
            .rules
            .iter_mut()
            .filter(|r| selector.matches(&r.name, &r.tags))
        {
            r.enabled = enabled;
            n += 1;
        }
        self.reindex();
        Ok(n)
    }
}

/// A condition whose lists expand past the limit is refused whole.
fn overflow(subst: &Substituted) -> Result<(), CompileError> {
    if subst.overflow {
        return Err(CompileError {
            offset: 0,
            message: format!(
                "the lists in this condition expand to more than {} items",
                condition::MAX_ITEMS
            ),
            in_macro: None,
        });
    }
    Ok(())
}

fn error_at(origin: &Origin, item: &str, message: String) -> LoadError {
    LoadError {
        file: origin.file.clone(),
        line: origin.line,
        column: origin.column,
        item: Some(item.to_string()),
        message,
    }
}
