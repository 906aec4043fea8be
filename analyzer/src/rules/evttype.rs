//! Event types as rules name them (`evt.type`): every syscall name of every ABI, plus the
//! synthetic `procinfo`, numbered densely so rules can be indexed by the types they can match.

use std::collections::HashMap;

use rhf_format::{sysent, Abi};

use super::compile::{CheckNode, Lit, Node, Operand};
use super::condition::ast::Op;
use super::fields::Fid;
use crate::render::calls::slot;

/// The synthetic event of a capture-start snapshot process.
pub const PROCINFO: &str = "procinfo";

/// Names <-> dense ids, and (ABI, number) -> id.
#[derive(Debug)]
pub struct EventTypes {
    names: Vec<&'static str>,
    by_name: HashMap<&'static str, u16>,
    /// Per ABI slot, the id of each syscall number (`u16::MAX`: unknown).
    by_number: [Vec<u16>; 3],
}

impl Default for EventTypes {
    fn default() -> Self {
        let mut t = EventTypes {
            names: Vec::new(),
            by_name: HashMap::new(),
            by_number: Default::default(),
        };
        t.intern(PROCINFO);
        for abi in [Abi::X86_64, Abi::I386, Abi::X32] {
            for nr in sysent::numbers(abi) {
                if let Some(name) = sysent::name(abi, nr) {
                    let id = t.intern(name);
                    let (a, i) = slot(abi, nr);
                    let v = &mut t.by_number[a];
                    if let Ok(i) = usize::try_from(i) {
                        if i < 4096 {
                            if v.len() <= i {
                                v.resize(i + 1, u16::MAX);
                            }
                            v[i] = id;
                        }
                    }
                }
            }
        }
        t
    }
}

impl EventTypes {
    fn intern(&mut self, name: &'static str) -> u16 {
        if let Some(id) = self.by_name.get(name) {
            return *id;
        }
        let id = self.names.len() as u16;
        self.names.push(name);
        self.by_name.insert(name, id);
        id
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn id(&self, name: &str) -> Option<u16> {
        self.by_name.get(name).copied()
    }

    pub fn name(&self, id: u16) -> &'static str {
        self.names
            .get(usize::from(id))
            .copied()
            .unwrap_or("unknown")
    }

    /// The type id of a syscall, `None` for numbers no table knows.
    #[inline]
    pub fn of_syscall(&self, abi: Abi, nr: u32) -> Option<u16> {
        let (a, i) = slot(abi, nr);
        self.by_number[a]
            .get(i as usize)
            .copied()
            .filter(|id| *id != u16::MAX)
    }

    /// The event types `node` can be true for: `None` when any.
    ///
    /// As Falco does: `evt.type = x` and `evt.type in (...)` give their names, `!=` the
    /// complement; `and` intersects, `or` unites, `not` complements only a pure `evt.type`
    /// test; any other test allows every type.
    pub fn of_condition(&self, node: &Node) -> Option<Vec<bool>> {
        match node {
            Node::Check(c) => self.of_check(c),
            Node::And(v) => {
                let mut acc: Option<Vec<bool>> = None;
                for n in v {
                    if let Some(s) = self.of_condition(n) {
                        acc = Some(match acc {
                            None => s,
                            Some(a) => a.iter().zip(&s).map(|(x, y)| *x && *y).collect(),
                        });
                    }
                }
                acc
            }
            Node::Or(v) => {
                let mut acc = vec![false; self.len()];
                for n in v {
                    let s = self.of_condition(n)?;
                    acc.iter_mut().zip(&s).for_each(|(a, b)| *a |= *b);
                }
                Some(acc)
            }
            Node::Not(n) => match &**n {
                Node::Check(c) if is_type_check(c) => {
                    self.of_check(c).map(|s| s.iter().map(|b| !b).collect())
                }
                _ => None,
            },
        }
    }

    fn of_check(&self, c: &CheckNode) -> Option<Vec<bool>> {
        if !is_type_check(c) {
            return None;
        }
        let mut set = vec![false; self.len()];
        let mut mark = |lit: &Lit| {
            if let Lit::Str(name) = lit {
                if let Some(id) = std::str::from_utf8(name).ok().and_then(|n| self.id(n)) {
                    set[usize::from(id)] = true;
                }
            }
        };
        match (&c.op, &c.rhs) {
            (Op::Eq | Op::In, Operand::One(l)) => mark(l),
            (Op::Eq | Op::In, Operand::Many(ls, _)) => ls.iter().for_each(mark),
            (Op::Ne, Operand::One(l)) => {
                mark(l);
                set.iter_mut().for_each(|b| *b = !*b);
            }
            _ => return None,
        }
        Some(set)
    }
}

impl EventTypes {
    /// `node` as it stands for events of type `t`: each pure `evt.type` test (see
    /// [`Self::of_condition`]) is decided, and the `and`, `or` and `not` around decided tests
    /// are folded. Rules reach most of their event types through macros that test other types
    /// (`rhf_open_write or rhf_rename or ...`); folded, an open is no longer compared with
    /// `rename`, `link` and `symlink` by every such rule. `None` when the condition cannot
    /// hold for `t` at all.
    pub fn specialize(&self, node: &Node, t: u16) -> Option<Node> {
        match self.fold(node, t) {
            Folded::Const(false) => None,
            Folded::Const(true) => Some(Node::And(Vec::new())),
            Folded::Node(n) => Some(n),
        }
    }

    fn fold(&self, node: &Node, t: u16) -> Folded {
        match node {
            Node::Check(c) => match self.decides(c, t) {
                Some(b) => Folded::Const(b),
                None => Folded::Node(node.clone()),
            },
            Node::Not(n) => match self.fold(n, t) {
                Folded::Const(b) => Folded::Const(!b),
                Folded::Node(n) => Folded::Node(Node::Not(Box::new(n))),
            },
            Node::And(v) | Node::Or(v) => {
                // `and` is decided by a false part, `or` by a true one; the other constant
                // drops out.
                let and = matches!(node, Node::And(_));
                let mut kept = Vec::with_capacity(v.len());
                for n in v {
                    match self.fold(n, t) {
                        Folded::Const(b) if b != and => return Folded::Const(b),
                        Folded::Const(_) => {}
                        // `a and (b and c)` is `a and b and c`: one level less to walk.
                        Folded::Node(Node::And(inner)) if and => kept.extend(inner),
                        Folded::Node(Node::Or(inner)) if !and => kept.extend(inner),
                        Folded::Node(n) => kept.push(n),
                    }
                }
                match kept.len() {
                    0 => Folded::Const(and),
                    1 => Folded::Node(kept.pop().expect("one part")),
                    _ if and => Folded::Node(Node::And(kept)),
                    _ => Folded::Node(Node::Or(kept)),
                }
            }
        }
    }

    /// The result of a pure `evt.type` test on events of type `t`.
    fn decides(&self, c: &CheckNode, t: u16) -> Option<bool> {
        if !is_type_check(c) {
            return None;
        }
        let name = self.name(t).as_bytes();
        let is = |l: &Lit| matches!(l, Lit::Str(s) if s.as_slice() == name);
        match (&c.op, &c.rhs) {
            (Op::Eq | Op::In, Operand::One(l)) => Some(is(l)),
            (Op::Eq | Op::In, Operand::Many(ls, _)) => Some(ls.iter().any(is)),
            (Op::Ne, Operand::One(l)) => Some(!is(l)),
            _ => None,
        }
    }
}

/// A condition part after folding: decided, or still to evaluate.
enum Folded {
    Const(bool),
    Node(Node),
}

fn is_type_check(c: &CheckNode) -> bool {
    c.field.def.id == Fid::EvtType
        && c.field.transformers.is_empty()
        && c.modifier.is_none()
        && matches!(c.op, Op::Eq | Op::In | Op::Ne)
        && !matches!(c.rhs, Operand::Field(_))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use crate::rules::compile::{self, Checks, CompileError};
    use crate::rules::condition;

    fn compile_all(texts: &[&str]) -> (Vec<Node>, Checks) {
        let macros: HashMap<String, Result<condition::ast::Expr, CompileError>> = HashMap::new();
        let mut checks = Checks::default();
        let nodes = texts
            .iter()
            .map(|t| {
                let expr = condition::parse(t).unwrap();
                compile::compile_within(&expr, &macros, &mut usize::MAX.clone(), &mut checks)
                    .unwrap()
            })
            .collect();
        (nodes, checks)
    }

    fn field_of(node: &Node) -> &str {
        match node {
            Node::Check(c) => &c.field.text,
            other => panic!("not a single test: {other:?}"),
        }
    }

    #[test]
    fn specializing_decides_type_tests_and_folds_around_them() {
        let types = EventTypes::default();
        let t = |name: &str| types.id(name).unwrap();
        let (nodes, _) = compile_all(&[
            "(evt.type in (open, openat) and fd.name = /a) \
             or (evt.type = rename and fd.name = /b) \
             or (not evt.type = openat and proc.name = x)",
            "evt.type = rename and fd.name = /b",
            "evt.type != rename",
        ]);
        let any = &nodes[0];
        let on_openat = types.specialize(any, t("openat")).unwrap();
        assert_eq!(field_of(&on_openat), "fd.name");
        match types.specialize(any, t("rename")).unwrap() {
            Node::Or(parts) => {
                let fields: Vec<&str> = parts.iter().map(field_of).collect();
                assert_eq!(fields, ["fd.name", "proc.name"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(types.specialize(&nodes[1], t("openat")).is_none());
        // Decided true: nothing left to test.
        assert!(matches!(
            types.specialize(&nodes[2], t("openat")),
            Some(Node::And(v)) if v.is_empty()
        ));
        assert!(types.specialize(&nodes[2], t("rename")).is_none());
    }

    #[test]
    fn the_same_comparison_compiles_once_across_conditions() {
        let (nodes, checks) = compile_all(&[
            "evt.type = openat and fd.name = /a",
            "fd.name = /a or proc.name = x",
            // Spacing and position differ; the comparison is the same.
            "proc.name  =  x",
        ]);
        assert_eq!(checks.len(), 3);
        let check = |n: &Node, i: usize| match n {
            Node::And(v) | Node::Or(v) => match &v[i] {
                Node::Check(c) => Arc::clone(c),
                other => panic!("{other:?}"),
            },
            Node::Check(c) => Arc::clone(c),
            other => panic!("{other:?}"),
        };
        assert!(Arc::ptr_eq(&check(&nodes[0], 1), &check(&nodes[1], 0)));
        assert!(Arc::ptr_eq(&check(&nodes[1], 1), &check(&nodes[2], 0)));
        assert_ne!(check(&nodes[0], 0).slot, check(&nodes[0], 1).slot);
    }
}
