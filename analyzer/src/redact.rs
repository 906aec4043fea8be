//! Redaction of secrets in environment values and command lines (rules: docs/REDACTION.md).
//!
//! A redacted value prints as `[REDACTED:<first 8 hex digits of its SHA-256>]`, so the same
//! secret seen in two processes shows the same marker and can be correlated without being
//! shown. Redaction works on raw bytes, before escaping.

use std::ops::Range;

use sha2::{Digest, Sha256};

/// The marker that replaces `value`.
pub fn marker(value: &[u8]) -> String {
    let digest = Sha256::digest(value);
    format!("[REDACTED:{}]", rhf_format::hex(&digest[..4]))
}

/// Applies the rules, or lets everything through with `--show-secrets`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Redactor {
    pub show_secrets: bool,
}

impl Redactor {
    pub fn new(show_secrets: bool) -> Self {
        Redactor { show_secrets }
    }

    /// An environment value: always redacted unless secrets are shown.
    pub fn env_value(&self, value: &[u8]) -> Vec<u8> {
        if self.show_secrets {
            value.to_vec()
        } else {
            marker(value).into_bytes()
        }
    }

    /// A command line with the values of secret-looking arguments replaced.
    pub fn argv(&self, argv: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut out = argv.to_vec();
        if self.show_secrets {
            return out;
        }
        let mut secrets = cmdline_secrets(argv);
        // Right to left, so earlier spans of the same argument keep their offsets.
        secrets.sort_by_key(|s| (s.index, std::cmp::Reverse(s.value.start)));
        for s in secrets {
            if let Some(arg) = out.get_mut(s.index) {
                if let Some(value) = arg.get(s.value.clone()) {
                    let m = marker(value).into_bytes();
                    arg.splice(s.value, m);
                }
            }
        }
        out
    }
}

/// How a secret appears on a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretForm {
    /// `--password=VALUE`.
    FlagJoined,
    /// `--password VALUE`: the value is the next argument.
    FlagSeparate,
    /// `DB_PASSWORD=VALUE` (as given to `env`, `docker run -e`...).
    Assignment,
    /// `scheme://user:VALUE@host`.
    UrlCredentials,
}

/// A secret found on a command line: which argument, which bytes of it, and under what name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdlineSecret {
    /// Index in argv of the argument holding the value.
    pub index: usize,
    /// Byte range of the value within that argument.
    pub value: Range<usize>,
    /// The flag (`--password`), variable name, or `scheme://user` of a URL.
    pub name: Vec<u8>,
    pub form: SecretForm,
}

/// Every secret value on a command line, in argument order.
pub fn cmdline_secrets(argv: &[Vec<u8>]) -> Vec<CmdlineSecret> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let arg = &argv[i];
        let flag = arg
            .strip_prefix(b"--")
            .or_else(|| arg.strip_prefix(b"-"))
            .filter(|f| !f.is_empty());
        if let Some(flag) = flag {
            let (name, joined) = match flag.iter().position(|b| *b == b'=') {
                Some(eq) => (&flag[..eq], Some(eq)),
                None => (flag, None),
            };
            let prefix_len = arg.len() - flag.len();
            if is_secret_flag(name) {
                match joined {
                    Some(eq) if eq + 1 < flag.len() => {
                        found.push(CmdlineSecret {
                            index: i,
                            value: prefix_len + eq + 1..arg.len(),
                            name: arg[..prefix_len + eq].to_vec(),
                            form: SecretForm::FlagJoined,
                        });
                        i += 1;
                        continue;
                    }
                    Some(_) => {}
                    None if takes_separate_value(name) => {
                        if let Some(next) = argv.get(i + 1).filter(|n| !n.is_empty()) {
                            if !next.starts_with(b"-") {
                                found.push(CmdlineSecret {
                                    index: i + 1,
                                    value: 0..next.len(),
                                    name: arg.clone(),
                                    form: SecretForm::FlagSeparate,
                                });
                                i += 2;
                                continue;
                            }
                        }
                    }
                    None => {}
                }
            }
        } else if let Some(eq) = arg.iter().position(|b| *b == b'=') {
            let name = &arg[..eq];
            if is_identifier(name) && is_secret_env_name(name) && eq + 1 < arg.len() {
                found.push(CmdlineSecret {
                    index: i,
                    value: eq + 1..arg.len(),
                    name: name.to_vec(),
                    form: SecretForm::Assignment,
                });
                i += 1;
                continue;
            }
        }
        for (name, value) in url_credentials(arg) {
            found.push(CmdlineSecret {
                index: i,
                value,
                name,
                form: SecretForm::UrlCredentials,
            });
        }
        i += 1;
    }
    found
}

/// A flag name (without dashes) whose value is a secret or names one.
pub fn is_secret_flag(name: &[u8]) -> bool {
    let n: String = String::from_utf8_lossy(name)
        .to_ascii_lowercase()
        .replace('_', "-");
    const WORDS: [&str; 10] = [
        "password",
        "passwd",
        "passphrase",
        "token",
        "secret",
        "credential",
        "api-key",
        "apikey",
        "access-key",
        "private-key",
    ];
    WORDS.iter().any(|w| n.contains(w))
        || n == "key"
        || n == "key-file"
        || n.ends_with("-key")
        || n.ends_with("-key-file")
}

/// Boolean flags that look secret (`--password-stdin`, `--no-password`) take no value, so
/// the next argument is left alone.
fn takes_separate_value(name: &[u8]) -> bool {
    let n = String::from_utf8_lossy(name).to_ascii_lowercase();
    !(n.ends_with("-stdin") || n.starts_with("no-") || n.starts_with("no_"))
}

/// Cloud and CI credential variables whose names the generic rules would miss.
const KNOWN_SECRET_VARS: [&str; 12] = [
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SESSION_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "AZURE_CLIENT_SECRET",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "VAULT_TOKEN",
    "MYSQL_PWD",
    "PGPASSFILE",
    "DATABASE_URL",
    "DOCKER_AUTH_CONFIG",
];

/// An environment variable name that looks like it holds a secret (docs/REDACTION.md).
pub fn is_secret_env_name(name: &[u8]) -> bool {
    let n = String::from_utf8_lossy(name).to_ascii_uppercase();
    if KNOWN_SECRET_VARS.contains(&n.as_str()) {
        return true;
    }
    // Public by design: the GPG key fingerprint official images set, publishable keys.
    if n == "GPG_KEY" || n.contains("PUBLIC") {
        return false;
    }
    [
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "TOKEN",
        "CREDENTIAL",
        "API_KEY",
        "PRIVATE_KEY",
    ]
    .iter()
    .any(|w| n.contains(w))
        || n.ends_with("_KEY")
        || n.ends_with("KEY_ID")
}

fn is_identifier(name: &[u8]) -> bool {
    name.first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// `scheme://user:password@host` inside `text`: for each, `scheme://user` and the byte
/// range of the password.
pub fn url_credentials(text: &[u8]) -> Vec<(Vec<u8>, Range<usize>)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(rel) = find(&text[from..], b"://") {
        let auth_start = from + rel + 3;
        // The authority ends at the first '/', '?', '#' or blank; credentials end at its
        // last '@' (a password may itself hold '@').
        let auth_end = text[auth_start..]
            .iter()
            .position(|b| matches!(b, b'/' | b'?' | b'#' | b' ' | b'\t' | b'\n'))
            .map_or(text.len(), |p| auth_start + p);
        let authority = &text[auth_start..auth_end];
        if let Some(at) = authority.iter().rposition(|b| *b == b'@') {
            let userinfo = &authority[..at];
            if let Some(colon) = userinfo.iter().position(|b| *b == b':') {
                if colon + 1 < userinfo.len() {
                    let scheme_start = text[..from + rel]
                        .iter()
                        .rposition(|b| !(b.is_ascii_alphanumeric() || b"+-.".contains(b)))
                        .map_or(0, |p| p + 1);
                    out.push((
                        text[scheme_start..auth_start + colon].to_vec(),
                        auth_start + colon + 1..auth_start + at,
                    ));
                }
            }
        }
        from = auth_end.max(auth_start);
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
