//! One module per `rhf-analyze` subcommand; each returns its output as text or JSON.

pub mod info;
pub mod verify;
