//! `rhf-record`: parse the command line, run one command, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use rhf_recorder::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("rhf-record: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
