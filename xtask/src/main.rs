//! Project commands, run as `cargo xtask <command>`.
//!
//! - `deploy`: create the activities and the state machine of an ASL definition (or of an example).
//! - `local`: run stefuna-local on loopback and print the endpoint to use.
//! - `conformance`: run the end-to-end scenarios against LocalStack.
//! - `bench`: measure stefuna against the raw SDK and stefuna 1.0.1 on stefuna-local.
//! - `chaos`: the full chaos run (faults, panics, bad input, killed workers).
//! - `fuzz`: every cargo-fuzz target for a bounded time.

mod bench;
mod chaos;
mod conformance;
mod deploy;
mod fuzz;
mod local;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "stefuna project commands")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the activities and the state machine of a definition, or update them.
    Deploy(deploy::DeployArgs),
    /// Run stefuna-local on 127.0.0.1 and print its endpoint.
    Local(local::LocalArgs),
    /// Run the conformance scenarios against LocalStack.
    Conformance(conformance::ConformanceArgs),
    /// Measure tasks/s, CPU, memory and start-up against the raw SDK and stefuna 1.0.1.
    Bench(bench::BenchArgs),
    /// Run the chaos suite at full size against stefuna-local with faults on.
    Chaos(chaos::ChaosArgs),
    /// Run every fuzz target in fuzz/ for a bounded time.
    Fuzz(fuzz::FuzzArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Deploy(args) => deploy::run(args).await.map(|_| ()),
            Command::Local(args) => local::run(args).await,
            Command::Conformance(args) => conformance::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Chaos(args) => chaos::run(args).await,
            Command::Fuzz(args) => fuzz::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
