//! The bench's baseline: a minimal activity worker with aws-sdk-sfn and tokio only, no framework.
//!
//! `bench-raw ENDPOINT_URL ACTIVITY_ARN CONCURRENCY` runs CONCURRENCY loops of GetActivityTask ->
//! SendTaskSuccess (`{"name": N}` -> `{"message": "Hello N"}`, the hello example's output) until
//! it is killed. It is what `cargo xtask bench` calls the practical limit.
//!
//! `bench-raw ENDPOINT_URL ACTIVITY_ARN TASKS HEARTBEAT_SECONDS` is the density run's baseline:
//! it claims TASKS tasks (64 polls open at a time) and holds every one, sending
//! `SendTaskHeartbeat` for each every HEARTBEAT_SECONDS (the first at a random point of the first
//! interval, so the beats are spread), until it is killed: what the SDK alone costs for the beats
//! stefuna's density run sends.

use std::time::Duration;

use aws_sdk_sfn::config::timeout::TimeoutConfig;
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::operation::get_activity_task::GetActivityTaskOutput;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (endpoint, arn, concurrency, beat_every) = match args.as_slice() {
        [e, a, c] => (e, a, c, None),
        [e, a, c, b] => match b.parse::<u64>() {
            Ok(s) if s > 0 => (e, a, c, Some(Duration::from_secs(s))),
            _ => {
                eprintln!(
                    "bench-raw: HEARTBEAT_SECONDS `{b}` is not accepted; expected a number above 0"
                );
                std::process::exit(2);
            }
        },
        _ => {
            eprintln!("usage: bench-raw ENDPOINT_URL ACTIVITY_ARN CONCURRENCY [HEARTBEAT_SECONDS]");
            std::process::exit(2);
        }
    };
    let concurrency: usize = match concurrency.parse() {
        Ok(n) if n > 0 => n,
        _ => {
            eprintln!(
                "bench-raw: concurrency `{concurrency}` is not accepted; expected a number above 0"
            );
            std::process::exit(2);
        }
    };
    // The long poll lasts up to 60 s: a shorter read timeout would make the SDK retry it and lose
    // the task handed to the abandoned call.
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .read_timeout(Duration::from_secs(70))
                .operation_attempt_timeout(Duration::from_secs(75))
                .build(),
        )
        .build();
    let client = aws_sdk_sfn::Client::from_conf(config);
    let worker = format!("bench-raw-{}", std::process::id());
    let mut loops = tokio::task::JoinSet::new();
    if let Some(every) = beat_every {
        let polls = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
        let held = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for _ in 0..concurrency {
            let (client, arn, worker) = (client.clone(), arn.clone(), worker.clone());
            let (polls, held) = (polls.clone(), held.clone());
            loops.spawn(async move {
                let task = claim(&client, &arn, &worker, Some(&polls)).await;
                let token = task.task_token.unwrap_or_default();
                // What the density run waits for before it measures.
                if held.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == concurrency {
                    println!("bench-raw: holding {concurrency} tasks");
                }
                beat(&client, &token, every).await;
            });
        }
        while loops.join_next().await.is_some() {}
        return;
    }
    for _ in 0..concurrency {
        let (client, arn, worker) = (client.clone(), arn.clone(), worker.clone());
        loops.spawn(async move { work(client, arn, worker).await });
    }
    while loops.join_next().await.is_some() {}
}

/// One slot: poll, answer, repeat.
async fn work(client: aws_sdk_sfn::Client, arn: String, worker: String) {
    loop {
        let task = claim(&client, &arn, &worker, None).await;
        let token = task.task_token().unwrap_or_default();
        let input: serde_json::Value =
            serde_json::from_str(task.input().unwrap_or("{}")).unwrap_or_default();
        let name = input["name"].as_str().unwrap_or_default();
        let output = serde_json::json!({ "message": format!("Hello {name}") }).to_string();
        for attempt in 0.. {
            match client
                .send_task_success()
                .task_token(token)
                .output(&output)
                .send()
                .await
            {
                Ok(_) => break,
                Err(e) if attempt < 5 => {
                    eprintln!("bench-raw: send failed, retrying: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    eprintln!("bench-raw: result lost: {e}");
                    break;
                }
            }
        }
    }
}

/// Polls until a task comes, holding one of the `polls` permits (when given) during each poll.
async fn claim(
    client: &aws_sdk_sfn::Client,
    arn: &str,
    worker: &str,
    polls: Option<&tokio::sync::Semaphore>,
) -> GetActivityTaskOutput {
    loop {
        let _permit = match polls {
            Some(p) => Some(p.acquire().await.expect("the semaphore is never closed")),
            None => None,
        };
        match client
            .get_activity_task()
            .activity_arn(arn)
            .worker_name(worker)
            .send()
            .await
        {
            Ok(t) if t.task_token().is_some_and(|t| !t.is_empty()) => return t,
            Ok(_) => {}
            Err(e) => {
                eprintln!("bench-raw: poll failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Beats `token` every `every`, the first at a random point of the first interval.
async fn beat(client: &aws_sdk_sfn::Client, token: &str, every: Duration) {
    tokio::time::sleep(every.mul_f64(fastrand::f64())).await;
    loop {
        if let Err(e) = client.send_task_heartbeat().task_token(token).send().await {
            eprintln!("bench-raw: heartbeat failed: {e}");
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::types::ExecutionStatus;

    /// An emulator (AWS's quotas on or off), a client for it, an activity `name` and a machine of
    /// one Task state for it with `task` merged in.
    async fn emulator_with_machine(
        name: &str,
        task: serde_json::Value,
        quotas: bool,
    ) -> (stefuna_local::Emulator, aws_sdk_sfn::Client, String, String) {
        let emulator = stefuna_local::Emulator::builder()
            .long_poll(Duration::from_secs(1))
            .aws_quotas(quotas)
            .start()
            .await
            .unwrap();
        let client = aws_sdk_sfn::Client::from_conf(
            aws_sdk_sfn::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(emulator.endpoint())
                .credentials_provider(Credentials::new("test", "test", None, None, "static"))
                .build(),
        );
        let arn = client
            .create_activity()
            .name(name)
            .send()
            .await
            .unwrap()
            .activity_arn;
        let mut state = serde_json::json!({ "Type": "Task", "Resource": arn, "End": true });
        state
            .as_object_mut()
            .unwrap()
            .extend(task.as_object().unwrap().clone());
        let definition = serde_json::json!({ "StartAt": "W", "States": { "W": state } });
        let machine = client
            .create_state_machine()
            .name(name)
            .definition(definition.to_string())
            .role_arn("arn:aws:iam::123456789012:role/r")
            .send()
            .await
            .unwrap()
            .state_machine_arn;
        (emulator, client, arn, machine)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn loops_answer_every_task_with_the_hello_output() {
        let (emulator, client, arn, machine) =
            emulator_with_machine("raw", serde_json::json!({}), false).await;
        let mut executions = Vec::new();
        for i in 0..20 {
            let e = client
                .start_execution()
                .state_machine_arn(&machine)
                .input(format!(r#"{{"name":"n{i}"}}"#))
                .send()
                .await
                .unwrap();
            executions.push((i, e.execution_arn));
        }
        let loops: Vec<_> = (0..4)
            .map(|_| tokio::spawn(work(client.clone(), arn.clone(), "test".into())))
            .collect();
        for (i, e) in &executions {
            let out = loop {
                let d = client
                    .describe_execution()
                    .execution_arn(e)
                    .send()
                    .await
                    .unwrap();
                if d.status != ExecutionStatus::Running {
                    assert_eq!(d.status, ExecutionStatus::Succeeded);
                    break d.output.unwrap();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            let out: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(out, serde_json::json!({ "message": format!("Hello n{i}") }));
        }
        for l in loops {
            l.abort();
        }
        emulator.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn held_tasks_are_claimed_once_and_beat() {
        let task = serde_json::json!({ "HeartbeatSeconds": 30 });
        let (emulator, client, arn, machine) = emulator_with_machine("held", task, true).await;
        for _ in 0..3 {
            client
                .start_execution()
                .state_machine_arn(&machine)
                .send()
                .await
                .unwrap();
        }
        let polls = std::sync::Arc::new(tokio::sync::Semaphore::new(2));
        let loops: Vec<_> = (0..3)
            .map(|_| {
                let (client, arn, polls) = (client.clone(), arn.clone(), polls.clone());
                tokio::spawn(async move {
                    let task = claim(&client, &arn, "test", Some(&polls)).await;
                    let token = task.task_token.unwrap_or_default();
                    beat(&client, &token, Duration::from_millis(200)).await;
                })
            })
            .collect();
        let count = |api: &str| emulator.quota_counts().get(api).map_or(0, |c| c.accepted);
        // Three tasks held, each beating every 200 ms: wait for the beats, bounded.
        let started = std::time::Instant::now();
        while count("SendTaskHeartbeat") < 9 {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{:?}",
                emulator.quota_counts()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let tokens = emulator.answers();
        assert_eq!(tokens.len(), 3, "each loop claimed one task");
        assert!(tokens.values().all(|t| t.received == 0), "none is answered");
        for l in loops {
            l.abort();
        }
        emulator.shutdown().await;
    }
}
