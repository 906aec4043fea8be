//! Applying items to a [`RuleSet`] (falco `rule_loader_collector.cpp`), then the per-file
//! finishing steps: list expansion and exceptions folded into conditions.

use std::collections::{HashMap, HashSet};

use super::exceptions::{self, Mode};
use super::item::{self, Change, Cx, Item, ListItem, MacroItem, NewRule, RuleItem, RuleUpdate};
use super::yaml::{self, Node, Pos};
use super::{ListDef, MacroDef, RuleDef, RuleSet};

/// At most this many effective list items, and bytes in them, in a rule set: lists that name
/// lists can grow exponentially with the file's size.
const MAX_EXPANDED_ITEMS: usize = 2_000_000;
const MAX_EXPANDED_BYTES: usize = 64 << 20;

/// Kinds and names of items that failed to read: a later item that needs them says nothing,
/// the failed item has its own error.
type Failed = HashSet<(&'static str, String)>;

/// Reads and applies every item of `cx.src` to `set`, reporting into `cx`.
pub(super) fn load_file(set: &mut RuleSet, cx: &mut Cx) {
    let docs = match yaml::parse(cx.src) {
        Ok(docs) => docs,
        Err((pos, message)) => {
            cx.error(pos, message);
            return;
        }
    };
    let mut failed = Failed::new();
    for doc in docs {
        let pos = Pos::of(&doc.referenced);
        let Node::Seq(items) = doc.value else {
            cx.label = None;
            cx.error(
                pos,
                format!(
                    "a rules file must be a list of items (rules, macros, lists), not {}",
                    yaml::kind(&doc.value)
                ),
            );
            continue;
        };
        for node in items {
            let mut failed_name = None;
            match item::parse_item(node, cx, &mut failed_name) {
                Some(item) => apply(set, item, cx, &failed),
                None => {
                    if let Some(name) = failed_name {
                        failed.insert(name);
                    }
                }
            }
        }
    }
    cx.label = None;
    if cx.error_count() == 0 {
        expand_lists(set, cx);
        render_conditions(set);
    }
}

fn next_order(set: &mut RuleSet) -> usize {
    let n = set.next_order;
    set.next_order += 1;
    n
}

fn apply(set: &mut RuleSet, item: Item, cx: &mut Cx, failed: &Failed) {
    let report_missing = item
        .kind_and_name()
        .is_none_or(|(kind, name)| !failed.contains(&(kind, name.to_owned())));
    match item {
        Item::EngineVersion(version) => {
            let newer = set
                .required_engine_version
                .as_deref()
                .and_then(item::semver)
                .is_none_or(|old| item::semver(&version).is_some_and(|new| new > old));
            if newer {
                set.required_engine_version = Some(version);
            }
        }
        Item::PluginVersions(requirements) => set.required_plugin_versions.extend(requirements),
        Item::List(list) => apply_list(set, list, cx, report_missing),
        Item::Macro(m) => apply_macro(set, m, cx, report_missing),
        Item::Rule(rule) => apply_rule(set, rule, cx, report_missing),
    }
}

fn apply_list(set: &mut RuleSet, list: ListItem, cx: &mut Cx, report_missing: bool) {
    let visibility = next_order(set);
    let prev = set.lists.get_mut(&list.name);
    match (list.change, prev) {
        (Change::Append, Some(prev)) => {
            prev.written.extend(list.items);
            prev.visibility = visibility;
        }
        (Change::Define, prev) | (Change::Replace, prev @ Some(_)) => {
            let order = prev.map_or(visibility, |p| p.order);
            set.lists.upsert(ListDef {
                name: list.name,
                items: Vec::new(),
                written: list.items,
                origin: list.origin,
                order,
                visibility,
            });
        }
        (change, None) => {
            if report_missing {
                cx.error(
                    pos_of(&list.origin),
                    format!(
                        "list uses {} but no list by that name already exists",
                        if change == Change::Append {
                            "'append' or 'override.items: append'"
                        } else {
                            "'override.items: replace'"
                        }
                    ),
                );
            }
        }
    }
}

fn apply_macro(set: &mut RuleSet, m: MacroItem, cx: &mut Cx, report_missing: bool) {
    let visibility = next_order(set);
    let prev = set.macros.get_mut(&m.name);
    match (m.change, prev) {
        (Change::Append, Some(prev)) => {
            prev.condition.push(' ');
            prev.condition.push_str(&m.condition);
            prev.visibility = visibility;
        }
        (Change::Define, prev) | (Change::Replace, prev @ Some(_)) => {
            let order = prev.map_or(visibility, |p| p.order);
            set.macros.upsert(MacroDef {
                name: m.name,
                condition: m.condition,
                origin: m.origin,
                condition_origin: m.condition_origin,
                order,
                visibility,
            });
        }
        (change, None) => {
            if report_missing {
                cx.error(
                    pos_of(&m.origin),
                    format!(
                        "macro uses {} but no macro by that name already exists",
                        if change == Change::Append {
                            "'append' or 'override.condition: append'"
                        } else {
                            "'override.condition: replace'"
                        }
                    ),
                );
            }
        }
    }
}

fn pos_of(origin: &super::Origin) -> Pos {
    Pos {
        line: origin.line,
        column: origin.column,
    }
}

fn apply_rule(set: &mut RuleSet, rule: RuleItem, cx: &mut Cx, report_missing: bool) {
    match rule {
        RuleItem::Define(rule) => define_rule(set, *rule, cx),
        RuleItem::Enable {
            name,
            enabled,
            origin,
        } => match set.rules.get_mut(&name) {
            Some(prev) => prev.enabled = enabled,
            None if report_missing => cx.error(
                pos_of(&origin),
                "rule has 'enabled' key but no rule by that name already exists",
            ),
            None => {}
        },
        RuleItem::Update {
            name,
            origin,
            append,
            replace,
        } => {
            if !set.rules.contains(&name) {
                if report_missing {
                    cx.error(
                        pos_of(&origin),
                        if append.is_some() {
                            "rule uses 'append' or 'override.<key>: append' but no rule by that name already exists"
                        } else {
                            "an 'override.<key>: replace' to a rule was requested but no rule by that name already exists"
                        },
                    );
                }
                return;
            }
            next_order(set);
            if let Some(update) = append {
                append_rule(set, &name, *update, cx);
            }
            if let Some(update) = replace {
                replace_rule(set, &name, *update);
            }
        }
    }
}

fn define_rule(set: &mut RuleSet, rule: NewRule, cx: &mut Cx) {
    let order = next_order(set);
    let prev = set.rules.get(&rule.name);
    if let Some(prev) = prev {
        if prev.source != rule.source {
            cx.error(
                rule.source_pos,
                format!(
                    "rule has been re-defined with a different source ('{}', was '{}')",
                    rule.source, prev.source
                ),
            );
            return;
        }
    }
    let order = prev.map_or(order, |p| p.order);
    if rule.source != "syscall" {
        cx.warn(
            rule.source_pos,
            format!(
                "unknown source '{}': the rule is loaded but not evaluated (rhf evaluates syscall rules)",
                rule.source
            ),
        );
    }
    set.rules.upsert(RuleDef {
        name: rule.name,
        desc: rule.desc,
        condition: String::new(),
        raw_condition: rule.condition,
        output: rule.output,
        priority: rule.priority,
        enabled: rule.enabled,
        tags: rule.tags,
        source: rule.source,
        exceptions: rule.exceptions,
        warn_evttypes: rule.warn_evttypes,
        skip_if_unknown_filter: rule.skip_if_unknown_filter,
        capture: rule.capture,
        capture_duration: rule.capture_duration,
        capture_events: rule.capture_events,
        capture_filesize: rule.capture_filesize,
        origin: rule.origin,
        condition_origin: rule.condition_origin,
        order,
    });
}

/// `text += " " + more`, as Falco appends conditions, outputs and descriptions.
fn append_text(text: &mut String, more: &str) {
    if !more.is_empty() {
        text.push(' ');
        text.push_str(more);
    }
}

fn append_rule(set: &mut RuleSet, name: &str, update: RuleUpdate, cx: &mut Cx) {
    let Some(prev) = set.rules.get_mut(name) else {
        return;
    };
    // Exceptions first: a bad one leaves the rule alone.
    let mut exceptions = prev.exceptions.clone();
    let mut by_name: HashMap<String, usize> = exceptions
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.clone(), i))
        .collect();
    let errors_before = cx.error_count();
    for spec in update.exceptions.into_iter().flatten() {
        match by_name.get(&spec.name).map(|&i| &mut exceptions[i]) {
            Some(existing) => {
                if let Some(values) = exceptions::append_values(existing, spec, cx) {
                    existing.values.extend(values);
                }
            }
            None => {
                if let Some(ex) = exceptions::resolve(spec, Mode::Append, cx) {
                    by_name.insert(ex.name.clone(), exceptions.len());
                    exceptions.push(ex);
                }
            }
        }
    }
    if cx.error_count() > errors_before {
        return;
    }
    prev.exceptions = exceptions;
    if let Some((condition, _)) = &update.condition {
        append_text(&mut prev.raw_condition, condition);
    }
    if let Some(output) = &update.output {
        append_text(&mut prev.output, output);
    }
    if let Some(desc) = &update.desc {
        append_text(&mut prev.desc, desc);
    }
    if let Some(tags) = update.tags {
        prev.tags.extend(tags);
        prev.tags.sort();
        prev.tags.dedup();
    }
}

fn replace_rule(set: &mut RuleSet, name: &str, update: RuleUpdate) {
    let Some(prev) = set.rules.get_mut(name) else {
        return;
    };
    if let Some(exceptions) = update.new_exceptions {
        prev.exceptions = exceptions;
    }
    if let Some((condition, origin)) = update.condition {
        prev.raw_condition = condition;
        prev.condition_origin = origin;
    }
    if let Some(output) = update.output {
        prev.output = output;
    }
    if let Some(desc) = update.desc {
        prev.desc = desc;
    }
    if let Some(tags) = update.tags {
        prev.tags = tags;
    }
    if let Some(priority) = update.priority {
        prev.priority = priority;
    }
    if let Some(enabled) = update.enabled {
        prev.enabled = enabled;
    }
    if let Some(warn) = update.warn_evttypes {
        prev.warn_evttypes = warn;
    }
    if let Some(skip) = update.skip_if_unknown_filter {
        prev.skip_if_unknown_filter = skip;
    }
}

/// Computes every list's effective items. Falco (`compile_list_infos`) replaces an item that
/// names list `r` by `r`'s items when `r.order < list.visibility` (`r` was first defined before
/// the list was last defined or appended to), using `r`'s final items, appends included. Here
/// the replacement is recursive (`r`'s own effective items), where Falco goes one level deep
/// and leaves deeper names to the text substitution of conditions. A list naming itself, or a
/// cycle, keeps the name as written.
fn expand_lists(set: &mut RuleSet, cx: &mut Cx) {
    let lists = &set.lists;
    let count = lists.len();
    let refers = |i: usize, item: &str| -> Option<usize> {
        let j = *lists.index.get(item)?;
        (j != i && lists[j].order < lists[i].visibility).then_some(j)
    };
    let mut effective: Vec<Option<Vec<String>>> = vec![None; count];
    let mut on_stack = vec![false; count];
    let mut cursor = vec![0usize; count];
    let mut bytes = vec![0usize; count];
    let (mut total, mut total_bytes) = (0usize, 0usize);
    for root in 0..count {
        if effective[root].is_some() {
            continue;
        }
        let mut stack = vec![root];
        on_stack[root] = true;
        while let Some(&i) = stack.last() {
            // Expand the lists this one names first (explicit stack: no recursion).
            let written = &lists[i].written;
            let mut pending = None;
            while cursor[i] < written.len() {
                if let Some(j) = refers(i, &written[cursor[i]]) {
                    if effective[j].is_none() && !on_stack[j] {
                        pending = Some(j);
                        break;
                    }
                }
                cursor[i] += 1;
            }
            if let Some(j) = pending {
                on_stack[j] = true;
                stack.push(j);
                continue;
            }
            let mut items = Vec::with_capacity(written.len());
            let mut item_bytes = 0;
            for item in written {
                let expanded = refers(i, item).and_then(|j| Some((effective[j].as_deref()?, j)));
                let (adding, adding_bytes) =
                    expanded.map_or((1, item.len()), |(e, j)| (e.len(), bytes[j]));
                item_bytes += adding_bytes;
                if total + items.len() + adding > MAX_EXPANDED_ITEMS
                    || total_bytes + item_bytes > MAX_EXPANDED_BYTES
                {
                    cx.label = Some(format!("list '{}'", lists[i].name));
                    cx.error(
                        pos_of(&lists[i].origin),
                        format!(
                            "lists expand to more than {MAX_EXPANDED_ITEMS} items or {MAX_EXPANDED_BYTES} bytes in all"
                        ),
                    );
                    cx.label = None;
                    return;
                }
                match expanded {
                    Some((expanded, _)) => items.extend(expanded.iter().cloned()),
                    None => items.push(item.clone()),
                }
            }
            total += items.len();
            total_bytes += item_bytes;
            bytes[i] = item_bytes;
            effective[i] = Some(items);
            on_stack[i] = false;
            stack.pop();
        }
    }
    for (list, items) in set.lists.iter_mut().zip(effective) {
        list.items = items.unwrap_or_default();
    }
}

/// Folds every rule's exceptions into its condition. Done after each file, so a value naming a
/// list defined in a later file is expanded too, as Falco compiles after loading everything.
fn render_conditions(set: &mut RuleSet) {
    let lists = &set.lists;
    let is_list = |name: &str| lists.contains(name);
    let conditions: Vec<String> = set
        .rules
        .iter()
        .map(|r| exceptions::render(&r.raw_condition, &r.exceptions, &is_list))
        .collect();
    for (rule, condition) in set.rules.iter_mut().zip(conditions) {
        rule.condition = condition;
    }
}
