//! Escaping of text that came from the traced node, so it cannot drive the analyst's terminal.

use std::fmt::Write;

/// Renders node bytes as printable text: valid UTF-8 is kept, except control characters,
/// which become C-style escapes (`\n`, `\t`, `\e`, `\x7f`); invalid bytes become `\xNN`.
/// A backslash is doubled so the result is unambiguous.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            escape_char(c, &mut out);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// [`escape_bytes`] for text already known to be UTF-8.
pub fn escape_str(s: &str) -> String {
    escape_bytes(s.as_bytes())
}

fn escape_char(c: char, out: &mut String) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\x1b' => out.push_str("\\e"),
        // C0 and C1 controls, DEL, and the Unicode bidi overrides that can reorder a line.
        c if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') => {
            let code = c as u32;
            if code <= 0xff {
                let _ = write!(out, "\\x{code:02x}");
            } else {
                let _ = write!(out, "\\u{{{code:04x}}}");
            }
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_invalid_utf8_are_escaped() {
        assert_eq!(escape_bytes(b"ls\x1b[31m -l\n"), "ls\\e[31m -l\\n");
        assert_eq!(escape_bytes(b"a\xffb"), "a\\xffb");
        assert_eq!(
            escape_bytes("caf\u{e9} \u{202e}x".as_bytes()),
            "caf\u{e9} \\u{202e}x"
        );
        assert_eq!(
            escape_bytes(b"back\\slash\x7f\x00"),
            "back\\\\slash\\x7f\\x00"
        );
        assert_eq!(escape_str("plain /etc/passwd"), "plain /etc/passwd");
    }
}
