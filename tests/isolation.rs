//! Process isolation (`isolation = "process"`) with real processes: the `isolated` example
//! against stefuna-local. A crash costs one task, a lost blocking task's child is killed,
//! children are recycled after `maxtasksperchild` tasks, a SIGKILLed worker leaves no child,
//! and `--local --input` works in process mode.

#![cfg(target_os = "linux")]

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use stefuna_local::Emulator;
use tokio::process::Child;

/// The emulator's clock speed-up: emulated Retry intervals and timeouts pass 10× faster.
const TIME_SCALE: f64 = 10.0;

struct Worker {
    child: Child,
    pid: u32,
    health: String,
    stderr: PathBuf,
}

impl Worker {
    /// Starts the `isolated` example in process mode against `endpoint`, and waits until it
    /// polls.
    async fn start(
        name: &str,
        endpoint: &str,
        arn: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Worker {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let stderr = std::env::temp_dir().join(format!(
            "stefuna-isolation-{name}-{}.stderr",
            std::process::id()
        ));
        let mut cmd = support::example_command("isolated");
        cmd.args([
            "--activity-arn",
            arn,
            "--endpoint-url",
            endpoint,
            "--region",
            "us-east-1",
        ])
        .args([
            "--healthcheck-host",
            "127.0.0.1",
            "--healthcheck",
            &port.to_string(),
        ])
        .args(["--isolation", "process"])
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn the isolated example");
        let pid = child.id().unwrap();
        let health = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = get(&format!("{health}/readyz")).await {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the worker exited before polling: {status}\n{}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the worker did not get ready within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Worker {
            child,
            pid,
            health,
            stderr,
        }
    }

    /// A counter from `/metrics` (0 when the series is absent).
    async fn metric(&self, name: &str) -> f64 {
        // A busy machine can make one scrape slow: try a few times.
        let url = format!("{}/metrics", self.health);
        let mut text = String::new();
        for attempt in 0..5 {
            match get(&url).await {
                Ok((_, t)) => {
                    text = t;
                    break;
                }
                Err(e) if attempt == 4 => panic!("{url}: {e}"),
                Err(_) => {}
            }
        }
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.stderr);
    }
}

async fn get(url: &str) -> Result<(u16, String), reqwest::Error> {
    let c = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()?;
    let r = c.get(url).send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

/// The processes whose parent is `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // Fields after the `(comm)`: state, ppid, ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let (state, ppid) = (f.next(), f.next().and_then(|x| x.parse::<u32>().ok()));
        if ppid == Some(pid) && state != Some("Z") {
            out.push(p);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, r)| !r.trim_start().starts_with('Z'))
    })
}

/// Waits (at most 60 s) until `cond` holds, checking every 20 ms: for facts only /proc shows.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An activity and a state machine with `task` as its one Task state's extra fields.
async fn machine(
    sfn: &aws_sdk_sfn::Client,
    name: &str,
    task: serde_json::Value,
) -> (String, String) {
    let arn = sfn
        .create_activity()
        .name(name)
        .send()
        .await
        .unwrap()
        .activity_arn()
        .to_owned();
    let mut state = serde_json::json!({"Type": "Task", "Resource": arn, "End": true});
    state
        .as_object_mut()
        .unwrap()
        .extend(task.as_object().unwrap().clone());
    let definition = serde_json::json!({"StartAt": "T", "States": {"T": state}});
    let sm = sfn
        .create_state_machine()
        .name(format!("{name}-machine"))
        .role_arn("arn:aws:iam::123456789012:role/test")
        .definition(definition.to_string())
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    (arn, sm)
}

async fn start(sfn: &aws_sdk_sfn::Client, sm: &str, input: serde_json::Value) -> String {
    sfn.start_execution()
        .state_machine_arn(sm)
        .input(input.to_string())
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned()
}

/// Waits (at most 120 s) for an execution to end.
async fn ended(
    sfn: &aws_sdk_sfn::Client,
    exec: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let d = sfn
            .describe_execution()
            .execution_arn(exec)
            .send()
            .await
            .unwrap();
        if *d.status() != ExecutionStatus::Running {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "execution {exec} still running after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn emulator() -> (Emulator, aws_sdk_sfn::Client) {
    let emu = Emulator::builder()
        .time_scale(TIME_SCALE)
        // Short long polls, so a draining worker's open polls end soon.
        .long_poll(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let sfn = support::sfn(emu.endpoint());
    (emu, sfn)
}

fn output(
    d: &aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
) -> serde_json::Value {
    assert_eq!(*d.status(), ExecutionStatus::Succeeded, "{d:?}");
    serde_json::from_str(d.output().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_fails_only_its_task_with_worker_crashed_and_is_retried() {
    let (emu, sfn) = emulator().await;
    let retry = serde_json::json!({"Retry": [{"ErrorEquals": ["Stefuna.WorkerCrashed"], "MaxAttempts": 1, "IntervalSeconds": 1}]});
    let (arn, sm) = machine(&sfn, "crash", retry).await;
    let w = Worker::start("crash", emu.endpoint(), &arn, &["--processes", "8"], &[]).await;

    // Seven tasks in flight (they sleep until the crash is over), then one that aborts.
    let mut slow = Vec::new();
    for _ in 0..7 {
        slow.push(start(&sfn, &sm, serde_json::json!({"sleep_ms": 3000})).await);
    }
    let crash = start(&sfn, &sm, serde_json::json!({"kind": "abort"})).await;
    let crashed = ended(&sfn, &crash).await;
    assert_eq!(*crashed.status(), ExecutionStatus::Failed, "{crashed:?}");
    assert_eq!(
        crashed.error(),
        Some("Stefuna.WorkerCrashed"),
        "{crashed:?}"
    );
    let cause = crashed.cause().unwrap_or_default();
    assert!(cause.contains("SIGABRT"), "{cause}");
    assert!(
        cause.contains("aborting on purpose"),
        "the cause carries the child's stderr: {cause}"
    );

    let mut pids = std::collections::HashSet::new();
    for exec in &slow {
        let out = output(&ended(&sfn, exec).await);
        assert_ne!(
            out["pid"].as_u64(),
            Some(u64::from(w.pid)),
            "tasks run in children"
        );
        assert_eq!(
            out["pid"], out["init_pid"],
            "the init hook ran in the task's child"
        );
        pids.insert(out["pid"].as_u64().unwrap());
    }
    assert_eq!(pids.len(), 7, "seven tasks in flight ran in seven children");
    // The state machine retried the crashed task once: two crashes, each replaced.
    assert_eq!(
        w.metric("stefuna_child_crashes_total").await,
        2.0,
        "{}",
        w.log()
    );
    let after = output(&ended(&sfn, &start(&sfn, &sm, serde_json::json!({})).await).await);
    assert!(
        pids.contains(&after["pid"].as_u64().unwrap()),
        "a warm child took the next task"
    );
    assert!(alive(w.pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxtasksperchild_3_over_10_tasks_on_one_slot_starts_4_children() {
    let (emu, sfn) = emulator().await;
    let (arn, sm) = machine(&sfn, "recycle", serde_json::json!({})).await;
    let w = Worker::start(
        "recycle",
        emu.endpoint(),
        &arn,
        &["--processes", "1"],
        &[("STEFUNA_MAXTASKSPERCHILD", "3")],
    )
    .await;
    let mut runs = Vec::new();
    for _ in 0..10 {
        let out = output(&ended(&sfn, &start(&sfn, &sm, serde_json::json!({})).await).await);
        runs.push((out["pid"].as_u64().unwrap(), out["tasks"].as_u64().unwrap()));
    }
    assert_eq!(
        w.metric("stefuna_children_started_total").await,
        4.0,
        "{}",
        w.log()
    );
    assert_eq!(
        runs.iter().map(|r| r.1).collect::<Vec<_>>(),
        [1, 2, 3, 1, 2, 3, 1, 2, 3, 1]
    );
    let distinct: std::collections::HashSet<_> = runs.iter().map(|r| r.0).collect();
    assert_eq!(distinct.len(), 4, "{runs:?}");
    assert_eq!(w.metric("stefuna_child_crashes_total").await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_blocking_task_is_killed_and_frees_its_slot() {
    let (emu, sfn) = emulator().await;
    // HeartbeatSeconds 2 emulated (0.2 s real); the worker beats every second, so its first beat
    // finds the task timed out.
    let (arn, sm) = machine(&sfn, "lost", serde_json::json!({"HeartbeatSeconds": 2})).await;
    let w = Worker::start(
        "lost",
        emu.endpoint(),
        &arn,
        &["--processes", "1", "--heartbeat", "1"],
        &[("STEFUNA_SERVER_CONFIG__LOST_TASK_GRACE", "1")],
    )
    .await;
    let blocked = start(&sfn, &sm, serde_json::json!({"kind": "block"})).await;
    let d = ended(&sfn, &blocked).await;
    assert!(
        d.error()
            .is_some_and(|e| e.starts_with("States.") && e.contains("Timeout")),
        "{d:?}"
    );
    let mut blocker = None;
    until("the blocking child names itself on stderr", || {
        blocker = w.log().lines().find_map(|l| {
            l.split("isolated: pid ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u32>()
                .ok()
        });
        blocker.is_some()
    })
    .await;
    let blocker = blocker.unwrap();
    // The one slot is free again only once the blocking child is gone: a thread could not be
    // stopped, a process is killed.
    let next = output(&ended(&sfn, &start(&sfn, &sm, serde_json::json!({})).await).await);
    assert_ne!(next["pid"].as_u64(), Some(u64::from(blocker)));
    assert!(
        !alive(blocker),
        "the blocking child {blocker} is still alive"
    );
    assert!(
        w.log()
            .contains("child did not stop within its grace; killing it"),
        "{}",
        w.log()
    );
    assert_eq!(w.metric("stefuna_tasks_lost_total").await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_worker_leaves_no_child() {
    let (emu, sfn) = emulator().await;
    let (arn, sm) = machine(&sfn, "orphans", serde_json::json!({})).await;
    let mut w = Worker::start("orphans", emu.endpoint(), &arn, &["--processes", "3"], &[]).await;
    for _ in 0..3 {
        start(&sfn, &sm, serde_json::json!({"kind": "block"})).await;
    }
    let mut kids = Vec::new();
    until("three children run blocking tasks", || {
        kids = children_of(w.pid);
        kids.len() == 3
    })
    .await;
    w.child.start_kill().unwrap();
    w.child.wait().await.unwrap();
    until("every child exited after its parent was SIGKILLed", || {
        kids.iter().all(|p| !alive(*p))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_mode_runs_inputs_in_children() {
    let out = support::example_command("isolated")
        .args(["--local", "--input", r#"{"kind": "ok"}"#, "--input", "{}"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("\"init_pid\"").count(), 2, "{stdout}");
}

/// Proportional set size of `pid` and its children, MiB (RSS where smaps_rollup is missing).
fn tree_pss_mib(pid: u32) -> f64 {
    let one = |p: u32| -> f64 {
        let read = |file: &str, key: &str| {
            std::fs::read_to_string(format!("/proc/{p}/{file}"))
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find_map(|l| l.strip_prefix(key))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                })
        };
        read("smaps_rollup", "Pss:")
            .or_else(|| read("status", "VmRSS:"))
            .unwrap_or(0.0)
            / 1024.0
    };
    one(pid) + children_of(pid).into_iter().map(one).sum::<f64>()
}

/// A task that leaks 64 KiB on purpose, recycled every 100 tasks: over 10,000 tasks (625 MiB
/// leaked in all; `ISOLATION_LEAK_TASKS` changes the count) the worker and its children stay
/// flat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaking_task_recycled_every_100_tasks_stays_flat() {
    use futures::StreamExt;
    let tasks: usize = std::env::var("ISOLATION_LEAK_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let (emu, sfn) = emulator().await;
    let (arn, sm) = machine(&sfn, "leak", serde_json::json!({})).await;
    let w = Worker::start(
        "leak",
        emu.endpoint(),
        &arn,
        &["--processes", "4", "--loglevel", "warn"],
        &[("STEFUNA_MAXTASKSPERCHILD", "100")],
    )
    .await;
    let input = serde_json::json!({"kind": "leak", "leak_kb": 64}).to_string();
    let starts = futures::stream::iter(0..tasks)
        .map(|_| {
            let (sfn, sm, input) = (sfn.clone(), sm.clone(), input.clone());
            async move {
                sfn.start_execution()
                    .state_machine_arn(sm)
                    .input(input)
                    .send()
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(16)
        .for_each(|()| async {});
    // Sample the tree's memory while the executions run (every 1,000 tasks done).
    let mut samples: Vec<(f64, f64)> = Vec::new();
    let sampler = async {
        let mut next = 1000.0;
        loop {
            let done = w.metric("stefuna_tasks_succeeded_total").await;
            if done >= next {
                samples.push((done, tree_pss_mib(w.pid)));
                next += 1000.0;
            }
            if done >= tasks as f64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(900), async {
        tokio::join!(starts, sampler)
    })
    .await
    .expect("the tasks to finish within 15 minutes");
    let started = w.metric("stefuna_children_started_total").await;
    assert!(
        started >= (tasks / 100) as f64,
        "children started: {started}"
    );
    assert_eq!(
        w.metric("stefuna_child_crashes_total").await,
        0.0,
        "{}",
        w.log()
    );
    let peak = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    let leaked_mib = tasks as f64 * 64.0 / 1024.0;
    eprintln!("samples (tasks done, PSS MiB): {samples:?}; leaked in all {leaked_mib} MiB");
    // Four children hold at most 100 leaks each (25 MiB) on top of their baseline.
    let first = samples.first().map_or(0.0, |s| s.1);
    assert!(
        peak <= first + 40.0,
        "memory grew from {first:.1} to {peak:.1} MiB: {samples:?}"
    );
    assert!(
        peak < leaked_mib / 3.0,
        "peak {peak:.1} MiB against {leaked_mib} MiB leaked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_children() {
    let (emu, sfn) = emulator().await;
    let (arn, sm) = machine(&sfn, "drain", serde_json::json!({})).await;
    let mut w = Worker::start("drain", emu.endpoint(), &arn, &["--processes", "2"], &[]).await;
    // Warm one child, then put a task in flight and SIGTERM the worker while it runs.
    output(&ended(&sfn, &start(&sfn, &sm, serde_json::json!({})).await).await);
    let exec = start(&sfn, &sm, serde_json::json!({"sleep_ms": 1500})).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while w.metric("stefuna_tasks_in_flight").await < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the task did not start within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let kids = children_of(w.pid);
    assert!(!kids.is_empty());
    assert_eq!(
        support::sigterm_and_wait(&mut w.child).await,
        Some(0),
        "{}",
        w.log()
    );
    let out = output(&ended(&sfn, &exec).await);
    assert!(
        kids.contains(&(out["pid"].as_u64().unwrap() as u32)),
        "{out} {kids:?}"
    );
    for pid in kids {
        assert!(!alive(pid), "child {pid} outlived the drained worker");
    }
}
