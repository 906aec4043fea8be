//! `rhf-analyze report`: one document for a ticket, in Markdown, HTML or JSON.
//!
//! The report is a model first ([`model::Report`], serialized as is for JSON and documented
//! in `docs/report-schema.md`), filled in one place ([`collect::collect`]) from one pass over
//! the trace ([`scan`]), then rendered ([`render`]) through templates that live in
//! `analyzer/templates/`. Everything from the node is escaped and, unless secrets are shown,
//! redacted in the model; each format adds its own escaping on top. The same trace gives
//! byte-identical reports whatever the number of threads: nothing in a report reads the
//! wall clock.
//!
//! ```no_run
//! use rhf_analyzer::report::{collect, model::Limits, render};
//! use rhf_analyzer::redact::Redactor;
//!
//! let reader = rhf_analyzer::trace::open("case.rhf".as_ref())?;
//! let engine = rhf_analyzer::commands::rules::load(&Default::default())?;
//! let report = collect::collect(
//!     &reader,
//!     &collect::Inputs {
//!         name: "case.rhf",
//!         engine: &engine,
//!         rules_files: vec![],
//!         redactor: Redactor::new(false),
//!         limits: Limits::default(),
//!     },
//! );
//! print!("{}", render::render(&report, render::Format::Markdown)?);
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod collect;
pub mod model;
pub mod render;
pub mod scan;
pub mod svg;
pub mod tree;
