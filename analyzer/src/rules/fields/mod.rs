//! The fields conditions and outputs can name: one table (name, type, argument, meaning),
//! resolved once at compile time into a [`Field`] whose extraction is a `match` per event.
//!
//! A field the trace cannot know for an event has no value ([`Val::None`]): comparisons on it
//! are false and outputs print `<NA>`. docs/RULES.md lists this table.

pub mod args;
mod extract;
pub mod fd;
mod table;

use std::borrow::Cow;
use std::net::IpAddr;

pub use extract::{Ctx, EventKind, EventMeta};
pub use table::{lookup, Fid, FieldDef, TABLE};

use super::condition::ast::Transformer;

/// What a field holds, for type checks of the values it is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Str,
    Num,
    Bool,
    /// An IP address (`fd.sip`): compared with addresses.
    Ip,
    /// An address compared with networks (`fd.snet in (10.0.0.0/8)`).
    Net,
}

/// Whether a field takes a bracketed argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgUse {
    None,
    /// A number, required (`proc.aname[2]`) or optional (`proc.aname`, `fd.types`).
    Index {
        required: bool,
    },
    /// A name, required (`proc.env[HOME]`) or optional (`proc.env`).
    Key {
        required: bool,
    },
}

/// A field's value for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    None,
    Str(Cow<'a, [u8]>),
    Num(i64),
    Bool(bool),
    Ip(IpAddr),
    /// A multi-valued field (`fd.types`): `in` holds when every value is in the list.
    List(Vec<Cow<'a, [u8]>>),
    /// A field that stands for any of several values (`proc.aname` without an index, `fd.ip`):
    /// a comparison holds when it holds for one of them.
    Any(Vec<Val<'a>>),
}

impl Val<'_> {
    pub fn is_none(&self) -> bool {
        match self {
            Val::None => true,
            Val::List(v) => v.is_empty(),
            Val::Any(v) => v.is_empty(),
            _ => false,
        }
    }

    pub fn str(s: &[u8]) -> Val<'_> {
        Val::Str(Cow::Borrowed(s))
    }

    pub fn owned(s: Vec<u8>) -> Val<'static> {
        Val::Str(Cow::Owned(s))
    }
}

/// A field argument as compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldArg {
    None,
    Index(usize),
    Key(Vec<u8>),
}

/// A field reference resolved against the table, with its transformers.
#[derive(Debug, Clone)]
pub struct Field {
    pub def: &'static FieldDef,
    pub arg: FieldArg,
    /// Outermost first, as written.
    pub transformers: Vec<Transformer>,
    /// The field as written (for outputs' JSON keys), e.g. `proc.aname[2]`.
    pub text: String,
}

impl Field {
    /// The type of the value after transformers.
    pub fn ty(&self) -> Ty {
        if self.transformers.contains(&Transformer::Len) {
            Ty::Num
        } else if self.transformers.is_empty() {
            self.def.ty
        } else {
            Ty::Str
        }
    }

    /// The value for one event, transformers applied innermost first.
    pub fn get<'c>(&self, ctx: &'c Ctx<'_>) -> Val<'c> {
        let v = extract::get(self.def.id, &self.arg, ctx);
        if self.transformers.is_empty() {
            return v;
        }
        self.transformers
            .iter()
            .rev()
            .fold(v, |v, t| transform(*t, v))
    }
}

/// Resolves `name[arg]` with transformers, or says why it cannot be.
pub fn resolve(
    name: &str,
    arg: Option<&str>,
    transformers: &[Transformer],
    text: String,
) -> Result<Field, String> {
    // `evt.arg.flags` names the argument inside the field name; `evt.arg[1]` by position.
    for prefix in ["evt.arg.", "evt.rawarg."] {
        if let Some(key) = name.strip_prefix(prefix).filter(|k| !k.is_empty()) {
            if arg.is_some() {
                return Err(format!("field '{name}' takes no argument"));
            }
            return resolve("evt.arg", Some(key), transformers, text);
        }
    }
    if name == "evt.arg" || name == "evt.rawarg" {
        if let Some(i) = arg.and_then(|a| a.trim().parse::<usize>().ok()) {
            return Ok(Field {
                def: lookup("evt.arg_index").expect("in the table"),
                arg: FieldArg::Index(i),
                transformers: transformers.to_vec(),
                text,
            });
        }
    }
    let def = lookup(name).ok_or_else(|| format!("unknown field '{name}'"))?;
    let arg = match (def.arg, arg) {
        (ArgUse::None, None) => FieldArg::None,
        (ArgUse::None, Some(a)) => {
            return Err(format!("field '{name}' takes no argument, found '[{a}]'"))
        }
        (ArgUse::Index { required: true }, None) | (ArgUse::Key { required: true }, None) => {
            return Err(format!("field '{name}' needs an argument in brackets"))
        }
        (ArgUse::Index { .. }, None) | (ArgUse::Key { .. }, None) => FieldArg::None,
        (ArgUse::Index { .. }, Some(a)) => FieldArg::Index(
            a.trim()
                .parse()
                .map_err(|_| format!("field '{name}' needs a number in brackets, found '{a}'"))?,
        ),
        (ArgUse::Key { .. }, Some(a)) => FieldArg::Key(a.as_bytes().to_vec()),
    };
    Ok(Field {
        def,
        arg,
        transformers: transformers.to_vec(),
        text,
    })
}

fn transform(t: Transformer, v: Val<'_>) -> Val<'_> {
    use base64::Engine;
    let each = |v: Val<'_>, f: &dyn Fn(&[u8]) -> Option<Vec<u8>>| -> Val<'static> {
        match v {
            Val::Str(s) => f(&s).map_or(Val::None, Val::owned),
            Val::List(l) => Val::List(l.iter().filter_map(|s| f(s).map(Cow::Owned)).collect()),
            Val::Any(l) => Val::Any(
                l.into_iter()
                    .map(|s| match s {
                        Val::Str(s) => f(&s).map_or(Val::None, Val::owned),
                        _ => Val::None,
                    })
                    .collect(),
            ),
            Val::None => Val::None,
            Val::Num(n) => f(n.to_string().as_bytes()).map_or(Val::None, Val::owned),
            Val::Bool(b) => f(b.to_string().as_bytes()).map_or(Val::None, Val::owned),
            Val::Ip(ip) => f(ip.to_string().as_bytes()).map_or(Val::None, Val::owned),
        }
    };
    match t {
        Transformer::ToLower => each(v, &|s| Some(s.to_ascii_lowercase())),
        Transformer::ToUpper => each(v, &|s| Some(s.to_ascii_uppercase())),
        Transformer::B64 => each(v, &|s| {
            base64::engine::general_purpose::STANDARD
                .decode(s.trim_ascii())
                .ok()
        }),
        Transformer::Basename => each(v, &|s| {
            Some(s.rsplit(|b| *b == b'/').next().unwrap_or(s).to_vec())
        }),
        Transformer::Len => match v {
            Val::None => Val::None,
            Val::Str(s) => Val::Num(s.len() as i64),
            Val::List(l) => Val::Num(l.len() as i64),
            Val::Any(l) => Val::Num(l.len() as i64),
            other => Val::Num(render_plain(&other).len() as i64),
        },
    }
}

/// A value as outputs and string comparisons see it; `None` is the empty string here (outputs
/// print `<NA>` themselves).
pub fn render_plain(v: &Val<'_>) -> Vec<u8> {
    match v {
        Val::None => Vec::new(),
        Val::Str(s) => s.to_vec(),
        Val::Num(n) => n.to_string().into_bytes(),
        Val::Bool(b) => b.to_string().into_bytes(),
        Val::Ip(ip) => ip.to_string().into_bytes(),
        Val::List(l) => {
            let mut out = b"(".to_vec();
            for (i, s) in l.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(s);
            }
            out.push(b')');
            out
        }
        Val::Any(l) => l.first().map(render_plain).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests;

/// What an output shows instead of `raw` when secrets are hidden (docs/REDACTION.md):
/// environment values become markers (`proc.env`, and execve's `envp` in `evt.args`,
/// `evt.arg.envp`), command-line-like values have their secret arguments replaced, and every
/// other string value (buffers, paths, names) goes through the free-text rules: token shapes
/// (cloud keys, JWTs, private keys), URL passwords, and secret flags and variables among its
/// words. `None` when the value holds nothing secret.
pub fn redacted(
    f: &Field,
    raw: &[u8],
    ctx: &Ctx<'_>,
    redactor: &crate::redact::Redactor,
) -> Option<Vec<u8>> {
    use table::Fid;
    if redactor.show_secrets || matches!(f.ty(), Ty::Num | Ty::Bool | Ty::Ip | Ty::Net) {
        return None;
    }
    let syscall = match ctx.kind {
        EventKind::Syscall(ev) => Some(ev),
        EventKind::ProcInfo => None,
    };
    let env_index = syscall.and_then(env_arg_index);
    let is_env_arg = match (&f.arg, syscall) {
        (FieldArg::Key(k), Some(ev)) if f.def.id == Fid::EvtArg => {
            args::position(ev, k).is_some_and(|i| Some(i) == env_index)
        }
        (FieldArg::Index(i), _) if f.def.id == Fid::EvtArgIndex => Some(*i) == env_index,
        _ => false,
    };
    match f.def.id {
        Fid::ProcEnv => Some(match f.arg {
            FieldArg::Key(_) => redactor.env_value(raw),
            _ => redacted_env_list(raw, redactor),
        }),
        Fid::EvtArg | Fid::EvtArgIndex if is_env_arg => Some(redacted_env_list(raw, redactor)),
        // Untransformed, the arguments are rebuilt one by one: the environment exactly.
        Fid::EvtArgs if f.transformers.is_empty() && syscall.is_some() => {
            syscall.map(|ev| redacted_args(ev, ctx.type_name, env_index, redactor))
        }
        Fid::ProcCmdline
        | Fid::ProcArgs
        | Fid::ProcPCmdline
        | Fid::ProcACmdline
        | Fid::EvtArgs
        | Fid::EvtArg
        | Fid::EvtArgIndex => {
            // A transformed `evt.args`: what follows `envp=` is the environment (and, for
            // execveat, its flags: redacted too, harmlessly).
            let (words_part, env_part) = match find_word(raw, b"envp=") {
                Some(at) if f.def.id == Fid::EvtArgs => (&raw[..at], Some(raw[at..].split_at(5))),
                _ => (raw, None),
            };
            // Space-split words stand in for argv: the secret shapes (`--password=x`,
            // `--token x`, `user:pw@` in URLs) live within or across words. The token shapes
            // run again over the whole value: a private key block spans words.
            let words: Vec<Vec<u8>> = words_part
                .split(|b| *b == b' ')
                .map(<[u8]>::to_vec)
                .collect();
            let mut joined = redactor.argv(&words).join(&b' ');
            if let Cow::Owned(v) = redactor.text(&joined) {
                joined = v;
            }
            if let Some((label, env)) = env_part {
                joined.extend_from_slice(label);
                joined.extend_from_slice(&redacted_env_list(env, redactor));
            }
            Some(joined)
        }
        _ => match redactor.text(raw) {
            Cow::Owned(v) => Some(v),
            Cow::Borrowed(_) => None,
        },
    }
}

/// The environment argument of an execve or execveat: its second string list.
fn env_arg_index(ev: &rhf_format::SyscallEvent) -> Option<usize> {
    ev.args
        .iter()
        .enumerate()
        .filter(|(_, a)| matches!(a, rhf_format::Arg::StrList(..)))
        .nth(1)
        .map(|(i, _)| i)
}

/// Where `word` starts `text` or follows a space in it, in any case (`toupper(evt.args)`).
fn find_word(text: &[u8], word: &[u8]) -> Option<usize> {
    if text.len() >= word.len() && text[..word.len()].eq_ignore_ascii_case(word) {
        return Some(0);
    }
    text.windows(word.len() + 1)
        .position(|w| w[0] == b' ' && w[1..].eq_ignore_ascii_case(word))
        .map(|p| p + 1)
}

/// `evt.args` as `args::all` renders it, each argument redacted for what it is: the
/// environment's values become markers (each variable's, as `env` shows them), string lists
/// (argv) follow the command-line rules, every other value the token shapes.
fn redacted_args(
    ev: &rhf_format::SyscallEvent,
    syscall: &str,
    env_index: Option<usize>,
    redactor: &crate::redact::Redactor,
) -> Vec<u8> {
    let names = rhf_format::sysent::spec(ev.abi, ev.nr).map(|s| s.args);
    let mut out = Vec::new();
    for (i, arg) in ev.args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        match names.and_then(|n| n.get(i)) {
            Some(a) => out.extend_from_slice(a.name.as_bytes()),
            None => out.extend_from_slice(format!("arg{i}").as_bytes()),
        }
        out.push(b'=');
        match arg {
            rhf_format::Arg::StrList(items, _) if Some(i) == env_index => {
                let shown: Vec<Vec<u8>> = items
                    .iter()
                    .map(|item| match item.iter().position(|b| *b == b'=') {
                        Some(eq) => {
                            let mut v = item[..=eq].to_vec();
                            v.extend_from_slice(&redactor.env_value(&item[eq + 1..]));
                            v
                        }
                        None => redactor.env_value(item),
                    })
                    .collect();
                out.extend_from_slice(&shown.join(&b' '));
            }
            rhf_format::Arg::StrList(items, _) => {
                let argv: Vec<Vec<u8>> = items.iter().map(|i| i.to_vec()).collect();
                out.extend_from_slice(&redactor.argv(&argv).join(&b' '));
            }
            _ => {
                if let Some(v) = args::render(ev, syscall, i) {
                    out.extend_from_slice(&redactor.text(&v));
                }
            }
        }
    }
    out
}

/// `proc.env` without a name: `NAME=value` entries joined by spaces, so a value holding a
/// space spans words. A word that starts a new `NAME=` (a shell identifier) starts an entry;
/// any other word continues the value before it. Every value becomes one marker (the marker
/// `env` shows for it) and text before the first name is redacted whole: only names remain.
fn redacted_env_list(raw: &[u8], redactor: &crate::redact::Redactor) -> Vec<u8> {
    let starts_entry = |w: &[u8]| {
        w.iter().position(|b| *b == b'=').is_some_and(|eq| {
            let name = &w[..eq];
            name.first()
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
                && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        })
    };
    // (name, value) per entry; a leading entry without a name has `None`.
    let mut entries: Vec<(Option<&[u8]>, Vec<u8>)> = Vec::new();
    for word in raw.split(|b| *b == b' ') {
        if starts_entry(word) {
            let eq = word.iter().position(|b| *b == b'=').unwrap_or(0);
            entries.push((Some(&word[..eq]), word[eq + 1..].to_vec()));
        } else if let Some((_, value)) = entries.last_mut() {
            value.push(b' ');
            value.extend_from_slice(word);
        } else {
            entries.push((None, word.to_vec()));
        }
    }
    let shown: Vec<Vec<u8>> = entries
        .into_iter()
        .map(|(name, value)| match name {
            Some(n) => {
                let mut out = n.to_vec();
                out.push(b'=');
                out.extend_from_slice(&redactor.env_value(&value));
                out
            }
            None if value.is_empty() => value,
            None => redactor.env_value(&value),
        })
        .collect();
    shown.join(&b' ')
}
