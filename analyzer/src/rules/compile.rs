//! From syntax to an evaluator: macros expanded, fields resolved against the table, values
//! converted to the field's type, regexes and globs compiled, big lists hashed. Nothing here
//! runs per event.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use regex::bytes::Regex;

use super::condition::ast::{Check, Expr, FieldExpr, Modifier, Op, Rhs, Span, Value};
use super::fields::{self, Field, Ty};

/// A compiled boolean expression.
#[derive(Debug, Clone)]
pub enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    /// Shared by every place of the rule set that makes the same comparison (macros make many).
    Check(Arc<CheckNode>),
}

/// One compiled comparison.
#[derive(Debug)]
pub struct CheckNode {
    /// Its number among the distinct comparisons of the rule set: where an event's result is
    /// remembered (see [`Checks`]).
    pub slot: u32,
    pub field: Field,
    pub op: Op,
    pub modifier: Option<Modifier>,
    pub rhs: Operand,
}

/// The right-hand side, converted for the field's type.
#[derive(Debug)]
pub enum Operand {
    None,
    One(Lit),
    Many(Vec<Lit>, Option<HashSet<Vec<u8>>>),
    Field(Field),
}

/// A literal, in the form its operator needs.
#[derive(Debug)]
pub enum Lit {
    Str(Vec<u8>),
    Num(i64),
    Bool(bool),
    Ip(IpAddr),
    Net(IpNet),
    /// `regex`, `glob` and `iglob` patterns, anchored at both ends.
    Pattern(Regex),
}

/// An error with the byte offset in the condition text it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub offset: usize,
    pub message: String,
    /// The macro the error is in, when it is not in the rule's own text.
    pub in_macro: Option<String>,
}

/// Lists above this size are hashed; below, a linear scan is faster.
const HASH_FROM: usize = 12;
/// Macro expansion depth beyond which a macro is considered recursive.
const MAX_MACRO_DEPTH: usize = 64;
/// How deep a compiled condition may nest, macros expanded: the parser bounds one text to 256
/// levels, but macros multiply that (a hostile file overflowed the stack). Upstream rules stay
/// under 30; 400 levels compile within a 2 MiB stack even in a debug build (tested).
const MAX_DEPTH: usize = 400;
/// Tests, macro uses and literals one rule set may compile to, macros expanded: a macro used
/// twice per level doubles the size at every level. Falco's three upstream files together
/// use 5,962 (measured), so this leaves a wide margin while bounding time and memory.
pub const DEFAULT_BUDGET: usize = 1_000_000;
/// The share of the budget one rule may use (the largest upstream rule uses 561).
pub const RULE_BUDGET: usize = 100_000;

/// Where macros come from: their parsed conditions, by name.
pub trait Macros {
    /// The parsed body of macro `name`, or `None` when there is no such macro. An error is the
    /// macro's own parse error.
    fn get(&self, name: &str) -> Option<Result<&Expr, CompileError>>;
}

impl Macros for HashMap<String, Result<Expr, CompileError>> {
    fn get(&self, name: &str) -> Option<Result<&Expr, CompileError>> {
        HashMap::get(self, name).map(|r| r.as_ref().map_err(Clone::clone))
    }
}

/// The distinct comparisons of a rule set. Macros repeat the same tests across rules (every
/// rule on opens starts with `evt.type in (open, openat, openat2) and evt.is_open_read =
/// true ...`): compiled once, each gets a slot, and an evaluation can remember its result for
/// the event at hand instead of extracting the same fields again for every rule.
#[derive(Debug, Default)]
pub struct Checks {
    by_text: HashMap<String, Arc<CheckNode>>,
}

impl Checks {
    /// Slots handed out so far.
    pub fn len(&self) -> usize {
        self.by_text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_text.is_empty()
    }

    fn intern(&mut self, c: &Check) -> Result<Arc<CheckNode>, CompileError> {
        let key = check_key(c);
        if let Some(node) = self.by_text.get(&key) {
            return Ok(Arc::clone(node));
        }
        let slot = u32::try_from(self.by_text.len()).expect("bounded by the compile budget");
        let node = Arc::new(check(c, slot)?);
        self.by_text.insert(key, Arc::clone(&node));
        Ok(node)
    }
}

/// A comparison as text, its positions left out: equal keys compile to the same test.
fn check_key(c: &Check) -> String {
    fn field(f: &FieldExpr) -> FieldExpr {
        FieldExpr {
            span: Span::default(),
            name_span: Span::default(),
            ..f.clone()
        }
    }
    fn value(v: &Value) -> Value {
        Value {
            span: Span::default(),
            ..v.clone()
        }
    }
    let rhs = c.rhs.as_ref().map(|r| match r {
        Rhs::Value(v) => Rhs::Value(value(v)),
        Rhs::List(items, _) => Rhs::List(items.iter().map(value).collect(), Span::default()),
        Rhs::Field(f) => Rhs::Field(field(f)),
    });
    format!("{:?} {:?} {:?} {:?}", field(&c.lhs), c.op, c.modifier, rhs)
}

/// Compiles `expr`, expanding macros from `macros`, within [`DEFAULT_BUDGET`].
pub fn compile(expr: &Expr, macros: &dyn Macros) -> Result<Node, CompileError> {
    compile_within(
        expr,
        macros,
        &mut DEFAULT_BUDGET.clone(),
        &mut Checks::default(),
    )
}

/// Compiles `expr`, spending from `budget` one unit per test and per literal; several rules
/// share one budget so a whole rule set stays bounded. Comparisons already in `checks` are
/// shared, new ones added.
pub fn compile_within(
    expr: &Expr,
    macros: &dyn Macros,
    budget: &mut usize,
    checks: &mut Checks,
) -> Result<Node, CompileError> {
    Compiler {
        macros,
        stack: Vec::new(),
        depth: 0,
        budget,
        checks,
    }
    .expr(expr)
}

/// Compiles one field reference (also used for outputs).
pub fn field(f: &FieldExpr, text: &str) -> Result<Field, CompileError> {
    fields::resolve(
        &f.name,
        f.arg.as_deref(),
        &f.transformers,
        field_text(f, text),
    )
    .map_err(|message| CompileError {
        offset: f.name_span.start,
        message,
        in_macro: None,
    })
}

fn field_text(f: &FieldExpr, _text: &str) -> String {
    let mut s = f.name.clone();
    if let Some(a) = &f.arg {
        s.push('[');
        s.push_str(a);
        s.push(']');
    }
    s
}

struct Compiler<'m> {
    macros: &'m dyn Macros,
    /// Macros being expanded, outermost first (for cycle detection).
    stack: Vec<String>,
    depth: usize,
    budget: &'m mut usize,
    checks: &'m mut Checks,
}

impl Compiler<'_> {
    fn expr(&mut self, e: &Expr) -> Result<Node, CompileError> {
        self.depth += 1;
        let node = self.expr_inner(e);
        self.depth -= 1;
        node
    }

    fn expr_inner(&mut self, e: &Expr) -> Result<Node, CompileError> {
        let too = |what: String| CompileError {
            offset: 0,
            message: what,
            in_macro: None,
        };
        if self.depth > MAX_DEPTH {
            return Err(self.locate(too(format!(
                "the condition nests more than {MAX_DEPTH} levels deep once macros are expanded"
            ))));
        }
        let cost = match e {
            Expr::Check(c) => match &c.rhs {
                Some(Rhs::List(v, _)) => 1 + v.len(),
                _ => 1,
            },
            _ => 1,
        };
        if *self.budget < cost {
            return Err(self.locate(too(
                "the rules compile to too many tests once macros and lists are expanded \
                 (a macro used twice at every level doubles them)"
                    .to_string(),
            )));
        }
        *self.budget -= cost;
        Ok(match e {
            Expr::And(v) => Node::And(v.iter().map(|e| self.expr(e)).collect::<Result<_, _>>()?),
            Expr::Or(v) => Node::Or(v.iter().map(|e| self.expr(e)).collect::<Result<_, _>>()?),
            Expr::Not(e) => Node::Not(Box::new(self.expr(e)?)),
            Expr::Check(c) => Node::Check(self.checks.intern(c).map_err(|e| self.locate(e))?),
            Expr::Macro { name, span } => self.expand(name, *span)?,
        })
    }

    fn expand(&mut self, name: &str, span: Span) -> Result<Node, CompileError> {
        let err = |message: String| CompileError {
            offset: span.start,
            message,
            in_macro: None,
        };
        if self.stack.iter().any(|m| m == name) || self.stack.len() >= MAX_MACRO_DEPTH {
            let mut chain = self.stack.clone();
            chain.push(name.to_string());
            return Err(self.locate(err(format!(
                "macro '{name}' refers to itself: {}",
                chain.join(" -> ")
            ))));
        }
        let body = match self.macros.get(name) {
            None => {
                return Err(self.locate(err(format!(
                    "undefined macro '{name}' (a field needs an operator; a list needs 'in')"
                ))))
            }
            Some(Err(mut e)) => {
                e.in_macro.get_or_insert_with(|| name.to_string());
                return Err(e);
            }
            Some(Ok(body)) => body,
        };
        self.stack.push(name.to_string());
        let node = self.expr(body);
        self.stack.pop();
        node
    }

    /// Errors inside a macro body are reported as in that macro.
    fn locate(&self, mut e: CompileError) -> CompileError {
        if e.in_macro.is_none() {
            e.in_macro = self.stack.last().cloned();
        }
        e
    }
}

fn check(c: &Check, slot: u32) -> Result<CheckNode, CompileError> {
    let f = field(&c.lhs, "")?;
    let err = |span: Span, message: String| CompileError {
        offset: span.start,
        message,
        in_macro: None,
    };
    let ty = f.ty();
    let rhs = match &c.rhs {
        None => Operand::None,
        Some(Rhs::Field(other)) => Operand::Field(field(other, "")?),
        Some(Rhs::Value(v)) => {
            if matches!(c.op, Op::In | Op::Intersects | Op::PMatch) || c.modifier.is_some() {
                Operand::Many(vec![lit(c.op, ty, v, &f)?], None)
            } else {
                Operand::One(lit(c.op, ty, v, &f)?)
            }
        }
        Some(Rhs::List(values, span)) => {
            if !matches!(c.op, Op::In | Op::Intersects | Op::PMatch) && c.modifier.is_none() {
                return Err(err(
                    *span,
                    format!("operator '{}' takes one value, not a list", op_name(c.op)),
                ));
            }
            let lits = values
                .iter()
                .map(|v| lit(c.op, ty, v, &f))
                .collect::<Result<Vec<_>, _>>()?;
            let hashed = (lits.len() >= HASH_FROM
                && matches!(c.op, Op::In | Op::Intersects)
                && lits.iter().all(|l| matches!(l, Lit::Str(_))))
            .then(|| {
                lits.iter()
                    .filter_map(|l| match l {
                        Lit::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect()
            });
            Operand::Many(lits, hashed)
        }
    };
    if matches!(c.op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && ty != Ty::Num {
        return Err(err(
            c.span,
            format!(
                "operator '{}' needs a numeric field; '{}' is not one",
                op_name(c.op),
                f.text
            ),
        ));
    }
    Ok(CheckNode {
        slot,
        field: f,
        op: c.op,
        modifier: c.modifier,
        rhs,
    })
}

/// Converts a literal for `op` on a field of type `ty`.
fn lit(op: Op, ty: Ty, v: &Value, f: &Field) -> Result<Lit, CompileError> {
    let err = |message: String| CompileError {
        offset: v.span.start,
        message,
        in_macro: None,
    };
    let text = v.text.as_str();
    Ok(match op {
        Op::Regex => Lit::Pattern(
            Regex::new(&format!("^(?:{text})$"))
                .map_err(|e| err(format!("invalid regex '{text}': {e}")))?,
        ),
        Op::Glob | Op::IGlob => Lit::Pattern(glob(text, op == Op::IGlob).map_err(err)?),
        Op::BContains | Op::BStartsWith => Lit::Str(hex(text).ok_or_else(|| {
            err(format!(
                "'{}' needs hex bytes (e.g. 7f454c46), found '{text}'",
                op_name(op)
            ))
        })?),
        Op::Contains | Op::IContains | Op::StartsWith | Op::EndsWith | Op::PMatch | Op::Exists => {
            let t = if op == Op::IContains {
                text.to_ascii_lowercase()
            } else {
                text.to_string()
            };
            Lit::Str(t.into_bytes())
        }
        Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::In | Op::Intersects => match ty {
            Ty::Str => Lit::Str(text.as_bytes().to_vec()),
            Ty::Num => Lit::Num(parse_num(text).ok_or_else(|| {
                err(format!("'{}' is numeric; '{text}' is not a number", f.text))
            })?),
            Ty::Bool => Lit::Bool(match text {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(err(format!(
                        "'{}' is true or false; found '{text}'",
                        f.text
                    )))
                }
            }),
            Ty::Ip => Lit::Ip(text.parse().map_err(|_| {
                err(format!(
                    "'{}' is an IP address; '{text}' is not one",
                    f.text
                ))
            })?),
            Ty::Net => Lit::Net(
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        err(format!(
                            "'{}' is compared with networks (10.0.0.0/8); '{text}' is not one",
                            f.text
                        ))
                    })?,
            ),
        },
    })
}

fn parse_num(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(h, 16).ok();
    }
    t.parse().ok()
}

fn hex(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    if !t.len().is_multiple_of(2) || t.is_empty() {
        return None;
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(t.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A shell glob as an anchored byte regex: `*` any run (slashes included, as Falco's
/// fnmatch without FNM_PATHNAME), `?` one byte, `[...]` a class, `\x` a literal.
fn glob(pattern: &str, case_insensitive: bool) -> Result<Regex, String> {
    let mut re = String::from(if case_insensitive {
        "(?si-u)^"
    } else {
        "(?s-u)^"
    });
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                let mut class = String::from("[");
                if chars.peek() == Some(&'!') || chars.peek() == Some(&'^') {
                    chars.next();
                    class.push('^');
                }
                let mut closed = false;
                let mut first = true;
                for c in chars.by_ref() {
                    if c == ']' && !first {
                        closed = true;
                        break;
                    }
                    first = false;
                    // `&&`, `~~` and nested `[` are set operations in the regex crate's classes.
                    if matches!(c, '\\' | '[' | '&' | '~') {
                        class.push('\\');
                    }
                    class.push(c);
                }
                if !closed {
                    return Err(format!("unclosed '[' in glob '{pattern}'"));
                }
                class.push(']');
                re.push_str(&class);
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    re.push_str(&regex::escape(&n.to_string()));
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re).map_err(|e| format!("invalid glob '{pattern}': {e}"))
}

pub fn op_name(op: Op) -> &'static str {
    match op {
        Op::Exists => "exists",
        Op::Eq => "=",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Glob => "glob",
        Op::IGlob => "iglob",
        Op::Contains => "contains",
        Op::IContains => "icontains",
        Op::BContains => "bcontains",
        Op::StartsWith => "startswith",
        Op::BStartsWith => "bstartswith",
        Op::EndsWith => "endswith",
        Op::Regex => "regex",
        Op::In => "in",
        Op::Intersects => "intersects",
        Op::PMatch => "pmatch",
    }
}
