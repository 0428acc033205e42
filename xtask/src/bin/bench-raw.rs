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
                let token = claim(&client, &arn, &worker, &polls).await;
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
        let task = match client
            .get_activity_task()
            .activity_arn(&arn)
            .worker_name(&worker)
            .send()
            .await
        {
            Ok(t) => t,
            Err(e) => {
                eprintln!("bench-raw: poll failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(token) = task.task_token().filter(|t| !t.is_empty()) else {
            continue;
        };
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

/// Claims one task with one of the `polls` permits; its token.
async fn claim(
    client: &aws_sdk_sfn::Client,
    arn: &str,
    worker: &str,
    polls: &tokio::sync::Semaphore,
) -> String {
    loop {
        let _permit = polls
            .acquire()
            .await
            .expect("the semaphore is never closed");
        match client
            .get_activity_task()
            .activity_arn(arn)
            .worker_name(worker)
            .send()
            .await
        {
            Ok(t) => {
                if let Some(token) = t.task_token().filter(|t| !t.is_empty()) {
                    return token.to_owned();
                }
            }
            Err(e) => {
                eprintln!("bench-raw: poll failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Beats `token` every `every`, the first at a random point of the first interval.
async fn beat(client: &aws_sdk_sfn::Client, token: &str, every: Duration) {
    tokio::time::sleep(every.mul_f64(rand_unit())).await;
    loop {
        if let Err(e) = client.send_task_heartbeat().task_token(token).send().await {
            eprintln!("bench-raw: heartbeat failed: {e}");
        }
        tokio::time::sleep(every).await;
    }
}

/// A number in [0, 1) that differs between calls (std only: the baseline adds no crate).
fn rand_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::types::ExecutionStatus;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn loops_answer_every_task_with_the_hello_output() {
        let emulator = stefuna_local::Emulator::builder()
            .long_poll(Duration::from_secs(1))
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
            .name("raw")
            .send()
            .await
            .unwrap()
            .activity_arn;
        let definition = serde_json::json!({
            "StartAt": "W", "States": { "W": { "Type": "Task", "Resource": arn, "End": true } }
        });
        let machine = client
            .create_state_machine()
            .name("raw")
            .definition(definition.to_string())
            .role_arn("arn:aws:iam::123456789012:role/r")
            .send()
            .await
            .unwrap()
            .state_machine_arn;
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
        let emulator = stefuna_local::Emulator::builder()
            .long_poll(Duration::from_secs(1))
            .aws_quotas(true)
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
            .name("held")
            .send()
            .await
            .unwrap()
            .activity_arn;
        let definition = serde_json::json!({ "StartAt": "W", "States": { "W": {
            "Type": "Task", "Resource": arn, "HeartbeatSeconds": 30, "End": true } } });
        let machine = client
            .create_state_machine()
            .name("held")
            .definition(definition.to_string())
            .role_arn("arn:aws:iam::123456789012:role/r")
            .send()
            .await
            .unwrap()
            .state_machine_arn;
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
                    let token = claim(&client, &arn, "test", &polls).await;
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

    #[test]
    fn first_beats_are_spread() {
        let draws: Vec<f64> = (0..64).map(|_| rand_unit()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)), "{draws:?}");
        assert!(
            draws.iter().any(|d| *d < 0.5) && draws.iter().any(|d| *d >= 0.5),
            "{draws:?}"
        );
    }
}
