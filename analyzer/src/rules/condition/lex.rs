//! The condition lexer: token parsers over the text, and the parse error type.
//
// Lexing depends on position (`/etc/passwd` is a value after an operator but a syntax error
// where a condition starts, and `evt.dir=<` compares with `<`), so there is no token stream:
// the parser calls these functions where it expects a token of their kind.

use winnow::combinator::{alt, opt};
use winnow::error::{ErrMode, ParserError};
use winnow::prelude::*;
use winnow::stream::{Location, Stream};
use winnow::token::{any, one_of, take_while};
use winnow::LocatingSlice;

use super::ast::{Modifier, Op, Span, Transformer, Value};
use super::{line_col, ConditionError};

pub(super) type Input<'a> = LocatingSlice<&'a str>;
pub(super) type PResult<T> = ModalResult<T, SyntaxError>;

/// A parse failure at a byte offset. It is two words so that results stay small: the parser
/// recurses once per parenthesis, and debug builds keep every temporary on the stack.
#[derive(Debug)]
pub(super) struct SyntaxError {
    offset: usize,
    /// `None` for a backtracking miss, which a caller turns into a real message.
    reason: Option<Box<Reason>>,
}

#[derive(Debug)]
enum Reason {
    Message(String),
    /// An unmatched `(` at this offset; its line and column go into the message once the
    /// whole text is at hand.
    Unclosed(usize),
}

impl<'a> ParserError<Input<'a>> for SyntaxError {
    type Inner = Self;

    fn from_input(input: &Input<'a>) -> Self {
        SyntaxError {
            offset: input.current_token_start(),
            reason: None,
        }
    }

    fn into_inner(self) -> Result<Self, Self> {
        Ok(self)
    }
}

impl SyntaxError {
    /// A backtracking miss at the current position.
    pub(super) fn at(input: &Input) -> Self {
        SyntaxError::from_input(input)
    }

    /// The input ended at `offset` inside the `(` at `open`.
    pub(super) fn unclosed(offset: usize, open: usize) -> Self {
        SyntaxError {
            offset,
            reason: Some(Box::new(Reason::Unclosed(open))),
        }
    }

    /// The public error, with its message complete now that the whole text is at hand.
    pub(super) fn into_condition_error(self, text: &str) -> ConditionError {
        let offset = self.offset.min(text.len());
        let message = match self.reason.map(|reason| *reason) {
            Some(Reason::Message(message)) => message,
            Some(Reason::Unclosed(open)) => {
                format!("unclosed parenthesis opened at {}", position(text, open))
            }
            None => format!(
                "unexpected {}",
                found(text.get(offset..).unwrap_or_default())
            ),
        };
        ConditionError { offset, message }
    }
}

/// "column 5" on the first line, "line 2, column 5" after it.
fn position(text: &str, offset: usize) -> String {
    match line_col(text, offset) {
        (1, column) => format!("column {column}"),
        (line, column) => format!("line {line}, column {column}"),
    }
}

pub(super) fn offset(i: &Input) -> usize {
    i.current_token_start()
}

pub(super) fn cut<T>(offset: usize, message: impl Into<String>) -> PResult<T> {
    Err(ErrMode::Cut(SyntaxError {
        offset,
        reason: Some(Box::new(Reason::Message(message.into()))),
    }))
}

/// Falco's blanks (`lex_blank`): space, tab, CR, LF and backspace.
pub(super) fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '\x08')
}

pub(super) fn blanks(i: &mut Input) -> PResult<()> {
    take_while(0.., is_blank).void().parse_next(i)
}

pub(super) fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

pub(super) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

pub(super) fn name<'a>(i: &mut Input<'a>) -> PResult<&'a str> {
    (one_of(is_name_start), take_while(0.., is_name_char))
        .take()
        .parse_next(i)
}

pub(super) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `text` starts with the word `word`, not followed by a name character.
pub(super) fn word_at(text: &str, word: &str) -> bool {
    text.strip_prefix(word)
        .is_some_and(|rest| !rest.starts_with(is_name_char))
}

/// Consumes the keyword `word` (after blanks) if it is next.
pub(super) fn keyword(i: &mut Input, word: &str) -> PResult<bool> {
    blanks(i)?;
    if !word_at(i, word) {
        return Ok(false);
    }
    let _ = i.next_slice(word.len());
    Ok(true)
}

const TRANSFORMERS: [(&str, Transformer); 5] = [
    ("tolower", Transformer::ToLower),
    ("toupper", Transformer::ToUpper),
    ("b64", Transformer::B64),
    ("basename", Transformer::Basename),
    ("len", Transformer::Len),
];

/// A transformer name followed directly by `(` (a field is never called `tolower`).
pub(super) fn transformer_at(text: &str) -> Option<(Transformer, &'static str)> {
    TRANSFORMERS
        .iter()
        .find(|(written, _)| {
            text.strip_prefix(written)
                .is_some_and(|rest| rest.starts_with('('))
        })
        .map(|&(written, t)| (t, written))
}

/// Consumes `tolower(` and the like; returns the transformer and its name.
pub(super) fn transformer_open(i: &mut Input) -> PResult<Option<(Transformer, &'static str)>> {
    let Some((transformer, written)) = transformer_at(i) else {
        return Ok(None);
    };
    let _ = i.next_slice(written.len() + 1);
    Ok(Some((transformer, written)))
}

/// A comparison operator. Symbols need no blank around them; a word operator must be a whole
/// bare token (`contains/etc` is not `contains`, as Falco wants a blank after it).
pub(super) fn operator<'a>(i: &mut Input<'a>) -> PResult<Option<(Op, &'a str)>> {
    let symbol = alt((
        "==".value(Op::Eq),
        "!=".value(Op::Ne),
        "<=".value(Op::Le),
        ">=".value(Op::Ge),
        "=".value(Op::Eq),
        "<".value(Op::Lt),
        ">".value(Op::Gt),
    ));
    if let Some((op, written)) = opt(symbol.with_taken()).parse_next(i)? {
        return Ok(Some((op, written)));
    }
    let word = take_while(1.., |c| !ends_bare_value(c))
        .verify_map(word_operator)
        .with_taken();
    opt(word).parse_next(i)
}

fn word_operator(word: &str) -> Option<Op> {
    Some(match word {
        "exists" => Op::Exists,
        "glob" => Op::Glob,
        "iglob" => Op::IGlob,
        "contains" => Op::Contains,
        "icontains" => Op::IContains,
        "bcontains" => Op::BContains,
        "startswith" => Op::StartsWith,
        "bstartswith" => Op::BStartsWith,
        "endswith" => Op::EndsWith,
        "regex" => Op::Regex,
        "in" => Op::In,
        "intersects" => Op::Intersects,
        "pmatch" => Op::PMatch,
        _ => return None,
    })
}

pub(super) fn modifier<'a>(i: &mut Input<'a>) -> PResult<Option<(Modifier, &'a str)>> {
    let word = take_while(1.., |c| !ends_bare_value(c)).verify_map(|w| match w {
        "oneof" => Some(Modifier::OneOf),
        "anyof" => Some(Modifier::AnyOf),
        "allof" => Some(Modifier::AllOf),
        _ => None,
    });
    opt(word.with_taken()).parse_next(i)
}

/// A quoted or bare value, or `None` when neither starts here.
pub(super) fn value(i: &mut Input) -> PResult<Option<Value>> {
    let start = offset(i);
    if i.starts_with(['"', '\'']) {
        return quoted(i).map(Some);
    }
    let bare = take_while(0.., |c: char| !ends_bare_value(c)).parse_next(i)?;
    if bare.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value {
        text: bare.to_string(),
        quoted: false,
        span: Span::new(start, offset(i)),
    }))
}

/// Characters that end a bare value: blanks, parentheses, comma, `=` and quotes.
pub(super) fn ends_bare_value(c: char) -> bool {
    is_blank(c) || matches!(c, '(' | ')' | ',' | '=' | '"' | '\'')
}

fn quoted(i: &mut Input) -> PResult<Value> {
    let start = offset(i);
    let quote = one_of(['"', '\'']).parse_next(i)?;
    let mut text = String::new();
    loop {
        let Some(c) = opt(any).parse_next(i)? else {
            return cut(start, "unterminated quoted string");
        };
        match c {
            '\\' => {
                let Some(escaped) = opt(any).parse_next(i)? else {
                    return cut(start, "unterminated quoted string");
                };
                unescape(&mut text, escaped);
            }
            c if c == quote => break,
            c => text.push(c),
        }
    }
    Ok(Value {
        text,
        quoted: true,
        span: Span::new(start, offset(i)),
    })
}

/// Resolves `\c` like Falco's `unescape_str`, so a value compares the same as in Falco.
/// Falco rejects the escapes it does not know; we keep them, backslash included, so a regex
/// such as `"\d+"` means what its author wrote.
fn unescape(out: &mut String, escaped: char) {
    match escaped {
        'b' => out.push('\x08'),
        'f' => out.push('\x0c'),
        'n' => out.push('\n'),
        'r' => out.push('\r'),
        't' => out.push('\t'),
        '/' => out.push('/'),
        '"' | '\'' => out.push(escaped),
        // Falco turns both `\\` and `\ ` into one backslash: the upstream sandbox rules
        // write `proc.args contains "\ "`, which Falco compares with `\`.
        '\\' | ' ' => out.push('\\'),
        other => {
            out.push('\\');
            out.push(other);
        }
    }
}

/// The next token, quoted, for "found ..." in messages.
pub(super) fn found(rest: &str) -> String {
    let Some(first) = rest.chars().next() else {
        return "end of input".to_string();
    };
    let token = if matches!(first, '(' | ')' | ',' | '[' | ']') {
        &rest[..1]
    } else {
        let end = rest
            .find(|c: char| is_blank(c) || matches!(c, '(' | ')' | ','))
            .unwrap_or(rest.len());
        &rest[..end]
    };
    const MAX_CHARS: usize = 30;
    match token.char_indices().nth(MAX_CHARS) {
        Some((cut_at, _)) => format!("'{}...'", &token[..cut_at]),
        None => format!("'{token}'"),
    }
}
