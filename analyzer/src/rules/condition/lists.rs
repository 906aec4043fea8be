//! List substitution: replaces list names in a condition's text by their items, as Falco does.
//
// Falco resolves lists before parsing, on text (falco `rule_loader_compiler.cpp`,
// `resolve_list`): a list name bounded on both sides by the start or end of the text, a blank,
// `(`, `)`, `,` or `=` becomes its items joined by `, `, and an empty list also removes one
// adjacent comma (the one on its left if there is one, else the one on its right). No
// parentheses are added: `proc.name in (shell_binaries)` is how rules use lists, and a bare
// `proc.name in shell_binaries` becomes `proc.name in ash, bash, ...`, which the parser rejects
// unless the list has exactly one item — the same as Falco.
//
// An item that is itself the name of a list is expanded too. Falco gets there in two steps:
// its loader expands items naming *earlier* lists when a list is defined, and it substitutes
// list after list, in definition order, over the whole text, so the names of *later* lists
// that earlier substitutions inserted are replaced in turn. We expand nested names directly,
// stopping at cycles, which gives the same values (cycles aside). The upstream files only name
// earlier lists; on all their conditions our text equals Falco's but for blanks.
//
// One deliberate difference: names inside quoted strings are left alone (Falco searches the
// raw text, so a `"... (shell_binaries) ..."` string would be rewritten).

use super::lex::ends_bare_value;

/// A condition's text after list substitution, with the way back to the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Substituted {
    /// The text to parse.
    pub text: String,
    /// The names of the lists that were substituted, each once, in order of first use
    /// (Falco warns about lists no condition uses).
    pub used: Vec<String>,
    /// Set when the lists named expand to more than [`MAX_ITEMS`] items in all: the text then
    /// holds only the first ones, and the caller must refuse the condition.
    pub overflow: bool,
    /// Pieces of `text` in order; each either copied from the original or an expansion.
    segments: Vec<Segment>,
    original_len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    new_start: usize,
    original_start: usize,
    /// Copied text maps byte for byte; an expansion maps every offset to the list name.
    copied: bool,
}

impl Substituted {
    /// Maps a byte offset in [`Substituted::text`] back to the original text. An offset inside
    /// an expanded list maps to the start of the list name; the end maps to the end.
    pub fn original_offset(&self, offset_in_new_text: usize) -> usize {
        if offset_in_new_text >= self.text.len() {
            return self.original_len;
        }
        let index = self
            .segments
            .partition_point(|s| s.new_start <= offset_in_new_text);
        let Some(segment) = index.checked_sub(1).map(|i| self.segments[i]) else {
            return offset_in_new_text;
        };
        if segment.copied {
            segment.original_start + (offset_in_new_text - segment.new_start)
        } else {
            segment.original_start
        }
    }
}

/// Replaces every list name in `text` by its items (see the module comment for the rules).
/// `lookup` returns the items of a list by name, verbatim as written in YAML, or `None` when
/// the name is not a list.
pub fn substitute_lists<'a>(
    text: &str,
    lookup: impl Fn(&str) -> Option<&'a [String]>,
) -> Substituted {
    let bytes = text.as_bytes();
    let mut builder = Builder::new(text);
    // Items visited, list names included: empty lists naming each other twice per level
    // produce nothing yet would take exponential time.
    let mut room = MAX_ITEMS;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if is_quote(c) {
            i = end_of_quoted(bytes, i);
            continue;
        }
        if is_delimiter(c) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_delimiter(bytes[i]) && !is_quote(bytes[i]) {
            i += 1;
        }
        // A word glued to a quote (`foo"bar"`) is not bounded, as in Falco.
        let bounded = (start == 0 || is_delimiter(bytes[start - 1]))
            && (i == bytes.len() || is_delimiter(bytes[i]));
        if !bounded {
            continue;
        }
        let name = &text[start..i];
        if let Some(items) = lookup(name) {
            let mut flat = Vec::new();
            let mut expanding = vec![name];
            if !flatten_items(
                items,
                &lookup,
                &mut expanding,
                &mut flat,
                &mut builder.out.used,
                &mut room,
            ) {
                builder.out.overflow = true;
                break;
            }
            builder.substitute(start, i, &flat);
        }
    }
    builder.finish()
}

/// How deep lists naming lists are followed; deeper names stay as they are, which keeps a
/// hostile rules file from exhausting the stack.
const MAX_NESTED_LISTS: usize = 64;

/// List items one condition may visit while expanding, all lists and nested list names
/// together: upstream conditions stay under a few thousand; lists naming lists twice per level
/// would otherwise grow exponentially.
pub const MAX_ITEMS: usize = 200_000;

/// Appends `items` to `flat`, replacing items that name a list (other than one being expanded,
/// which would be a cycle) by that list's items. Records every list name expanded in `used`.
/// Returns false, having stopped, once more than `room` items were visited.
fn flatten_items<'a, 'n>(
    items: &'a [String],
    lookup: &impl Fn(&str) -> Option<&'a [String]>,
    expanding: &mut Vec<&'n str>,
    flat: &mut Vec<&'a str>,
    used: &mut Vec<String>,
    room: &mut usize,
) -> bool
where
    'a: 'n,
{
    if let Some(name) = expanding.last() {
        record_use(used, name);
    }
    for item in items {
        if *room == 0 {
            return false;
        }
        *room -= 1;
        match lookup(item) {
            Some(nested)
                if expanding.len() < MAX_NESTED_LISTS && !expanding.contains(&item.as_str()) =>
            {
                expanding.push(item);
                let fits = flatten_items(nested, lookup, expanding, flat, used, room);
                expanding.pop();
                if !fits {
                    return false;
                }
            }
            _ => flat.push(item),
        }
    }
    true
}

fn record_use(used: &mut Vec<String>, name: &str) {
    if !used.iter().any(|u| u == name) {
        used.push(name.to_string());
    }
}

/// Falco's blanks for list substitution (`" \t\n\r"`).
fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_delimiter(c: u8) -> bool {
    is_blank(c) || matches!(c, b'(' | b')' | b',' | b'=')
}

fn is_quote(c: u8) -> bool {
    c == b'"' || c == b'\''
}

/// The index just past the quoted string starting at `start` (or the end of an unterminated
/// one). A backslash always escapes the next byte, which is ASCII-safe for UTF-8.
fn end_of_quoted(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Builds the new text and its segment map, consuming the original left to right.
struct Builder<'t> {
    original: &'t str,
    /// Everything before this offset of the original has been copied or dropped.
    consumed: usize,
    out: Substituted,
}

impl<'t> Builder<'t> {
    fn new(original: &'t str) -> Self {
        let out = Substituted {
            text: String::with_capacity(original.len()),
            used: Vec::new(),
            overflow: false,
            segments: Vec::new(),
            original_len: original.len(),
        };
        Builder {
            original,
            consumed: 0,
            out,
        }
    }

    fn substitute(&mut self, start: usize, end: usize, items: &[&str]) {
        let (start, end) = if items.is_empty() {
            self.widen_to_adjacent_comma(start, end)
        } else {
            (start, end)
        };
        self.copy_until(start);
        if !items.is_empty() {
            self.push_segment(start, false);
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    self.out.text.push_str(", ");
                }
                write_item(&mut self.out.text, item);
            }
        }
        self.consumed = end;
    }

    /// An empty list takes one comma with it so `(a, empty)` and `(empty, a)` stay lists.
    /// A comma already consumed by an earlier empty list is not available again.
    fn widen_to_adjacent_comma(&self, start: usize, end: usize) -> (usize, usize) {
        let bytes = self.original.as_bytes();
        let mut left = start;
        while left > self.consumed && is_blank(bytes[left - 1]) {
            left -= 1;
        }
        if left > self.consumed && bytes[left - 1] == b',' {
            return (left - 1, end);
        }
        let mut right = end;
        while right < bytes.len() && is_blank(bytes[right]) {
            right += 1;
        }
        if right < bytes.len() && bytes[right] == b',' {
            return (start, right + 1);
        }
        (start, end)
    }

    fn copy_until(&mut self, end: usize) {
        if end > self.consumed {
            self.push_segment(self.consumed, true);
            self.out.text.push_str(&self.original[self.consumed..end]);
        }
        self.consumed = end;
    }

    fn push_segment(&mut self, original_start: usize, copied: bool) {
        self.out.segments.push(Segment {
            new_start: self.out.text.len(),
            original_start,
            copied,
        });
    }

    fn finish(mut self) -> Substituted {
        self.copy_until(self.original.len());
        self.out
    }
}

/// Writes one list item so the parser reads back the value Falco would compare.
///
/// Falco's rule (`quote_item`) wraps an item in double quotes, without escaping, when it holds
/// a space and does not already start with a quote; everything else goes in verbatim. We do
/// the same whenever Falco's text means the item, so escapes inside behave identically. Items
/// Falco mangles (`a,b` becomes two values; `x=y`, `it's`, a tab without a space or the empty
/// string do not parse) are quoted with `\\` and `\"` escaped, so their YAML value survives.
fn write_item(out: &mut String, item: &str) {
    let falco_verbatim = item.starts_with(['"', '\'']) || is_bare_value(item);
    // Inside Falco's added quotes only a `"` or a final backslash would break the string.
    let falco_quoted = item.contains(' ') && !item.contains('"') && !item.ends_with('\\');
    if falco_verbatim {
        out.push_str(item);
    } else if falco_quoted {
        out.push('"');
        out.push_str(item);
        out.push('"');
    } else {
        out.push('"');
        for c in item.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
}

/// Whether the parser reads `item` unquoted as exactly one value.
fn is_bare_value(item: &str) -> bool {
    !item.is_empty() && !item.contains(ends_bare_value)
}
