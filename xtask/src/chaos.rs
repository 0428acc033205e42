//! `cargo xtask chaos`: the chaos suite at full size.
//!
//! The suites are tests, so `cargo test` runs them scaled down; this command runs them at full
//! size with their output shown:
//!
//! 1. `tests/chaos.rs` with `CHAOS_EXECUTIONS=2000`: executions through worker processes against
//!    stefuna-local with faults on, one worker SIGTERMed and one SIGKILLed mid-run; and a task
//!    blocking a runtime thread forever;
//! 2. the outage test of `stefuna-runtime/tests/reliability.rs` with 30 s outages
//!    (`RELIABILITY_OUTAGE_SECONDS`): the endpoint refuses connections at start and mid-run.
//!    The test prints the worker's CPU time in each outage (`outage-cpu:` lines); this command
//!    holds it under a tenth of the outage (a hot retry loop would use all of it), since a time
//!    is a benchmark's business, not a test assertion;
//! 3. `stefuna-runtime/tests/reliability_memory.rs` with `STEFUNA_MEMORY_TASKS=100000`: a
//!    worker's resident memory sampled over 100,000 tasks.
//!
//! The worker examples are built first, so the build shows apart from the tests (the tests also
//! run `cargo build` for the example they spawn, which is then a no-op check).

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
    let outage = cargo_output(
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
    check_outage_cpu(&outage)?;
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

/// Checks the outage test's `outage-cpu: WHEN CPU_SECONDS WINDOW_SECONDS POLL_ERRORS` lines:
/// both outages reported, each with CPU time under a tenth of its window.
fn check_outage_cpu(output: &str) -> anyhow::Result<()> {
    let mut seen = 0;
    for line in output.lines() {
        let Some(rest) = line.strip_prefix("outage-cpu: ") else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let [when, cpu, window, errors] = f[..] else {
            bail!("malformed outage line {line:?}");
        };
        let (cpu, window): (f64, f64) = (
            cpu.parse().with_context(|| format!("in {line:?}"))?,
            window.parse().with_context(|| format!("in {line:?}"))?,
        );
        println!(
            "chaos: endpoint down {when}: {cpu:.2} s CPU in {window:.0} s ({errors} poll errors; \
             limit {:.1} s)",
            window / 10.0
        );
        if cpu >= window / 10.0 {
            bail!(
                "the worker used {cpu:.2} s of CPU in a {window:.0} s outage ({when}): spinning?"
            );
        }
        seen += 1;
    }
    if seen != 2 {
        bail!("the outage test reported {seen} outages, expected 2 (did it run?)");
    }
    Ok(())
}

/// Runs `cargo ARGS` like [`cargo`], echoing and returning its standard output.
async fn cargo_output(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<String> {
    use tokio::io::AsyncBufReadExt as _;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("chaos: {} {cargo} {}", shown.join(" "), args.join(" "));
    let mut cmd = tokio::process::Command::new(&cargo);
    cmd.args(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().with_context(|| format!("cannot run {cargo}"))?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().context("no stdout")?).lines();
    let mut out = String::new();
    while let Some(line) = lines.next_line().await? {
        println!("{line}");
        out.push_str(&line);
        out.push('\n');
    }
    let status = child.wait().await?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::check_outage_cpu;

    #[test]
    fn outage_cpu_is_held_to_a_tenth_of_the_window() {
        let ok = "x\noutage-cpu: at-start 0.120 30.000 12\noutage-cpu: mid-run 0.200 30.000 9\n";
        check_outage_cpu(ok).unwrap();
        let spinning = "outage-cpu: at-start 0.120 30.000 12\noutage-cpu: mid-run 3.500 30.000 9\n";
        assert!(check_outage_cpu(spinning).is_err());
        assert!(
            check_outage_cpu("outage-cpu: at-start 0.1 30 1\n").is_err(),
            "one missing"
        );
        assert!(check_outage_cpu("").is_err(), "the test did not run");
    }
}
