//! The HTML report's timeline picture: one row per process of the tree, its lifetime in the
//! capture as a bar on a time axis, its alerts as markers. Plain inline SVG, styled by the
//! page's own CSS; every text node and attribute value is XML-escaped here.

use std::collections::HashMap;
use std::fmt::Write;

use super::model::Report;
use super::tree::preorder;

/// Rows drawn at most; the rest is counted in a note under the picture.
pub const MAX_ROWS: usize = 200;

const WIDTH: f64 = 1200.0;
const LABEL_WIDTH: f64 = 300.0;
const PLOT_LEFT: f64 = LABEL_WIDTH + 10.0;
const PLOT_RIGHT: f64 = WIDTH - 40.0;
const TOP: f64 = 34.0;
const ROW: f64 = 20.0;
const TICKS: u64 = 5;

/// The `<svg>` element (an empty string when the tree has no process).
pub fn lifetimes(report: &Report) -> String {
    let rows = preorder(&report.processes.tree);
    if rows.is_empty() {
        return String::new();
    }
    let drawn = &rows[..rows.len().min(MAX_ROWS)];
    let alerts: Vec<_> = report.alerts.iter().flat_map(|g| &g.alerts).collect();
    let span = drawn
        .iter()
        .map(|(_, n)| n.to_offset_ns)
        .chain(alerts.iter().map(|a| a.offset_ns))
        .chain(report.trace.capture.duration_ns)
        .max()
        .unwrap_or(0)
        .max(1);
    let x = |ns: u64| PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * (ns.min(span) as f64 / span as f64);
    let more = rows.len() - drawn.len();
    let height = TOP + ROW * drawn.len() as f64 + if more > 0 { 30.0 } else { 6.0 };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"lifetimes\" width=\"{WIDTH}\" \
         height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-label=\"process lifetimes and alerts\">"
    );
    // Axis: ticks at equal steps of the capture, labelled as offsets from its start.
    for i in 0..=TICKS {
        let ns = span / TICKS * i + (span % TICKS) * i / TICKS;
        let tx = x(ns);
        let _ = writeln!(
            s,
            "<line class=\"tick\" x1=\"{tx:.1}\" y1=\"{:.1}\" x2=\"{tx:.1}\" y2=\"{:.1}\"/>\
             <text class=\"tick-label\" x=\"{tx:.1}\" y=\"{:.1}\">+{}</text>",
            TOP - 6.0,
            TOP + ROW * drawn.len() as f64,
            TOP - 12.0,
            xml(&offset_text(ns))
        );
    }
    let mut row_of: HashMap<u32, usize> = HashMap::new();
    for (i, (depth, n)) in drawn.iter().enumerate() {
        row_of.entry(n.pid).or_insert(i);
        let y = TOP + ROW * i as f64;
        let indent = (*depth).min(12) as f64 * 10.0;
        let label = format!("{} ({})", n.name, n.pid);
        let _ = writeln!(
            s,
            "<text class=\"label{}\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            if n.involved { " involved" } else { "" },
            6.0 + indent,
            y + 14.0,
            xml(&clip(&label, 40 - (*depth).min(12)))
        );
        let (x1, x2) = (x(n.from_offset_ns), x(n.to_offset_ns));
        let mut class = String::from("bar");
        if n.involved {
            class.push_str(" involved");
        }
        if n.exit.as_ref().is_some_and(|e| e.signal.is_some()) {
            class.push_str(" killed");
        }
        let mut title = format!("{} ({})", n.name, n.pid);
        if !n.command.is_empty() {
            let _ = write!(title, ": {}", n.command);
        }
        if n.started_before_capture {
            title.push_str(" — running when the capture started");
        }
        if let Some(e) = &n.exit {
            match (&e.signal, e.code) {
                (Some(sig), _) => {
                    let _ = write!(title, " — killed by {sig}");
                }
                (None, Some(code)) => {
                    let _ = write!(title, " — exited with {code}");
                }
                (None, None) => title.push_str(" — exited"),
            }
        }
        let _ = writeln!(
            s,
            "<rect class=\"{class}\" x=\"{x1:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
             rx=\"2\"><title>{}</title></rect>",
            y + 4.0,
            (x2 - x1).max(2.0),
            ROW - 8.0,
            xml(&title)
        );
        if n.started_before_capture {
            let _ = writeln!(
                s,
                "<path class=\"before\" d=\"M{:.1} {:.1} l-6 6 l6 6 z\"/>",
                x1,
                y + 4.0
            );
        }
    }
    for a in &alerts {
        let Some(&row) = row_of.get(&a.pid) else {
            continue;
        };
        let cx = x(a.offset_ns);
        let cy = TOP + ROW * row as f64 + ROW / 2.0;
        let _ = writeln!(
            s,
            "<path class=\"alert p-{}\" d=\"M{cx:.1} {:.1} l6 6 l-6 6 l-6 -6 z\">\
             <title>{}</title></path>",
            a.priority.to_ascii_lowercase(),
            cy - 6.0,
            xml(&format!(
                "#{} {} at {}: {}",
                a.id, a.priority, a.time, a.rule
            ))
        );
    }
    if more > 0 {
        let _ = writeln!(
            s,
            "<text class=\"note\" x=\"6\" y=\"{:.1}\">{more} more processes are not drawn</text>",
            TOP + ROW * drawn.len() as f64 + 20.0,
        );
    }
    s.push_str("</svg>");
    s
}

/// An offset from the capture start for the axis: `0.250s`, `12.5ms`.
fn offset_text(ns: u64) -> String {
    match ns {
        0 => "0".into(),
        n if n < 1_000_000 => format!("{:.1}µs", n as f64 / 1e3),
        n if n < 1_000_000_000 => format!("{:.1}ms", n as f64 / 1e6),
        n => format!("{:.3}s", n as f64 / 1e9),
    }
}

/// At most `max` characters, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Text for an XML text node or a quoted attribute value.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in super::render::controls(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(
            xml("<script>\"x\" & 'y'\n</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;\\n&lt;/script&gt;"
        );
    }

    #[test]
    fn labels_are_clipped() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
