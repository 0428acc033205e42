//! stefuna-local as a child process, the SDK client the bench drives it with, and the calls a run
//! makes: create an activity and a one-state machine, pre-start executions, watch them finish,
//! and read the timestamps the figures come from.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow, bail};
use aws_sdk_sfn::config::timeout::TimeoutConfig;
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use indicatif::ProgressBar;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The stefuna-local process of one run; SIGKILLed if dropped without [`Local::stop`].
pub(crate) struct Local {
    child: Child,
    /// Its endpoint URL.
    pub(crate) url: String,
    /// Its process id, for CPU accounting.
    pub(crate) pid: u32,
}

impl Local {
    /// Starts `stefuna-local --port 0` and reads the endpoint it prints.
    pub(crate) async fn start(bin: &Path) -> anyhow::Result<Local> {
        Local::start_with(bin, &[]).await
    }

    /// Like [`Local::start`], with more flags (`--aws-quotas`, ...).
    pub(crate) async fn start_with(bin: &Path, extra: &[&str]) -> anyhow::Result<Local> {
        let mut child = Command::new(bin)
            .args(["--port", "0"])
            .args(extra)
            .env_remove("STEFUNA_LOCAL_PORT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow!("stefuna-local exited at once"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(i) = line.find("http://") {
                    return Ok(line[i..].trim().to_owned());
                }
            }
            Err(anyhow!("stefuna-local exited before printing its endpoint"))
        })
        .await
        .map_err(|_| anyhow!("stefuna-local printed no endpoint within 20 s"))??;
        // Keep draining its stdout so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Local { child, url, pid })
    }

    /// SIGTERM, then SIGKILL after 5 s.
    pub(crate) async fn stop(mut self) {
        signal(self.pid, "TERM", false);
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Sends a signal to a process (or, with `group`, to its process group) with `kill`.
pub(crate) fn signal(pid: u32, sig: &str, group: bool) {
    let target = if group {
        format!("-{pid}")
    } else {
        pid.to_string()
    };
    let _ = std::process::Command::new("kill")
        .args([format!("-{sig}"), "--".into(), target])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A client for stefuna-local: static credentials, no proxy, short timeouts.
pub(crate) fn client(url: &str) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

/// Creates activity `name` and a state machine of one Task state for it; returns both ARNs.
pub(crate) async fn setup(
    client: &aws_sdk_sfn::Client,
    name: &str,
) -> anyhow::Result<(String, String)> {
    setup_with(client, name, serde_json::json!({})).await
}

/// [`setup`] with `task`'s fields merged into the Task state (e.g. `HeartbeatSeconds`).
pub(crate) async fn setup_with(
    client: &aws_sdk_sfn::Client,
    name: &str,
    task: serde_json::Value,
) -> anyhow::Result<(String, String)> {
    let activity = client
        .create_activity()
        .name(name)
        .send()
        .await
        .context("CreateActivity")?
        .activity_arn;
    let mut state = serde_json::json!({ "Type": "Task", "Resource": activity, "End": true });
    if let (Some(state), Some(task)) = (state.as_object_mut(), task.as_object()) {
        state.extend(task.clone());
    }
    let definition = serde_json::json!({ "StartAt": "Work", "States": { "Work": state } });
    let machine = client
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/stefuna-bench")
        .send()
        .await
        .context("CreateStateMachine")?
        .state_machine_arn;
    Ok((activity, machine))
}

/// Starts `n` executions with `input(i)`, 32 calls at a time; returns their ARNs by index.
pub(crate) async fn start_executions(
    client: &aws_sdk_sfn::Client,
    machine: &str,
    n: usize,
    input: fn(usize) -> String,
    bar: &ProgressBar,
) -> anyhow::Result<Vec<String>> {
    const LANES: usize = 32;
    let mut lanes = tokio::task::JoinSet::new();
    for lane in 0..LANES.min(n) {
        let (client, machine, bar) = (client.clone(), machine.to_owned(), bar.clone());
        lanes.spawn(async move {
            let mut started = Vec::new();
            for i in (lane..n).step_by(LANES) {
                let out = client
                    .start_execution()
                    .state_machine_arn(&machine)
                    .name(format!("e{i:07}"))
                    .input(input(i))
                    .send()
                    .await
                    .with_context(|| format!("StartExecution #{i}"))?;
                started.push((i, out.execution_arn));
                bar.inc(1);
            }
            anyhow::Ok(started)
        });
    }
    let mut arns = vec![String::new(); n];
    while let Some(done) = lanes.join_next().await {
        for (i, arn) in done.context("a StartExecution lane panicked")?? {
            arns[i] = arn;
        }
    }
    Ok(arns)
}

/// True when no execution of `machine` is RUNNING any more.
pub(crate) async fn all_finished(
    client: &aws_sdk_sfn::Client,
    machine: &str,
) -> anyhow::Result<bool> {
    let page = client
        .list_executions()
        .state_machine_arn(machine)
        .status_filter(ExecutionStatus::Running)
        .max_results(1)
        .send()
        .await
        .context("ListExecutions")?;
    Ok(page.executions().is_empty())
}

/// About how many executions have finished: executions are handed out oldest first, so this
/// binary-searches the start order for the first one still running (a progress figure only).
pub(crate) async fn finished_estimate(
    client: &aws_sdk_sfn::Client,
    arns: &Arc<Vec<String>>,
) -> anyhow::Result<usize> {
    let (mut lo, mut hi) = (0, arns.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        let status = client
            .describe_execution()
            .execution_arn(&arns[mid])
            .send()
            .await
            .context("DescribeExecution")?
            .status;
        if status == ExecutionStatus::Running {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(lo)
}

/// Endpoint-side timestamps of a finished run, in seconds since the Unix epoch.
#[derive(Debug)]
pub(crate) struct Timing {
    /// The first `ActivityStarted` event: the first GetActivityTask that got a task (tasks were
    /// waiting, so that is the worker's first poll).
    pub(crate) first_task: f64,
    /// The latest execution stop date.
    pub(crate) last_stop: f64,
    /// Tasks/s between the 10th and the 90th percentile of the stop dates: the steady rate,
    /// without the start-up ramp (stefuna 1.0.1 spawns its pool then) and the last stragglers.
    pub(crate) steady_rate: f64,
    /// The steady window (10th to 90th percentile stop), seconds since the epoch, and the
    /// tasks that completed in it.
    pub(crate) steady_window: (f64, f64, usize),
}

/// Checks that all `n` executions SUCCEEDED, that the oldest one's output is `expect(input)`, and
/// reads the [`Timing`]. `oldest` is how many of the first-started executions are searched for
/// the earliest `ActivityStarted` (more than the worker's poll count).
pub(crate) async fn timing(
    client: &aws_sdk_sfn::Client,
    machine: &str,
    n: usize,
    oldest: usize,
    expect: fn(&serde_json::Value) -> serde_json::Value,
) -> anyhow::Result<Timing> {
    let mut all = Vec::with_capacity(n);
    let mut token = None;
    loop {
        let page = client
            .list_executions()
            .state_machine_arn(machine)
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .context("ListExecutions")?;
        for e in page.executions() {
            all.push((
                e.start_date.as_secs_f64(),
                e.stop_date.map(|d| d.as_secs_f64()),
                e.status.clone(),
                e.execution_arn.clone(),
            ));
        }
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    let failed: Vec<_> = all
        .iter()
        .filter(|e| e.2 != ExecutionStatus::Succeeded)
        .collect();
    if all.len() != n || !failed.is_empty() {
        bail!(
            "expected {n} SUCCEEDED executions; found {} executions, {} not SUCCEEDED (first: {:?})",
            all.len(),
            failed.len(),
            failed.first().map(|e| (&e.3, &e.2))
        );
    }
    let mut stops: Vec<f64> = all.iter().filter_map(|e| e.1).collect();
    stops.sort_by(f64::total_cmp);
    let last_stop = stops.last().copied().unwrap_or(f64::MIN);
    let steady_rate = steady_rate(&stops);
    let steady_window = steady_window(&stops);
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    check_outputs(client, all.iter().map(|e| e.3.clone()).collect(), expect).await?;
    let mut first_task = f64::MAX;
    for e in all.iter().take(oldest) {
        let history = client
            .get_execution_history()
            .execution_arn(&e.3)
            .send()
            .await
            .context("GetExecutionHistory")?;
        for ev in history.events() {
            if ev.r#type == HistoryEventType::ActivityStarted {
                first_task = first_task.min(ev.timestamp.as_secs_f64());
            }
        }
    }
    if first_task == f64::MAX {
        bail!("no ActivityStarted event in the {oldest} oldest executions");
    }
    Ok(Timing {
        first_task,
        last_stop,
        steady_rate,
        steady_window,
    })
}

/// Checks every execution's output against `expect(input)`, 32 DescribeExecution calls at a
/// time.
async fn check_outputs(
    client: &aws_sdk_sfn::Client,
    arns: Vec<String>,
    expect: fn(&serde_json::Value) -> serde_json::Value,
) -> anyhow::Result<()> {
    let mut pending = arns.into_iter();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < 32 {
            let Some(arn) = pending.next() else { break };
            let client = client.clone();
            running.spawn(async move {
                let out = client
                    .describe_execution()
                    .execution_arn(&arn)
                    .send()
                    .await
                    .context("DescribeExecution")?;
                let input: serde_json::Value = serde_json::from_str(out.input().unwrap_or("null"))?;
                let got: serde_json::Value = serde_json::from_str(out.output().unwrap_or("null"))?;
                let expected = expect(&input);
                if got != expected {
                    bail!("{arn}: the worker answered {got}; expected {expected}");
                }
                anyhow::Ok(())
            });
        }
        match running.join_next().await {
            Some(done) => done.context("output check panicked")??,
            None => return Ok(()),
        }
    }
}

/// The steady window of sorted `stops`: from the 10th to the 90th percentile, and the
/// completions inside it.
fn steady_window(stops: &[f64]) -> (f64, f64, usize) {
    let n = stops.len();
    if n < 2 {
        return (0.0, 0.0, 0);
    }
    let (lo, hi) = ((n - 1) / 10, (n - 1) - (n - 1) / 10);
    (stops[lo], stops[hi], hi - lo)
}

/// Completions per second between the 10th and 90th percentile of sorted `stops`; over the
/// whole span when that is too short to measure (ms timestamps); 0 for fewer than 2.
fn steady_rate(stops: &[f64]) -> f64 {
    let n = stops.len();
    if n < 2 {
        return 0.0;
    }
    let (lo, hi) = ((n - 1) / 10, (n - 1) - (n - 1) / 10);
    let span = stops[hi] - stops[lo];
    if span >= 0.05 {
        (hi - lo) as f64 / span
    } else {
        (n - 1) as f64 / (stops[n - 1] - stops[0]).max(1e-3)
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn epoch_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(input: &serde_json::Value) -> serde_json::Value {
        serde_json::json!({ "message": format!("Hello {}", input["name"].as_str().unwrap_or("")) })
    }

    /// Answers every task of `arn` with `hello`'s output until `n` are done.
    async fn answer(client: &aws_sdk_sfn::Client, arn: &str, n: usize) {
        let mut done = 0;
        while done < n {
            let t = client
                .get_activity_task()
                .activity_arn(arn)
                .send()
                .await
                .unwrap();
            let Some(token) = t.task_token().filter(|t| !t.is_empty()) else {
                continue;
            };
            let input: serde_json::Value = serde_json::from_str(t.input().unwrap()).unwrap();
            client
                .send_task_success()
                .task_token(token)
                .output(hello(&input).to_string())
                .send()
                .await
                .unwrap();
            done += 1;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_is_checked_and_timed_against_stefuna_local() {
        let emulator = stefuna_local::Emulator::builder()
            .long_poll(Duration::from_secs(1))
            .start()
            .await
            .unwrap();
        let client = client(emulator.endpoint());
        let (activity, machine) = setup(&client, "t").await.unwrap();
        let bar = ProgressBar::hidden();
        let before = epoch_secs(SystemTime::now());
        let arns = start_executions(
            &client,
            &machine,
            40,
            |i| format!(r#"{{"name":"x{i}"}}"#),
            &bar,
        )
        .await
        .unwrap();
        assert_eq!(arns.len(), 40);
        assert!(arns.iter().all(|a| !a.is_empty()));
        assert_eq!(bar.position(), 40);
        assert!(!all_finished(&client, &machine).await.unwrap());
        assert_eq!(
            finished_estimate(&client, &Arc::new(arns.clone()))
                .await
                .unwrap(),
            0
        );

        answer(&client, &activity, 40).await;
        assert!(all_finished(&client, &machine).await.unwrap());
        assert_eq!(
            finished_estimate(&client, &Arc::new(arns)).await.unwrap(),
            40
        );
        let t = timing(&client, &machine, 40, 8, hello).await.unwrap();
        let after = epoch_secs(SystemTime::now());
        assert!(
            before - 0.001 <= t.first_task
                && t.first_task <= t.last_stop
                && t.last_stop <= after + 0.01
        );
        assert!(t.steady_rate > 0.0);

        // A wrong answer, or a count that does not match, fails the run.
        let wrong = timing(&client, &machine, 40, 8, |_| serde_json::json!({})).await;
        assert!(
            wrong
                .unwrap_err()
                .to_string()
                .contains("the worker answered")
        );
        // Every output is checked, not a sample: one wrong answer in 40 fails the run.
        let one_wrong = timing(&client, &machine, 40, 8, |input| {
            if input["name"] == "x37" {
                serde_json::json!({"message": "Hello someone else"})
            } else {
                hello(input)
            }
        })
        .await;
        assert!(
            one_wrong
                .unwrap_err()
                .to_string()
                .contains("Hello someone else")
        );
        let (from, to, n) = t.steady_window;
        assert!(from <= to && n > 0 && n < 40, "{:?}", t.steady_window);
        let short = timing(&client, &machine, 41, 8, hello).await;
        assert!(
            short
                .unwrap_err()
                .to_string()
                .contains("expected 41 SUCCEEDED")
        );
        emulator.shutdown().await;
    }

    #[test]
    fn steady_rate_leaves_out_the_ramp() {
        // 5 slow completions (1/s) during start-up, then 95 at 100/s.
        let mut stops: Vec<f64> = (0..5).map(f64::from).collect();
        stops.extend((1..=95).map(|i| 10.0 + f64::from(i) / 100.0));
        let rate = steady_rate(&stops);
        assert!((rate - 100.0).abs() < 1.0, "rate {rate}");
        assert_eq!(steady_rate(&[1.0]), 0.0);
    }
}
