//! The `synapse` command: train, predict, eval, summary (SPEC section 7).
//!
//! Parsing (clap, `args.rs`) is apart from meaning (`config.rs`); each
//! subcommand is a `run` function. Errors are one line on stderr beginning
//! `error: `, exit 2 for bad usage or input, exit 1 when training diverged.

mod args;
mod config;
mod eval;
mod export;
mod plot;
mod predict;
mod progress;
mod summary;
mod train;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::from(2);
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("error: bad usage").trim_end();
            eprintln!("{first} (see --help)");
            return ExitCode::from(2);
        }
    };
    let result = match &cli.command {
        Command::Train(a) => train::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Summary(a) => summary::run(a),
        Command::Export(a) => export::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {message}");
            let diverged = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<synapse_train::Error>(),
                    Some(synapse_train::Error::Diverged { .. })
                )
            });
            ExitCode::from(if diverged { 1 } else { 2 })
        }
    }
}
