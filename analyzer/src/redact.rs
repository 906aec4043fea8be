//! Redaction of secrets in environment values, command lines and free text (rules:
//! docs/REDACTION.md).
//!
//! A redacted value prints as `[REDACTED:<first 8 hex digits of its SHA-256>]`, so the same
//! secret seen in two processes shows the same marker and can be correlated without being
//! shown. Redaction works on raw bytes, before escaping.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use regex::bytes::Regex;
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

    /// A command line with the values of secret-looking arguments replaced, then each
    /// argument read as free text ([`text_secrets`]): token shapes anywhere, and the rules
    /// again inside an argument that holds a whole command (`sh -c '... --password=x'`).
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
                // A marker is not redacted again: redacting stays idempotent.
                if let Some(value) = arg.get(s.value.clone()).filter(|v| !starts_with_marker(v)) {
                    let m = marker(value).into_bytes();
                    arg.splice(s.value, m);
                }
            }
        }
        // A marker holds no token shape, so the values replaced above stay as they are.
        for arg in &mut out {
            if let Cow::Owned(redacted) = redact_text(arg) {
                *arg = redacted;
            }
        }
        out
    }

    /// Free text (a captured buffer, a string argument, a path, a message): token shapes,
    /// URL passwords and secret flag or variable values ([`text_secrets`]) replaced,
    /// everything else kept. Borrowed when nothing was found.
    pub fn text<'a>(&self, text: &'a [u8]) -> Cow<'a, [u8]> {
        if self.show_secrets {
            Cow::Borrowed(text)
        } else {
            redact_text(text)
        }
    }
}

/// A kind of secret found in free text: a well-known token shape, recognised wherever it
/// appears, or a value the command-line rules pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `AKIA` or `ASIA` and 16 upper-case letters or digits.
    AwsAccessKeyId,
    /// The value after an `aws_secret_access_key` label (`=` or `:`).
    AwsSecretAccessKey,
    /// `ghp_`, `gho_`, `ghs_`, `ghu_`, `ghr_` tokens and `github_pat_` fine-grained tokens.
    GitHubToken,
    /// `xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`... tokens.
    SlackToken,
    /// A JSON Web Token: `eyJ` header, payload and (possibly empty) signature.
    Jwt,
    /// The body of a PEM private key block (the BEGIN and END lines stay visible); a block
    /// cut short (no END line) is redacted to the end of the text.
    PrivateKey,
    /// `AIza` and 35 characters.
    GoogleApiKey,
    /// The credential after `Bearer `.
    BearerToken,
    /// `scheme://user:PASSWORD@host`: the password.
    UrlCredentials,
    /// The value of a secret flag or variable in text read as words (`--password=x`,
    /// `--token x`, `DB_PASSWORD=x`): the command-line rules.
    CommandLineValue,
}

/// A secret found in text: which bytes, and what it looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSecret {
    pub range: Range<usize>,
    pub kind: TokenKind,
}

/// Token shapes as one byte regex (ASCII classes, no Unicode). Each alternative names the
/// group holding the secret; labels (`aws_secret_access_key=`, `Bearer `, PEM lines) are
/// matched but kept.
static TOKENS: LazyLock<Regex> = LazyLock::new(|| {
    let alternatives = [
        // PEM private keys, to the END line or, when the capture was cut, the end of the text.
        r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?P<pem>(?s:.*?))(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\z)",
        r#"(?i:aws[_-]?secret[_-]?access[_-]?key)["']?[ \t]*[:=][ \t]*["']?(?P<awssecret>[A-Za-z0-9/+=]+)"#,
        r"\b(?P<awsid>A[KS]IA[A-Z0-9]{16})\b",
        r"\b(?P<github>gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
        r"\b(?P<slack>xox[abeoprs]-[A-Za-z0-9-]{10,})",
        r"\b(?P<jwt>eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?)",
        r"\b(?P<google>AIza[A-Za-z0-9_-]{35})",
        r"\b(?i:bearer)[ \t]+(?P<bearer>[A-Za-z0-9._~+/=-]{12,})",
    ];
    Regex::new(&format!("(?-u){}", alternatives.join("|"))).expect("the token regex is valid")
});

const TOKEN_GROUPS: [(&str, TokenKind); 8] = [
    ("pem", TokenKind::PrivateKey),
    ("awssecret", TokenKind::AwsSecretAccessKey),
    ("awsid", TokenKind::AwsAccessKeyId),
    ("github", TokenKind::GitHubToken),
    ("slack", TokenKind::SlackToken),
    ("jwt", TokenKind::Jwt),
    ("google", TokenKind::GoogleApiKey),
    ("bearer", TokenKind::BearerToken),
];

/// Every token-shaped secret in `text` ([`TokenKind`] but URL and command-line values), in
/// order, without overlaps.
pub fn token_secrets(text: &[u8]) -> Vec<TokenSecret> {
    let mut found = Vec::new();
    // Most text holds none of the shapes; one scan without captures says so.
    if !TOKENS.is_match(text) {
        return found;
    }
    for caps in TOKENS.captures_iter(text) {
        let Some((m, kind)) = TOKEN_GROUPS
            .iter()
            .find_map(|(name, kind)| caps.name(name).map(|m| (m, *kind)))
        else {
            continue;
        };
        let value = m.as_bytes();
        let keep = match kind {
            // A header with nothing after it is not a key.
            TokenKind::PrivateKey => !value.trim_ascii().is_empty(),
            // `Bearer authentication` in prose: real tokens hold a digit or are long.
            TokenKind::BearerToken => value.len() >= 20 || value.iter().any(u8::is_ascii_digit),
            _ => true,
        };
        if keep {
            found.push(TokenSecret {
                range: m.range(),
                kind,
            });
        }
    }
    found
}

/// Words that every secret flag or secret-looking variable name contains (compared
/// case-insensitively): text without any of them has no command-line secret.
const SECRET_WORDS: &str = "pass|pwd|token|secret|credential|key|database_url|docker_auth";

/// One cheap scan that every text with a secret passes: the secret words, `://`, and the
/// literal starts of the token shapes. Most text (paths, file contents, binary buffers) fails
/// it and costs nothing more.
static GATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        "(?i-u){SECRET_WORDS}|://|a[ks]ia|gh[pousr]_|github_pat_|xox|eyj|aiza|bearer|-----begin"
    ))
    .expect("the gate regex is valid")
});

/// [`SECRET_WORDS`] alone.
static SECRET_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!("(?i-u){SECRET_WORDS}")).expect("the secret-word regex is valid")
});

/// Every secret in free text, in order, without overlaps: the token shapes, URL passwords,
/// and the command-line rules applied to its words (`--password=x`, `--token x`,
/// `DB_PASSWORD=x` inside a script, a config file or one argument of `sh -c`). Values that
/// are already markers are left alone, so redacting twice changes nothing.
pub fn text_secrets(text: &[u8]) -> Vec<TokenSecret> {
    if !GATE.is_match(text) {
        return Vec::new();
    }
    let mut found = token_secrets(text);
    if SECRET_WORD.is_match(text) {
        found.extend(word_secrets(text));
    } else if find(text, b"://").is_some() {
        found.extend(
            url_credentials(text)
                .into_iter()
                .map(|(_, range)| TokenSecret {
                    range,
                    kind: TokenKind::UrlCredentials,
                }),
        );
    }
    // A value that is a marker (with or without the `[` a word was trimmed of) was replaced
    // before.
    let at_marker =
        |i: usize| starts_with_marker(&text[i..]) || (i > 0 && starts_with_marker(&text[i - 1..]));
    found.retain(|s| !s.range.is_empty() && !at_marker(s.range.start));
    found.sort_by_key(|s| (s.range.start, std::cmp::Reverse(s.range.end)));
    let mut end = 0;
    found.retain(|s| {
        let keep = s.range.start >= end;
        if keep {
            end = s.range.end;
        }
        keep
    });
    found
}

/// The command-line rules over the words of `text`: runs of bytes between blanks and NULs
/// (an environ block is NUL-separated), without the quotes, brackets and commas of scripts
/// and JSON around them. Quotes around a value are not part of it.
fn word_secrets(text: &[u8]) -> Vec<TokenSecret> {
    const OPENING: &[u8] = b"'\"`([{<";
    const CLOSING: &[u8] = b"'\"`)]}>,;";
    let mut spans = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let separator = |b: u8| b.is_ascii_whitespace() || b == 0;
        if separator(text[i]) {
            i += 1;
            continue;
        }
        let mut start = i;
        while i < text.len() && !separator(text[i]) {
            i += 1;
        }
        let mut end = i;
        while start < end && OPENING.contains(&text[start]) {
            start += 1;
        }
        while end > start && CLOSING.contains(&text[end - 1]) {
            end -= 1;
        }
        if start < end {
            spans.push(start..end);
        }
    }
    let words: Vec<Vec<u8>> = spans.iter().map(|r| text[r.clone()].to_vec()).collect();
    cmdline_secrets(&words)
        .into_iter()
        .filter_map(|s| {
            let base = spans[s.index].start + s.value.start;
            let value = &text[base..spans[s.index].start + s.value.end];
            let unquoted = unquoted(value);
            // `--password="$PW"` in a script names the secret, it does not hold it.
            if is_variable_reference(&value[unquoted.clone()]) {
                return None;
            }
            Some(TokenSecret {
                range: base + unquoted.start..base + unquoted.end,
                kind: match s.form {
                    SecretForm::UrlCredentials => TokenKind::UrlCredentials,
                    _ => TokenKind::CommandLineValue,
                },
            })
        })
        .collect()
}

/// The part of `value` inside the quotes around it.
fn unquoted(value: &[u8]) -> Range<usize> {
    let quote = |b: &u8| b"'\"`".contains(b);
    let start = value.iter().position(|b| !quote(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !quote(b))
        .map_or(start, |p| p + 1);
    start..end
}

/// `$NAME` or `${NAME}` (its `}` may have been trimmed with the word): a shell variable
/// reference.
fn is_variable_reference(value: &[u8]) -> bool {
    match value.strip_prefix(b"$") {
        Some(rest) => match rest.strip_prefix(b"{") {
            Some(braced) => is_identifier(braced.strip_suffix(b"}").unwrap_or(braced)),
            None => is_identifier(rest),
        },
        None => false,
    }
}

/// True when `text` starts with a `[REDACTED:xxxxxxxx]` marker.
fn starts_with_marker(text: &[u8]) -> bool {
    text.len() >= 19
        && text.starts_with(b"[REDACTED:")
        && text[18] == b']'
        && text[10..18].iter().all(u8::is_ascii_hexdigit)
}

/// `text` with every [`text_secrets`] span replaced by its marker.
pub fn redact_text(text: &[u8]) -> Cow<'_, [u8]> {
    let found = text_secrets(text);
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len() + found.len() * 20);
    let mut at = 0;
    for s in found {
        out.extend_from_slice(&text[at..s.range.start]);
        out.extend_from_slice(marker(&text[s.range.clone()]).as_bytes());
        at = s.range.end;
    }
    out.extend_from_slice(&text[at..]);
    Cow::Owned(out)
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
