//! Turning an offset inside a condition into a line and column of the rules file.
//!
//! The YAML loader gives where a condition's scalar starts. Plain and `>` (folded) scalars
//! join their lines with single spaces, so walking the file's lines from there, indentation
//! stripped, finds the line and column of any offset; the character found is checked against
//! the condition's, and when they differ (a layout this walk does not model) the scalar's own
//! position is reported instead.

use std::collections::HashMap;
use std::sync::Arc;

use super::load::Origin;

/// Files read on demand (only when there is an error to place).
#[derive(Default)]
pub struct Files {
    text: HashMap<Arc<str>, Option<String>>,
}

/// How far below the scalar's start to look; conditions are never this long.
const MAX_LINES: usize = 2000;

impl Files {
    /// The line and column (1-based) of byte `offset` of `condition`, which starts at `origin`.
    pub fn position(&mut self, origin: &Origin, condition: &str, offset: usize) -> (usize, usize) {
        let fallback = (origin.line, origin.column);
        let Some(Some(file)) = Some(
            self.text
                .entry(origin.file.clone())
                .or_insert_with(|| std::fs::read_to_string(&*origin.file).ok()),
        ) else {
            return fallback;
        };
        walk(file, origin, condition, offset).unwrap_or(fallback)
    }
}

fn walk(file: &str, origin: &Origin, condition: &str, offset: usize) -> Option<(usize, usize)> {
    let want = condition.get(offset..)?.chars().next()?;
    let lines: Vec<&str> = file.lines().collect();
    let first = lines.get(origin.line.checked_sub(1)?)?;
    let start_col = origin.column.checked_sub(1)?;
    let head = first.get(start_col..)?;
    // Where the scalar's text begins: after a block indicator, on the next line; after an
    // opening quote, one column on.
    let (mut line_no, mut segment_start, mut text): (usize, usize, &str) =
        if head.starts_with('>') || head.starts_with('|') {
            let next = origin.line; // 0-based index of the following line
            let l = lines.get(next)?;
            let indent = l.len() - l.trim_start().len();
            (next + 1, indent, l.trim())
        } else if head.starts_with('"') || head.starts_with('\'') {
            (origin.line, start_col + 1, &head[1..])
        } else {
            (origin.line, start_col, head.trim_end())
        };
    let mut consumed = 0usize;
    for _ in 0..MAX_LINES {
        let len = text.len();
        if offset <= consumed + len {
            let col_bytes = segment_start + (offset - consumed);
            let line = lines.get(line_no - 1)?;
            let found = line.get(col_bytes..)?.chars().next()?;
            if found != want {
                return None;
            }
            let column = line.get(..col_bytes)?.chars().count() + 1;
            return Some((line_no, column));
        }
        consumed += len + 1;
        let l = lines.get(line_no)?;
        let indent = l.len() - l.trim_start().len();
        line_no += 1;
        segment_start = indent;
        text = l.trim();
    }
    None
}
