//! The syntax tree of a condition, as the parser produces it and the compiler consumes it.
//!
//! Every node keeps the byte range it came from in the condition text (after list
//! substitution), so later stages can point at the offending column.

/// A byte range in the condition text: `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
}

/// A boolean expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Two or more operands, all of which must hold (`a and b and c`, flattened).
    And(Vec<Expr>),
    /// Two or more operands, one of which must hold (flattened).
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Check(Check),
    /// A bare name that is not followed by an operator: a macro reference.
    Macro {
        name: String,
        span: Span,
    },
}

/// `field op value`, `field exists`, or `field op modifier (values)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub lhs: FieldExpr,
    pub op: Op,
    /// `oneof`, `anyof` or `allof` after a string operator.
    pub modifier: Option<Modifier>,
    /// `None` only for unary operators (`exists`).
    pub rhs: Option<Rhs>,
    pub span: Span,
}

/// A field, possibly with an argument and wrapped in transformers:
/// `proc.name`, `proc.aname[2]`, `proc.env[HOME]`, `tolower(basename(fd.name))`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldExpr {
    /// Outermost first: `tolower(basename(f))` is `[ToLower, Basename]`.
    pub transformers: Vec<Transformer>,
    /// The dotted name, e.g. `proc.aname`.
    pub name: String,
    /// What was inside the brackets, verbatim, e.g. `2` or `HOME`.
    pub arg: Option<String>,
    /// The span of the whole expression, transformers included.
    pub span: Span,
    /// The span of the field name alone (for "unknown field" errors).
    pub name_span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transformer {
    ToLower,
    ToUpper,
    B64,
    Basename,
    Len,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Exists,
    /// `=` and `==`.
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Glob,
    IGlob,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Regex,
    In,
    Intersects,
    PMatch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Modifier {
    OneOf,
    AnyOf,
    AllOf,
}

/// The right-hand side of a check.
#[derive(Debug, Clone, PartialEq)]
pub enum Rhs {
    /// One value, quoted or bare.
    Value(Value),
    /// A parenthesised list `(a, b, "c d")`; may be empty.
    List(Vec<Value>, Span),
    /// `val(field)`: compare with another field of the same event.
    Field(FieldExpr),
}

/// A literal value with quotes removed and escapes resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub text: String,
    /// Whether it was written in quotes (a quoted value is never a list name).
    pub quoted: bool,
    pub span: Span,
}
