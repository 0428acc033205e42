//! The bench's baseline: a minimal activity worker with aws-sdk-sfn and tokio only, no framework.
//!
//! `bench-raw ENDPOINT_URL ACTIVITY_ARN CONCURRENCY` runs CONCURRENCY loops of GetActivityTask ->
//! SendTaskSuccess (`{"name": N}` -> `{"message": "Hello N"}`, the hello example's output) until
//! it is killed. It is what `cargo xtask bench` calls the practical limit.

use std::time::Duration;

use aws_sdk_sfn::config::timeout::TimeoutConfig;
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [endpoint, arn, concurrency] = args.as_slice() else {
        eprintln!("usage: bench-raw ENDPOINT_URL ACTIVITY_ARN CONCURRENCY");
        std::process::exit(2);
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
}
