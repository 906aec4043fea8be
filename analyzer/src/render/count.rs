//! strace's `-c` table, byte for byte: columns, widths, number formats, sort order.
//!
//! This follows strace's `src/count.c` (`call_summary_pers`): times are kept as integer
//! nanoseconds and converted to `double` the way its `ts_float` does, so percentages and
//! averages round exactly as strace's do; the sort is stable over rows in syscall-number
//! order, which is how glibc's merge-sort `qsort` breaks strace's ties.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::fmt::Write;

/// Calls, errors and wall times of one syscall (or of everything, for totals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallStats {
    pub calls: u64,
    pub errors: u64,
    /// Sum of durations; u128 because a hostile trace may hold absurd durations.
    pub total_ns: u128,
    pub min_ns: u64,
    pub max_ns: u64,
}

impl Default for CallStats {
    fn default() -> Self {
        CallStats {
            calls: 0,
            errors: 0,
            total_ns: 0,
            min_ns: u64::MAX,
            max_ns: 0,
        }
    }
}

impl CallStats {
    #[inline]
    pub fn add(&mut self, duration_ns: u64, failed: bool) {
        self.calls += 1;
        self.errors += u64::from(failed);
        self.total_ns += u128::from(duration_ns);
        self.min_ns = self.min_ns.min(duration_ns);
        self.max_ns = self.max_ns.max(duration_ns);
    }

    pub fn merge(&mut self, other: &CallStats) {
        self.calls += other.calls;
        self.errors += other.errors;
        self.total_ns += other.total_ns;
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// strace's `ts_div`: the mean rounded to the nearest nanosecond.
    pub fn avg_ns(&self) -> u128 {
        match u128::from(self.calls) {
            0 => 0,
            n => (self.total_ns + n / 2) / n,
        }
    }
}

/// strace's `ts_float`: whole seconds plus nanoseconds / 1e9, in that order of operations.
pub fn seconds(ns: u128) -> f64 {
    (ns / 1_000_000_000) as f64 + (ns % 1_000_000_000) as f64 / 1_000_000_000.0
}

/// One table row: a syscall's name and numbers.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: Cow<'static, str>,
    pub stats: CallStats,
}

/// The numbers a row shows, computed as strace computes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shown {
    pub percent: f64,
    pub seconds: f64,
    pub usecs_per_call: u64,
    pub min_seconds: f64,
    pub max_seconds: f64,
}

impl Shown {
    pub fn of(stats: &CallStats, total_seconds: f64) -> Shown {
        let secs = seconds(stats.total_ns);
        let mut percent = 100.0 * secs;
        // strace divides only a non-zero share: a zero total would give 0/0.
        if percent != 0.0 {
            percent /= total_seconds;
        }
        Shown {
            percent,
            seconds: secs,
            usecs_per_call: (seconds(stats.avg_ns()) * 1e6) as u64,
            min_seconds: seconds(u128::from(stats.min_ns)),
            max_seconds: seconds(u128::from(stats.max_ns)),
        }
    }

    /// The totals row: 100%, the sum, and the mean over all calls (not a mean of means).
    pub fn total(t: &CallStats) -> Shown {
        let secs = seconds(t.total_ns);
        Shown {
            percent: 100.0,
            seconds: secs,
            usecs_per_call: (secs / t.calls as f64 * 1e6) as u64,
            min_seconds: seconds(u128::from(t.min_ns)),
            max_seconds: seconds(u128::from(t.max_ns)),
        }
    }
}

/// `-S`: what rows are sorted by (descending, except the name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Time,
    MinTime,
    MaxTime,
    AvgTime,
    Calls,
    Errors,
    Name,
    Nothing,
}

/// `-U`: the columns strace can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    TimePercent,
    TotalTime,
    MinTime,
    MaxTime,
    AvgTime,
    Calls,
    Errors,
    Name,
}

/// strace's default columns.
pub const DEFAULT_COLUMNS: [Column; 6] = [
    Column::TimePercent,
    Column::TotalTime,
    Column::AvgTime,
    Column::Calls,
    Column::Errors,
    Column::Name,
];

/// strace's `column_aliases`: every spelling `-S` and `-U` accept. `None` is "no column"
/// (`-S nothing`).
const ALIASES: [(&str, Option<Column>); 31] = [
    ("time", Some(Column::TimePercent)),
    ("time_percent", Some(Column::TimePercent)),
    ("time-percent", Some(Column::TimePercent)),
    ("time_total", Some(Column::TotalTime)),
    ("time-total", Some(Column::TotalTime)),
    ("total_time", Some(Column::TotalTime)),
    ("total-time", Some(Column::TotalTime)),
    ("min_time", Some(Column::MinTime)),
    ("min-time", Some(Column::MinTime)),
    ("shortest", Some(Column::MinTime)),
    ("time_min", Some(Column::MinTime)),
    ("time-min", Some(Column::MinTime)),
    ("longest", Some(Column::MaxTime)),
    ("max_time", Some(Column::MaxTime)),
    ("max-time", Some(Column::MaxTime)),
    ("time_max", Some(Column::MaxTime)),
    ("time-max", Some(Column::MaxTime)),
    ("avg_time", Some(Column::AvgTime)),
    ("avg-time", Some(Column::AvgTime)),
    ("time_avg", Some(Column::AvgTime)),
    ("time-avg", Some(Column::AvgTime)),
    ("calls", Some(Column::Calls)),
    ("count", Some(Column::Calls)),
    ("error", Some(Column::Errors)),
    ("errors", Some(Column::Errors)),
    ("name", Some(Column::Name)),
    ("syscall", Some(Column::Name)),
    ("syscall_name", Some(Column::Name)),
    ("syscall-name", Some(Column::Name)),
    ("none", None),
    ("nothing", None),
];

/// Parses `-S` as strace does (exact alias match).
pub fn parse_sort(s: &str) -> Result<SortBy, String> {
    let (_, column) = ALIASES
        .iter()
        .find(|(name, _)| *name == s)
        .ok_or_else(|| format!("invalid sortby: '{s}'"))?;
    Ok(match column {
        None => SortBy::Nothing,
        Some(Column::TimePercent | Column::TotalTime) => SortBy::Time,
        Some(Column::MinTime) => SortBy::MinTime,
        Some(Column::MaxTime) => SortBy::MaxTime,
        Some(Column::AvgTime) => SortBy::AvgTime,
        Some(Column::Calls) => SortBy::Calls,
        Some(Column::Errors) => SortBy::Errors,
        Some(Column::Name) => SortBy::Name,
    })
}

/// Parses `-U` as strace does: comma-separated aliases, each at most once; the name column
/// is added last when missing, "as without it table is meaningless".
pub fn parse_columns(s: &str) -> Result<Vec<Column>, String> {
    let mut columns: Vec<Column> = Vec::new();
    let mut rest = s;
    loop {
        let (item, next) = match rest.split_once(',') {
            Some((a, b)) => (a, Some(b)),
            None => (rest, None),
        };
        let column = ALIASES
            .iter()
            .find(|(name, c)| *name == item && c.is_some())
            .and_then(|(_, c)| *c)
            .ok_or_else(|| format!("unknown column name: '{item}'"))?;
        if columns.contains(&column) {
            return Err(format!(
                "call summary column has been provided more than once: '{item}' \
                 (-U option residual: '{rest}')"
            ));
        }
        columns.push(column);
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
    if !columns.contains(&Column::Name) {
        columns.push(Column::Name);
    }
    Ok(columns)
}

/// Sorts rows given in syscall-number order. The sort is stable, so ties stay in number
/// order as with strace.
pub fn sort(rows: &mut [Row], by: SortBy) {
    match by {
        SortBy::Time => rows.sort_by_key(|r| Reverse(r.stats.total_ns)),
        SortBy::MinTime => rows.sort_by_key(|r| Reverse(r.stats.min_ns)),
        SortBy::MaxTime => rows.sort_by_key(|r| Reverse(r.stats.max_ns)),
        SortBy::AvgTime => rows.sort_by_key(|r| Reverse(r.stats.avg_ns())),
        SortBy::Calls => rows.sort_by_key(|r| Reverse(r.stats.calls)),
        SortBy::Errors => rows.sort_by_key(|r| Reverse(r.stats.errors)),
        SortBy::Name => rows.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes())),
        SortBy::Nothing => {}
    }
}

/// The sum over all rows.
pub fn totals(rows: &[Row]) -> CallStats {
    let mut t = CallStats::default();
    for r in rows {
        t.merge(&r.stats);
    }
    t
}

/// The table strace prints for one personality, rows already sorted. No rows, no table
/// (strace prints nothing for a personality without calls).
pub fn table(rows: &[Row], columns: &[Column]) -> String {
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    let total = totals(rows);
    let total_seconds = seconds(total.total_ns);
    let widths = widths(rows, &total, total_seconds);
    let last = columns.len().saturating_sub(1);

    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let w = widths.of(*c);
        let title = title(*c);
        let _ = match (c, i == last) {
            (Column::Name, true) => write!(out, "{title}"),
            (Column::Name, false) => write!(out, "{title:<w$}"),
            _ => write!(out, "{title:>w$}"),
        };
    }
    out.push('\n');
    rule(columns, &widths, &mut out);
    for r in rows {
        let shown = Shown::of(&r.stats, total_seconds);
        cells(&r.name, &r.stats, &shown, columns, &widths, &mut out);
    }
    rule(columns, &widths, &mut out);
    cells(
        "total",
        &total,
        &Shown::total(&total),
        columns,
        &widths,
        &mut out,
    );
    out
}

fn title(c: Column) -> &'static str {
    match c {
        Column::TimePercent => "% time",
        Column::TotalTime => "seconds",
        Column::MinTime => "shortest",
        Column::MaxTime => "longest",
        Column::AvgTime => "usecs/call",
        Column::Calls => "calls",
        Column::Errors => "errors",
        Column::Name => "syscall",
    }
}

fn rule(columns: &[Column], widths: &Widths, out: &mut String) {
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.extend(std::iter::repeat_n('-', widths.of(*c)));
    }
    out.push('\n');
}

fn cells(
    name: &str,
    stats: &CallStats,
    shown: &Shown,
    columns: &[Column],
    widths: &Widths,
    out: &mut String,
) {
    let last = columns.len().saturating_sub(1);
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let w = widths.of(*c);
        let _ = match c {
            Column::TimePercent => write!(out, "{:>w$.2}", shown.percent),
            Column::TotalTime => write!(out, "{:>w$.6}", shown.seconds),
            Column::MinTime => write!(out, "{:>w$.6}", shown.min_seconds),
            Column::MaxTime => write!(out, "{:>w$.6}", shown.max_seconds),
            Column::AvgTime => write!(out, "{:>w$}", shown.usecs_per_call),
            Column::Calls => write!(out, "{:>w$}", stats.calls),
            // `%*.0lu`: a zero with precision 0 prints no digits, only the padding.
            Column::Errors if stats.errors == 0 => write!(out, "{:w$}", ""),
            Column::Errors => write!(out, "{:>w$}", stats.errors),
            Column::Name if i == last => write!(out, "{name}"),
            Column::Name => write!(out, "{name:<w$}"),
        };
    }
    out.push('\n');
}

/// Column widths: strace's historical minimums, widened to fit the largest value.
struct Widths {
    total: usize,
    min: usize,
    max: usize,
    avg: usize,
    calls: usize,
    errors: usize,
    name: usize,
}

impl Widths {
    fn of(&self, c: Column) -> usize {
        match c {
            Column::TimePercent => 6,
            Column::TotalTime => self.total,
            Column::MinTime => self.min,
            Column::MaxTime => self.max,
            Column::AvgTime => self.avg,
            Column::Calls => self.calls,
            Column::Errors => self.errors,
            Column::Name => self.name,
        }
    }
}

fn widths(rows: &[Row], total: &CallStats, total_seconds: f64) -> Widths {
    let min_max = rows.iter().map(|r| r.stats.min_ns).max().unwrap_or(0);
    let avg_max = rows.iter().map(|r| r.stats.avg_ns()).max().unwrap_or(0);
    let name_max = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let len = |s: String| s.len();
    Widths {
        total: len(format!("{total_seconds:.6}")).max(11),
        // Only the whole seconds count: strace sizes these with "%d.000000".
        min: len(format!("{}.000000", min_max / 1_000_000_000)).max(8),
        max: len(format!("{}.000000", total.max_ns / 1_000_000_000)).max(7),
        avg: len(((seconds(avg_max) * 1e6) as u64).to_string()).max(11),
        calls: len(total.calls.to_string()).max(9),
        errors: len(total.errors.to_string()).max(9),
        name: (name_max + 1).max(16),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_and_column_options_follow_strace() {
        assert_eq!(parse_sort("time"), Ok(SortBy::Time));
        assert_eq!(parse_sort("total-time"), Ok(SortBy::Time));
        assert_eq!(parse_sort("shortest"), Ok(SortBy::MinTime));
        assert_eq!(parse_sort("count"), Ok(SortBy::Calls));
        assert_eq!(parse_sort("nothing"), Ok(SortBy::Nothing));
        assert_eq!(parse_sort("none"), Ok(SortBy::Nothing));
        assert_eq!(parse_sort("bogus"), Err("invalid sortby: 'bogus'".into()));
        assert_eq!(
            parse_columns("calls,errors"),
            Ok(vec![Column::Calls, Column::Errors, Column::Name])
        );
        assert_eq!(
            parse_columns("name,min-time"),
            Ok(vec![Column::Name, Column::MinTime])
        );
        assert_eq!(
            parse_columns("calls,nothing"),
            Err("unknown column name: 'nothing'".into())
        );
        assert!(parse_columns("calls,count")
            .unwrap_err()
            .contains("more than once: 'count'"));
    }

    #[test]
    fn averages_round_like_ts_div() {
        let mut s = CallStats::default();
        s.add(1, false);
        s.add(2, false);
        assert_eq!(s.avg_ns(), 2);
        assert_eq!(seconds(1_500_000_000), 1.5);
    }
}
