//! `cargo xtask chaos`: the chaos suite at full size.
//!
//! The suites are tests, so `cargo test` runs them scaled down; this command runs them at full
//! size with their output shown:
//!
//! 1. `tests/chaos.rs` with `CHAOS_EXECUTIONS=2000`: executions through worker processes against
//!    stefuna-local with faults on, one worker SIGTERMed and one SIGKILLed mid-run; and a task
//!    blocking a runtime thread forever;
//! 2. the outage test of `stefuna-runtime/tests/reliability.rs` with 30 s outages
//!    (`RELIABILITY_OUTAGE_SECONDS`): the endpoint refuses connections at start and mid-run;
//! 3. `stefuna-runtime/tests/reliability_memory.rs` with `STEFUNA_MEMORY_TASKS=100000`: a
//!    worker's resident memory sampled over 100,000 tasks.
//!
//! The worker examples are built first: `cargo test --test X` alone does not rebuild them.

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
    /// Seconds the endpoint refuses connections, at start and mid-run, in the outage test.
    #[arg(long, default_value_t = 30)]
    outage_seconds: u64,
    /// Build and run optimised (closer to production; slower to build).
    #[arg(long)]
    release: bool,
}

/// Runs the command.
pub async fn run(args: ChaosArgs) -> anyhow::Result<()> {
    let profile: &[&str] = if args.release { &["--release"] } else { &[] };
    let executions = args.executions.to_string();
    let memory_tasks = args.memory_tasks.to_string();
    cargo(
        &[
            &["build", "-p", "stefuna", "--example", "chaos_worker"][..],
            &["-p", "stefuna-runtime", "--example", "test_worker"],
            profile,
        ]
        .concat(),
        &[],
    )
    .await?;
    cargo(
        &[
            &["test", "-p", "stefuna", "--test", "chaos"][..],
            profile,
            &["--", "--nocapture", "--test-threads", "1"],
        ]
        .concat(),
        &[("CHAOS_EXECUTIONS", &executions)],
    )
    .await?;
    cargo(
        &[
            &["test", "-p", "stefuna-runtime", "--test", "reliability"][..],
            profile,
            &["--", "--nocapture", "an_endpoint_down"],
        ]
        .concat(),
        &[(
            "RELIABILITY_OUTAGE_SECONDS",
            &args.outage_seconds.to_string(),
        )],
    )
    .await?;
    if args.memory_tasks > 0 {
        cargo(
            &[
                &[
                    "test",
                    "-p",
                    "stefuna-runtime",
                    "--test",
                    "reliability_memory",
                ][..],
                profile,
                &["--", "--ignored", "--nocapture"],
            ]
            .concat(),
            &[("STEFUNA_MEMORY_TASKS", &memory_tasks)],
        )
        .await?;
    }
    println!("chaos: passed");
    Ok(())
}

/// Runs `cargo ARGS` with `env` (and loopback exempt from proxies), printing the command first.
async fn cargo(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("chaos: {} {cargo} {}", shown.join(" "), args.join(" "));
    let mut cmd = Command::new(&cargo);
    cmd.args(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = tokio::task::spawn_blocking(move || cmd.status())
        .await
        .context("waiting for cargo")?
        .with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}
