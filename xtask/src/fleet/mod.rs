//! `cargo xtask fleet`: a fleet of worker processes against one stefuna-local with AWS's API
//! quotas on, run twice (the worker's quota handling on, then off) and reported side by side.
//!
//! The emulator runs in this process (so every task token's answers can be checked); its
//! executions are started before the quotas are switched on, so the run measures the
//! workers, not the starter. The workers are `bench-sleep` processes: each task sleeps
//! `--task-ms`, with automatic heartbeats every `--heartbeat` seconds, and the state machine
//! sets `HeartbeatSeconds`.

mod report;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::ProgressBar;
use stefuna_local::Emulator;

use crate::bench::endpoint::{client, start_executions};
use crate::workspace_root;
use report::{Outcome, Sample};

/// Arguments of `cargo xtask fleet`.
#[derive(Args, Debug, Clone)]
pub struct FleetArgs {
    /// Worker processes.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Task slots per worker (`--processes`).
    #[arg(long, default_value_t = 256)]
    slots: usize,
    /// Polls each worker keeps open (`--pollers`).
    #[arg(long, default_value_t = 8)]
    pollers: usize,
    /// Executions per run.
    #[arg(long, default_value_t = 2000)]
    executions: usize,
    /// How long each task takes, in real milliseconds.
    #[arg(long, default_value_t = 2500)]
    task_ms: u64,
    /// The workers' heartbeat interval, in real seconds.
    #[arg(long, default_value_t = 2)]
    heartbeat: u64,
    /// The Task state's HeartbeatSeconds, on the emulator's (sped-up) clock.
    #[arg(long, default_value_t = 20)]
    heartbeat_seconds: u64,
    /// The emulator's clock speed-up (also multiplies the quotas' refill rates).
    #[arg(long, default_value_t = 2.0)]
    time_scale: f64,
    /// Fraction of AWS's us-east-1 quotas (bucket sizes and refill rates).
    #[arg(long, default_value_t = 0.02)]
    quota_scale: f64,
    /// Give up on a run after this many seconds.
    #[arg(long, default_value_t = 300)]
    limit: u64,
    /// Build and run the workers in release mode.
    #[arg(long)]
    release: bool,
}

/// Builds the worker, runs the fleet with quota handling on and off, prints both.
pub async fn run(args: FleetArgs) -> anyhow::Result<()> {
    if args.workers == 0 || args.slots == 0 || args.executions == 0 {
        bail!("--workers, --slots and --executions must be at least 1");
    }
    let worker = build(args.release)?;
    let smart = run_once(&args, &worker, false).await?;
    let naive = run_once(&args, &worker, true).await?;
    println!();
    println!("{}", report::render(&args_summary(&args), &smart, &naive));
    Ok(())
}

impl FleetArgs {
    /// The refill rate, per real second, of the buckets every task draws on once
    /// (GetActivityTask, SendTaskSuccess): us-east-1's 500/s, scaled.
    fn rate(&self) -> f64 {
        500.0 * self.quota_scale * self.time_scale
    }

    /// Their burst: us-east-1's 3,000, scaled.
    fn burst(&self) -> f64 {
        (3000.0 * self.quota_scale).max(1.0)
    }
}

/// The setup line of the report.
fn args_summary(a: &FleetArgs) -> String {
    format!(
        "{} workers x {} slots ({} polls open each), {} executions, tasks {} ms, heartbeat every {} s, \
         HeartbeatSeconds {} on a clock x{} ({:.1} s real), quotas x{} of us-east-1's",
        a.workers,
        a.slots,
        a.pollers,
        a.executions,
        a.task_ms,
        a.heartbeat,
        a.heartbeat_seconds,
        a.time_scale,
        a.heartbeat_seconds as f64 / a.time_scale,
        a.quota_scale
    )
}

/// `cargo build` of the bench-sleep worker; its path.
fn build(release: bool) -> anyhow::Result<PathBuf> {
    let mut args = vec![
        "build",
        "-p",
        "xtask",
        "--bin",
        "bench-sleep",
        "--features",
        "xtask/bench-sleep",
    ];
    if release {
        args.push("--release");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("fleet: $ cargo {}", args.join(" "));
    let status = std::process::Command::new(&cargo)
        .args(&args)
        .current_dir(workspace_root())
        .status()
        .context("cannot run cargo build")?;
    if !status.success() {
        bail!("cargo build of bench-sleep failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    Ok(target
        .join(if release { "release" } else { "debug" })
        .join("bench-sleep"))
}

/// One fleet run; `naive` turns the workers' quota handling off.
async fn run_once(args: &FleetArgs, worker: &PathBuf, naive: bool) -> anyhow::Result<Outcome> {
    let label = if naive {
        "priority and jitter off"
    } else {
        "priority and jitter on"
    };
    println!("fleet: run with {label}");
    let emu = Emulator::builder()
        .time_scale(args.time_scale)
        .quota_scale(args.quota_scale)
        .start()
        .await
        .context("cannot start stefuna-local")?;
    let sfn = client(emu.endpoint());
    let (activity, machine) = setup(&sfn, args.heartbeat_seconds).await?;
    // start_executions takes a plain fn: the input is the same for every execution of a run.
    TASK_MS.store(args.task_ms, std::sync::atomic::Ordering::Relaxed);
    let executions = start_executions(
        &sfn,
        &machine,
        args.executions,
        |_| {
            format!(
                r#"{{"ms": {}}}"#,
                TASK_MS.load(std::sync::atomic::Ordering::Relaxed)
            )
        },
        &ProgressBar::hidden(),
    )
    .await?;
    emu.set_aws_quotas(true);

    let logs = workspace_root().join("target/fleet");
    std::fs::create_dir_all(&logs).context("cannot create target/fleet")?;
    let mut workers = Vec::new();
    for i in 0..args.workers {
        let log = logs.join(format!(
            "{}-worker-{i}.log",
            if naive { "naive" } else { "smart" }
        ));
        let log = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut cmd = tokio::process::Command::new(worker);
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy().to_ascii_uppercase();
            if k.starts_with("STEFUNA_") || k.starts_with("AWS_") || k.ends_with("_PROXY") {
                cmd.env_remove(&key);
            }
        }
        cmd.args([
            "--endpoint-url",
            emu.endpoint(),
            "--activity-arn",
            &activity,
            "--processes",
            &args.slots.to_string(),
            "--pollers",
            &args.pollers.to_string(),
            "--heartbeat",
            &args.heartbeat.to_string(),
            "--healthcheck",
            "0",
            "--name",
            &format!("fleet-{i}"),
        ])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("_STEFUNA_QUOTA_NAIVE", if naive { "1" } else { "0" })
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true);
        workers.push(cmd.spawn().context("cannot start a bench-sleep worker")?);
    }

    // Progress: tokens whose result was accepted, twice a second; failed executions (heartbeat
    // timeouts) every few seconds, from ListExecutions (its own bucket, not the workers').
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut failed = 0;
    let limit = Duration::from_secs(args.limit);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let done = emu.answers().values().filter(|a| a.accepted >= 1).count();
        samples.push(Sample {
            at: started.elapsed().as_secs_f64(),
            done,
        });
        if samples.len() % 6 == 0 {
            if let Ok(n) = report::failed(&sfn, &machine).await {
                failed = n;
            }
            println!(
                "fleet:   {done}/{} answered, {failed} failed, {:.0} s",
                args.executions,
                started.elapsed().as_secs_f64()
            );
        }
        if done + failed >= args.executions || started.elapsed() > limit {
            break;
        }
    }
    let counts = emu.quota_counts();
    // Recorded only while quotas are on: read before they are switched off.
    let timeouts = emu.heartbeat_timeouts();
    emu.set_aws_quotas(false);
    for w in &mut workers {
        let _ = w.start_kill();
    }
    for w in &mut workers {
        let _ = w.wait().await;
    }
    let answers = emu.answers();
    let statuses = report::statuses(&sfn, &machine).await?;
    emu.shutdown().await;
    Ok(Outcome::new(
        args.rate(),
        args.burst(),
        samples,
        counts,
        &answers,
        &statuses,
        executions.len(),
    )
    .with_timeouts(&timeouts))
}

/// `--task-ms` for `start_executions`' input function.
static TASK_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The activity and a one-Task machine with `HeartbeatSeconds`.
async fn setup(
    sfn: &aws_sdk_sfn::Client,
    heartbeat_seconds: u64,
) -> anyhow::Result<(String, String)> {
    let activity = sfn
        .create_activity()
        .name("fleet")
        .send()
        .await
        .context("CreateActivity")?
        .activity_arn;
    let definition = serde_json::json!({
        "StartAt": "Work",
        "States": { "Work": {
            "Type": "Task", "Resource": activity, "HeartbeatSeconds": heartbeat_seconds, "End": true
        } }
    });
    let machine = sfn
        .create_state_machine()
        .name("fleet")
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/stefuna-fleet")
        .send()
        .await
        .context("CreateStateMachine")?
        .state_machine_arn;
    Ok((activity, machine))
}
