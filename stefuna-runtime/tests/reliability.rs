//! Reliability behaviours of a real worker process (the `test_worker` example) when the world
//! around it fails: the endpoint refuses connections at start and mid-run, credentials are
//! missing or rejected, the activity does not exist, results cannot be delivered for a while or
//! at all, and stderr goes away.

#![cfg(target_os = "linux")]

use stefuna_runtime_testkit as support;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use stefuna_local::{Emulator, Faults};
use stefuna_runtime::Server;
use support::fake_sfn::{FakeSfn, Sent};
use support::{
    FnActivity, Running, config, finished, finished_within, free_port, get, machine,
    spawn_listening, start, within, worker_binary,
};
use tokio::io::AsyncBufReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

const ARN: &str = "arn:aws:states:us-east-1:123456789012:activity:test";

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// A worker process whose stderr is collected.
struct Worker {
    child: Child,
    pid: u32,
    health: String,
    log: Arc<Mutex<String>>,
    logged: Arc<Notify>,
    dir: PathBuf,
}

/// How to start a worker.
struct Spawn<'a> {
    endpoint: Option<&'a str>,
    arn: &'a str,
    args: &'a [&'a str],
    env: &'a [(&'a str, &'a str)],
    /// Start from an empty environment (plus PATH, HOME and these `env`).
    clear_env: bool,
    /// Keep stderr's read end (false: close it at once).
    keep_stderr: bool,
}

impl Default for Spawn<'_> {
    fn default() -> Self {
        Spawn {
            endpoint: None,
            arn: ARN,
            args: &[],
            env: &[],
            clear_env: false,
            keep_stderr: true,
        }
    }
}

impl Worker {
    async fn spawn(s: Spawn<'_>) -> Worker {
        spawn_listening(|port| Worker::spawn_on(port, &s), |w| &mut w.child).await
    }

    fn spawn_on(port: u16, s: &Spawn<'_>) -> Worker {
        let dir = std::env::temp_dir().join(format!(
            "stefuna-rel-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = Command::new(worker_binary!(&[]));
        cmd.args(["--activity-arn", s.arn, "--region", "us-east-1"])
            .args(["--healthcheck-host", "127.0.0.1", "--healthcheck"])
            .arg(port.to_string())
            .args(["--name", "Reliable"])
            .args(s.args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(e) = s.endpoint {
            cmd.args(["--endpoint-url", e]);
        }
        if s.clear_env {
            cmd.env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", &dir);
        } else {
            cmd.env_remove("AWS_ACCESS_KEY_ID")
                .env_remove("AWS_ENDPOINT_URL")
                .env_remove("AWS_ENDPOINT_URL_SFN");
            for (key, _) in std::env::vars() {
                if key.starts_with("STEFUNA_") {
                    cmd.env_remove(key);
                }
            }
        }
        cmd.env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
        for (k, v) in s.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn test_worker");
        let pid = child.id().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let logged = Arc::new(Notify::new());
        let stderr = child.stderr.take().unwrap();
        if s.keep_stderr {
            let (log, logged) = (log.clone(), logged.clone());
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                    drop(l);
                    logged.notify_waiters();
                }
            });
        } else {
            drop(stderr);
        }
        Worker {
            child,
            pid,
            health: format!("http://127.0.0.1:{port}"),
            log,
            logged,
            dir,
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (at most `limit`) until stderr has a line for which `pred` holds; that line.
    async fn wait_log(&self, limit: Duration, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let found = tokio::time::timeout(limit, async {
            loop {
                let notified = self.logged.notified();
                if let Some(l) = self.log().lines().find(|l| pred(l)) {
                    return l.to_owned();
                }
                notified.await;
            }
        })
        .await;
        found.unwrap_or_else(|_| {
            panic!(
                "timed out after {limit:?} waiting for {what} in the log:\n{}",
                self.log()
            )
        })
    }

    /// Waits until `/readyz` answers 200 (polling).
    async fn wait_ready(&self) {
        within(Duration::from_secs(30), "/readyz to answer 200", async {
            while !matches!(get(&format!("{}/readyz", self.health)).await, Ok((200, _))) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
    }

    /// Waits until `/healthz` answers `code`.
    async fn wait_healthz(&self, code: u16, limit: Duration) {
        within(limit, &format!("/healthz to answer {code}"), async {
            loop {
                if let Ok((c, _)) = get(&format!("{}/healthz", self.health)).await
                    && c == code
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
    }

    /// The value of a counter in `/metrics` (0 when absent).
    async fn metric(&self, series: &str) -> f64 {
        let (_, body) = get(&format!("{}/metrics", self.health)).await.unwrap();
        body.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    /// CPU time (user + system) the process used so far.
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap();
        // Fields after the command name (which may hold spaces), from field 3 on.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
        // USER_HZ is 100 on Linux.
        Duration::from_millis(ticks * 10)
    }

    fn signal(&self, name: &str) {
        let ok = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} {}", self.pid);
    }

    /// SIGTERM, then the exit code (at most 30 s).
    async fn stop(mut self) -> Option<i32> {
        self.signal("TERM");
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        let _ = std::fs::remove_dir_all(&self.dir);
        match status {
            Ok(s) => s.unwrap().code(),
            Err(_) => panic!(
                "the worker did not exit within 30 s of SIGTERM; its log:\n{}",
                self.log()
            ),
        }
    }
}

/// A TCP forwarder on a fixed loopback port that can be taken down (the port refuses
/// connections, open ones are cut) and brought back.
struct Proxy {
    port: u16,
    upstream: std::net::SocketAddr,
    running: Option<JoinHandle<()>>,
}

impl Proxy {
    /// A proxy to `upstream`, down.
    fn new(upstream: &str) -> Proxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .parse()
            .expect("upstream address");
        Proxy {
            port: free_port(),
            upstream,
            running: None,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Listens again on the proxy's port; another process may have taken it while it was down,
    /// so binding is retried for a while before giving up.
    async fn up(&mut self) {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(e) if tries < 100 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("port {} stays taken: {e}", self.port),
            }
        };
        let upstream = self.upstream;
        self.running = Some(tokio::spawn(async move {
            // Dropped with the task: aborts every connection.
            let mut conns = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                conns.spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        }));
    }

    async fn down(&mut self) {
        if let Some(t) = self.running.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Endpoint down
// ---------------------------------------------------------------------------------------------

/// Waits `window` (the outage goes on meanwhile) and returns the CPU time and poll errors the
/// worker spent in it.
async fn idle_during(worker: &Worker, window: Duration) -> (Duration, f64) {
    let series = "stefuna_poll_errors_total{activity=\"TestWorker\"}";
    let (cpu0, errors0) = (worker.cpu(), worker.metric(series).await);
    tokio::time::sleep(window).await;
    let (cpu1, errors1) = (worker.cpu(), worker.metric(series).await);
    (cpu1 - cpu0, errors1 - errors0)
}

/// One line per outage that `cargo xtask chaos` reads: `outage-cpu: WHEN CPU_SECONDS
/// WINDOW_SECONDS POLL_ERRORS`.
fn report_outage(when: &str, cpu: Duration, errors: f64, window: Duration) {
    println!(
        "outage-cpu: {} {:.3} {:.3} {errors}",
        when.replace(' ', "-"),
        cpu.as_secs_f64(),
        window.as_secs_f64()
    );
}

#[tokio::test]
async fn an_endpoint_down_at_start_and_mid_run_is_retried_without_spinning_or_losing_tasks() {
    let emu = Emulator::builder()
        .long_poll(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let sfn = support::client(emu.endpoint());
    let (arn, sm) = machine(&sfn, "outage", serde_json::json!({})).await;
    let mut proxy = Proxy::new(emu.endpoint());
    let endpoint = proxy.endpoint();
    // Connection refused from the first call.
    let worker = Worker::spawn(Spawn {
        endpoint: Some(&endpoint),
        arn: &arn,
        args: &["--processes", "2"],
        env: &[("STEFUNA_LIVENESS_TIMEOUT", "2")],
        ..Spawn::default()
    })
    .await;
    worker.wait_healthz(503, Duration::from_secs(30)).await;
    // How long each outage lasts once /healthz shows it (RELIABILITY_OUTAGE_SECONDS, default 3;
    // `cargo xtask chaos` runs 30).
    let window = Duration::from_secs(
        std::env::var("RELIABILITY_OUTAGE_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3),
    );
    // A hot loop would fail thousands of polls. Its CPU time is printed for `cargo xtask
    // chaos`, which holds it to a bound: a time is for a benchmark, not a test assertion.
    let max_errors = 20.0 + 2.0 * window.as_secs_f64();
    let (cpu, errors) = idle_during(&worker, window).await;
    report_outage("at start", cpu, errors, window);
    assert!(errors <= max_errors, "{errors} poll errors in {window:?}");
    worker
        .wait_log(Duration::from_secs(5), "a poll error", |l| {
            l.contains("GetActivityTask failed") && l.to_lowercase().contains("connection refused")
        })
        .await;

    proxy.up().await;
    // Backoff is capped at 30 s; after a few seconds down, the next try is a few seconds away.
    worker.wait_healthz(200, Duration::from_secs(40)).await;
    let before = start(&sfn, &sm, r#"{"n": 0}"#).await;
    assert_eq!(
        finished(&sfn, &before).await.status,
        ExecutionStatus::Succeeded
    );

    // Mid-run: refuse connections and cut the open ones (open polls included). Executions
    // started while it is down wait for the worker; none is lost.
    proxy.down().await;
    worker.wait_healthz(503, Duration::from_secs(30)).await;
    let mut during = Vec::new();
    for n in 1..=3 {
        during.push(start(&sfn, &sm, &format!(r#"{{"n": {n}}}"#)).await);
    }
    let (cpu, errors) = idle_during(&worker, window).await;
    report_outage("mid-run", cpu, errors, window);
    assert!(errors <= max_errors, "{errors} poll errors in {window:?}");
    for exec in &during {
        let d = sfn
            .describe_execution()
            .execution_arn(exec)
            .send()
            .await
            .unwrap();
        assert_eq!(*d.status(), ExecutionStatus::Running, "answered while down");
    }

    proxy.up().await;
    for exec in during.iter().chain([&before]) {
        let d = finished_within(&sfn, exec, Duration::from_secs(60)).await;
        assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
        assert_eq!(
            support::activity_starts(&sfn, exec).await,
            1,
            "each task ran once"
        );
    }
    worker.wait_healthz(200, Duration::from_secs(10)).await;
    assert_eq!(worker.stop().await, Some(0));
    emu.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Credentials and the activity
// ---------------------------------------------------------------------------------------------

/// A Step Functions endpoint that refuses every call with `code` (HTTP 400).
async fn refusing_endpoint(code: &'static str, message: &'static str) -> String {
    use warp::Filter;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let route = warp::any().map(move || {
        warp::reply::with_status(
            warp::reply::with_header(
                warp::reply::json(&serde_json::json!({"__type": code, "message": message})),
                "content-type",
                "application/x-amz-json-1.0",
            ),
            warp::http::StatusCode::BAD_REQUEST,
        )
    });
    tokio::spawn(warp::serve(route).incoming(listener).run());
    endpoint
}

#[tokio::test]
async fn rejected_credentials_are_named_in_the_log_and_the_worker_keeps_trying() {
    let endpoint = refusing_endpoint(
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    .await;
    let worker = Worker::spawn(Spawn {
        endpoint: Some(&endpoint),
        ..Spawn::default()
    })
    .await;
    let line = worker
        .wait_log(Duration::from_secs(20), "the refusal", |l| {
            l.contains("UnrecognizedClientException")
        })
        .await;
    assert!(
        line.contains("security token included in the request is invalid")
            && line.contains("credentials"),
        "{line}"
    );
    // Still alive and still trying.
    let series = "stefuna_poll_errors_total{activity=\"TestWorker\"}";
    let first = worker.metric(series).await;
    within(Duration::from_secs(20), "another poll attempt", async {
        while worker.metric(series).await <= first {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(worker.stop().await, Some(0));
}

#[tokio::test]
async fn a_missing_activity_is_named_in_the_log() {
    let emu = Emulator::builder()
        .long_poll(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let missing = "arn:aws:states:us-east-1:123456789012:activity:nobody-created-me";
    let worker = Worker::spawn(Spawn {
        endpoint: Some(emu.endpoint()),
        arn: missing,
        ..Spawn::default()
    })
    .await;
    let line = worker
        .wait_log(Duration::from_secs(20), "ActivityDoesNotExist", |l| {
            l.contains("ActivityDoesNotExist")
        })
        .await;
    assert!(
        line.contains("nobody-created-me") && line.contains("activity_arn"),
        "the line names the ARN and the setting to fix: {line}"
    );
    assert_eq!(worker.stop().await, Some(0));
    emu.shutdown().await;
}

#[tokio::test]
async fn no_credentials_at_all_explain_how_to_configure_them() {
    // Not a loopback endpoint (so no placeholder credentials) but still this machine: the
    // request is never signed, so nothing is sent anyway.
    let endpoint = format!("http://0.0.0.0:{}", free_port());
    let worker = Worker::spawn(Spawn {
        endpoint: Some(&endpoint),
        clear_env: true,
        env: &[
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/nonexistent/stefuna/config"),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/stefuna/credentials",
            ),
        ],
        ..Spawn::default()
    })
    .await;
    let line = worker
        .wait_log(Duration::from_secs(20), "the missing credentials", |l| {
            l.contains("no AWS credentials")
        })
        .await;
    for hint in ["AWS_ACCESS_KEY_ID", "AWS_PROFILE", "--local"] {
        assert!(line.contains(hint), "{hint} missing from: {line}");
    }
    // Each failed poll says why in one line, not the credential chain's whole story.
    let poll = worker
        .wait_log(Duration::from_secs(20), "a failed poll", |l| {
            l.contains("GetActivityTask failed")
        })
        .await;
    assert!(poll.contains("no AWS credentials"), "{poll}");
    let log = worker.log();
    assert!(
        log.lines().all(|l| !l.starts_with("  ")),
        "every log entry is one line:\n{log}"
    );
    assert_eq!(worker.stop().await, Some(0));
}

// ---------------------------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_result_failing_transiently_is_delivered_once_it_recovers() {
    let emu = Emulator::builder()
        .long_poll(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let sfn = support::client(emu.endpoint());
    let (arn, sm) = machine(&sfn, "flaky", serde_json::json!({})).await;
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    let activity = FnActivity::new("Flaky", move |input, _ctx| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move { Ok(input) }
    });
    let server = Running::start(
        Server::builder().activity(activity).config(config(&arn, 1)),
        emu.endpoint(),
    )
    .await;
    let retries = "stefuna_delivery_retries_total{activity=\"Flaky\"}";
    let only = |op: &str| Some(vec![op.to_owned()]);

    // 503s first, then dropped connections, then the service recovers.
    emu.set_faults(Faults {
        unavailable: 1.0,
        operations: only("SendTaskSuccess"),
        ..Faults::default()
    });
    let exec = start(&sfn, &sm, r#"{"job": 1}"#).await;
    within(Duration::from_secs(30), "delivery retries on 503", async {
        while server.metric(retries).await < 2.0 {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await;
    emu.set_faults(Faults {
        drop_connection: 1.0,
        operations: only("SendTaskSuccess"),
        ..Faults::default()
    });
    let so_far = server.metric(retries).await;
    within(
        Duration::from_secs(30),
        "delivery retries on dropped connections",
        async {
            while server.metric(retries).await < so_far + 2.0 {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        },
    )
    .await;
    let d = sfn
        .describe_execution()
        .execution_arn(&exec)
        .send()
        .await
        .unwrap();
    assert_eq!(
        *d.status(),
        ExecutionStatus::Running,
        "nothing delivered yet"
    );
    emu.set_faults(Faults::default());

    let d = finished(&sfn, &exec).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    let output: serde_json::Value = serde_json::from_str(d.output.as_deref().unwrap()).unwrap();
    assert_eq!(output, serde_json::json!({"job": 1}));
    assert_eq!(
        runs.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the task ran once"
    );
    let succeeded = "stefuna_tasks_succeeded_total{activity=\"Flaky\"}";
    assert_eq!(server.metric(succeeded).await, 1.0);
    server.stop().await.unwrap();
    emu.shutdown().await;
}

/// A result whose first attempt landed but whose answer was lost: the retry meets a closed token
/// (`TaskDoesNotExist`). The worker counts it as delivered (succeeded or failed as it was),
/// neither a dropped delivery nor a lost task, and sends nothing more.
#[tokio::test]
async fn a_retry_meeting_a_closed_token_after_a_lost_answer_counts_as_delivered() {
    let emu = Emulator::builder()
        .long_poll(Duration::from_secs(1))
        .faults(Faults {
            lose_answer: vec![
                ("SendTaskSuccess".to_owned(), 1.0),
                ("SendTaskFailure".to_owned(), 1.0),
            ],
            ..Faults::default()
        })
        .start()
        .await
        .unwrap();
    let sfn = support::client(emu.endpoint());
    let (arn, sm) = machine(&sfn, "lost", serde_json::json!({})).await;
    let activity = FnActivity::new("Lost", |input, _ctx| async move {
        if input.contains("fail") {
            Err(stefuna_core::TaskError::new("Job.Failed", "as asked"))
        } else {
            Ok(input)
        }
    });
    let server = Running::start(
        Server::builder().activity(activity).config(config(&arn, 2)),
        emu.endpoint(),
    )
    .await;
    let ok = start(&sfn, &sm, r#"{"job": "ok"}"#).await;
    let failed = start(&sfn, &sm, r#"{"job": "fail"}"#).await;
    assert_eq!(finished(&sfn, &ok).await.status, ExecutionStatus::Succeeded);
    let f = finished(&sfn, &failed).await;
    assert_eq!(f.status, ExecutionStatus::Failed);
    assert_eq!(f.error.as_deref(), Some("Job.Failed"));
    // Both deliveries have ended once the retries were answered.
    let retries = "stefuna_delivery_retries_total{activity=\"Lost\"}";
    let finished = "stefuna_tasks_in_flight{activity=\"Lost\"}";
    within(Duration::from_secs(30), "both deliveries to end", async {
        while server.metric(retries).await < 2.0 || server.metric(finished).await > 0.0 {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await;
    for (series, want) in [
        ("stefuna_tasks_succeeded_total{activity=\"Lost\"}", 1.0),
        (
            "stefuna_tasks_failed_total{activity=\"Lost\",error=\"Job.Failed\"}",
            1.0,
        ),
        ("stefuna_delivery_dropped_total{activity=\"Lost\"}", 0.0),
        ("stefuna_tasks_lost_total{activity=\"Lost\"}", 0.0),
        (retries, 2.0),
    ] {
        assert_eq!(server.metric(series).await, want, "{series}");
    }
    server.stop().await.unwrap();
    // Each token: the first answer accepted and lost, one retry refused, nothing more.
    let answers = emu.answers();
    assert_eq!(answers.len(), 2, "{answers:?}");
    for (token, a) in &answers {
        assert_eq!(
            (a.received, a.accepted, a.answers_lost),
            (2, 1, 1),
            "{token}: {a:?}"
        );
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn a_result_for_a_timed_out_task_is_logged_dropped_and_frees_its_slot() {
    let emu = Emulator::builder()
        .long_poll(Duration::from_secs(1))
        .time_scale(10.0)
        .start()
        .await
        .unwrap();
    let sfn = support::client(emu.endpoint());
    // 20 emulated seconds: 2 real ones.
    let (arn, sm) = machine(&sfn, "late", serde_json::json!({"TimeoutSeconds": 20})).await;
    let worker = Worker::spawn(Spawn {
        endpoint: Some(emu.endpoint()),
        arn: &arn,
        args: &["--processes", "1"],
        ..Spawn::default()
    })
    .await;
    // Polling before the clock starts, so the task is claimed well within its timeout.
    worker.wait_ready().await;
    let flag = worker.dir.join("finish");
    let late = start(
        &sfn,
        &sm,
        &serde_json::json!({ "wait_for_file": flag }).to_string(),
    )
    .await;
    let d = finished(&sfn, &late).await;
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!(d.error.as_deref(), Some("States.Timeout"));
    assert_eq!(
        support::activity_starts(&sfn, &late).await,
        1,
        "the worker had claimed the task"
    );

    // The task finishes after Step Functions gave up on it: its result is refused.
    std::fs::write(&flag, b"").unwrap();
    let line = worker
        .wait_log(Duration::from_secs(20), "the dropped result", |l| {
            l.contains("result not delivered")
        })
        .await;
    assert!(
        line.contains("TaskTimedOut") || line.contains("TaskDoesNotExist"),
        "{line}"
    );
    assert_eq!(
        worker
            .metric("stefuna_delivery_retries_total{activity=\"TestWorker\"}")
            .await,
        0.0,
        "a dead token is not retried"
    );
    // One slot: the next task runs only if the late one gave it back.
    let next = start(&sfn, &sm, r#"{"next": true}"#).await;
    let d = finished(&sfn, &next).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    assert_eq!(worker.stop().await, Some(0));
    emu.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Logs going nowhere
// ---------------------------------------------------------------------------------------------

/// A log collector that went away (stderr a closed pipe) must not stop the worker: logging
/// failures are dropped, tasks still run, SIGTERM still stops it.
#[tokio::test]
async fn a_closed_stderr_does_not_stop_the_worker() {
    let fake = FakeSfn::start().await;
    fake.throttle("GetActivityTask", 3);
    let worker = Worker::spawn(Spawn {
        endpoint: Some(&fake.endpoint),
        keep_stderr: false,
        args: &["--loglevel", "debug"],
        ..Spawn::default()
    })
    .await;
    // Every poll error and every task writes to the closed stderr.
    fake.push("after-close", r#"{"k": 1}"#);
    assert_eq!(
        fake.result("after-close").await,
        Sent::Success(r#"{"k": 1}"#.into())
    );
    fake.push("again", r#"{"k": 2}"#);
    assert_eq!(
        fake.result("again").await,
        Sent::Success(r#"{"k": 2}"#.into())
    );
    assert_eq!(worker.stop().await, Some(0));
}
