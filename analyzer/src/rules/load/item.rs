//! One item of a rules file: the flat struct of optional spanned keys ([`RawItem`]), then
//! validated into what it asks for ([`Item`]), following falco `rule_loader_reader.cpp`.

use std::sync::Arc;

use serde_saphyr::Spanned;

use super::exceptions::{self, ExceptionSpec};
use super::yaml::{self, Node, Pos};
use super::Exception;
use super::{LoadError, Origin, PluginRequirement, Priority};

/// Error collection for one file. `label` names the item being read ("rule 'X'").
pub(super) struct Cx<'a> {
    pub file: Arc<str>,
    pub src: &'a str,
    pub label: Option<String>,
    errors: Vec<LoadError>,
    warnings: Vec<LoadError>,
}

impl<'a> Cx<'a> {
    pub fn new(file: Arc<str>, src: &'a str) -> Self {
        Cx {
            file,
            src,
            label: None,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn make(&self, pos: Pos, message: String) -> LoadError {
        LoadError {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
            item: self.label.clone(),
            message,
        }
    }

    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        let e = self.make(pos, message.into());
        self.errors.push(e);
    }

    pub fn warn(&mut self, pos: Pos, message: impl Into<String>) {
        let w = self.make(pos, message.into());
        self.warnings.push(w);
    }

    pub fn origin(&self, pos: Pos) -> Origin {
        Origin {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
        }
    }

    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    pub fn finish(self) -> (Vec<LoadError>, Vec<LoadError>) {
        (self.errors, self.warnings)
    }
}

/// The keys an item may have (Falco's rules schema, `rule_json_schema.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    Rule,
    Macro,
    List,
    RequiredEngineVersion,
    RequiredPluginVersions,
    Desc,
    Condition,
    Output,
    Priority,
    Enabled,
    Tags,
    Exceptions,
    Source,
    Append,
    Override,
    WarnEvttypes,
    SkipIfUnknownFilter,
    Capture,
    CaptureDuration,
    CaptureEvents,
    CaptureFilesize,
    Items,
}

impl Key {
    const ALL: [Key; 22] = [
        Key::Rule,
        Key::Macro,
        Key::List,
        Key::RequiredEngineVersion,
        Key::RequiredPluginVersions,
        Key::Desc,
        Key::Condition,
        Key::Output,
        Key::Priority,
        Key::Enabled,
        Key::Tags,
        Key::Exceptions,
        Key::Source,
        Key::Append,
        Key::Override,
        Key::WarnEvttypes,
        Key::SkipIfUnknownFilter,
        Key::Capture,
        Key::CaptureDuration,
        Key::CaptureEvents,
        Key::CaptureFilesize,
        Key::Items,
    ];

    /// The keys that say what an item is; exactly one per item.
    const KINDS: [Key; 5] = [
        Key::Rule,
        Key::Macro,
        Key::List,
        Key::RequiredEngineVersion,
        Key::RequiredPluginVersions,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Key::Rule => "rule",
            Key::Macro => "macro",
            Key::List => "list",
            Key::RequiredEngineVersion => "required_engine_version",
            Key::RequiredPluginVersions => "required_plugin_versions",
            Key::Desc => "desc",
            Key::Condition => "condition",
            Key::Output => "output",
            Key::Priority => "priority",
            Key::Enabled => "enabled",
            Key::Tags => "tags",
            Key::Exceptions => "exceptions",
            Key::Source => "source",
            Key::Append => "append",
            Key::Override => "override",
            Key::WarnEvttypes => "warn_evttypes",
            Key::SkipIfUnknownFilter => "skip-if-unknown-filter",
            Key::Capture => "capture",
            Key::CaptureDuration => "capture_duration",
            Key::CaptureEvents => "capture_events",
            Key::CaptureFilesize => "capture_filesize",
            Key::Items => "items",
        }
    }

    fn from_name(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|k| k.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The keys each kind of item accepts besides its kind key.
const LIST_KEYS: &[Key] = &[Key::Items, Key::Append, Key::Override];
const MACRO_KEYS: &[Key] = &[Key::Condition, Key::Append, Key::Override];
const RULE_KEYS: &[Key] = &[
    Key::Desc,
    Key::Condition,
    Key::Output,
    Key::Priority,
    Key::Enabled,
    Key::Tags,
    Key::Exceptions,
    Key::Source,
    Key::Append,
    Key::Override,
    Key::WarnEvttypes,
    Key::SkipIfUnknownFilter,
    Key::Capture,
    Key::CaptureDuration,
    Key::CaptureEvents,
    Key::CaptureFilesize,
];

/// Rule keys `override` may append to / replace (falco `rule_loader_reader.cpp`).
const RULE_APPENDABLE: &[Key] = &[
    Key::Condition,
    Key::Output,
    Key::Desc,
    Key::Tags,
    Key::Exceptions,
];
const RULE_REPLACEABLE: &[Key] = &[
    Key::Condition,
    Key::Output,
    Key::Desc,
    Key::Priority,
    Key::Tags,
    Key::Exceptions,
    Key::Enabled,
    Key::WarnEvttypes,
    Key::SkipIfUnknownFilter,
];

/// A key and its value.
pub(super) struct Entry {
    pub key: Pos,
    pub node: Spanned<Node>,
}

impl Entry {
    pub fn pos(&self) -> Pos {
        Pos::of(&self.node.referenced)
    }
}

/// One item as written: every key optional, each with its position. Unknown and duplicate keys
/// have been reported.
pub(super) struct RawItem {
    pub pos: Pos,
    fields: [Option<Entry>; Key::ALL.len()],
    /// Some keys were unknown or repeated: "missing key" errors would only repeat them (a
    /// misspelt key is also a missing one), so they are not reported.
    key_errors: bool,
}

impl RawItem {
    pub fn get(&self, key: Key) -> Option<&Entry> {
        self.fields[key.index()].as_ref()
    }

    fn take(&mut self, key: Key) -> Option<Entry> {
        self.fields[key.index()].take()
    }

    fn has(&self, key: Key) -> bool {
        self.fields[key.index()].is_some()
    }

    fn present(&self) -> impl Iterator<Item = (Key, &Entry)> + '_ {
        Key::ALL
            .into_iter()
            .filter_map(|k| self.get(k).map(|e| (k, e)))
    }

    /// Reads a mapping's keys into the struct; unknown and duplicate keys are returned as
    /// errors, to report once the item's name is known.
    fn from_map(
        pos: Pos,
        entries: Vec<(Spanned<String>, Spanned<Node>)>,
    ) -> (Self, Vec<(Pos, String)>) {
        let mut item = RawItem {
            pos,
            fields: Default::default(),
            key_errors: false,
        };
        let mut errors = Vec::new();
        for (key, node) in entries {
            let key_pos = Pos::of(&key.referenced);
            match Key::from_name(&key.value) {
                Some(k) if item.has(k) => {
                    errors.push((key_pos, format!("duplicate key '{}'", k.name())));
                }
                Some(k) => item.fields[k.index()] = Some(Entry { key: key_pos, node }),
                None => errors.push((
                    key_pos,
                    unknown_key_message(&key.value, Key::ALL.iter().map(|k| k.name())),
                )),
            }
        }
        item.key_errors = !errors.is_empty();
        (item, errors)
    }

    /// Reports a missing key, unless key errors already explain it.
    fn missing(&self, message: &str, cx: &mut Cx) {
        if self.key_errors {
            // Still an error for the item, already reported.
            return;
        }
        cx.error(self.pos, message);
    }
}

/// `unknown key 'condtion' (did you mean 'condition'?)`.
pub(super) fn unknown_key_message<'k>(key: &str, known: impl Iterator<Item = &'k str>) -> String {
    let best = known
        .map(|k| (edit_distance(key, k), k))
        .filter(|&(d, k)| d <= 2 && d < k.len())
        .min();
    match best {
        Some((_, k)) => format!("unknown key '{key}' (did you mean '{k}'?)"),
        None => format!("unknown key '{key}'"),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    // Only near-equal lengths can be within 2 edits; keys are short.
    if a.len().abs_diff(b.len()) > 2 || a.len() > 32 {
        return usize::MAX;
    }
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

// ---------------------------------------------------------------------------------------------
// Typed items

/// How an item changes an existing definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// Defines, or redefines (replaces) by name.
    Define,
    /// `append: true` or `override: {items|condition: append}`: the definition must exist.
    Append,
    /// `override: {items|condition: replace}`: the definition must exist.
    Replace,
}

pub(super) struct ListItem {
    pub name: String,
    pub items: Vec<String>,
    pub change: Change,
    pub origin: Origin,
}

pub(super) struct MacroItem {
    pub name: String,
    pub condition: String,
    pub condition_origin: Origin,
    pub change: Change,
    pub origin: Origin,
}

/// A complete rule definition.
pub(super) struct NewRule {
    pub name: String,
    pub desc: String,
    pub condition: String,
    pub condition_origin: Origin,
    pub output: String,
    pub priority: Priority,
    pub enabled: bool,
    pub tags: Vec<String>,
    pub source: String,
    pub source_pos: Pos,
    pub exceptions: Vec<Exception>,
    pub warn_evttypes: bool,
    pub skip_if_unknown_filter: bool,
    pub capture: bool,
    pub capture_duration: Option<u64>,
    pub capture_events: Option<u64>,
    pub capture_filesize: Option<u64>,
    pub origin: Origin,
}

/// Keys given to append to or replace in an existing rule.
#[derive(Default)]
pub(super) struct RuleUpdate {
    pub condition: Option<(String, Origin)>,
    pub output: Option<String>,
    pub desc: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Exceptions to merge by name (append).
    pub exceptions: Option<Vec<ExceptionSpec>>,
    /// Exceptions that replace the rule's (replace).
    pub new_exceptions: Option<Vec<Exception>>,
    pub priority: Option<Priority>,
    pub enabled: Option<bool>,
    pub warn_evttypes: Option<bool>,
    pub skip_if_unknown_filter: Option<bool>,
}

pub(super) enum RuleItem {
    Define(Box<NewRule>),
    /// `rule` and `enabled` only: enables or disables an existing rule.
    Enable {
        name: String,
        enabled: bool,
        origin: Origin,
    },
    /// `append: true` (condition and exceptions) or `override:`; append first, then replace.
    Update {
        name: String,
        origin: Origin,
        append: Option<Box<RuleUpdate>>,
        replace: Option<Box<RuleUpdate>>,
    },
}

pub(super) enum Item {
    EngineVersion(String),
    PluginVersions(Vec<PluginRequirement>),
    List(ListItem),
    Macro(MacroItem),
    Rule(RuleItem),
}

impl Item {
    /// The kind and name, to tell later items why a name they refer to is missing.
    pub fn kind_and_name(&self) -> Option<(&'static str, &str)> {
        match self {
            Item::List(l) => Some(("list", &l.name)),
            Item::Macro(m) => Some(("macro", &m.name)),
            Item::Rule(RuleItem::Define(r)) => Some(("rule", &r.name)),
            Item::Rule(RuleItem::Enable { name, .. } | RuleItem::Update { name, .. }) => {
                Some(("rule", name))
            }
            Item::EngineVersion(_) | Item::PluginVersions(_) => None,
        }
    }
}

/// Reads one element of a rules document. `None` when it has errors (all reported) or is null;
/// `failed_name` then holds the kind and name if they could be read.
pub(super) fn parse_item(
    node: Spanned<Node>,
    cx: &mut Cx,
    failed_name: &mut Option<(&'static str, String)>,
) -> Option<Item> {
    cx.label = None;
    let pos = Pos::of(&node.referenced);
    let entries = match node.value {
        Node::Null => return None, // `- ` alone: skipped, as Falco does
        Node::Map(entries) => entries,
        other => {
            cx.error(
                pos,
                format!(
                    "each item must be a mapping (a rule, macro, list, required_engine_version or required_plugin_versions), not {}",
                    yaml::kind(&other)
                ),
            );
            return None;
        }
    };
    let errors_before = cx.error_count();
    let (mut raw, key_errors) = RawItem::from_map(pos, entries);
    let report_key_errors = |cx: &mut Cx| {
        for (pos, message) in &key_errors {
            cx.error(*pos, message.clone());
        }
    };

    let kinds: Vec<Key> = Key::KINDS.into_iter().filter(|&k| raw.has(k)).collect();
    let Some(&kind) = kinds.first() else {
        report_key_errors(cx);
        raw.missing(
            "item has none of the keys rule, macro, list, required_engine_version, required_plugin_versions",
            cx,
        );
        return None;
    };
    if let Some(&second) = kinds.get(1) {
        report_key_errors(cx);
        let at = raw.get(second).map_or(pos, |e| e.key);
        cx.error(
            at,
            format!(
                "item has both '{}' and '{}'; an item defines one thing",
                kind.name(),
                second.name()
            ),
        );
        return None;
    }

    // Name first, so later errors say which item they are about.
    let name = match kind {
        Key::Rule | Key::Macro | Key::List => {
            let entry = raw.take(kind)?;
            let name = string(&entry, kind, cx);
            if let Some(name) = &name {
                cx.label = Some(format!("{} '{}'", kind.name(), name));
                *failed_name = Some((kind.name(), name.clone()));
            }
            name
        }
        _ => None,
    };
    report_key_errors(cx);

    let allowed: &[Key] = match kind {
        Key::List => LIST_KEYS,
        Key::Macro => MACRO_KEYS,
        Key::Rule => RULE_KEYS,
        _ => &[],
    };
    for (key, entry) in raw.present() {
        if key != kind && !allowed.contains(&key) {
            cx.error(
                entry.key,
                format!("key '{}' does not belong in a {}", key.name(), kind.name()),
            );
        }
    }

    let item = match kind {
        Key::RequiredEngineVersion => engine_version(&mut raw, cx),
        Key::RequiredPluginVersions => plugin_versions(&mut raw, cx),
        Key::List => name.and_then(|n| list(n, &mut raw, cx)),
        Key::Macro => name.and_then(|n| macro_item(n, &mut raw, cx)),
        _ => name.and_then(|n| rule(n, &mut raw, cx)),
    };
    if cx.error_count() > errors_before {
        return None;
    }
    *failed_name = None;
    item
}

// ---------------------------------------------------------------------------------------------
// Scalars

/// A non-empty string scalar (Falco: "Mapping for key is empty", "Value must be non-empty").
pub(super) fn string(entry: &Entry, key: Key, cx: &mut Cx) -> Option<String> {
    string_node(&entry.node, key.name(), cx)
}

pub(super) fn string_node(node: &Spanned<Node>, key: &str, cx: &mut Cx) -> Option<String> {
    let pos = Pos::of(&node.referenced);
    match yaml::scalar(node, cx.src) {
        Some(s) if s.is_empty() => {
            cx.error(pos, format!("'{key}' must not be empty"));
            None
        }
        Some(s) => Some(s.into_owned()),
        None if matches!(node.value, Node::Null) => {
            cx.error(pos, format!("'{key}' must not be empty"));
            None
        }
        None => {
            cx.error(
                pos,
                format!("'{key}' must be a string, not {}", yaml::kind(&node.value)),
            );
            None
        }
    }
}

/// A boolean, spelled as yaml-cpp accepts it (`true`, `yes`, `on`, `y` and their negations,
/// in lower, Capitalised or UPPER case).
fn boolean(entry: &Entry, key: Key, cx: &mut Cx) -> Option<bool> {
    let text = yaml::scalar(&entry.node, cx.src);
    let value = text.as_deref().and_then(|t| {
        const TRUE: [&str; 4] = ["true", "yes", "on", "y"];
        const FALSE: [&str; 4] = ["false", "no", "off", "n"];
        let spelled = |w: &str| t == w || t == w.to_ascii_uppercase() || t == capitalised(w);
        if TRUE.iter().any(|w| spelled(w)) {
            Some(true)
        } else if FALSE.iter().any(|w| spelled(w)) {
            Some(false)
        } else {
            None
        }
    });
    if value.is_none() {
        cx.error(
            entry.pos(),
            format!("'{}' must be true or false", key.name()),
        );
    }
    value
}

fn capitalised(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn unsigned(entry: &Entry, key: Key, cx: &mut Cx) -> Option<u64> {
    let value = yaml::scalar(&entry.node, cx.src).and_then(|t| t.trim().parse::<u64>().ok());
    if value.is_none() {
        cx.error(
            entry.pos(),
            format!("'{}' must be a non-negative integer", key.name()),
        );
    }
    value
}

/// A list of scalars (items, tags). Empty scalars are kept: Falco keeps them too.
fn string_list(entry: &Entry, key: Key, cx: &mut Cx) -> Option<Vec<String>> {
    let Node::Seq(nodes) = &entry.node.value else {
        cx.error(
            entry.pos(),
            format!(
                "'{}' must be a list, not {}",
                key.name(),
                yaml::kind(&entry.node.value)
            ),
        );
        return None;
    };
    let mut out = Vec::with_capacity(nodes.len());
    let mut ok = true;
    for node in nodes {
        match yaml::scalar(node, cx.src) {
            Some(s) => out.push(s.into_owned()),
            None => {
                ok = false;
                cx.error(
                    Pos::of(&node.referenced),
                    format!(
                        "'{}' entries must be strings, not {}",
                        key.name(),
                        yaml::kind(&node.value)
                    ),
                );
            }
        }
    }
    ok.then_some(out)
}

fn optional<T>(
    raw: &RawItem,
    key: Key,
    cx: &mut Cx,
    read: impl FnOnce(&Entry, Key, &mut Cx) -> Option<T>,
) -> Option<T> {
    raw.get(key).and_then(|e| read(e, key, cx))
}

fn priority(entry: &Entry, cx: &mut Cx) -> Option<Priority> {
    let text = string(entry, Key::Priority, cx)?;
    match text.parse() {
        Ok(p) => Some(p),
        Err(e) => {
            cx.error(entry.pos(), format!("{e}"));
            None
        }
    }
}

fn sorted_tags(mut tags: Vec<String>) -> Vec<String> {
    tags.sort();
    tags.dedup();
    tags
}

// ---------------------------------------------------------------------------------------------
// required_engine_version, required_plugin_versions

/// A semver `x.y.z` (with an optional `-pre`/`+build` suffix); returns the numbers.
pub(super) fn semver(text: &str) -> Option<(u64, u64, u64)> {
    let core = text.split(['-', '+']).next()?;
    let mut parts = core.split('.');
    let mut number = || -> Option<u64> {
        let p = parts.next()?;
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let v = (number()?, number()?, number()?);
    parts.next().is_none().then_some(v)
}

fn engine_version(raw: &mut RawItem, cx: &mut Cx) -> Option<Item> {
    let entry = raw.take(Key::RequiredEngineVersion)?;
    let text = string(&entry, Key::RequiredEngineVersion, cx)?;
    let text = text.trim();
    // An old integer engine version N is semver 0.N.0 (falco `get_implicit_engine_version`).
    let version = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        match text.parse::<u32>() {
            Ok(n) => format!("0.{n}.0"),
            Err(_) => text.to_owned(),
        }
    } else {
        text.to_owned()
    };
    if semver(&version).is_none() {
        cx.error(
            entry.pos(),
            format!("cannot parse engine version '{text}': expected \"x.y.z\" semver format"),
        );
        return None;
    }
    Some(Item::EngineVersion(version))
}

fn plugin_versions(raw: &mut RawItem, cx: &mut Cx) -> Option<Item> {
    let entry = raw.take(Key::RequiredPluginVersions)?;
    let Node::Seq(plugins) = &entry.node.value else {
        cx.error(
            entry.pos(),
            "'required_plugin_versions' must be a list of {name, version} entries",
        );
        return None;
    };
    let mut out = Vec::new();
    for plugin in plugins {
        let pos = Pos::of(&plugin.referenced);
        let Some(first) = name_version(plugin, true, cx) else {
            continue;
        };
        let mut names = std::collections::HashSet::from([first.0.clone()]);
        let mut alternatives = vec![(first.0, first.1)];
        if let Some(alts) = first.2 {
            match &alts.value {
                Node::Seq(alts) => {
                    for alt in alts {
                        if let Some((n, v, _)) = name_version(alt, false, cx) {
                            if !names.insert(n.clone()) {
                                cx.error(
                                    Pos::of(&alt.referenced),
                                    format!("plugin '{n}' has more than one version requirement"),
                                );
                            }
                            alternatives.push((n, v));
                        }
                    }
                }
                other => cx.error(
                    Pos::of(&alts.referenced),
                    format!("'alternatives' must be a list, not {}", yaml::kind(other)),
                ),
            }
        }
        out.push(PluginRequirement {
            alternatives,
            origin: cx.origin(pos),
        });
    }
    Some(Item::PluginVersions(out))
}

/// `{name, version}` (and `alternatives` when allowed) of a plugin requirement.
fn name_version<'n>(
    node: &'n Spanned<Node>,
    allow_alternatives: bool,
    cx: &mut Cx,
) -> Option<(String, String, Option<&'n Spanned<Node>>)> {
    let pos = Pos::of(&node.referenced);
    let Node::Map(entries) = &node.value else {
        cx.error(
            pos,
            format!(
                "a plugin version requirement must be a mapping, not {}",
                yaml::kind(&node.value)
            ),
        );
        return None;
    };
    let (mut name, mut version, mut alternatives) = (None, None, None);
    let mut known: Vec<&str> = vec!["name", "version"];
    if allow_alternatives {
        known.push("alternatives");
    }
    for (key, value) in entries {
        let key_pos = Pos::of(&key.referenced);
        let slot = match key.value.as_str() {
            "name" => &mut name,
            "version" => &mut version,
            "alternatives" if allow_alternatives => &mut alternatives,
            other => {
                cx.error(key_pos, unknown_key_message(other, known.iter().copied()));
                continue;
            }
        };
        if slot.is_some() {
            cx.error(key_pos, format!("duplicate key '{}'", key.value));
        }
        *slot = Some(value);
    }
    let Some(name) = name.and_then(|n| string_node(n, "name", cx)) else {
        if name.is_none() {
            cx.error(pos, "plugin version requirement has no 'name'");
        }
        return None;
    };
    let version_node = version;
    let Some(version) = version_node.and_then(|v| string_node(v, "version", cx)) else {
        if version_node.is_none() {
            cx.error(pos, format!("plugin '{name}' has no 'version'"));
        }
        return None;
    };
    if semver(&version).is_none() {
        cx.error(
            version_node.map_or(pos, |v| Pos::of(&v.referenced)),
            format!("invalid required version '{version}' for plugin '{name}'"),
        );
        return None;
    }
    Some((name, version, alternatives))
}

// ---------------------------------------------------------------------------------------------
// override

/// The `override` mapping: key -> (append?, position of the key).
struct Overrides {
    entries: Vec<(Key, bool, Pos)>,
}

impl Overrides {
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn get(&self, key: Key) -> Option<bool> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|&(_, a, _)| a)
    }
}

/// Reads `override:`; `appendable`/`replaceable` are the keys the item's kind allows.
fn overrides(
    entry: &Entry,
    appendable: &[Key],
    replaceable: &[Key],
    cx: &mut Cx,
) -> Option<Overrides> {
    let Node::Map(pairs) = &entry.node.value else {
        cx.error(
            entry.pos(),
            format!(
                "'override' must be a mapping of key: append|replace, not {}",
                yaml::kind(&entry.node.value)
            ),
        );
        return None;
    };
    let errors_before = cx.error_count();
    let mut out = Overrides {
        entries: Vec::new(),
    };
    for (key, value) in pairs {
        let key_pos = Pos::of(&key.referenced);
        let Some(k) = Key::from_name(&key.value) else {
            let known = appendable.iter().chain(replaceable).map(|k| k.name());
            cx.error(key_pos, unknown_key_message(&key.value, known));
            continue;
        };
        if out.get(k).is_some() {
            cx.error(
                key_pos,
                format!(
                    "'{}' is overridden twice (append and replace cannot both apply to one key)",
                    k.name()
                ),
            );
            continue;
        }
        let op = yaml::scalar(value, cx.src);
        let (can_append, can_replace) = (appendable.contains(&k), replaceable.contains(&k));
        match op.as_deref() {
            Some("append") if can_append => out.entries.push((k, true, key_pos)),
            Some("replace") if can_replace => out.entries.push((k, false, key_pos)),
            Some("append") if can_replace => cx.error(
                key_pos,
                format!(
                    "key '{}' cannot be appended to, use 'replace' instead",
                    k.name()
                ),
            ),
            Some("append" | "replace") => {
                cx.error(key_pos, format!("key '{}' cannot be overridden", k.name()));
            }
            _ => {
                let allowed: Vec<&str> = [(can_append, "append"), (can_replace, "replace")]
                    .into_iter()
                    .filter_map(|(ok, w)| ok.then_some(w))
                    .collect();
                let op = op.map_or_else(|| yaml::kind(&value.value).to_owned(), |o| o.into_owned());
                cx.error(
                    Pos::of(&value.referenced),
                    format!(
                        "invalid override operation for key '{}': '{}' (allowed: {})",
                        k.name(),
                        op,
                        if allowed.is_empty() {
                            "none".to_owned()
                        } else {
                            allowed.join(", ")
                        }
                    ),
                );
            }
        }
    }
    if out.is_empty() && cx.error_count() == errors_before {
        cx.error(entry.pos(), "'override' names no key");
    }
    (cx.error_count() == errors_before).then_some(out)
}

/// `append: true` / `override` of a list or macro, whose only content key is `content`.
fn simple_change(raw: &RawItem, content: Key, cx: &mut Cx) -> Option<Change> {
    let append = optional(raw, Key::Append, cx, boolean).unwrap_or(false);
    if append {
        cx.warn(raw.pos, WARNING_APPEND);
    }
    let Some(entry) = raw.get(Key::Override) else {
        return Some(if append {
            Change::Append
        } else {
            Change::Define
        });
    };
    let ov = overrides(entry, &[content], &[content], cx)?;
    if append {
        cx.error(entry.key, ERROR_OVERRIDE_APPEND);
        return None;
    }
    match ov.get(content) {
        Some(true) => Some(Change::Append),
        Some(false) => Some(Change::Replace),
        None => None,
    }
}

const WARNING_APPEND: &str = "'append' is deprecated: add an 'append' entry (e.g. 'condition: append') under 'override' instead";
const ERROR_OVERRIDE_APPEND: &str = "'override' and 'append: true' cannot be used together: add an 'append' entry (e.g. 'condition: append') under 'override' instead";

// ---------------------------------------------------------------------------------------------
// list, macro

/// Falco's list names: a bare string (`[^()"'[:space:]=,]+`).
fn valid_list_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '(' | ')' | '"' | '\'' | '=' | ','))
}

/// Falco's macro names: an identifier (`[a-zA-Z]+[a-zA-Z0-9_]*`).
fn valid_macro_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn list(name: String, raw: &mut RawItem, cx: &mut Cx) -> Option<Item> {
    if !valid_list_name(&name) {
        cx.error(
            raw.pos,
            "invalid list name: it must not contain blanks, quotes, parentheses, '=' or ','",
        );
    }
    let items = match raw.get(Key::Items) {
        Some(entry) => string_list(entry, Key::Items, cx),
        None => {
            raw.missing("missing key 'items'", cx);
            None
        }
    };
    let change = simple_change(raw, Key::Items, cx);
    Some(Item::List(ListItem {
        name,
        items: items?,
        change: change?,
        origin: cx.origin(raw.pos),
    }))
}

fn macro_item(name: String, raw: &mut RawItem, cx: &mut Cx) -> Option<Item> {
    if !valid_macro_name(&name) {
        cx.error(
            raw.pos,
            "invalid macro name: it must be a letter followed by letters, digits or '_'",
        );
    }
    let condition = match raw.get(Key::Condition) {
        Some(entry) => string(entry, Key::Condition, cx).map(|c| (c, cx.origin(entry.pos()))),
        None => {
            raw.missing("missing key 'condition'", cx);
            None
        }
    };
    let change = simple_change(raw, Key::Condition, cx);
    let (condition, condition_origin) = condition?;
    Some(Item::Macro(MacroItem {
        name,
        condition,
        condition_origin,
        change: change?,
        origin: cx.origin(raw.pos),
    }))
}

// ---------------------------------------------------------------------------------------------
// rule

const WARNING_ENABLED: &str =
    "an item with only 'rule' and 'enabled' is deprecated: add 'override: {enabled: replace}'";

fn rule(name: String, raw: &mut RawItem, cx: &mut Cx) -> Option<Item> {
    let origin = cx.origin(raw.pos);
    let append = optional(raw, Key::Append, cx, boolean).unwrap_or(false);
    if append {
        cx.warn(raw.pos, WARNING_APPEND);
    }
    if let Some(entry) = raw.get(Key::Override) {
        if append {
            cx.error(entry.key, ERROR_OVERRIDE_APPEND);
            return None;
        }
        return rule_override(name, origin, raw, cx);
    }
    if append {
        return rule_append(name, origin, raw, cx);
    }
    let defines = [Key::Condition, Key::Output, Key::Desc, Key::Priority];
    if !defines.iter().any(|&k| raw.has(k)) {
        // Falco: a rule item without condition, output, desc and priority must have
        // `enabled`, and sets it on the existing rule.
        let Some(entry) = raw.get(Key::Enabled) else {
            raw.missing(
                "missing keys: a new rule needs 'condition', 'output', 'desc' and 'priority' (an item with only 'rule' and 'enabled' enables or disables an existing rule)",
                cx,
            );
            return None;
        };
        let enabled = boolean(entry, Key::Enabled, cx)?;
        cx.warn(raw.pos, WARNING_ENABLED);
        warn_ignored(raw, &[Key::Rule, Key::Enabled], "with only 'enabled'", cx);
        return Some(Item::Rule(RuleItem::Enable {
            name,
            enabled,
            origin,
        }));
    }
    rule_define(name, origin, raw, cx)
}

/// Warns about keys Falco ignores in this kind of item.
fn warn_ignored(raw: &RawItem, used: &[Key], how: &str, cx: &mut Cx) {
    for (key, entry) in raw.present() {
        if !used.contains(&key) && key != Key::Append && key != Key::Override {
            cx.warn(
                entry.key,
                format!("key '{}' is ignored in a rule {how}", key.name()),
            );
        }
    }
}

/// A key a new rule must have.
fn required<'r>(raw: &'r RawItem, key: Key, cx: &mut Cx) -> Option<&'r Entry> {
    let entry = raw.get(key);
    if entry.is_none() {
        raw.missing(&format!("missing key '{}'", key.name()), cx);
    }
    entry
}

fn rule_define(name: String, origin: Origin, raw: &RawItem, cx: &mut Cx) -> Option<Item> {
    let errors_before = cx.error_count();
    let condition = required(raw, Key::Condition, cx)
        .and_then(|e| string(e, Key::Condition, cx).map(|c| (c, cx.origin(e.pos()))));
    let output = required(raw, Key::Output, cx).and_then(|e| string(e, Key::Output, cx));
    let desc = required(raw, Key::Desc, cx).and_then(|e| string(e, Key::Desc, cx));
    let priority = required(raw, Key::Priority, cx).and_then(|e| priority(e, cx));
    let (source, source_pos) = match raw.get(Key::Source) {
        Some(e) => (string(e, Key::Source, cx), e.pos()),
        None => (Some("syscall".to_owned()), raw.pos),
    };
    let enabled = optional(raw, Key::Enabled, cx, boolean);
    let warn_evttypes = optional(raw, Key::WarnEvttypes, cx, boolean);
    let skip = optional(raw, Key::SkipIfUnknownFilter, cx, boolean);
    let capture = optional(raw, Key::Capture, cx, boolean);
    let capture_duration = optional(raw, Key::CaptureDuration, cx, unsigned);
    let capture_events = optional(raw, Key::CaptureEvents, cx, unsigned);
    let capture_filesize = optional(raw, Key::CaptureFilesize, cx, unsigned);
    let tags = optional(raw, Key::Tags, cx, string_list);
    let exceptions = raw
        .get(Key::Exceptions)
        .map(|e| exceptions::parse_complete(&e.node, cx))
        .unwrap_or_default();
    if cx.error_count() > errors_before {
        return None;
    }
    let (condition, condition_origin) = condition?;
    Some(Item::Rule(RuleItem::Define(Box::new(NewRule {
        name,
        desc: desc?,
        condition,
        condition_origin,
        // Falco trims the output (folded scalars end with a newline).
        output: output?.trim().to_owned(),
        priority: priority?,
        enabled: enabled.unwrap_or(true),
        tags: sorted_tags(tags.unwrap_or_default()),
        source: source?,
        source_pos,
        exceptions,
        warn_evttypes: warn_evttypes.unwrap_or(true),
        skip_if_unknown_filter: skip.unwrap_or(false),
        capture: capture.unwrap_or(false),
        capture_duration,
        capture_events,
        capture_filesize,
        origin,
    }))))
}

/// Deprecated `append: true`: Falco appends the condition and exceptions, nothing else.
fn rule_append(name: String, origin: Origin, raw: &RawItem, cx: &mut Cx) -> Option<Item> {
    let errors_before = cx.error_count();
    let mut update = RuleUpdate::default();
    if let Some(e) = raw.get(Key::Condition) {
        update.condition = string(e, Key::Condition, cx).map(|c| (c, cx.origin(e.pos())));
    }
    if let Some(e) = raw.get(Key::Exceptions) {
        update.exceptions = Some(exceptions::parse(&e.node, exceptions::Mode::Append, cx));
    }
    if !raw.has(Key::Condition) && !raw.has(Key::Exceptions) {
        cx.error(
            raw.pos,
            "a rule with 'append: true' must have 'condition' or 'exceptions'",
        );
    }
    warn_ignored(
        raw,
        &[Key::Rule, Key::Condition, Key::Exceptions],
        "with 'append: true' (only 'condition' and 'exceptions' are appended)",
        cx,
    );
    (cx.error_count() == errors_before).then_some(Item::Rule(RuleItem::Update {
        name,
        origin,
        append: Some(Box::new(update)),
        replace: None,
    }))
}

fn rule_override(name: String, origin: Origin, raw: &RawItem, cx: &mut Cx) -> Option<Item> {
    let entry = raw.get(Key::Override)?;
    let ov = overrides(entry, RULE_APPENDABLE, RULE_REPLACEABLE, cx)?;
    let errors_before = cx.error_count();
    // Every overridden key must be given, and every given overridable key overridden.
    for &(key, append, pos) in &ov.entries {
        if !raw.has(key) {
            cx.error(
                pos,
                format!(
                    "{} override for '{}' was specified but '{}' is not defined",
                    if append { "an append" } else { "a replace" },
                    key.name(),
                    key.name()
                ),
            );
        }
    }
    for (key, e) in raw.present() {
        let overridable = RULE_APPENDABLE.contains(&key) || RULE_REPLACEABLE.contains(&key);
        if overridable && ov.get(key).is_none() {
            cx.error(
                e.key,
                format!(
                    "unexpected key '{}': no corresponding entry under 'override' is defined",
                    key.name()
                ),
            );
        }
    }
    let mut used: Vec<Key> = ov.entries.iter().map(|&(k, _, _)| k).collect();
    used.push(Key::Rule);
    warn_ignored(raw, &used, "with 'override'", cx);
    if cx.error_count() > errors_before {
        return None;
    }

    let mut append = RuleUpdate::default();
    let mut replace = RuleUpdate::default();
    let (mut any_append, mut any_replace) = (false, false);
    for &(key, is_append, _) in &ov.entries {
        let Some(e) = raw.get(key) else { continue };
        let update = if is_append {
            any_append = true;
            &mut append
        } else {
            any_replace = true;
            &mut replace
        };
        match key {
            Key::Condition => {
                update.condition = string(e, key, cx).map(|c| (c, cx.origin(e.pos())));
            }
            Key::Output => update.output = string(e, key, cx).map(|o| o.trim().to_owned()),
            Key::Desc => update.desc = string(e, key, cx),
            Key::Tags => update.tags = string_list(e, key, cx).map(sorted_tags),
            Key::Exceptions if is_append => {
                update.exceptions = Some(exceptions::parse(&e.node, exceptions::Mode::Append, cx));
            }
            Key::Exceptions => {
                update.new_exceptions = Some(exceptions::parse_complete(&e.node, cx))
            }
            Key::Priority => update.priority = priority(e, cx),
            Key::Enabled => update.enabled = boolean(e, key, cx),
            Key::WarnEvttypes => update.warn_evttypes = boolean(e, key, cx),
            Key::SkipIfUnknownFilter => update.skip_if_unknown_filter = boolean(e, key, cx),
            _ => {}
        }
    }
    (cx.error_count() == errors_before).then_some(Item::Rule(RuleItem::Update {
        name,
        origin,
        append: any_append.then(|| Box::new(append)),
        replace: any_replace.then(|| Box::new(replace)),
    }))
}
