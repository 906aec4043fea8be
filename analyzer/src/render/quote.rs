//! strace's string quoting: C escapes and octal, so every byte from the node prints as ASCII.

/// Appends `bytes` in double quotes the way strace prints a string argument: `"` and `\`
/// backslashed, `\t \n \v \f \r` as C escapes, other bytes outside 0x20..=0x7e in octal
/// (three digits when an octal digit follows, so `\0` then `1` reads back as `\0001`).
pub fn quoted(bytes: &[u8], out: &mut String) {
    out.push('"');
    escape_into(bytes, b"", out);
    out.push('"');
}

/// [`quoted`], followed by `...` when the capture holds fewer bytes than the value had.
pub fn quoted_capture(bytes: &[u8], full_len: u64, out: &mut String) {
    quoted_capture_shown(bytes, bytes.len(), full_len, out);
}

/// [`quoted_capture`] of a capture of `captured` bytes shown as `shown` (secrets replaced by
/// markers of other lengths): `...` still says whether the capture was cut.
pub fn quoted_capture_shown(shown: &[u8], captured: usize, full_len: u64, out: &mut String) {
    quoted(shown, out);
    if (captured as u64) < full_len {
        out.push_str("...");
    }
}

/// A path inside `<...>` as `strace -y` prints descriptor targets: no quotes, and `<` `>`
/// escaped too so the brackets stay unambiguous.
pub fn angle_bracketed(bytes: &[u8], out: &mut String) {
    out.push('<');
    escape_into(bytes, b"<>", out);
    out.push('>');
}

/// Escapes `bytes` without surrounding quotes; `extra` lists printable bytes to escape too.
pub fn escape_into(bytes: &[u8], extra: &[u8], out: &mut String) {
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x0b => out.push_str("\\v"),
            0x20..=0x7e if !extra.contains(&b) => out.push(char::from(b)),
            _ => {
                let next_is_octal = matches!(bytes.get(i + 1), Some(b'0'..=b'7'));
                octal(b, next_is_octal, out);
            }
        }
    }
}

fn octal(b: u8, full_width: bool, out: &mut String) {
    out.push('\\');
    let digits = [b >> 6, (b >> 3) & 7, b & 7];
    let skip = if full_width || b >= 0o100 {
        0
    } else if b >= 0o10 {
        1
    } else {
        2
    };
    for d in &digits[skip..] {
        out.push(char::from(b'0' + d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(b: &[u8]) -> String {
        let mut s = String::new();
        quoted(b, &mut s);
        s
    }

    #[test]
    fn escapes_like_strace() {
        // From `strace cat`: read(3, "\177ELF\2\1\1\3\0\0\0"...).
        assert_eq!(
            q(b"\x7fELF\x02\x01\x01\x03\0\0"),
            r#""\177ELF\2\1\1\3\0\0""#
        );
        assert_eq!(q(b"a\"b\\c\n\t\r\x0b\x0c"), r#""a\"b\\c\n\t\r\v\f""#);
        // An octal digit after the escape forces three digits.
        assert_eq!(q(b"\x001\x018"), r#""\0001\18""#);
        assert_eq!(q("é\x1b[0m".as_bytes()), r#""\303\251\33[0m""#);
        let mut s = String::new();
        quoted_capture(b"abc", 10, &mut s);
        assert_eq!(s, r#""abc"..."#);
        let mut s = String::new();
        angle_bracketed(b"/tmp/<x>", &mut s);
        assert_eq!(s, r"</tmp/\74x\76>");
    }
}
