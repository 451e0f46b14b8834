//! `inframind`: build-configuration suggestions from the CI history you already have.
//!
//! A host of `inframind-core`: it parses arguments, reads files and prints; every decision
//! (validation, training, the suggestion, classification, policy verdicts) is the core's.

mod classify;
mod cli;
mod failure;
mod history;
mod import;
mod output;
mod policy;
mod suggest;
mod train;
mod units;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, PolicyCommand};
use failure::EXIT_OK;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Train(args) => train::run(args),
        Command::Suggest(args) => suggest::run(args),
        Command::Classify(args) => classify::run(args),
        Command::Policy(PolicyCommand::Test(args)) => policy::test(args),
        Command::Import(command) => import::run(command),
    };
    match outcome {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(failure) => {
            eprintln!("inframind: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
