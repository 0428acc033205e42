//! `cargo xtask chaos`: the chaos suite at full size.
//!
//! The suite lives in `tests/chaos.rs` (so `cargo test` runs it scaled down); this command runs
//! the same tests with the full counts, their output shown: 2,000 executions through worker
//! processes against stefuna-local with faults on (one worker SIGTERMed, one SIGKILLed), a task
//! blocking a runtime thread forever, and the memory of a worker over 100,000 tasks.

use std::process::Command;

use anyhow::{Context as _, bail};
use clap::Args;

/// Arguments of `cargo xtask chaos`.
#[derive(Args)]
pub struct ChaosArgs {
    /// Executions of the chaos run.
    #[arg(long, default_value_t = 2000)]
    executions: usize,
    /// Tasks of the memory run (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    memory_tasks: usize,
    /// Build and run optimised (closer to production; slower to build).
    #[arg(long)]
    release: bool,
}

/// Runs the command.
pub async fn run(args: ChaosArgs) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(&cargo);
    cmd.args(["test", "-p", "stefuna", "--test", "chaos"]);
    if args.release {
        cmd.arg("--release");
    }
    cmd.args(["--", "--nocapture", "--test-threads", "1"]);
    if args.memory_tasks > 0 {
        cmd.arg("--include-ignored");
    }
    cmd.env("CHAOS_EXECUTIONS", args.executions.to_string())
        .env("CHAOS_MEMORY_TASKS", args.memory_tasks.to_string())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    println!(
        "chaos: CHAOS_EXECUTIONS={} CHAOS_MEMORY_TASKS={} {cargo} test -p stefuna --test chaos{} \
         -- --nocapture --test-threads 1{}",
        args.executions,
        args.memory_tasks,
        if args.release { " --release" } else { "" },
        if args.memory_tasks > 0 {
            " --include-ignored"
        } else {
            ""
        },
    );
    let status = tokio::task::spawn_blocking(move || cmd.status())
        .await
        .context("waiting for cargo test")?
        .with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("the chaos suite failed ({status})");
    }
    println!("chaos: passed");
    Ok(())
}
