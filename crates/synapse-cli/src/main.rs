//! The `synapse` command: train, predict, eval, summary, export, generate,
//! tokenizer (SPEC sections 7, 10 and 12).
//!
//! Parsing (clap, `args.rs`) is apart from meaning (`config.rs`); each
//! subcommand is a `run` function. Errors are one line on stderr beginning
//! `error: `, exit 2 for bad usage or input, exit 1 when training diverged.
//! Every command prints through `stdout::Stdout`: a closed output pipe
//! (`synapse predict ... | head`) ends the command quietly with exit 0, as
//! ripgrep does; any other failed write is an error naming stdout.

mod args;
mod config;
mod distributed;
mod eval;
mod export;
mod generate;
mod job;
mod log;
mod message;
mod paths;
mod plot;
mod predict;
mod progress;
mod stdout;
mod summary;
mod tokenizer;
mod train;

use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    synapse_train::runtime::configure();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {} (see --help)", usage_error(&e));
            return ExitCode::from(2);
        }
    };
    let result = match &cli.command {
        Command::Train(a) if a.distributed => distributed::run(a),
        // The main thread is a worker of rayon's pool (see
        // synapse_train::runtime::configure).
        Command::Train(a) => train::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Summary(a) => summary::run(a),
        Command::Export(a) => export::run(a),
        Command::Generate(a) => generate::run(a),
        Command::Tokenizer(a) => tokenizer::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if stdout::closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(r) = e.downcast_ref::<distributed::Reported>() {
                return ExitCode::from(r.code);
            }
            eprintln!("error: {}", message::render(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}

/// 1 when training diverged, else 2 (SPEC section 9).
fn exit_code(e: &anyhow::Error) -> u8 {
    let diverged = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<synapse_train::Error>(),
            Some(synapse_train::Error::Diverged { .. })
        )
    });
    if diverged {
        1
    } else {
        2
    }
}

/// clap's error as one line, naming what is missing or wrong.
fn usage_error(e: &clap::Error) -> String {
    let names = |kind| match e.get(kind) {
        Some(ContextValue::Strings(v)) => v.join(", "),
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let text = match e.kind() {
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            "no subcommand given; expected train, predict, eval, summary, export, generate or tokenizer"
                .to_string()
        }
        ErrorKind::MissingRequiredArgument => {
            format!("missing required flags: {}", names(ContextKind::InvalidArg))
        }
        _ => {
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or("bad usage").trim_end();
            first.strip_prefix("error: ").unwrap_or(first).to_string()
        }
    };
    message::clean(&text)
}
