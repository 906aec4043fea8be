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

fn is_type_check(c: &CheckNode) -> bool {
    c.field.def.id == Fid::EvtType
        && c.field.transformers.is_empty()
        && c.modifier.is_none()
        && matches!(c.op, Op::Eq | Op::In | Op::Ne)
        && !matches!(c.rhs, Operand::Field(_))
}
