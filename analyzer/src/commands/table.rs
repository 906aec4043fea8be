//! Plain, grep-able tables: no borders, one row per line, columns two spaces apart.

use comfy_table::{presets, ContentArrangement, Table};

/// A table with `header` and the plain style. Cells must already be escaped.
pub fn plain(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        // Never wrap cells to a terminal width: one row stays one line for grep.
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty()
        .remove_style(comfy_table::TableComponent::HeaderLines)
        .set_header(header.to_vec());
    for c in t.column_iter_mut() {
        c.set_padding((0, 2));
    }
    t
}

/// The table as text, trailing blanks trimmed, ending in a newline.
pub fn render(t: &Table) -> String {
    let mut s = t.trim_fmt();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_plain_lines() {
        let mut t = plain(&["PID", "CMD"]);
        t.add_row(vec!["1", "/sbin/init splash"]);
        t.add_row(vec!["12345", "x"]);
        assert_eq!(
            render(&t),
            "PID    CMD\n1      /sbin/init splash\n12345  x\n"
        );
        assert_eq!(render(&plain(&["A", "B"])), "A  B\n");
    }
}
