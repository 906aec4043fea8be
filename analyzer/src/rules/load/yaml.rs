//! The YAML layer: serde-saphyr reads a rules file into a small tree where every node and
//! mapping key keeps its line and column ([`Spanned`]).
//!
//! Items are not deserialized straight into a `#[serde(deny_unknown_fields)]` struct because
//! serde stops at the first unknown key or wrong type, and a rules file must report all its
//! errors. The tree never fails on types; `item.rs` turns each mapping into the flat struct of
//! optional spanned fields and checks keys and types itself, collecting every error.
//!
//! Scalars keep the text as written: a plain scalar that YAML would type as a bool or a number
//! (`yes`, `0755`, `1.10`) is taken from the source through its span, as yaml-cpp does in Falco.
//! Nesting is bounded through serde-saphyr's budget ([`MAX_DEPTH`]), so nothing here recurses
//! without limit.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, MessageFormatter, Spanned, UserMessageFormatter};

/// A position in the file, 1-based (0 when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub fn of(location: &Location) -> Pos {
        Pos {
            line: usize::try_from(location.line()).unwrap_or(usize::MAX),
            column: usize::try_from(location.column()).unwrap_or(usize::MAX),
        }
    }
}

#[derive(Debug)]
pub(super) enum Node {
    Null,
    /// A string scalar (quoted, block, or plain text that is not a bool or number).
    Str(String),
    /// A plain scalar typed as a bool or a number; its text is in the source at its span.
    Typed,
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Typed)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Typed)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Typed)
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Node, E> {
        Ok(Node::Typed)
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Node, E> {
        Ok(Node::Typed)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Typed)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

/// What a node is, for messages ("must be a string, not a list").
pub(super) fn kind(node: &Node) -> &'static str {
    match node {
        Node::Null => "empty",
        Node::Str(_) | Node::Typed => "a scalar",
        Node::Seq(_) => "a list",
        Node::Map(_) => "a mapping",
    }
}

/// The text of a scalar as written (`None` for null, lists and mappings).
pub(super) fn scalar<'a>(node: &'a Spanned<Node>, src: &'a str) -> Option<Cow<'a, str>> {
    match &node.value {
        Node::Str(s) => Some(Cow::Borrowed(s)),
        Node::Typed => {
            // `defined`: an alias's text is at its anchor.
            let span = node.defined.span();
            let start = usize::try_from(span.byte_offset()?).ok()?;
            let len = usize::try_from(span.byte_len()?).ok()?;
            src.get(start..start.checked_add(len)?).map(Cow::Borrowed)
        }
        Node::Null | Node::Seq(_) | Node::Map(_) => None,
    }
}

/// Deepest nesting accepted. A rules file needs 7 levels (items, item, exceptions, exception,
/// values, tuple, list); serde-saphyr's default (64) overflows a 2 MiB thread stack in debug
/// builds, as each level costs several recursive calls.
const MAX_DEPTH: usize = 16;

/// Parses every YAML document of `text` (null documents are skipped, as in Falco).
/// Duplicate keys are passed through and reported by the caller with the other key errors.
pub(super) fn parse(text: &str) -> Result<Vec<Spanned<Node>>, (Pos, String)> {
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            flow_nesting_limit: MAX_DEPTH,
        },
    };
    serde_saphyr::from_multiple_with_options::<Spanned<Node>>(text, options).map_err(|e| {
        let pos = e
            .location()
            .map_or(Pos { line: 0, column: 0 }, |l| Pos::of(&l));
        let message = UserMessageFormatter.format_message(&e).into_owned();
        (pos, format!("invalid YAML: {message}"))
    })
}

/// Text for a terminal: control characters (and invalid ones) escaped.
pub(super) fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}
