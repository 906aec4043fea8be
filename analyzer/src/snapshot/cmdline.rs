//! Splitting `cmdline` into argv and `environ` into (name, value) pairs.

/// argv from the NUL-separated `cmdline` bytes. The kernel ends every argument with a NUL; a
/// final argument without one (cut at the recorder's cap, or rewritten by `setproctitle`) is
/// kept as it is.
pub fn split_argv(content: &[u8]) -> Vec<Vec<u8>> {
    let body = content.strip_suffix(b"\0").unwrap_or(content);
    if body.is_empty() {
        return Vec::new();
    }
    body.split(|b| *b == 0).map(<[u8]>::to_vec).collect()
}

/// One environment entry. `value` is `None` when the entry has no `=` (a process may write
/// anything into its environment block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// The variables of an `environ` block, in order. Empty entries (a double NUL) are skipped.
pub fn split_environ(content: &[u8]) -> Vec<EnvVar> {
    content
        .split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .map(|entry| match entry.iter().position(|b| *b == b'=') {
            Some(eq) => EnvVar {
                name: entry[..eq].to_vec(),
                value: Some(entry[eq + 1..].to_vec()),
            },
            None => EnvVar {
                name: entry.to_vec(),
                value: None,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_drops_the_final_nul_only() {
        assert_eq!(
            split_argv(b"sleep\x00100\x00"),
            vec![b"sleep".to_vec(), b"100".to_vec()]
        );
        assert_eq!(
            split_argv(b"a\0\0b\0"),
            vec![b"a".to_vec(), vec![], b"b".to_vec()]
        );
        assert_eq!(
            split_argv(b"sshd: root [priv]"),
            vec![b"sshd: root [priv]".to_vec()]
        );
        assert!(split_argv(b"").is_empty());
        assert!(split_argv(b"\0").is_empty());
    }

    #[test]
    fn environ_splits_at_the_first_equals_sign() {
        let vars = split_environ(b"PATH=/bin\0X=a=b\0BROKEN\0\0EMPTY=\0");
        assert_eq!(vars.len(), 4);
        assert_eq!(vars[1].name, b"X");
        assert_eq!(vars[1].value.as_deref(), Some(&b"a=b"[..]));
        assert_eq!(vars[2].value, None);
        assert_eq!(vars[3].value.as_deref(), Some(&b""[..]));
    }
}
