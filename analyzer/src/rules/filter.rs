//! One filter language everywhere: a rule condition used as `--filter` by `print`, `summary`
//! and `timeline`, evaluated with the same fields and process timeline as rules.

use std::collections::HashMap;
use std::sync::Arc;

use rhf_format::{Source, SyscallEvent, TraceReader};

use super::compile::{self, CompileError, Node};
use super::condition::{self, ast::Expr};
use super::evttype::EventTypes;
use super::fields::{Ctx, EventKind, EventMeta};
use crate::state::{self, Timeline};

/// A compiled `--filter` expression and the process timeline it reads.
#[derive(Debug)]
pub struct ConditionFilter {
    node: Node,
    /// The event types it can hold for (`None`: any), to skip the rest without evaluating.
    types: Option<Vec<bool>>,
    evtypes: EventTypes,
    timeline: Arc<Timeline>,
}

impl ConditionFilter {
    /// Compiles `text` (the condition language, without macros or lists, as sysdig filters)
    /// and builds the timeline of `reader`'s processes. Errors name the column.
    pub fn new<S: Source>(text: &str, reader: &TraceReader<S>) -> Result<Self, String> {
        let node = compile_text(text)?;
        let evtypes = EventTypes::default();
        let types = evtypes.of_condition(&node);
        Ok(ConditionFilter {
            node,
            types,
            evtypes,
            timeline: Arc::new(state::build(reader)),
        })
    }

    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// Whether the syscall event numbered `num` (see [`state::chunk_starts`]) passes.
    pub fn syscall(&self, num: u64, ts: u64, ev: &SyscallEvent, failed: bool) -> bool {
        let Some(t) = self.evtypes.of_syscall(ev.abi, ev.nr) else {
            return false;
        };
        if self.types.as_ref().is_some_and(|s| !s[usize::from(t)]) {
            return false;
        }
        let ctx = Ctx::new(
            EventMeta {
                num,
                ts,
                pid: ev.pid,
                tid: ev.tid,
                failed,
            },
            EventKind::Syscall(ev),
            self.evtypes.name(t),
            &self.timeline,
        );
        self.node.eval(&ctx)
    }
}

/// Parses and compiles a filter, with errors as `column N: message`.
pub fn compile_text(text: &str) -> Result<Node, String> {
    let at = |offset: usize, message: String| {
        let (line, col) = condition::line_col(text, offset.min(text.len()));
        if line > 1 {
            format!("in the filter at line {line}, column {col}: {message}")
        } else {
            format!("in the filter at column {col}: {message}")
        }
    };
    let expr = condition::parse(text).map_err(|e| at(e.offset, e.message))?;
    let none: HashMap<String, Result<Expr, CompileError>> = HashMap::new();
    compile::compile(&expr, &none).map_err(|e| at(e.offset, e.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_point_at_the_column() {
        assert_eq!(
            compile_text("proc.name = cat and fd.nme = x").unwrap_err(),
            "in the filter at column 21: unknown field 'fd.nme'"
        );
        assert!(compile_text("proc.name in (a, b) and evt.type = openat").is_ok());
        let err = compile_text("user.uid = root").unwrap_err();
        assert!(
            err.contains("column 12") && err.contains("not a number"),
            "{err}"
        );
    }
}
