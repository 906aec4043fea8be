//! rhf-analyzer: reads rhf traces offline and turns them into views, alerts and reports.
//!
//! It works from the trace file alone — never from a live system — and decodes chunks in
//! parallel. Everything it prints that came from the recorded node goes through [`escape`],
//! so a hostile process name cannot drive the analyst's terminal. It must never write to the
//! trace it reads.

pub mod clock;
pub mod commands;
pub mod escape;
pub mod trace;
