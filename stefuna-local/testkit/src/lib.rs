//! Helpers shared by stefuna-local's integration tests: an emulator and a real aws-sdk-sfn client
//! for it. A crate of its own (not published) rather than a `mod common` in each test binary, so
//! that a helper one binary does not use is not dead code there.

use std::time::Duration;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_types::timeout::TimeoutConfig;
use stefuna_local::{Emulator, EmulatorBuilder};

/// Role ARN for test state machines.
pub const ROLE: &str = "arn:aws:iam::123456789012:role/test";

/// An emulator with a short long poll.
pub async fn emulator() -> Emulator {
    builder().start().await.expect("emulator starts")
}

/// The builder tests start from: 300 ms long polls.
pub fn builder() -> EmulatorBuilder {
    Emulator::builder().long_poll(Duration::from_millis(300))
}

/// An SDK client for the emulator in `region`.
pub fn client_in(emulator: &Emulator, region: &'static str) -> Client {
    client_with(
        emulator,
        region,
        aws_sdk_sfn::config::retry::RetryConfig::standard(),
    )
}

/// An SDK client in us-east-1.
pub fn client(emulator: &Emulator) -> Client {
    client_in(emulator, "us-east-1")
}

/// An SDK client with a given retry config.
pub fn client_with(
    emulator: &Emulator,
    region: &'static str,
    retry: aws_sdk_sfn::config::retry::RetryConfig,
) -> Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .endpoint_url(emulator.endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .retry_config(retry)
        .timeout_config(
            TimeoutConfig::builder()
                .read_timeout(Duration::from_secs(70))
                .operation_attempt_timeout(Duration::from_secs(75))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// A one-Task state machine definition for `activity_arn`, with optional timeouts.
pub fn task_definition(activity_arn: &str, heartbeat: Option<u64>, timeout: Option<u64>) -> String {
    let mut task = serde_json::json!({ "Type": "Task", "Resource": activity_arn, "End": true });
    if let Some(h) = heartbeat {
        task["HeartbeatSeconds"] = h.into();
    }
    if let Some(t) = timeout {
        task["TimeoutSeconds"] = t.into();
    }
    serde_json::json!({ "StartAt": "Work", "States": { "Work": task } }).to_string()
}

/// Creates an activity and a one-Task state machine for it; gives (activity ARN, machine ARN).
pub async fn activity_machine(
    client: &Client,
    name: &str,
    heartbeat: Option<u64>,
    timeout: Option<u64>,
) -> (String, String) {
    let activity = client
        .create_activity()
        .name(name)
        .send()
        .await
        .expect("create activity")
        .activity_arn;
    let machine = client
        .create_state_machine()
        .name(format!("{name}-machine"))
        .definition(task_definition(&activity, heartbeat, timeout))
        .role_arn(ROLE)
        .send()
        .await
        .expect("create state machine")
        .state_machine_arn;
    (activity, machine)
}

/// Polls until a task arrives (each poll is short); gives (token, input).
pub async fn poll_task(client: &Client, activity_arn: &str) -> (String, String) {
    loop {
        let out = client
            .get_activity_task()
            .activity_arn(activity_arn)
            .worker_name("test-worker")
            .send()
            .await
            .expect("get activity task");
        if let Some(token) = out.task_token.filter(|t| !t.is_empty()) {
            return (token, out.input.unwrap_or_default());
        }
    }
}

/// Waits (polling DescribeExecution, each call a request/answer) until the execution ends.
pub async fn wait_done(
    client: &Client,
    execution_arn: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    loop {
        let d = client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .expect("describe execution");
        if d.status != aws_sdk_sfn::types::ExecutionStatus::Running {
            return d;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The service error code of an SDK error.
pub fn code<E, R>(err: &aws_sdk_sfn::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sfn::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("not a service error: {err:?}"))
}

/// One raw HTTP/1.1 POST (no SDK): gives (status, lower-cased head, body).
pub async fn raw_post(
    addr: std::net::SocketAddr,
    target: Option<&str>,
    body: &[u8],
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(t) = target {
        req.push_str(&format!("X-Amz-Target: {t}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.expect("write head");
    s.write_all(body).await.expect("write body");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read answer");
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}
