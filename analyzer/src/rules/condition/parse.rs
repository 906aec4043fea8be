//! The condition parser: text (lists already substituted) to [`Expr`], with byte spans.
//
// Grammar (EBNF). `blank` is space, tab, CR, LF or backspace (Falco's `lex_blank`), and blanks
// may separate any two tokens except where noted.
//
//   condition   = or_expr EOF ;
//   or_expr     = and_expr { "or" and_expr } ;
//   and_expr    = not_expr { "and" not_expr } ;
//   not_expr    = "not" not_expr | check ;
//   check       = "(" or_expr ")"
//               | field_expr operator
//               | name ;                      (* no dots, no argument, no operator: a macro *)
//   field_expr  = transformer "(" field_expr ")" | field ;
//   transformer = "tolower" | "toupper" | "b64" | "basename" | "len" ;   (* "(" right after *)
//   field       = name [ "[" arg "]" ] ;      (* no blank before "[" *)
//   name        = [A-Za-z_] { [A-Za-z0-9_.-] } ;
//   arg         = { any character but "]" }- ;
//   operator    = "exists"
//               | num_op value_or_field
//               | str_op ( modifier list | value_or_field )
//               | list_op ( list | field_ref | identifier ) ;
//   num_op      = "<=" | "<" | ">=" | ">" ;
//   str_op      = "==" | "=" | "!=" | "glob" | "iglob" | "contains" | "icontains"
//               | "bcontains" | "startswith" | "bstartswith" | "endswith" | "regex" ;
//   list_op     = "in" | "intersects" | "pmatch" ;
//   modifier    = "oneof" | "anyof" | "allof" ;
//   value_or_field = field_ref | value ;
//   field_ref   = "val" "(" field_expr ")" | transformer "(" field_expr ")" ;
//   list        = "(" [ value { "," value } ] ")" ;
//   value       = quoted | bare ;
//   quoted      = '"' { escape | char } '"' | "'" { escape | char } "'" ;
//   bare        = { any character but blanks, "(", ")", ",", "=", '"', "'" }- ;
//   identifier  = [A-Za-z] { [A-Za-z0-9_] } ;
//
// Keywords (`and or not` and the word operators) are lowercase and end at the first character
// that cannot continue a name. Symbol operators need no blank around them (`fd.num>=0`).
//
// The tokens (names, operators, values, keywords) are parsed by `lex.rs`, on demand: what a
// token is depends on where it stands.

use winnow::combinator::opt;
use winnow::error::ErrMode;
use winnow::prelude::*;
use winnow::stream::Location;
use winnow::token::take_while;

use super::ast::{Check, Expr, FieldExpr, Modifier, Op, Rhs, Span, Value};
use super::lex::{
    blanks, cut, found, is_blank, is_identifier, is_name_start, keyword, modifier, name, offset,
    operator, transformer_at, transformer_open, value, word_at, Input, PResult, SyntaxError,
};
use super::ConditionError;

/// Nesting limit for parentheses, `not` and transformers: deeper input is an error rather than
/// a stack overflow, so arbitrary input is safe to parse.
pub(super) const MAX_DEPTH: usize = 256;

/// Parses a whole condition.
pub(super) fn parse(text: &str) -> Result<Expr, ConditionError> {
    let mut input = Input::new(text);
    condition(&mut input).map_err(|err| match err {
        ErrMode::Backtrack(e) | ErrMode::Cut(e) => e.into_condition_error(text),
        ErrMode::Incomplete(_) => SyntaxError::at(&input).into_condition_error(text),
    })
}

fn condition(i: &mut Input) -> PResult<Expr> {
    blanks(i)?;
    if i.is_empty() {
        return cut(0, "empty condition");
    }
    let expr = or_expr(i, 0)?;
    blanks(i)?;
    match i.chars().next() {
        None => Ok(*expr),
        Some(')') => cut(offset(i), "unexpected ')'"),
        Some(_) => cut(
            offset(i),
            format!("trailing input after the condition: {}", found(i)),
        ),
    }
}

/// `and` binds tighter than `or`; both are parsed in one loop. The functions on the recursive
/// path (`or_expr`, `not_expr`, `group`) keep their frames small, passing `Box<Expr>` and
/// leaving messages to helpers: debug builds give every temporary its own stack slot, and
/// 256 levels of parentheses must fit in a test thread's stack.
fn or_expr(i: &mut Input, depth: usize) -> PResult<Box<Expr>> {
    let mut alternatives = Vec::new();
    let mut conjuncts = Vec::new();
    loop {
        conjuncts.push(not_expr(i, depth)?);
        match connective(i)? {
            Some(Connective::And) => {}
            Some(Connective::Or) => {
                alternatives.push(flatten(std::mem::take(&mut conjuncts), Expr::And));
            }
            None => break,
        }
    }
    alternatives.push(flatten(conjuncts, Expr::And));
    Ok(flatten(alternatives, Expr::Or))
}

enum Connective {
    And,
    Or,
}

/// Consumes `and` or `or` if next, checking that an operand follows.
fn connective(i: &mut Input) -> PResult<Option<Connective>> {
    if keyword(i, "and")? {
        expect_operand(i, "'and'")?;
        return Ok(Some(Connective::And));
    }
    if keyword(i, "or")? {
        expect_operand(i, "'or'")?;
        return Ok(Some(Connective::Or));
    }
    Ok(None)
}

/// One operand stays as it is; more are combined. Operands are boxed until here because an
/// `Expr` moved through the recursive frames costs stack at every level of parentheses.
#[allow(clippy::vec_box)]
fn flatten(mut operands: Vec<Box<Expr>>, combine: fn(Vec<Expr>) -> Expr) -> Box<Expr> {
    if operands.len() == 1 {
        return operands.pop().expect("one operand");
    }
    Box::new(combine(
        operands.into_iter().map(|operand| *operand).collect(),
    ))
}

/// Any number of `not` (counted in a loop, not by recursion), then a group or a check.
fn not_expr(i: &mut Input, depth: usize) -> PResult<Box<Expr>> {
    let mut depth = depth;
    let mut nots = 0;
    while let Some(deeper) = not_keyword(i, depth)? {
        depth = deeper;
        nots += 1;
    }
    let mut expr = if i.starts_with('(') {
        group(i, depth)?
    } else {
        check(i, depth)?
    };
    for _ in 0..nots {
        expr = Box::new(Expr::Not(expr));
    }
    Ok(expr)
}

/// Consumes one `not` if next; returns the depth inside it.
fn not_keyword(i: &mut Input, depth: usize) -> PResult<Option<usize>> {
    blanks(i)?;
    let start = offset(i);
    if !keyword(i, "not")? {
        return Ok(None);
    }
    let depth = deeper(depth, start)?;
    expect_operand(i, "'not'")?;
    Ok(Some(depth))
}

/// After `and`, `or`, `not` or `(`, a condition must follow: say so before descending.
fn expect_operand(i: &mut Input, after: &str) -> PResult<()> {
    blanks(i)?;
    if i.is_empty() || i.starts_with(')') {
        return cut(
            offset(i),
            format!("expected a condition after {after}, found {}", found(i)),
        );
    }
    Ok(())
}

fn deeper(depth: usize, at: usize) -> PResult<usize> {
    if depth >= MAX_DEPTH {
        return cut(
            at,
            format!("condition nested deeper than {MAX_DEPTH} levels"),
        );
    }
    Ok(depth + 1)
}

fn group(i: &mut Input, depth: usize) -> PResult<Box<Expr>> {
    let open = offset(i);
    let depth = deeper(depth, open)?;
    '('.parse_next(i)?;
    expect_operand(i, "'('")?;
    let expr = or_expr(i, depth)?;
    close_group(i, open)?;
    Ok(expr)
}

fn close_group(i: &mut Input, open: usize) -> PResult<()> {
    blanks(i)?;
    if opt(')').parse_next(i)?.is_some() {
        return Ok(());
    }
    if i.is_empty() {
        return Err(ErrMode::Cut(SyntaxError::unclosed(offset(i), open)));
    }
    cut(
        offset(i),
        format!("expected 'and', 'or' or ')', found {}", found(i)),
    )
}

/// A comparison or a macro name.
fn check(i: &mut Input, depth: usize) -> PResult<Box<Expr>> {
    match i.chars().next() {
        Some(c) if is_name_start(c) => field_check_or_macro(i, depth).map(Box::new),
        _ => cut(
            offset(i),
            format!("expected a condition, found {}", found(i)),
        ),
    }
}

fn field_check_or_macro(i: &mut Input, depth: usize) -> PResult<Expr> {
    let start = offset(i);
    let source: &str = i;
    if word_at(source, "and") || word_at(source, "or") {
        return cut(
            start,
            format!("expected a condition, found {}", found(source)),
        );
    }
    let lhs = field_expr(i, depth)?;
    let written = &source[..lhs.span.end - start];
    blanks(i)?;
    let Some((op, op_text)) = operator(i)? else {
        return macro_or_missing_operator(i, lhs, written);
    };
    let (modifier, rhs) = right_hand_side(i, op, op_text, depth)?;
    Ok(Expr::Check(Check {
        lhs,
        op,
        modifier,
        rhs,
        span: Span::new(start, i.previous_token_end()),
    }))
}

/// A name with no operator after it is a macro, unless it can only be a field.
fn macro_or_missing_operator(i: &mut Input, lhs: FieldExpr, written: &str) -> PResult<Expr> {
    let is_macro = lhs.transformers.is_empty() && lhs.arg.is_none() && !lhs.name.contains('.');
    if is_macro {
        return Ok(Expr::Macro {
            name: lhs.name,
            span: lhs.name_span,
        });
    }
    let next = *i.as_ref();
    let ends_operand =
        next.is_empty() || next.starts_with(')') || word_at(next, "and") || word_at(next, "or");
    let message = if ends_operand {
        format!("field '{written}' needs an operator")
    } else {
        format!(
            "expected an operator after field '{written}', found {}",
            found(next)
        )
    };
    cut(offset(i), message)
}

/// A field, possibly inside transformers: `tolower(basename(fd.name))`.
fn field_expr(i: &mut Input, depth: usize) -> PResult<FieldExpr> {
    let start = offset(i);
    let mut opened = Vec::new();
    while let Some(transformer) = transformer_open(i)? {
        deeper(depth + opened.len(), start)?;
        opened.push(transformer);
        blanks(i)?;
    }
    let (name, name_span, arg) = field(i, opened.last().map(|&(_, written)| written))?;
    for (_, written) in opened.iter().rev() {
        blanks(i)?;
        if opt(')').parse_next(i)?.is_none() {
            return cut(
                offset(i),
                format!("expected ')' closing '{written}(', found {}", found(i)),
            );
        }
    }
    Ok(FieldExpr {
        transformers: opened.into_iter().map(|(t, _)| t).collect(),
        name,
        arg,
        span: Span::new(start, i.previous_token_end()),
        name_span,
    })
}

/// `name` or `name[arg]`. `inside` names the transformer around it, for the message.
fn field(i: &mut Input, inside: Option<&str>) -> PResult<(String, Span, Option<String>)> {
    let start = offset(i);
    let Some(name) = opt(name).parse_next(i)? else {
        let message = match inside {
            Some(t) => format!("expected a field inside '{t}(', found {}", found(i)),
            None => format!("expected a field, found {}", found(i)),
        };
        return cut(start, message);
    };
    let name_span = Span::new(start, offset(i));
    if i.starts_with('(') {
        let message = if name == "val" {
            "'val(...)' can only be used on the right-hand side of a comparison".to_string()
        } else {
            format!(
                "unknown transformer '{name}' (expected tolower, toupper, b64, basename or len)"
            )
        };
        return cut(start, message);
    }
    let arg = field_argument(i)?;
    Ok((name.to_string(), name_span, arg))
}

fn field_argument(i: &mut Input) -> PResult<Option<String>> {
    let open = offset(i);
    if opt('[').parse_next(i)?.is_none() {
        return Ok(None);
    }
    let arg = take_while(0.., |c| c != ']').parse_next(i)?;
    if opt(']').parse_next(i)?.is_none() {
        return cut(open, "unclosed '[' in field argument");
    }
    if arg.is_empty() {
        return cut(open, "empty field argument '[]'");
    }
    Ok(Some(arg.to_string()))
}

fn right_hand_side(
    i: &mut Input,
    op: Op,
    op_text: &str,
    depth: usize,
) -> PResult<(Option<Modifier>, Option<Rhs>)> {
    match op {
        Op::Exists => Ok((None, None)),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => Ok((None, Some(value_or_field(i, op_text, depth)?))),
        Op::In | Op::Intersects | Op::PMatch => Ok((None, Some(list_operand(i, op_text, depth)?))),
        _ => {
            blanks(i)?;
            if let Some((modifier, written)) = modifier(i)? {
                blanks(i)?;
                if !i.starts_with('(') {
                    return cut(
                        offset(i),
                        format!(
                            "'{written}' needs a list in parentheses, found {}",
                            found(i)
                        ),
                    );
                }
                let (values, span) = list(i)?;
                return Ok((Some(modifier), Some(Rhs::List(values, span))));
            }
            Ok((None, Some(value_or_field(i, op_text, depth)?)))
        }
    }
}

fn value_or_field(i: &mut Input, op_text: &str, depth: usize) -> PResult<Rhs> {
    blanks(i)?;
    if let Some(field) = field_ref(i, depth)? {
        return Ok(Rhs::Field(field));
    }
    if let Some(value) = value(i)? {
        return Ok(Rhs::Value(value));
    }
    let hint = if i.starts_with('(') {
        " (a list needs 'in' or a modifier such as 'anyof')"
    } else {
        ""
    };
    cut(
        offset(i),
        format!(
            "expected a value after '{op_text}', found {}{hint}",
            found(i)
        ),
    )
}

/// What may follow `in`, `intersects` and `pmatch`. Besides a list and a field, Falco accepts
/// one identifier, which is a list of one value (what a one-item list name substitutes to).
fn list_operand(i: &mut Input, op_text: &str, depth: usize) -> PResult<Rhs> {
    blanks(i)?;
    if i.starts_with('(') {
        let (values, span) = list(i)?;
        return Ok(Rhs::List(values, span));
    }
    if let Some(field) = field_ref(i, depth)? {
        return Ok(Rhs::Field(field));
    }
    let start = offset(i);
    let source: &str = i;
    match value(i)? {
        Some(value) if !value.quoted && is_identifier(&value.text) => {
            let after = i.trim_start_matches(is_blank);
            if after.starts_with(',') {
                let at = offset(i) + (i.len() - after.len());
                return cut(
                    at,
                    format!("a list after '{op_text}' needs parentheses, found ','"),
                );
            }
            Ok(Rhs::Value(value))
        }
        _ => cut(
            start,
            format!(
                "expected a list in parentheses after '{op_text}', found {}",
                found(source)
            ),
        ),
    }
}

/// `val(field_expr)` or `transformer(field_expr)` on the right-hand side.
fn field_ref(i: &mut Input, depth: usize) -> PResult<Option<FieldExpr>> {
    let start = offset(i);
    if !i.starts_with("val(") {
        if transformer_at(i).is_some() {
            return field_expr(i, depth).map(Some);
        }
        return Ok(None);
    }
    "val(".parse_next(i)?;
    blanks(i)?;
    if !i.starts_with(is_name_start) {
        return cut(
            offset(i),
            format!("expected a field inside 'val(', found {}", found(i)),
        );
    }
    let inner = field_expr(i, depth)?;
    blanks(i)?;
    if opt(')').parse_next(i)?.is_none() {
        return cut(
            offset(i),
            format!("expected ')' closing 'val(', found {}", found(i)),
        );
    }
    Ok(Some(FieldExpr {
        span: Span::new(start, i.previous_token_end()),
        ..inner
    }))
}

/// `(a, b, "c d")`, possibly empty. Falco accepts neither empty elements nor a trailing comma.
fn list(i: &mut Input) -> PResult<(Vec<Value>, Span)> {
    let open = offset(i);
    '('.parse_next(i)?;
    blanks(i)?;
    let mut values = Vec::new();
    if opt(')').parse_next(i)?.is_none() {
        loop {
            blanks(i)?;
            let Some(value) = value(i)? else {
                let message = if values.is_empty() {
                    format!("expected a value or ')' in the list, found {}", found(i))
                } else {
                    format!("expected a value after ',' in the list, found {}", found(i))
                };
                return cut(offset(i), message);
            };
            values.push(value);
            blanks(i)?;
            if opt(')').parse_next(i)?.is_some() {
                break;
            }
            if opt(',').parse_next(i)?.is_none() {
                return cut(
                    offset(i),
                    format!("expected ',' or ')' in the list, found {}", found(i)),
                );
            }
        }
    }
    Ok((values, Span::new(open, i.previous_token_end())))
}
