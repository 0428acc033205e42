//! One run with real aws-sdk-sfn clients, one per concurrent starter and poller.

use std::time::{Duration, Instant};

use aws_sdk_sfn::Client;
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::types::ExecutionStatus;
use aws_smithy_types::timeout::TimeoutConfig;

use crate::{Progress, RunTimes};

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

pub async fn run(endpoint: &str, name: &str, n: usize, clients: usize) -> RunTimes {
    let c = client(endpoint);
    let activity = c
        .create_activity()
        .name(name)
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
        .name(name)
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/bench")
        .send()
        .await
        .expect("create state machine")
        .state_machine_arn;

    let progress = Progress::new(n);
    let t0 = Instant::now();
    let mut starters = Vec::new();
    for _ in 0..clients {
        let (c, machine, progress) = (client(endpoint), machine.clone(), progress.clone());
        starters.push(tokio::spawn(async move {
            while progress.claim_start() {
                c.start_execution()
                    .state_machine_arn(&machine)
                    .input(r#"{"hello":"world"}"#)
                    .send()
                    .await
                    .expect("start execution");
            }
        }));
    }
    let mut pollers = Vec::new();
    for i in 0..clients {
        let (c, activity, progress) = (client(endpoint), activity.clone(), progress.clone());
        pollers.push(tokio::spawn(async move {
            while !progress.done() {
                let task = c
                    .get_activity_task()
                    .activity_arn(&activity)
                    .worker_name(format!("bench-{i}"))
                    .send()
                    .await
                    .expect("get activity task");
                let Some(token) = task.task_token.filter(|t| !t.is_empty()) else {
                    continue;
                };
                c.send_task_success()
                    .task_token(token)
                    .output(task.input.unwrap_or_default())
                    .send()
                    .await
                    .expect("send task success");
                progress.answered();
            }
        }));
    }
    for s in starters {
        s.await.expect("starter");
    }
    let started = t0.elapsed();
    if !progress.done() {
        progress.all_answered.notified().await;
    }
    // The last executions finish just after their SendTaskSuccess is answered.
    loop {
        let l = c
            .list_executions()
            .state_machine_arn(&machine)
            .status_filter(ExecutionStatus::Running)
            .max_results(1)
            .send()
            .await
            .expect("list executions");
        if l.executions.is_empty() {
            break;
        }
        tokio::task::yield_now().await;
    }
    let done = t0.elapsed();
    for p in pollers {
        p.await.expect("poller");
    }
    // Not timed: every execution must have SUCCEEDED.
    let mut succeeded = 0;
    let mut pages = c
        .list_executions()
        .state_machine_arn(&machine)
        .status_filter(ExecutionStatus::Succeeded)
        .max_results(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        succeeded += page.expect("list executions").executions.len();
    }
    assert_eq!(succeeded, n, "every execution SUCCEEDED");
    RunTimes::new(started, done)
}
