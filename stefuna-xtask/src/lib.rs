//! `cargo xtask deploy` and `cargo xtask local` for any workspace with stefuna workers.
//!
//! A workspace adds an `xtask` package whose `main` is one line, plus the usual alias:
//!
//! ```no_run
//! // xtask/src/main.rs (xtask/Cargo.toml depends on stefuna-xtask)
//! fn main() -> std::process::ExitCode {
//!     stefuna_xtask::main()
//! }
//! ```
//!
//! ```toml
//! # .cargo/config.toml
//! [alias]
//! xtask = "run --package xtask --"
//! ```
//!
//! # `cargo xtask deploy`
//!
//! ```sh
//! cargo xtask deploy --bin worker --definition machine.asl.json --role-arn arn:aws:iam::123456789012:role/sfn
//! ```
//!
//! 1. Builds the worker (`--bin NAME`, `--example NAME`, `-p PACKAGE`) with `cargo build` in the
//!    workspace, and runs it with `--describe` ([`stefuna_runtime::describe`]) in the current
//!    directory, so its `stefuna.toml` and `STEFUNA_*` environment apply: the activities are
//!    read from the built binary, never from source text.
//! 2. Creates each activity with `CreateActivity` (idempotent: an existing activity keeps its
//!    ARN), named as in the worker's ARN.
//! 3. Replaces each `${activity:NAME}` in the definition with the created ARN, by the rules of
//!    [`stefuna_runtime::definition`], the same code `--local --state-machine` uses. Without
//!    `--definition`, one Task state per activity is deployed (`TimeoutSeconds` 3600 and, for a
//!    worker that beats, `HeartbeatSeconds` of three beats). With `--definition` and no worker,
//!    the placeholders name the activities to create.
//! 4. Warns when a worker's `heartbeat` is not shorter than its Task state's `HeartbeatSeconds`
//!    (the task would time out between beats), and when an activity Task state has neither
//!    `HeartbeatSeconds` nor `TimeoutSeconds`.
//! 5. Validates the definition (`ValidateStateMachineDefinition`), then updates the state
//!    machine of that name (`ListStateMachines`, `UpdateStateMachine`) or creates it.
//!
//! Every call is printed as it is made; on a failure the output lists what was created before
//! it. `--dry-run` builds and describes the worker, prints the calls it would make and the
//! resolved definition, and makes none. `--endpoint-url` targets stefuna-local or LocalStack
//! (loopback endpoints get static test credentials and need no `--role-arn`); on AWS,
//! `--role-arn` is required and credentials come from the usual AWS chain.
//!
//! # `cargo xtask local`
//!
//! Runs stefuna-local (an in-memory Step Functions endpoint) on 127.0.0.1 until Ctrl-C and prints
//! its endpoint and how to point the aws CLI, boto3, a worker and `deploy` at it.

mod build;
mod checks;
pub mod deploy;
pub mod local;
mod sfn;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use deploy::{DeployArgs, Deployed};
pub use local::LocalArgs;

/// The `cargo xtask` command line: `deploy` or `local`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Deploy stefuna workers, or run stefuna-local"
)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// A command of [`Cli`].
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Build a worker, create its activities and create or update a state machine.
    Deploy(DeployArgs),
    /// Run stefuna-local on 127.0.0.1 and print its endpoint.
    Local(LocalArgs),
}

/// Runs `command`.
///
/// # Errors
/// What went wrong, for printing (`{e:#}`): a failed build, a refused definition, a refused
/// or unreachable Step Functions call.
pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Deploy(args) => deploy::run(args).await.map(|_| ()),
        Command::Local(args) => local::run(args).await,
    }
}

/// An xtask's whole `main`: parses the command line, runs the command on a new tokio runtime,
/// prints an error as `error: ...` on stderr. Exit codes: 0 on success, 1 on an error, 2 for a
/// command-line error.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
