//! The chaos suite: real worker processes (the `chaos_worker` example) against stefuna-local
//! with fault injection on (refusals before handling, and lost answers: a result, heartbeat or
//! poll applied but its answer dropped), one worker SIGTERMed and one SIGKILLed with tasks in
//! flight; afterwards every execution is in its expected terminal state, no task ran twice
//! except the ones a signal or a lost poll answer interrupted, each token had one accepted
//! answer and no second one except a retry after a lost answer, and every fault kind and both
//! signals with a task in flight really happened (the emulator counts them). Also: a task that
//! blocks a runtime thread forever does not stop the exit.
//!
//! The size comes from the environment so `cargo xtask chaos` can run the full suite:
//! `CHAOS_EXECUTIONS` (default 300). Memory over 100,000 tasks is measured by
//! `stefuna-runtime/tests/reliability_memory.rs`.

#![cfg(target_os = "linux")]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};
use futures::StreamExt;
use stefuna_local::{Emulator, FaultKind, Faults};
use stefuna_testkit::{free_port, get, within};
use tokio::process::{Child, Command};

/// Heartbeat timeout of the Task state, in emulated seconds.
const HEARTBEAT_SECONDS: u32 = 60;
/// The emulator's clock speed-up: 60 emulated seconds are 6 real ones (the workers beat every
/// second), retry intervals 0.1 s.
const TIME_SCALE: f64 = 10.0;

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// The `chaos_worker` example next to this test binary, (re)built once per test process
/// (`--release` for a release test binary) so a stale binary is never run; when cargo already
/// built it for this test run, the build is a no-op check.
fn worker_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let profile_dir = exe.parent().and_then(Path::parent).unwrap();
            let target_dir = profile_dir.parent().unwrap();
            let mut cmd = std::process::Command::new(env!("CARGO"));
            cmd.args(["build", "-q", "-p", "stefuna", "--example", "chaos_worker"])
                .arg("--target-dir")
                .arg(target_dir);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            assert!(
                cmd.status().unwrap().success(),
                "building the chaos_worker example failed"
            );
            profile_dir.join("examples").join("chaos_worker")
        })
        .clone()
}

fn env_count(key: &str, default: usize) -> usize {
    match std::env::var(key) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{key}={v}: expected a whole number")),
        Err(_) => default,
    }
}

/// An SDK client for the emulator (static test credentials, no proxy, SDK retries on).
fn client(endpoint: &str) -> aws_sdk_sfn::Client {
    let conf = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .build();
    aws_sdk_sfn::Client::from_conf(conf)
}

/// A worker process.
struct Worker {
    child: Child,
    /// `--name`.
    name: String,
    pid: u32,
    health: String,
    stderr: PathBuf,
}

impl Worker {
    async fn spawn(dir: &Path, name: &str, endpoint: &str, arn: &str, extra: &[&str]) -> Worker {
        Worker::spawn_with_env(dir, name, endpoint, arn, extra, &[]).await
    }

    /// Starts a worker with its health port on a free port. A port free when picked can be
    /// taken before the worker binds it; then the worker exits at once and the port is in use,
    /// and it is started again on another port.
    async fn spawn_with_env(
        dir: &Path,
        name: &str,
        endpoint: &str,
        arn: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Worker {
        for _ in 0..10 {
            let port = free_port();
            let mut w = Worker::spawn_on(port, dir, name, endpoint, arn, extra, env);
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(Some(_)) = w.child.try_wait() {
                    if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                        break;
                    }
                    return w;
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                    || Instant::now() > deadline
                {
                    return w;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        panic!("no free port stayed free long enough for a worker to bind it, 10 times");
    }

    fn spawn_on(
        port: u16,
        dir: &Path,
        name: &str,
        endpoint: &str,
        arn: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Worker {
        let stderr = dir.join(format!("{name}.stderr"));
        let mut cmd = Command::new(worker_binary());
        cmd.args(["--activity-arn", arn, "--endpoint-url", endpoint])
            .args(["--region", "us-east-1", "--healthcheck-host", "127.0.0.1"])
            .args(["--healthcheck", &port.to_string(), "--name", name])
            .args(extra)
            .current_dir(dir)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env("CHAOS_RUN_LOG", dir.join("runs.log"))
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_SFN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .kill_on_drop(true);
        for (key, _) in std::env::vars() {
            if key.starts_with("STEFUNA_") {
                cmd.env_remove(key);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn chaos_worker");
        let pid = child.id().unwrap();
        Worker {
            child,
            name: name.to_owned(),
            pid,
            health: format!("http://127.0.0.1:{port}"),
            stderr,
        }
    }

    /// The worker name Step Functions sees: `{name}-{hostname}-{pid}`.
    fn owns(&self, worker_name: &str) -> bool {
        worker_name.starts_with(&format!("{}-", self.name))
            && worker_name.ends_with(&format!("-{}", self.pid))
    }

    fn signal(&self, name: &str) {
        let ok = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} {}", self.pid);
    }

    /// Waits (at most `limit`) for the process to exit; its exit code.
    async fn exit(&mut self, limit: Duration) -> Option<i32> {
        let status = tokio::time::timeout(limit, self.child.wait()).await;
        match status {
            Ok(s) => s.unwrap().code(),
            Err(_) => panic!(
                "worker {} did not exit within {limit:?}; its log:\n{}",
                self.name,
                tail(&self.stderr, 40)
            ),
        }
    }

    /// The sum of every series of a counter in `/metrics` (0 when unreachable).
    async fn metric_sum(&self, name: &str) -> f64 {
        let Ok((_, body)) = get(&format!("{}/metrics", self.health)).await else {
            return 0.0;
        };
        body.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "stefuna-{what}-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos() ^ u128::from(free_port())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Creates the activity and the state machine of the suite: one Task with `HeartbeatSeconds`,
/// its input wrapped with the execution name and the attempt, retried on `Stefuna.WorkerShutdown`
/// and on `States.Timeout` (a SIGKILLed worker stops beating).
async fn setup(sfn: &aws_sdk_sfn::Client, name: &str) -> (String, String) {
    let task = serde_json::json!({
        "HeartbeatSeconds": HEARTBEAT_SECONDS,
        "Parameters": {
            "exec.$": "$$.Execution.Name",
            "retry.$": "$$.State.RetryCount",
            "job.$": "$"
        },
        "Retry": [{
            "ErrorEquals": ["Stefuna.WorkerShutdown", "States.Timeout"],
            "IntervalSeconds": 1,
            "MaxAttempts": 3,
            "BackoffRate": 1.0
        }]
    });
    stefuna_testkit::machine_with(sfn, name, task).await
}

/// What an execution is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ok,
    Slow,
    Panic,
    BadInput,
}

/// 1 in 100 panics, 1 in 100 does not decode, 1 in 10 is slow enough to be in flight when a
/// worker is signalled.
fn kind_of(i: usize) -> Kind {
    match (i % 100, i % 10) {
        (37, _) => Kind::Panic,
        (73, _) => Kind::BadInput,
        (_, 5) => Kind::Slow,
        _ => Kind::Ok,
    }
}

fn input_of(i: usize) -> serde_json::Value {
    match kind_of(i) {
        Kind::Ok => serde_json::json!({"n": i, "kind": "ok", "sleep_ms": (i * 7) % 50}),
        Kind::Slow => serde_json::json!({"n": i, "kind": "slow", "sleep_ms": 4000}),
        Kind::Panic => serde_json::json!({"n": i, "kind": "panic"}),
        Kind::BadInput => serde_json::json!({"n": "not a number", "kind": "ok"}),
    }
}

fn exec_name(i: usize) -> String {
    format!("chaos-{i:05}")
}

/// One line of the run log.
#[derive(Debug)]
struct Run {
    event: String,
    exec: String,
    retry: u32,
    pid: u32,
    token: String,
}

fn read_runs(path: &Path) -> Vec<Run> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 5, "malformed run log line: {l:?}");
            Run {
                event: f[0].to_owned(),
                exec: f[1].to_owned(),
                retry: f[2].parse().unwrap(),
                pid: f[3].parse().unwrap(),
                token: f[4].to_owned(),
            }
        })
        .collect()
}

/// Tasks started by process `pid` that have not ended (only slow ones with `slow_only`).
fn in_flight(runs: &[Run], pid: u32, slow_only: bool) -> usize {
    let ended: HashSet<&str> = runs
        .iter()
        .filter(|r| r.event != "start")
        .map(|r| r.token.as_str())
        .collect();
    runs.iter()
        .filter(|r| r.event == "start" && r.pid == pid && !ended.contains(r.token.as_str()))
        .filter(|r| !slow_only || exec_kind(&r.exec) == Some(Kind::Slow))
        .count()
}

/// The kind of an execution, from its name.
fn exec_kind(exec: &str) -> Option<Kind> {
    exec.strip_prefix("chaos-")?.parse().ok().map(kind_of)
}

/// Waits until `cond` holds, checking every 100 ms, for at most `limit`.
async fn until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    within(limit, what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
}

/// Executions still RUNNING.
async fn running(sfn: &aws_sdk_sfn::Client, sm: &str) -> usize {
    let mut count = 0;
    let mut next: Option<String> = None;
    loop {
        let page = sfn
            .list_executions()
            .state_machine_arn(sm)
            .status_filter(ExecutionStatus::Running)
            .max_results(1000)
            .set_next_token(next.take())
            .send()
            .await
            .unwrap();
        count += page.executions().len();
        match page.next_token() {
            Some(t) => next = Some(t.to_owned()),
            None => return count,
        }
    }
}

/// What the history of one execution shows.
#[derive(Debug, Default)]
struct Attempts {
    /// Worker names of `ActivityStarted`, in order.
    started: Vec<String>,
    /// When each `ActivityStarted` happened (emulated seconds since the epoch).
    started_at: Vec<f64>,
    /// Worker of each attempt that timed out (`None`: never started).
    timed_out: Vec<Option<String>>,
    /// Attempt number (0-based, as `$$.State.RetryCount`) of each attempt that timed out.
    timed_out_attempt: Vec<usize>,
    /// Worker of each attempt failed with `Stefuna.WorkerShutdown`.
    shut_down: Vec<String>,
    /// Attempts closed by a worker's answer (`ActivitySucceeded` or `ActivityFailed`).
    answered: usize,
}

async fn attempts(sfn: &aws_sdk_sfn::Client, exec: &str) -> Attempts {
    let events: Vec<HistoryEvent> = sfn
        .get_execution_history()
        .execution_arn(exec)
        .max_results(1000)
        .send()
        .await
        .unwrap()
        .events()
        .to_vec();
    let mut a = Attempts::default();
    let mut current: Option<String> = None;
    for e in &events {
        if e.activity_scheduled_event_details().is_some() {
            current = None;
        }
        if let Some(d) = e.activity_started_event_details() {
            let w = d.worker_name().unwrap_or_default().to_owned();
            a.started.push(w.clone());
            a.started_at.push(e.timestamp().as_secs_f64());
            current = Some(w);
        }
        if e.activity_timed_out_event_details().is_some() {
            a.timed_out.push(current.clone());
            a.timed_out_attempt.push(a.started.len().saturating_sub(1));
        }
        if e.activity_succeeded_event_details().is_some()
            || e.activity_failed_event_details().is_some()
        {
            a.answered += 1;
        }
        if let Some(d) = e.activity_failed_event_details()
            && d.error() == Some("Stefuna.WorkerShutdown")
        {
            a.shut_down.push(current.clone().unwrap_or_default());
        }
    }
    a
}

// ---------------------------------------------------------------------------------------------
// The chaos suite
// ---------------------------------------------------------------------------------------------

/// Counts the suite prints.
#[derive(Debug, Default)]
struct Counts {
    executions: usize,
    succeeded: usize,
    failed_panic: usize,
    failed_invalid_input: usize,
    retried_after_worker_shutdown: usize,
    retried_after_heartbeat_timeout: usize,
    runs: usize,
    /// Tasks in flight on the SIGTERMed worker when the signal was sent (slow ones).
    in_flight_at_sigterm: usize,
    /// Tasks in flight on the SIGKILLed worker when the signal was sent.
    in_flight_at_sigkill: usize,
    attempts_lost_to_sigkill: usize,
    reruns_after_sigkill: usize,
    reruns_after_worker_shutdown: usize,
    /// Tokens whose `GetActivityTask` answer was dropped after the task was handed out.
    poll_answers_lost: usize,
    /// Attempts that timed out because no worker ever saw them (a lost poll answer), each then
    /// retried by the state machine.
    attempts_lost_to_lost_poll_answers: usize,
    /// Mean and longest time from a lost attempt's start to the next attempt's start, in real
    /// seconds (the emulated clock runs `TIME_SCALE` times faster): the heartbeat timeout plus
    /// the Retry interval plus the wait for a poll.
    lost_poll_answer_cost_mean_s: f64,
    lost_poll_answer_cost_max_s: f64,
    /// Tokens with exactly one accepted answer.
    tokens_answered_once: usize,
    /// Results (SendTaskSuccess/Failure) accepted whose answer was then dropped.
    result_answers_lost: usize,
    /// Retries of those that met the closed token.
    retries_after_lost_answers: usize,
    /// Heartbeats applied whose answer was dropped.
    heartbeat_answers_lost: usize,
    /// First answers that came after the token had closed (timed out).
    late_answers: usize,
}

/// The calls a worker makes, which the faults apply to.
const WORKER_CALLS: [&str; 4] = [
    "GetActivityTask",
    "SendTaskSuccess",
    "SendTaskFailure",
    "SendTaskHeartbeat",
];

/// Lost-answer probabilities, high enough that each happens in every run of 300 executions
/// (the suite fails when one does not): failures are few (panics, bad input, shutdowns: about
/// 3 in 100 executions), heartbeats a few per slow task; a lost poll answer costs its execution
/// a 6 s heartbeat timeout, so it stays a few in 100.
const LOSE_ANSWER: [(&str, f64); 4] = [
    ("GetActivityTask", 0.04),
    ("SendTaskSuccess", 0.03),
    ("SendTaskFailure", 0.7),
    ("SendTaskHeartbeat", 0.08),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_every_execution_ends_once_despite_faults_and_killed_workers() {
    let executions = env_count("CHAOS_EXECUTIONS", 300);
    let started_at = Instant::now();
    let scratch = Scratch::new("chaos");
    let dir = scratch.0.clone();
    let run_log = dir.join("runs.log");

    // Faults on the worker's calls only: the test's own calls must see the truth.
    let faults = Faults {
        throttle: 0.10,
        unavailable: 0.05,
        drop_connection: 0.02,
        latency: Some((Duration::ZERO, Duration::from_millis(50))),
        operations: Some(WORKER_CALLS.map(String::from).to_vec()),
        lose_answer: LOSE_ANSWER
            .iter()
            .map(|(op, p)| ((*op).to_owned(), *p))
            .collect(),
    };
    let emu = Emulator::builder()
        .long_poll(Duration::from_secs(1))
        .time_scale(TIME_SCALE)
        .faults(faults)
        .start()
        .await
        .unwrap();
    let sfn = client(emu.endpoint());
    let (arn, sm) = setup(&sfn, "chaos").await;

    let flags = [
        "--processes",
        "8",
        "--heartbeat",
        "1",
        "--shutdown-grace",
        "1",
        "--loglevel",
        "warn",
    ];
    let spawn = |name: &'static str| Worker::spawn(&dir, name, emu.endpoint(), &arn, &flags);
    let mut workers: BTreeMap<&str, Worker> = BTreeMap::new();
    for name in ["Chaos1", "Chaos2", "Chaos3"] {
        workers.insert(name, spawn(name).await);
    }

    // Start every execution (16 at a time) while the workers already run.
    let starter = {
        let sfn = sfn.clone();
        let sm = sm.clone();
        tokio::spawn(async move {
            futures::stream::iter(0..executions)
                .map(|i| {
                    let sfn = sfn.clone();
                    let sm = sm.clone();
                    async move {
                        let out = sfn
                            .start_execution()
                            .state_machine_arn(&sm)
                            .name(exec_name(i))
                            .input(input_of(i).to_string())
                            .send()
                            .await
                            .unwrap_or_else(|e| panic!("StartExecution {i}: {e:?}"));
                        (i, out.execution_arn().to_owned())
                    }
                })
                .buffer_unordered(16)
                .collect::<Vec<_>>()
                .await
        })
    };

    let run_limit = Duration::from_secs(60) + Duration::from_millis(100) * executions as u32;
    // A quarter of the way or more, with a slow task in flight on it: SIGTERM one worker (it
    // drains; the slow task outlives its 1 s grace and is failed with Stefuna.WorkerShutdown)
    // and start a replacement. No fallback: a run without a task in flight fails here.
    let mut terminated = workers.remove("Chaos1").unwrap();
    let mut in_flight_at_sigterm = 0;
    until(
        run_limit,
        "a quarter of the tasks to end with a slow one on Chaos1",
        || {
            let runs = read_runs(&run_log);
            let ended = runs.iter().filter(|r| r.event == "end").count();
            in_flight_at_sigterm = in_flight(&runs, terminated.pid, true);
            ended >= executions / 4 && in_flight_at_sigterm > 0
        },
    )
    .await;
    terminated.signal("TERM");
    workers.insert("Chaos4", spawn("Chaos4").await);
    let terminated_exit = terminated.exit(Duration::from_secs(30)).await;
    assert_eq!(terminated_exit, Some(0), "a SIGTERMed worker exits 0");

    // Two thirds of the way, with tasks in flight on it: SIGKILL another and start a
    // replacement.
    let mut killed = workers.remove("Chaos2").unwrap();
    let mut in_flight_at_sigkill = 0;
    until(
        run_limit,
        "two thirds of the tasks to end with a slow one on Chaos2",
        || {
            let runs = read_runs(&run_log);
            let ended = runs.iter().filter(|r| r.event == "end").count();
            in_flight_at_sigkill = in_flight(&runs, killed.pid, true);
            ended >= executions * 2 / 3 && in_flight_at_sigkill > 0
        },
    )
    .await;
    killed.signal("KILL");
    workers.insert("Chaos5", spawn("Chaos5").await);
    assert_eq!(
        killed.exit(Duration::from_secs(30)).await,
        None,
        "killed by a signal"
    );

    let arns = within(
        Duration::from_secs(120),
        "every execution to start",
        starter,
    )
    .await
    .unwrap();
    within(run_limit, "no execution to be RUNNING", async {
        while running(&sfn, &sm).await > 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;

    let mut fault_counts = BTreeMap::new();
    for series in [
        "stefuna_poll_errors_total",
        "stefuna_delivery_retries_total",
        "stefuna_heartbeat_errors_total",
        "stefuna_tasks_lost_total",
        "stefuna_delivery_dropped_total",
    ] {
        let mut sum = 0.0;
        for w in workers.values() {
            sum += w.metric_sum(series).await;
        }
        fault_counts.insert(series, sum);
    }
    for (_, mut w) in std::mem::take(&mut workers) {
        w.signal("TERM");
        assert_eq!(w.exit(Duration::from_secs(30)).await, Some(0));
    }

    // Verify every execution against its kind, its history and the run log.
    let runs = read_runs(&run_log);
    let mut starts: HashMap<&str, Vec<&Run>> = HashMap::new();
    let mut ends: HashMap<&str, Vec<&Run>> = HashMap::new();
    let mut tokens = HashSet::new();
    for r in &runs {
        match r.event.as_str() {
            "start" => {
                assert!(
                    tokens.insert(r.token.as_str()),
                    "task token {} started twice: {r:?}",
                    r.token
                );
                starts.entry(&r.exec).or_default().push(r);
            }
            "end" | "cancelled" => ends.entry(&r.exec).or_default().push(r),
            other => panic!("unknown run log event {other}"),
        }
    }

    let mut counts = Counts {
        executions,
        runs: starts.values().map(Vec::len).sum(),
        in_flight_at_sigterm,
        in_flight_at_sigkill,
        ..Counts::default()
    };
    // What the emulator saw, per token and per fault kind.
    let answers = emu.answers();
    let injected = emu.faults_injected();
    let mut lost_polls: HashMap<&str, usize> = HashMap::new();
    for a in answers.values() {
        if a.poll_answer_lost {
            *lost_polls.entry(a.execution_arn.as_str()).or_default() += 1;
        }
    }
    let started_attempts: HashMap<(&str, u32), u32> = starts
        .iter()
        .flat_map(|(exec, rs)| rs.iter().map(move |r| ((*exec, r.retry), r.pid)))
        .collect();
    let mut lost_poll_costs: Vec<f64> = Vec::new();
    let mut answered_in_histories = 0;
    let described = futures::stream::iter(arns)
        .map(|(i, exec)| {
            let sfn = sfn.clone();
            async move {
                let d = sfn
                    .describe_execution()
                    .execution_arn(&exec)
                    .send()
                    .await
                    .unwrap();
                let history = attempts(&sfn, &exec).await;
                (i, exec, d, history)
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    for (i, exec_arn, d, history) in described {
        let name = exec_name(i);
        let kind = kind_of(i);
        let status = d.status().clone();
        match kind {
            Kind::Ok | Kind::Slow => {
                assert_eq!(
                    status,
                    ExecutionStatus::Succeeded,
                    "{name} ({kind:?}): {d:?}"
                );
                let out: serde_json::Value = serde_json::from_str(d.output().unwrap()).unwrap();
                assert_eq!(out["n"], 2 * i, "{name}: {out}");
                assert_eq!(out["exec"], name.as_str(), "{name}: {out}");
                counts.succeeded += 1;
                let final_retry = history.started.len().saturating_sub(1) as u32;
                assert!(
                    ends.get(name.as_str()).is_some_and(|e| e
                        .iter()
                        .any(|r| r.event == "end" && r.retry == final_retry)),
                    "{name}: the attempt that succeeded has no end line"
                );
            }
            Kind::Panic => {
                assert_eq!(status, ExecutionStatus::Failed, "{name}: {d:?}");
                assert_eq!(d.error(), Some("Stefuna.Panic"), "{name}: {d:?}");
                assert!(
                    d.cause().unwrap_or_default().contains("panics as asked"),
                    "{name}: {d:?}"
                );
                counts.failed_panic += 1;
            }
            Kind::BadInput => {
                assert_eq!(status, ExecutionStatus::Failed, "{name}: {d:?}");
                assert_eq!(d.error(), Some("Stefuna.InvalidInput"), "{name}: {d:?}");
                assert!(!starts.contains_key(name.as_str()), "{name} ran");
                counts.failed_invalid_input += 1;
            }
        }
        // Only the SIGKILLed worker's attempts and the ones no worker saw (their poll answer
        // was lost) timed out.
        answered_in_histories += history.answered;
        let mut lost_here = 0;
        for (w, &attempt) in history.timed_out.iter().zip(&history.timed_out_attempt) {
            let w = w.as_deref().unwrap_or("(never started)");
            let ran_on = started_attempts.get(&(name.as_str(), attempt as u32));
            if killed.owns(w) {
                counts.attempts_lost_to_sigkill += 1;
            } else {
                assert!(
                    ran_on.is_none(),
                    "{name}: attempt {attempt} ran on {w} and timed out, but only {} (pid {}) \
                     was killed",
                    killed.name,
                    killed.pid
                );
                lost_here += 1;
                if let (Some(t0), Some(t1)) = (
                    history.started_at.get(attempt),
                    history.started_at.get(attempt + 1),
                ) {
                    lost_poll_costs.push((t1 - t0) / TIME_SCALE);
                }
            }
        }
        let lost_polls_here = lost_polls.get(exec_arn.as_str()).copied().unwrap_or(0);
        assert!(
            lost_here <= lost_polls_here,
            "{name}: {lost_here} attempts timed out that no worker ran, but only \
             {lost_polls_here} poll answers were lost: {history:?}"
        );
        counts.attempts_lost_to_lost_poll_answers += lost_here;
        for w in &history.shut_down {
            assert!(
                terminated.owns(w),
                "{name}: {w} failed a task with Stefuna.WorkerShutdown, but only {} (pid {}) \
                 was stopped",
                terminated.name,
                terminated.pid
            );
        }
        counts.retried_after_heartbeat_timeout += usize::from(!history.timed_out.is_empty());
        counts.retried_after_worker_shutdown += usize::from(!history.shut_down.is_empty());
        // A task runs once per attempt Step Functions made; attempts beyond the first exist only
        // because a signal interrupted one.
        let ran = starts.get(name.as_str()).map_or(0, Vec::len);
        assert!(
            ran <= history.started.len(),
            "{name}: ran {ran} times for {} deliveries",
            history.started.len()
        );
        let interrupted = history.timed_out.len() + history.shut_down.len();
        assert!(
            history.started.len() <= 1 + interrupted,
            "{name}: {} attempts but only {interrupted} were interrupted: {history:?}",
            history.started.len()
        );
        if ran > 1 {
            if history.shut_down.is_empty() {
                counts.reruns_after_sigkill += ran - 1;
            } else {
                counts.reruns_after_worker_shutdown += ran - 1;
            }
        }
    }
    assert_eq!(
        counts.succeeded + counts.failed_panic + counts.failed_invalid_input,
        counts.executions
    );
    // Every execution but the bad-input ones ran at least once.
    assert!(
        counts.runs >= counts.succeeded + counts.failed_panic,
        "{counts:?}"
    );
    assert_eq!(running(&sfn, &sm).await, 0);

    // One accepted answer per token; no second answer but a retry after a lost one.
    for (token, a) in &answers {
        assert!(a.accepted <= 1, "{token}: {a:?}");
        let refused = a.received - a.accepted;
        if a.accepted == 1 {
            assert!(
                refused <= a.answers_lost,
                "{token}: {refused} answers after the accepted one, but only {} lost answers \
                 to retry after: {a:?}",
                a.answers_lost
            );
            counts.tokens_answered_once += 1;
        } else {
            // The token closed (timed out) before any answer: at most one late answer.
            assert!(a.received <= 1, "{token}: {a:?}");
            counts.late_answers += a.received as usize;
        }
        counts.result_answers_lost += a.answers_lost as usize;
        counts.retries_after_lost_answers += refused.min(a.answers_lost) as usize;
        counts.heartbeat_answers_lost += a.heartbeats_lost as usize;
        counts.poll_answers_lost += usize::from(a.poll_answer_lost);
    }
    assert_eq!(
        counts.tokens_answered_once, answered_in_histories,
        "accepted answers and the histories' ActivitySucceeded/ActivityFailed events differ"
    );
    // A retry that met the token its lost answer had closed is a delivery, not a dropped one:
    // only late first answers (the token had timed out) may be dropped.
    let dropped = fault_counts["stefuna_delivery_dropped_total"];
    assert!(
        dropped <= counts.late_answers as f64,
        "the surviving workers dropped {dropped} results, but only {} answers came late \
         (a retry after a lost answer counted as a failed delivery?)",
        counts.late_answers
    );
    if !lost_poll_costs.is_empty() {
        counts.lost_poll_answer_cost_mean_s =
            lost_poll_costs.iter().sum::<f64>() / lost_poll_costs.len() as f64;
        counts.lost_poll_answer_cost_max_s = lost_poll_costs.iter().copied().fold(0.0, f64::max);
    }

    println!("chaos: {counts:#?}");
    println!("chaos: faults injected (kind, operation): {injected:?}");
    // Each of these happened: a run where one did not proves nothing about it.
    let happened = |kind: FaultKind, op: &str| injected.get(&(kind, op.to_owned())).copied();
    for kind in [
        FaultKind::Latency,
        FaultKind::Throttle,
        FaultKind::Unavailable,
        FaultKind::DroppedConnection,
    ] {
        let total: u64 = WORKER_CALLS
            .iter()
            .filter_map(|op| happened(kind, op))
            .sum();
        assert!(total > 0, "no {kind} fault was injected");
    }
    for (op, _) in LOSE_ANSWER {
        assert!(
            happened(FaultKind::LostAnswer, op).is_some_and(|n| n > 0),
            "no answer to {op} was lost"
        );
    }
    for (what, n) in [
        ("a task in flight at SIGTERM", counts.in_flight_at_sigterm),
        ("a task in flight at SIGKILL", counts.in_flight_at_sigkill),
        (
            "an attempt failed by the SIGTERMed worker's shutdown",
            counts.retried_after_worker_shutdown,
        ),
        (
            "an attempt lost to the SIGKILL",
            counts.attempts_lost_to_sigkill,
        ),
        (
            "an attempt lost to a lost poll answer",
            counts.attempts_lost_to_lost_poll_answers,
        ),
        (
            "a retry after a lost result answer",
            counts.retries_after_lost_answers,
        ),
        ("a lost heartbeat answer", counts.heartbeat_answers_lost),
    ] {
        assert!(n > 0, "no {what}: {counts:#?}");
    }
    println!(
        "chaos: {executions} executions in {:.1?} through 3 workers (+2 replacements), faults \
         10% throttling / 5% 503 / 2% dropped connections / 0-50 ms latency, lost answers \
         {LOSE_ANSWER:?}",
        started_at.elapsed()
    );
    println!("chaos: worker-side fault counters of the surviving workers: {fault_counts:?}");
    emu.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// A task that never stops
// ---------------------------------------------------------------------------------------------

/// An async task that blocks its runtime thread forever and never looks at cancellation: after
/// SIGTERM the worker still fails it with `Stefuna.WorkerShutdown` (the state machine retries
/// it) and exits within `shutdown_grace` plus a bounded margin.
#[tokio::test]
async fn a_task_blocking_a_runtime_thread_does_not_stop_the_exit() {
    let (code, took, histories) = stuck_tasks(1).await;
    assert_eq!(code, Some(0));
    println!("one stuck task: the worker exited {took:.1?} after SIGTERM (shutdown_grace 2 s)");
    // The attempt was failed with Stefuna.WorkerShutdown (not left to time out), so the state
    // machine retries it at once.
    assert_eq!(histories[0].shut_down.len(), 1, "{histories:?}");
    assert!(histories[0].timed_out.is_empty(), "{histories:?}");
}

/// Tasks blocking every thread of the worker's async runtime: nothing async runs any more, yet
/// SIGTERM is still heard (signals have a thread of their own) and the process ends (status 1)
/// within grace + delivery budget + a fixed slack; Step Functions times the tasks out and the
/// state machine retries them.
#[tokio::test]
async fn tasks_blocking_every_runtime_thread_do_not_stop_the_exit() {
    let (code, took, histories) = stuck_tasks(2).await;
    assert_eq!(code, Some(1), "a wedged worker exits with status 1");
    println!(
        "two stuck tasks on two runtime threads: the worker exited {took:.1?} after SIGTERM \
         (shutdown_grace 2 s, delivery_budget 1 s)"
    );
    for h in &histories {
        assert_eq!(h.timed_out.len(), 1, "{histories:?}");
    }
}

/// The escape hatch: with the runtime blocked and no grace, a third signal ends the process at
/// once instead of after the delivery budget (60 s here).
#[tokio::test]
async fn a_third_signal_exits_at_once_even_when_tasks_block_the_runtime() {
    let scratch = Scratch::new("third");
    let emu = Emulator::builder()
        .long_poll(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let sfn = client(emu.endpoint());
    let (arn, sm) = setup(&sfn, "third").await;
    let run_log = scratch.0.join("runs.log");
    let mut worker = Worker::spawn_with_env(
        &scratch.0,
        "Third",
        emu.endpoint(),
        &arn,
        &["--processes", "2"],
        &[
            ("TOKIO_WORKER_THREADS", "2"),
            ("STEFUNA_SERVER_CONFIG__DELIVERY_BUDGET", "60"),
        ],
    )
    .await;
    for n in 0..2 {
        sfn.start_execution()
            .state_machine_arn(&sm)
            .input(format!(r#"{{"n": {n}, "kind": "block_thread"}}"#))
            .send()
            .await
            .unwrap();
    }
    until(Duration::from_secs(20), "both stuck tasks to start", || {
        read_runs(&run_log)
            .iter()
            .filter(|r| r.event == "start")
            .count()
            == 2
    })
    .await;
    // Each signal is sent once the previous one was acted on (signals of a kind do not queue).
    for (signal, heard) in [("TERM", "shutting down"), ("TERM", "second signal")] {
        worker.signal(signal);
        let log = worker.stderr.clone();
        until(Duration::from_secs(20), heard, || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains(heard)
        })
        .await;
    }
    worker.signal("TERM");
    let code = worker.exit(Duration::from_secs(15)).await;
    assert_eq!(code, Some(1));
    assert!(
        std::fs::read_to_string(&worker.stderr)
            .unwrap()
            .contains("third signal: exiting now")
    );
    emu.shutdown().await;
}

/// Starts a worker with two runtime threads, `blocked` tasks that block their thread forever,
/// SIGTERMs it once they run; its exit code, how long it took to exit, and each execution's
/// history once its first attempt ended.
async fn stuck_tasks(blocked: usize) -> (Option<i32>, Duration, Vec<Attempts>) {
    let scratch = Scratch::new("stuck");
    let emu = Emulator::builder()
        .long_poll(Duration::from_secs(1))
        .time_scale(TIME_SCALE)
        .start()
        .await
        .unwrap();
    let sfn = client(emu.endpoint());
    let (arn, sm) = setup(&sfn, "stuck").await;
    let run_log = scratch.0.join("runs.log");
    let mut worker = Worker::spawn_with_env(
        &scratch.0,
        "Stuck",
        emu.endpoint(),
        &arn,
        &[
            "--processes",
            "2",
            "--shutdown-grace",
            "2",
            "--heartbeat",
            "1",
        ],
        &[
            ("TOKIO_WORKER_THREADS", "2"),
            ("STEFUNA_SERVER_CONFIG__DELIVERY_BUDGET", "1"),
        ],
    )
    .await;
    let mut execs = Vec::new();
    for n in 0..blocked {
        let exec = sfn
            .start_execution()
            .state_machine_arn(&sm)
            .name(format!("stuck-{n}"))
            .input(format!(r#"{{"n": {n}, "kind": "block_thread"}}"#))
            .send()
            .await
            .unwrap()
            .execution_arn()
            .to_owned();
        execs.push(exec);
    }
    until(Duration::from_secs(20), "the stuck tasks to start", || {
        read_runs(&run_log)
            .iter()
            .filter(|r| r.event == "start")
            .count()
            == blocked
    })
    .await;

    worker.signal("TERM");
    let signalled = Instant::now();
    // Grace 2 s + 5 s slack, budget 1 s + 10 s slack, with room for a loaded machine.
    let code = worker.exit(Duration::from_secs(2 + 5 + 1 + 10 + 20)).await;
    let took = signalled.elapsed();

    let mut histories = Vec::new();
    for exec in &execs {
        let history = within(Duration::from_secs(30), "the first attempt to end", async {
            loop {
                let a = attempts(&sfn, exec).await;
                if !a.shut_down.is_empty() || !a.timed_out.is_empty() {
                    return a;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        let _ = sfn.stop_execution().execution_arn(exec).send().await;
        histories.push(history);
    }
    emu.shutdown().await;
    (code, took, histories)
}
