//! Evaluating compiled conditions against one event.
//!
//! A field with no value makes its comparison false, `!=` included; `not` of that comparison
//! is then true, as in Falco.

use std::borrow::Cow;
use std::cell::Cell;

use super::compile::{CheckNode, Lit, Node, Operand};
use super::condition::ast::{Modifier, Op};
use super::fields::{render_plain, Ctx, Val};

impl Node {
    pub fn eval(&self, ctx: &Ctx<'_>) -> bool {
        match self {
            Node::And(v) => v.iter().all(|n| n.eval(ctx)),
            Node::Or(v) => v.iter().any(|n| n.eval(ctx)),
            Node::Not(n) => !n.eval(ctx),
            Node::Check(c) => match ctx.memo {
                Some(memo) => memo.get(c.slot).unwrap_or_else(|| {
                    let v = c.eval(ctx);
                    memo.set(c.slot, v);
                    v
                }),
                None => c.eval(ctx),
            },
        }
    }
}

/// The results of the comparisons already made for the event being evaluated, by slot
/// ([`super::compile::Checks`]). Starting a new event forgets them all at once: a slot holds
/// the event's serial number with the result, and a slot of an older event counts as empty.
#[derive(Debug, Default)]
pub struct Memo {
    event: Cell<u64>,
    slots: Vec<Cell<u64>>,
}

impl Memo {
    /// Forgets every result, and makes room for `slots` comparisons.
    pub fn next_event(&mut self, slots: usize) {
        if self.slots.len() < slots {
            self.slots.resize_with(slots, Cell::default);
        }
        self.event.set(self.event.get() + 1);
    }

    fn get(&self, slot: u32) -> Option<bool> {
        let v = self.slots.get(slot as usize)?.get();
        (v >> 1 == self.event.get()).then_some(v & 1 == 1)
    }

    fn set(&self, slot: u32, result: bool) {
        if let Some(s) = self.slots.get(slot as usize) {
            s.set(self.event.get() << 1 | u64::from(result));
        }
    }
}

impl CheckNode {
    pub fn eval(&self, ctx: &Ctx<'_>) -> bool {
        let v = self.field.get(ctx);
        if self.op == Op::Exists {
            return !v.is_none();
        }
        if v.is_none() {
            return false;
        }
        match &self.rhs {
            Operand::Field(other) => {
                let o = other.get(ctx);
                if o.is_none() {
                    return false;
                }
                let lit = to_lit(&o);
                self.with_one(&v, &lit)
            }
            Operand::One(lit) => self.with_one(&v, lit),
            Operand::Many(lits, hashed) => self.with_many(&v, lits, hashed.as_ref()),
            Operand::None => false,
        }
    }

    /// A single right-hand value.
    fn with_one(&self, v: &Val<'_>, lit: &Lit) -> bool {
        match (self.op, v) {
            (Op::Ne, _) => !any_value(v, &|x| scalar(Op::Eq, x, lit)),
            (op, _) => any_value(v, &|x| scalar(op, x, lit)),
        }
    }

    /// A list on the right, or a modifier over one.
    fn with_many(
        &self,
        v: &Val<'_>,
        lits: &[Lit],
        hashed: Option<&std::collections::HashSet<Vec<u8>>>,
    ) -> bool {
        let member = |x: &Val<'_>| match (hashed, x) {
            (Some(set), Val::Str(s)) => set.contains(s.as_ref()),
            _ => lits.iter().any(|l| scalar(Op::Eq, x, l)),
        };
        match self.op {
            Op::In if self.modifier.is_none() => match v {
                // Every value of a multi-valued field must be in the list.
                Val::List(items) => items.iter().all(|s| member(&Val::Str(Cow::Borrowed(s)))),
                _ => any_value(v, &member),
            },
            Op::Intersects if self.modifier.is_none() => match v {
                Val::List(items) => items.iter().any(|s| member(&Val::Str(Cow::Borrowed(s)))),
                _ => any_value(v, &member),
            },
            Op::PMatch if self.modifier.is_none() => {
                any_value(v, &|x| lits.iter().any(|l| scalar(Op::PMatch, x, l)))
            }
            op => {
                let one = |l: &Lit| match op {
                    Op::Ne => !any_value(v, &|x| scalar(Op::Eq, x, l)),
                    _ => any_value(v, &|x| scalar(op, x, l)),
                };
                match self.modifier {
                    Some(Modifier::AllOf) => lits.iter().all(one),
                    Some(Modifier::OneOf) => lits.iter().filter(|l| one(l)).count() == 1,
                    Some(Modifier::AnyOf) | None => lits.iter().any(one),
                }
            }
        }
    }
}

/// Whether `test` holds for the value, or for one of the values of an any-of field.
fn any_value(v: &Val<'_>, test: &dyn Fn(&Val<'_>) -> bool) -> bool {
    match v {
        Val::Any(items) => items.iter().any(|x| any_value(x, test)),
        Val::List(items) => items.iter().any(|s| test(&Val::Str(Cow::Borrowed(s)))),
        Val::None => false,
        other => test(other),
    }
}

/// `x op lit` for one scalar value.
fn scalar(op: Op, x: &Val<'_>, lit: &Lit) -> bool {
    match op {
        Op::Eq | Op::In | Op::Intersects => equal(x, lit),
        Op::Ne => !equal(x, lit),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => match (x, lit) {
            (Val::Num(a), Lit::Num(b)) => match op {
                Op::Lt => a < b,
                Op::Le => a <= b,
                Op::Gt => a > b,
                _ => a >= b,
            },
            _ => false,
        },
        Op::Glob | Op::IGlob | Op::Regex => match lit {
            Lit::Pattern(re) => re.is_match(&bytes(x)),
            _ => false,
        },
        Op::Contains | Op::BContains => with_str(x, lit, contains),
        Op::IContains => with_str(x, lit, |h, n| contains(&h.to_ascii_lowercase(), n)),
        Op::StartsWith | Op::BStartsWith => with_str(x, lit, |h, n| h.starts_with(n)),
        Op::EndsWith => with_str(x, lit, |h, n| h.ends_with(n)),
        Op::PMatch => with_str(x, lit, |h, p| {
            let p = if p.len() > 1 {
                p.strip_suffix(b"/").unwrap_or(p)
            } else {
                p
            };
            h == p || (h.starts_with(p) && (p == b"/" || h.get(p.len()) == Some(&b'/')))
        }),
        Op::Exists => true,
    }
}

fn with_str(x: &Val<'_>, lit: &Lit, f: impl Fn(&[u8], &[u8]) -> bool) -> bool {
    match lit {
        Lit::Str(n) => f(&bytes(x), n),
        _ => false,
    }
}

fn equal(x: &Val<'_>, lit: &Lit) -> bool {
    match (x, lit) {
        (Val::Str(a), Lit::Str(b)) => a.as_ref() == b.as_slice(),
        (Val::Num(a), Lit::Num(b)) => a == b,
        (Val::Bool(a), Lit::Bool(b)) => a == b,
        (Val::Ip(a), Lit::Ip(b)) => a == b,
        (Val::Ip(a), Lit::Net(n)) => n.contains(a),
        (x, Lit::Str(b)) => bytes(x).as_ref() == b.as_slice(),
        (Val::Str(a), Lit::Num(b)) => a.as_ref() == b.to_string().as_bytes(),
        _ => false,
    }
}

fn bytes<'v>(x: &'v Val<'_>) -> Cow<'v, [u8]> {
    match x {
        Val::Str(s) => Cow::Borrowed(s.as_ref()),
        other => Cow::Owned(render_plain(other)),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Another field's value as a literal (`val(proc.pname)`).
fn to_lit(v: &Val<'_>) -> Lit {
    match v {
        Val::Num(n) => Lit::Num(*n),
        Val::Bool(b) => Lit::Bool(*b),
        Val::Ip(ip) => Lit::Ip(*ip),
        other => Lit::Str(render_plain(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::Memo;

    #[test]
    fn a_memo_remembers_within_an_event_and_forgets_at_the_next() {
        let mut memo = Memo::default();
        memo.next_event(2);
        assert_eq!(memo.get(0), None);
        memo.set(0, true);
        memo.set(1, false);
        assert_eq!((memo.get(0), memo.get(1)), (Some(true), Some(false)));
        memo.next_event(3);
        assert_eq!((memo.get(0), memo.get(1), memo.get(2)), (None, None, None));
        // A slot the memo was not sized for is never remembered (nor a panic).
        memo.set(7, true);
        assert_eq!(memo.get(7), None);
    }
}
