//! Project commands, run as `cargo xtask <command>`.
//!
//! - `deploy`: build a worker (e.g. `--example hello`), create its activities and the state
//!   machine of an ASL definition (stefuna-xtask, the crate any workspace uses for this).
//! - `local`: run stefuna-local on loopback and print the endpoint to use (stefuna-xtask).
//! - `conformance`: run the end-to-end scenarios against LocalStack.
//! - `bench`: measure stefuna against the raw SDK and stefuna 1.0.1 on stefuna-local.
//! - `chaos`: the full chaos run (faults, panics, bad input, killed workers).
//! - `fuzz`: every cargo-fuzz target for a bounded time.
//! - `fleet`: worker processes against stefuna-local with AWS's API quotas on, with and without
//!   the workers' quota handling, side by side.

mod bench;
mod chaos;
mod conformance;
mod fleet;
mod fuzz;

use std::path::{Path, PathBuf};
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
    Deploy(stefuna_xtask::DeployArgs),
    /// Run stefuna-local on 127.0.0.1 and print its endpoint.
    Local(stefuna_xtask::LocalArgs),
    /// Run the conformance scenarios against LocalStack.
    Conformance(conformance::ConformanceArgs),
    /// Measure tasks/s, CPU, memory and start-up against the raw SDK and stefuna 1.0.1.
    Bench(bench::BenchArgs),
    /// Run the chaos suite at full size against stefuna-local with faults on.
    Chaos(chaos::ChaosArgs),
    /// Run every fuzz target in fuzz/ for a bounded time.
    Fuzz(fuzz::FuzzArgs),
    /// Run a fleet of workers against stefuna-local with AWS's API quotas on, twice.
    Fleet(fleet::FleetArgs),
}

/// The workspace root (xtask's parent directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Deploy(args) => stefuna_xtask::deploy::run(args).await.map(|_| ()),
            Command::Local(args) => stefuna_xtask::local::run(args).await,
            Command::Conformance(args) => conformance::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Chaos(args) => chaos::run(args).await,
            Command::Fuzz(args) => fuzz::run(args).await,
            Command::Fleet(args) => fleet::run(args).await,
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
