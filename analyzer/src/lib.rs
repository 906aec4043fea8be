//! rhf-analyzer: reads rhf traces offline and turns them into views, alerts and reports.
//!
//! It works from the trace file alone — never from a live system — and decodes chunks in
//! parallel. Everything it prints that came from the recorded node goes through [`escape`],
//! so a hostile process name cannot drive the analyst's terminal, and secrets in environments
//! and command lines go through [`redact`] unless the analyst asks to see them. It must never
//! write to the trace it reads.
//!
//! The live-response views (`ps`, `lsof`, `netstat`, `env`, `findings`) read a `/proc`
//! snapshot: [`snapshot::HostSnapshot`] rebuilds the node's processes, sockets and accounts
//! from the raw files the recorder kept, and each module of [`commands`] renders one view of
//! that state.
//!
//! ```no_run
//! use rhf_analyzer::{commands::findings, redact::Redactor, snapshot::HostSnapshot};
//!
//! let reader = rhf_analyzer::trace::open("case.rhf".as_ref())?;
//! let snap = HostSnapshot::load(&reader);
//! for f in findings::collect(&snap, &Redactor::new(false)) {
//!     println!("{} {} {}", f.pid, f.indicator, f.evidence);
//! }
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod clock;
pub mod commands;
pub mod escape;
pub mod redact;
pub mod render;
pub mod report;
pub mod rules;
pub mod snapshot;
pub mod state;
pub mod timeline;
pub mod trace;
