//! Falco's rule language over recorded traces: rules files are loaded ([`load`]), their
//! conditions parsed ([`condition`]), compiled against the field table ([`compile`],
//! [`fields`]) and evaluated per event ([`engine`]), each event meeting only the rules indexed
//! under its type ([`evttype`]).
//!
//! The stages follow jaq's lex -> parse -> compile -> evaluate split: nothing after compilation
//! parses text, and every error before it points at a file, line and column.

pub mod compile;
pub mod condition;
pub mod engine;
mod eval;
pub mod evttype;
pub mod fields;
pub mod filter;
pub mod load;
mod locate;
pub mod output;

#[cfg(test)]
mod tests;
