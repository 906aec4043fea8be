//! One module per `rhf-analyze` subcommand; each returns its output as text or JSON.

pub mod env;
pub mod event_filter;
pub mod findings;
pub mod info;
pub mod lsof;
pub mod netstat;
pub mod print;
pub mod ps;
pub mod report;
pub mod rules;
pub mod scan;
pub mod summary;
pub mod table;
pub mod timeline;
pub mod verify;
