//! `rhf-analyze env`: the initial environment of each process, values redacted by default.

use serde::Serialize;

use super::table;
use crate::escape::{escape_bytes, escape_str};
use crate::redact::Redactor;
use crate::snapshot::process::{FileState, Process};
use crate::snapshot::HostSnapshot;

/// One variable; `value` is `null` for an entry without `=` (whose text is then redacted
/// as a value would be).
#[derive(Debug, Clone, Serialize)]
pub struct Variable {
    pub name: String,
    pub value: Option<String>,
}

/// The environment of one process, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct EnvEntry {
    pub pid: u32,
    pub process: String,
    pub container: Option<String>,
    /// `complete`, `truncated`, `unreadable` or `missing`.
    pub status: &'static str,
    /// Why the environment is incomplete or absent.
    pub note: Option<String>,
    pub variables: Vec<Variable>,
}

/// Every process (or only `pid`) except kernel threads, which have no environment.
pub fn entries(snap: &HostSnapshot, pid: Option<u32>, redactor: &Redactor) -> Vec<EnvEntry> {
    snap.processes
        .values()
        .filter(|p| pid.is_none_or(|want| p.pid == want))
        .filter(|p| pid.is_some() || !p.is_kernel_thread())
        .map(|p| entry(p, redactor))
        .collect()
}

fn entry(p: &Process, redactor: &Redactor) -> EnvEntry {
    let (status, note) = match &p.environ_state {
        FileState::Complete => ("complete", None),
        FileState::Truncated(full) => (
            "truncated",
            Some(format!(
                "environ cut by the recorder's cap{}; the last variable may be incomplete",
                full.map(|n| format!(" ({n} bytes in full)"))
                    .unwrap_or_default()
            )),
        ),
        FileState::Unreadable(e) => (
            "unreadable",
            Some(format!("environ unreadable: {}", escape_str(e))),
        ),
        FileState::Missing => ("missing", Some("environ not recorded".to_string())),
    };
    EnvEntry {
        pid: p.pid,
        process: escape_bytes(&p.comm),
        container: p.container_id().map(str::to_string),
        status,
        note,
        variables: p
            .environ
            .iter()
            .map(|v| match &v.value {
                Some(val) => Variable {
                    name: escape_bytes(&v.name),
                    value: Some(escape_bytes(&redactor.env_value(val))),
                },
                // An entry without `=` is all value as far as we know: redact it whole.
                None => Variable {
                    name: escape_bytes(&redactor.env_value(&v.name)),
                    value: None,
                },
            })
            .collect(),
    }
}

/// The table: PID COMMAND CONTAINER VARIABLE, one variable per line; a process whose
/// environment is incomplete or absent gets a line in parentheses saying so.
pub fn render_table(entries: &[EnvEntry]) -> String {
    let mut t = table::plain(&["PID", "COMMAND", "CONTAINER", "VARIABLE"]);
    for e in entries {
        let row = |text: String| {
            vec![
                e.pid.to_string(),
                e.process.clone(),
                e.container.clone().unwrap_or_else(|| "-".into()),
                text,
            ]
        };
        if let Some(note) = &e.note {
            t.add_row(row(format!("({note})")));
        }
        if e.variables.is_empty() && e.status == "complete" {
            t.add_row(row("(empty)".into()));
        }
        for v in &e.variables {
            t.add_row(row(match &v.value {
                Some(value) => format!("{}={value}", v.name),
                None => v.name.clone(),
            }));
        }
    }
    table::render(&t)
}
