//! The live-response views (`ps`, `lsof`, `netstat`, `env`, `findings`) driven as a user
//! would, on hand-made snapshot traces with realistic `/proc` contents.

mod fixture;
mod node;
mod procfs;

mod env;
mod findings;
mod lsof_netstat;
mod ps;
mod robustness;
