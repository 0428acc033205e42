//! Activity round trips per second: StartExecution → GetActivityTask → SendTaskSuccess →
//! SUCCEEDED, with many concurrent real SDK clients against one emulator.
//!
//! `cargo bench -p stefuna-local` (STEFUNA_BENCH_N round trips, default 20000;
//! STEFUNA_BENCH_CLIENTS concurrent starters and pollers each, default 32).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_sfn::Client;
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::types::ExecutionStatus;
use aws_smithy_types::timeout::TimeoutConfig;
use stefuna_local::Emulator;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn client(endpoint: &str) -> Client {
    Client::from_conf(
        aws_sdk_sfn::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("bench", "bench", None, None, "static"))
            .timeout_config(
                TimeoutConfig::builder()
                    .read_timeout(Duration::from_secs(70))
                    .operation_attempt_timeout(Duration::from_secs(75))
                    .build(),
            )
            .build(),
    )
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters by name, as libtest would.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"roundtrip".contains(a.as_str()))
    {
        return;
    }
    let n = env("STEFUNA_BENCH_N", 20_000);
    let clients = env("STEFUNA_BENCH_CLIENTS", 32).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(n, clients));
}

async fn run(n: usize, clients: usize) {
    let emu = Emulator::builder()
        .long_poll(Duration::from_millis(500))
        .start()
        .await
        .expect("emulator starts");
    let c = client(emu.endpoint());
    let activity = c
        .create_activity()
        .name("bench")
        .send()
        .await
        .expect("create activity")
        .activity_arn;
    let definition = serde_json::json!({
        "StartAt": "Work",
        "States": { "Work": { "Type": "Task", "Resource": activity, "End": true } }
    })
    .to_string();
    let machine = c
        .create_state_machine()
        .name("bench")
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/bench")
        .send()
        .await
        .expect("create state machine")
        .state_machine_arn;

    let started = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..clients {
        let (c, machine, started) = (client(emu.endpoint()), machine.clone(), started.clone());
        handles.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while started.fetch_add(1, Ordering::Relaxed) < n {
                let out = c
                    .start_execution()
                    .state_machine_arn(&machine)
                    .input(r#"{"hello":"world"}"#)
                    .send()
                    .await
                    .expect("start execution");
                mine.push(out.execution_arn);
            }
            mine
        }));
    }
    let mut pollers = Vec::new();
    for i in 0..clients {
        let (c, activity, answered) = (client(emu.endpoint()), activity.clone(), answered.clone());
        pollers.push(tokio::spawn(async move {
            while answered.load(Ordering::Relaxed) < n {
                let task = c
                    .get_activity_task()
                    .activity_arn(&activity)
                    .worker_name(format!("bench-{i}"))
                    .send()
                    .await
                    .expect("get activity task");
                let Some(token) = task.task_token else {
                    continue;
                };
                c.send_task_success()
                    .task_token(token)
                    .output(task.input.unwrap_or_default())
                    .send()
                    .await
                    .expect("send task success");
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut executions = Vec::with_capacity(n);
    for h in handles {
        executions.extend(h.await.expect("starter"));
    }
    let t_started = t0.elapsed();
    for p in pollers {
        p.await.expect("poller");
    }
    let t_answered = t0.elapsed();
    // Every execution must have reached SUCCEEDED (the last ones may still be finishing).
    for arn in executions.iter().rev() {
        loop {
            let d = c
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .expect("describe execution");
            match d.status {
                ExecutionStatus::Succeeded => break,
                ExecutionStatus::Running => tokio::task::yield_now().await,
                other => panic!("execution {arn} ended {other:?}"),
            }
        }
    }
    let t_done = t0.elapsed();
    println!(
        "roundtrip: {n} activity round trips, {clients} starters + {clients} pollers: \
         {:.0} round trips/s (all started in {:.2?}, all answered in {:.2?}, verified SUCCEEDED in {:.2?})",
        n as f64 / t_answered.as_secs_f64(),
        t_started,
        t_answered,
        t_done,
    );
    emu.shutdown().await;
}
