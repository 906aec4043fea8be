//! Rules files: Falco's YAML rules, lists and macros, loaded into a [`RuleSet`] (see
//! docs/RULES.md for the language).
//!
//! Loading is text-level, like Falco's `rule_loader_reader` and `rule_loader_collector`: items are
//! read, validated and merged (definitions, `append: true`, `override:`, `enabled`-only items),
//! lists that name earlier lists are expanded, and each rule's exceptions are folded into its
//! condition text. Conditions are not parsed here; that is [`super::condition`]'s job.
//!
//! ```
//! use rhf_analyzer::rules::load::{Priority, RuleSet};
//!
//! let mut rules = RuleSet::default();
//! rules
//!     .load_str(
//!         "rules.yaml",
//!         "- list: shells\n  items: [bash, sh]\n\
//!          - rule: Shell\n  desc: a shell ran\n  condition: proc.name in (shells)\n  \
//!          output: shell %proc.name\n  priority: WARNING\n  tags: [host]\n",
//!     )
//!     .unwrap();
//! assert_eq!(rules.list_items("shells").unwrap(), ["bash", "sh"]);
//! assert_eq!(rules.rules[0].priority, Priority::Warning);
//! assert_eq!(rules.set_enabled("tag:host", false), Ok(1));
//! ```
//!
//! Errors carry the file, line and column of the item or key at fault. A file with errors
//! changes nothing, and all of its errors are reported, not only the first.

mod apply;
mod exceptions;
mod item;
mod yaml;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

/// Where something was written: a file and a 1-based line and column (columns count
/// characters). Line and column are 0 when there is no position (an unreadable file).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub file: Arc<str>,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A rule's priority. The order is Falco's: `Emergency` is the smallest value and the most
/// severe, so `a < b` means "a is more severe than b" and a minimum priority keeps the rules with
/// `rule.priority <= min` (see [`Priority::is_at_least`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

impl Priority {
    /// Every priority, most severe first.
    pub const ALL: [Priority; 8] = [
        Priority::Emergency,
        Priority::Alert,
        Priority::Critical,
        Priority::Error,
        Priority::Warning,
        Priority::Notice,
        Priority::Informational,
        Priority::Debug,
    ];

    /// The name Falco prints in alerts (`Warning`, `Informational`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }

    /// True when `self` is as severe as `min` or more (Falco's `-o priority=min` filter).
    pub fn is_at_least(self, min: Priority) -> bool {
        self <= min
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not a priority name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid priority '{0}' (expected one of EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFORMATIONAL or INFO, DEBUG)")]
pub struct ParsePriorityError(pub String);

impl FromStr for Priority {
    type Err = ParsePriorityError;

    /// Case-insensitive; `INFO` is accepted for `Informational` (falco `falco_common.cpp`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("info") {
            return Ok(Priority::Informational);
        }
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParsePriorityError(s.to_owned()))
    }
}

/// A list: `items` are its effective items, with names of earlier lists replaced by their
/// items (recursively); `written` are the items as written, after appends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListDef {
    pub name: String,
    pub items: Vec<String>,
    pub written: Vec<String>,
    /// The item that defined the list last (a redefinition moves it, an append does not).
    pub origin: Origin,
    /// Sequence number of the first definition (shared by lists, macros and rules).
    pub order: usize,
    /// Sequence number of the last definition, append or override.
    pub visibility: usize,
}

/// A macro. `condition` is the text after appends, not parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroDef {
    pub name: String,
    pub condition: String,
    pub origin: Origin,
    /// Where the (first part of the) condition text starts in its file.
    pub condition_origin: Origin,
    /// Sequence number of the first definition. A redefinition keeps it.
    pub order: usize,
    /// Sequence number of the last definition, append or override. As in Falco, macro `m` may
    /// use macro `n` when `n.order < m.visibility`; rules may use every macro.
    pub visibility: usize,
}

/// One element of an exception's value tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExceptionValue {
    Value(String),
    /// A YAML list inside a tuple, for `in`, `pmatch` and `intersects`: rendered `(a, b)`.
    List(Vec<String>),
}

/// A rule exception. `fields`, `comps` and every tuple of `values` have the same length; a
/// single-field exception (`fields: proc.name`) has one field, one comp (`in` by default) and
/// one-element tuples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub name: String,
    pub fields: Vec<String>,
    pub comps: Vec<String>,
    pub values: Vec<Vec<ExceptionValue>>,
    /// `fields` was written as one string: the clause is `field comp (v1, v2, ...)`.
    pub single_field: bool,
    pub origin: Origin,
}

/// A rule after every definition, append and override loaded so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDef {
    pub name: String,
    pub desc: String,
    /// The condition to parse: `raw_condition` with the exceptions folded in, as Falco does:
    /// `(raw) and not (exception 1) and not (exception 2)`; just `raw` when there are none.
    pub condition: String,
    /// The condition text after appends and overrides, before exceptions.
    pub raw_condition: String,
    pub output: String,
    pub priority: Priority,
    pub enabled: bool,
    /// Sorted and without duplicates, as Falco keeps them (a `std::set`).
    pub tags: Vec<String>,
    /// `syscall` unless the rule says otherwise; rules of other sources are loaded (they can be
    /// appended to) but only `syscall` rules can be evaluated.
    pub source: String,
    pub exceptions: Vec<Exception>,
    pub warn_evttypes: bool,
    pub skip_if_unknown_filter: bool,
    pub capture: bool,
    pub capture_duration: Option<u64>,
    pub capture_events: Option<u64>,
    pub capture_filesize: Option<u64>,
    pub origin: Origin,
    /// Where the (first part of the) raw condition text starts in its file.
    pub condition_origin: Origin,
    /// Sequence number of the first definition; a redefinition keeps the rule's place.
    pub order: usize,
}

/// One `required_plugin_versions` entry: any one of the alternatives satisfies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRequirement {
    /// `(name, version)`, the entry's own first.
    pub alternatives: Vec<(String, String)>,
    pub origin: Origin,
}

/// Definitions by name, in order of first definition. Reads like a slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedDefs<T> {
    defs: Vec<T>,
    index: HashMap<String, usize>,
}

impl<T> Default for NamedDefs<T> {
    fn default() -> Self {
        NamedDefs {
            defs: Vec::new(),
            index: HashMap::new(),
        }
    }
}

/// Implemented by the three kinds of definitions.
pub trait Named {
    fn name(&self) -> &str;
}

impl Named for ListDef {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for MacroDef {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for RuleDef {
    fn name(&self) -> &str {
        &self.name
    }
}

impl<T: Named> NamedDefs<T> {
    pub fn get(&self, name: &str) -> Option<&T> {
        self.index.get(name).map(|&i| &self.defs[i])
    }

    /// Mutable access by name. Do not change the name through it.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        self.index.get(name).map(|&i| &mut self.defs[i])
    }

    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Mutable iteration in order. Do not change names through it.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.defs.iter_mut()
    }

    /// Keeps the definitions for which `keep` is true, in order.
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.defs.retain(keep);
        self.reindex();
    }

    /// Adds a new definition at the end, or replaces the one with the same name in place.
    fn upsert(&mut self, def: T) {
        match self.index.get(def.name()) {
            Some(&i) => self.defs[i] = def,
            None => {
                self.index.insert(def.name().to_owned(), self.defs.len());
                self.defs.push(def);
            }
        }
    }

    fn reindex(&mut self) {
        self.index = self
            .defs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name().to_owned(), i))
            .collect();
    }
}

impl<T> std::ops::Deref for NamedDefs<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.defs
    }
}

impl<'a, T> IntoIterator for &'a NamedDefs<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.defs.iter()
    }
}

/// Everything loaded from the rules files so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSet {
    /// The highest `required_engine_version` seen, as semver text (an old integer `N` is
    /// recorded as `0.N.0`, as Falco does). Recorded, not enforced.
    pub required_engine_version: Option<String>,
    /// Recorded, not enforced: rhf provides the fields of the syscall source itself.
    pub required_plugin_versions: Vec<PluginRequirement>,
    pub lists: NamedDefs<ListDef>,
    pub macros: NamedDefs<MacroDef>,
    pub rules: NamedDefs<RuleDef>,
    /// Warnings of the files loaded (deprecated keys, ignored keys, rules of other sources).
    pub warnings: Vec<LoadError>,
    /// Next sequence number for `order`/`visibility` (Falco's `m_cur_index`).
    next_order: usize,
}

/// A problem in a rules file. `item` names the list, macro or rule, when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: Arc<str>,
    /// 1-based; 0 when the problem has no position (the file could not be read).
    pub line: usize,
    pub column: usize,
    /// E.g. `rule 'Terminal shell in container'`.
    pub item: Option<String>,
    pub message: String,
}

impl fmt::Display for LoadError {
    /// `file:line:column: rule 'Foo': message`; `file: message` without a position.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", yaml::sanitize(&self.file))?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if let Some(item) = &self.item {
            write!(f, ": {}", yaml::sanitize(item))?;
        }
        write!(f, ": {}", yaml::sanitize(&self.message))
    }
}

impl std::error::Error for LoadError {}

/// All the errors of a file (or of the first file that failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    /// One error per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

impl RuleSet {
    /// Loads files in the order given; a directory loads its `.yaml` and `.yml` files
    /// (not subdirectories) in alphabetical order. Stops at the first file with errors and
    /// returns all of that file's errors.
    pub fn load_paths(paths: &[PathBuf]) -> Result<RuleSet, LoadErrors> {
        let mut set = RuleSet::default();
        for path in paths {
            for file in rules_files(path)? {
                let text = read_text(&file)?;
                set.load_str(&file.display().to_string(), &text)?;
            }
        }
        Ok(set)
    }

    /// Loads one file's text. On error nothing changes and every error of the file is returned.
    pub fn load_str(&mut self, file_name: &str, text: &str) -> Result<(), LoadErrors> {
        let file: Arc<str> = Arc::from(file_name);
        let mut staging = self.clone();
        let mut cx = item::Cx::new(file, text);
        apply::load_file(&mut staging, &mut cx);
        let (mut errors, warnings) = cx.finish();
        if !errors.is_empty() {
            errors.sort_by_key(|e| (e.line, e.column));
            return Err(LoadErrors(errors));
        }
        staging.warnings.extend(warnings);
        *self = staging;
        Ok(())
    }

    /// The effective items of a list (earlier lists named in it expanded).
    pub fn list_items(&self, name: &str) -> Option<&[String]> {
        self.lists.get(name).map(|l| l.items.as_slice())
    }

    /// Enables or disables rules by name glob (`*` matches anything, `/` included) or, with
    /// `tag:NAME`, every rule with that tag. Returns how many rules matched.
    pub fn set_enabled(&mut self, selector: &str, enabled: bool) -> Result<usize, String> {
        let selector = RuleSelector::parse(selector)?;
        let mut count = 0;
        for rule in self
            .rules
            .iter_mut()
            .filter(|r| selector.matches(&r.name, &r.tags))
        {
            rule.enabled = enabled;
            count += 1;
        }
        Ok(count)
    }
}

/// Which rules an `--enable`/`--disable` names: a glob on rule names (`*` matches anything,
/// `/` included), or `tag:NAME`.
#[derive(Debug)]
pub enum RuleSelector {
    Name(globset::GlobMatcher),
    Tag(String),
}

impl RuleSelector {
    pub fn parse(selector: &str) -> Result<RuleSelector, String> {
        Ok(match selector.strip_prefix("tag:") {
            Some(tag) => RuleSelector::Tag(tag.to_owned()),
            None => RuleSelector::Name(
                globset::GlobBuilder::new(selector)
                    .literal_separator(false)
                    .build()
                    .map_err(|e| format!("invalid rule name pattern '{selector}': {e}"))?
                    .compile_matcher(),
            ),
        })
    }

    pub fn matches(&self, name: &str, tags: &[String]) -> bool {
        match self {
            RuleSelector::Name(glob) => glob.is_match(name),
            RuleSelector::Tag(tag) => tags.contains(tag),
        }
    }
}

fn io_error(path: &Path, message: String) -> LoadErrors {
    LoadErrors(vec![LoadError {
        file: Arc::from(path.display().to_string()),
        line: 0,
        column: 0,
        item: None,
        message,
    }])
}

/// The files `path` stands for: itself, or a directory's `.yaml`/`.yml` files sorted by name.
fn rules_files(path: &Path) -> Result<Vec<PathBuf>, LoadErrors> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, e.to_string()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    let entries = std::fs::read_dir(path).map_err(|e| io_error(path, e.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_error(path, e.to_string()))?;
        let file = entry.path();
        let is_yaml = matches!(
            file.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        // Follows symlinks: a link to a file counts as a file.
        if is_yaml && std::fs::metadata(&file).is_ok_and(|m| m.is_file()) {
            files.push(file);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

fn read_text(path: &Path) -> Result<String, LoadErrors> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| {
        io_error(
            path,
            format!(
                "not valid UTF-8 (byte {})",
                e.utf8_error().valid_up_to() + 1
            ),
        )
    })
}
