//! End-to-end worker scenarios, run against stefuna-local in `cargo test` and against LocalStack by
//! `cargo xtask conformance`.
//!
//! Each scenario takes an [`Endpoint`], creates its own activities and state machines with unique
//! names, runs in-process workers (`stefuna_runtime::Server` with hand-written activities, health
//! off) and checks the executions with aws-sdk-sfn. Where LocalStack differs from AWS, the
//! [`Difference`] flags name the difference; the assertion stays AWS's wherever it can be checked.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail, ensure};
use aws_sdk_sfn::config::timeout::TimeoutConfig;
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};
use stefuna_core::{Activity, Context, HeartbeatError, Invocation, TaskError};
use stefuna_runtime::{Config, Server, ServerError};
use tokio::sync::{mpsc, oneshot};

mod jsonata;
pub use jsonata::{jsonata_end_to_end, jsonata_query_evaluation_error, variables_jsonpath};
mod mocks;
pub use mocks::MOCK_CONFIG;
mod operations;
pub use operations::{start_sync_execution, tags_round_trip, validate_definition};

/// A known difference between an emulator and AWS Step Functions (from
/// `shared/localstack/README.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Difference {
    /// SendTaskHeartbeat on a state without HeartbeatSeconds answers InvalidToken (AWS: 200).
    /// Checked by [`heartbeat_without_heartbeat_seconds`].
    HeartbeatWithoutHeartbeatSecondsIsInvalidToken,
    /// A timed-out task's token gets InvalidToken, never TaskTimedOut (AWS: TaskTimedOut).
    /// Checked by [`heartbeat_timeout_cancels_task`].
    NoTaskTimedOut,
    /// SendTaskFailure on an already closed token answers 200 (AWS refuses it). Checked by
    /// [`success`].
    FailureOnClosedTokenSucceeds,
    /// StopExecution while a task is out waits for the task: the execution stays RUNNING until
    /// the task answers (AWS: ABORTED at once). Checked by [`stop_execution_while_task_runs`].
    StopWaitsForTask,
    /// JSONata cannot run: LocalStack needs Java 21 and JARs it downloads (see
    /// `docs/stefuna-local.md`), and it reads workflow variables with the same JSONata engine,
    /// JSONPath states included. The JSONata and variables scenarios are skipped.
    NoJsonata,
    /// A mocked `.waitForTaskToken` Task takes its mocked Return as its result at once instead
    /// of waiting for SendTaskSuccess (AWS's Step Functions Local and stefuna-local wait).
    /// Checked by the `mocked_wait_for_task_token` scenario.
    MockedCallbackDoesNotWait,
    /// ValidateStateMachineDefinition checks the ASL grammar only: a `Next` naming no state
    /// answers OK (AWS: FAIL, MISSING_TRANSITION_TARGET), and diagnostics carry no `location`.
    /// Checked by [`validate_definition`].
    ValidationIsGrammarOnly,
    /// Tags are kept for state machines only: TagResource and ListTagsForResource on an
    /// activity answer ResourceNotFound (AWS tags activities too). Checked by
    /// [`tags_round_trip`].
    NoActivityTags,
    /// A `resourceArn` that is not an ARN is answered with ResourceNotFound (AWS: InvalidArn).
    /// Checked by [`tags_round_trip`].
    MalformedArnIsResourceNotFound,
}

/// Where the scenarios run.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The endpoint URL, e.g. `http://127.0.0.1:4566`.
    pub url: String,
    /// Region of every call.
    pub region: String,
    /// The account id in ARNs the endpoint makes.
    pub account_id: String,
    /// How the endpoint is known to differ from AWS.
    pub differences: Vec<Difference>,
    /// The `conformance-worker` binary, for the scenario that sends a real SIGTERM
    /// (`env!("CARGO_BIN_EXE_conformance-worker")` in this crate's tests).
    pub worker_bin: Option<PathBuf>,
}

impl Endpoint {
    /// An endpoint behaving like AWS.
    pub fn aws_like(url: impl Into<String>, account_id: impl Into<String>) -> Self {
        Endpoint {
            url: url.into(),
            region: "us-east-1".into(),
            account_id: account_id.into(),
            differences: Vec::new(),
            worker_bin: None,
        }
    }

    /// Runs the SIGTERM scenario with this `conformance-worker` binary.
    pub fn with_worker_bin(mut self, bin: impl Into<PathBuf>) -> Self {
        self.worker_bin = Some(bin.into());
        self
    }

    /// LocalStack with every difference its README lists.
    pub fn localstack(url: impl Into<String>) -> Self {
        Endpoint {
            differences: vec![
                Difference::HeartbeatWithoutHeartbeatSecondsIsInvalidToken,
                Difference::NoTaskTimedOut,
                Difference::FailureOnClosedTokenSucceeds,
                Difference::StopWaitsForTask,
                Difference::NoJsonata,
                Difference::MockedCallbackDoesNotWait,
                Difference::ValidationIsGrammarOnly,
                Difference::NoActivityTags,
                Difference::MalformedArnIsResourceNotFound,
            ],
            ..Endpoint::aws_like(url, "000000000000")
        }
    }

    /// True when the endpoint has difference `d`.
    pub fn differs(&self, d: Difference) -> bool {
        self.differences.contains(&d)
    }

    /// An SDK client (static test credentials, no proxy, long-poll timeouts).
    pub fn client(&self) -> aws_sdk_sfn::Client {
        let conf = aws_sdk_sfn::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .endpoint_url(&self.url)
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .timeout_config(
                TimeoutConfig::builder()
                    .read_timeout(Duration::from_secs(70))
                    .operation_attempt_timeout(Duration::from_secs(75))
                    .build(),
            )
            .build();
        aws_sdk_sfn::Client::from_conf(conf)
    }

    fn role(&self) -> String {
        format!("arn:aws:iam::{}:role/stefuna-conformance", self.account_id)
    }
}

/// A scenario: a name and the function running it.
pub type Scenario = (
    &'static str,
    fn(Endpoint) -> futures::future::BoxFuture<'static, anyhow::Result<()>>,
);

/// Every scenario, by name.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        ("success", |e| Box::pin(success(e))),
        ("failure_names", |e| Box::pin(failure_names(e))),
        ("bad_input", |e| Box::pin(bad_input(e))),
        ("oversized_output", |e| Box::pin(oversized_output(e))),
        ("heartbeats_keep_task_alive", |e| {
            Box::pin(heartbeats_keep_task_alive(e))
        }),
        ("heartbeat_timeout_cancels_task", |e| {
            Box::pin(heartbeat_timeout_cancels_task(e))
        }),
        ("retry_and_catch", |e| Box::pin(retry_and_catch(e))),
        ("drain_on_shutdown", |e| Box::pin(drain_on_shutdown(e))),
        ("drain_on_sigterm", |e| Box::pin(drain_on_sigterm(e))),
        ("concurrent_workers_exactly_once", |e| {
            Box::pin(concurrent_workers_exactly_once(e))
        }),
        ("heartbeat_without_heartbeat_seconds", |e| {
            Box::pin(heartbeat_without_heartbeat_seconds(e))
        }),
        ("stop_execution_while_task_runs", |e| {
            Box::pin(stop_execution_while_task_runs(e))
        }),
        ("jsonata_end_to_end", |e| Box::pin(jsonata_end_to_end(e))),
        ("jsonata_query_evaluation_error", |e| {
            Box::pin(jsonata_query_evaluation_error(e))
        }),
        ("variables_jsonpath", |e| Box::pin(variables_jsonpath(e))),
        ("mocked_lambda_retry_and_catch", |e| {
            Box::pin(mocks::mocked_lambda_retry_and_catch(e))
        }),
        ("mocked_lambda_after_activity", |e| {
            Box::pin(mocks::mocked_lambda_after_activity(e))
        }),
        ("mocked_wait_for_task_token", |e| {
            Box::pin(mocks::mocked_wait_for_task_token(e))
        }),
        ("validate_definition", |e| Box::pin(validate_definition(e))),
        ("tags_round_trip", |e| Box::pin(tags_round_trip(e))),
        ("start_sync_execution", |e| {
            Box::pin(start_sync_execution(e))
        }),
    ]
}

type Handler = dyn Fn(Value, Context) -> futures::future::BoxFuture<'static, Result<Value, TaskError>>
    + Send
    + Sync;

/// An activity made of a closure from input JSON to output JSON.
struct FnActivity(Box<Handler>);

impl FnActivity {
    fn new<F, Fut>(f: F) -> Self
    where
        F: Fn(Value, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, TaskError>> + Send + 'static,
    {
        FnActivity(Box::new(move |v, c| Box::pin(f(v, c))))
    }
}

impl Activity for FnActivity {
    fn name(&self) -> &str {
        "Conformance"
    }
    fn invoke(self: Arc<Self>, input: String, ctx: Context) -> Invocation {
        Invocation::Async(Box::pin(async move {
            let value: Value = stefuna_core::decode_input(&input)?;
            let out = (self.0)(value, ctx).await?;
            stefuna_core::encode_output(&out)
        }))
    }
}

/// A worker server running in this process until [`Worker::stop`].
struct Worker {
    stop: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<Result<(), ServerError>>,
}

impl Worker {
    /// A worker for a scenario that stops it only once every execution of `arn` has ended: no
    /// task can reach an open poll any more, so [`Worker::stop`] gives open polls up instead of
    /// waiting up to a long poll (60 s on LocalStack) for them. In-flight tasks still drain.
    fn start(
        ep: &Endpoint,
        arn: &str,
        activity: FnActivity,
        processes: usize,
        heartbeat: u64,
    ) -> Worker {
        Worker::start_activity(ep, arn, activity, processes, heartbeat, true)
    }

    /// A worker whose stop is a real drain, as on SIGTERM: open polls finish, then their tasks.
    fn start_draining(ep: &Endpoint, arn: &str, activity: FnActivity, processes: usize) -> Worker {
        Worker::start_activity(ep, arn, activity, processes, 0, false)
    }

    fn start_activity(
        ep: &Endpoint,
        arn: &str,
        activity: impl Activity,
        processes: usize,
        heartbeat: u64,
        abandon_polls: bool,
    ) -> Worker {
        let config = {
            let mut c = Config::default();
            c.activity_arn = Some(arn.to_owned());
            c.processes = processes;
            c.heartbeat = heartbeat;
            c.healthcheck = 0;
            c.region = Some(ep.region.clone());
            c.endpoint_url = Some(ep.url.clone());
            c
        };
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(
            Server::builder()
                .activity(activity)
                .config(config)
                .client(ep.client())
                .abandon_polls_on_shutdown(abandon_polls)
                .shutdown(async move {
                    let _ = rx.await;
                })
                .run(),
        );
        Worker {
            stop: Some(tx),
            handle,
        }
    }

    fn request_stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// Asks for shutdown and waits for the server to return (in-flight tasks drain; open polls
    /// are given up, or end within a long poll for [`Worker::start_draining`]).
    async fn stop(mut self) -> anyhow::Result<()> {
        self.request_stop();
        tokio::time::timeout(Duration::from_secs(90), self.handle)
            .await
            .map_err(|_| anyhow!("the worker did not stop within 90 s"))??
            .map_err(|e| anyhow!("the worker failed: {e}"))
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid_like())
}

fn uuid_like() -> String {
    format!("{:016x}", fastrand_u64())
}

fn fastrand_u64() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// Creates an activity and a state machine whose `${activity}` placeholders (in `states`, as a
/// JSON string) are replaced by its ARN; returns both ARNs.
async fn setup(ep: &Endpoint, prefix: &str, states: Value) -> anyhow::Result<(String, String)> {
    let sfn = ep.client();
    let name = unique(prefix);
    let arn = sfn
        .create_activity()
        .name(&name)
        .send()
        .await
        .context("CreateActivity")?
        .activity_arn()
        .to_owned();
    let definition = states.to_string().replace("${activity}", &arn);
    let sm = sfn
        .create_state_machine()
        .name(format!("{name}-sm"))
        .role_arn(ep.role())
        .definition(definition)
        .send()
        .await
        .context("CreateStateMachine")?
        .state_machine_arn()
        .to_owned();
    Ok((arn, sm))
}

fn one_task(extra: Value) -> Value {
    let mut task = json!({"Type": "Task", "Resource": "${activity}", "End": true});
    if let (Some(t), Some(e)) = (task.as_object_mut(), extra.as_object()) {
        t.extend(e.clone());
    }
    json!({"StartAt": "T", "States": {"T": task}})
}

async fn start(ep: &Endpoint, sm: &str, input: Value) -> anyhow::Result<String> {
    Ok(ep
        .client()
        .start_execution()
        .state_machine_arn(sm)
        .input(input.to_string())
        .send()
        .await
        .context("StartExecution")?
        .execution_arn()
        .to_owned())
}

/// How an execution ended.
#[derive(Debug)]
struct Ended {
    status: ExecutionStatus,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
}

async fn finished(ep: &Endpoint, exec: &str) -> anyhow::Result<Ended> {
    let sfn = ep.client();
    tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            let d = sfn
                .describe_execution()
                .execution_arn(exec)
                .send()
                .await
                .context("DescribeExecution")?;
            if *d.status() != ExecutionStatus::Running {
                let (mut error, mut cause) =
                    (d.error().map(str::to_owned), d.cause().map(str::to_owned));
                if error.is_none() && *d.status() == ExecutionStatus::Failed {
                    // Some emulators leave error/cause to the history's ExecutionFailed event.
                    let h = sfn
                        .get_execution_history()
                        .execution_arn(exec)
                        .reverse_order(true)
                        .send()
                        .await?;
                    if let Some(f) = h
                        .events()
                        .iter()
                        .find_map(|e| e.execution_failed_event_details())
                    {
                        error = f.error().map(str::to_owned);
                        cause = f.cause().map(str::to_owned);
                    }
                }
                return Ok(Ended {
                    status: d.status().clone(),
                    output: d.output().map(serde_json::from_str).transpose()?,
                    error,
                    cause,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .map_err(|_| anyhow!("execution {exec} did not end within 90 s"))?
}

fn expect_failed(ended: &Ended, error: &str, cause_contains: &str) -> anyhow::Result<()> {
    ensure!(
        ended.status == ExecutionStatus::Failed,
        "expected FAILED, got {ended:?}"
    );
    ensure!(
        ended.error.as_deref() == Some(error),
        "expected error {error}, got {ended:?}"
    );
    ensure!(
        ended
            .cause
            .as_deref()
            .unwrap_or("")
            .contains(cause_contains),
        "expected a cause containing {cause_contains:?}, got {ended:?}"
    );
    Ok(())
}

/// The error code of a failed SDK call, or `None` when it succeeded (`Some("")` when the error
/// had no code, e.g. a network error).
fn error_code<T, E: ProvideErrorMetadata>(res: &Result<T, E>) -> Option<String> {
    res.as_ref()
        .err()
        .map(|e| e.code().unwrap_or_default().to_owned())
}

/// Receives the one value a scenario's activity sends, or fails naming `what`.
async fn received<T>(rx: &mut mpsc::UnboundedReceiver<T>, what: &str) -> anyhow::Result<T> {
    tokio::time::timeout(Duration::from_secs(90), rx.recv())
        .await
        .map_err(|_| anyhow!("{what}: nothing within 90 s"))?
        .ok_or_else(|| anyhow!("{what}: the activity was dropped before sending it"))
}

/// Output JSON comes back as the execution's output. Then a late SendTaskFailure on the closed
/// token: AWS refuses it (the token is dead); LocalStack answers 200
/// ([`Difference::FailureOnClosedTokenSucceeds`]); either way the execution keeps its result.
pub async fn success(ep: Endpoint) -> anyhow::Result<()> {
    let (arn, sm) = setup(&ep, "success", one_task(json!({"TimeoutSeconds": 60}))).await?;
    let (tokens, mut token_rx) = mpsc::unbounded_channel::<String>();
    let worker = Worker::start(
        &ep,
        &arn,
        FnActivity::new(move |v, ctx: Context| {
            let _ = tokens.send(ctx.token().as_str().to_owned());
            async move { Ok(json!({"message": format!("Hello {}", v["name"].as_str().unwrap_or(""))})) }
        }),
        2,
        0,
    );
    let exec = start(&ep, &sm, json!({"name": "World"})).await?;
    let ended = finished(&ep, &exec).await?;
    worker.stop().await?;
    ensure!(ended.status == ExecutionStatus::Succeeded, "{ended:?}");
    ensure!(
        ended.output == Some(json!({"message": "Hello World"})),
        "{ended:?}"
    );

    let token = received(&mut token_rx, "the task token").await?;
    let late = ep
        .client()
        .send_task_failure()
        .task_token(token)
        .error("Late.Failure")
        .cause("sent after the task succeeded")
        .send()
        .await;
    let code = error_code(&late);
    if ep.differs(Difference::FailureOnClosedTokenSucceeds) {
        ensure!(
            code.is_none(),
            "LocalStack is documented to answer 200 to SendTaskFailure on a closed token, got \
             {late:?}"
        );
    } else {
        ensure!(
            matches!(code.as_deref(), Some("TaskDoesNotExist" | "TaskTimedOut")),
            "SendTaskFailure on a closed token: expected TaskDoesNotExist or TaskTimedOut, got \
             {late:?}"
        );
    }
    let again = finished(&ep, &exec).await?;
    ensure!(
        again.status == ExecutionStatus::Succeeded && again.output == ended.output,
        "a late SendTaskFailure changed the ended execution: {again:?}"
    );
    Ok(())
}

/// A returned error fails the execution with its name (default `Task.Failure`) and cause.
pub async fn failure_names(ep: Endpoint) -> anyhow::Result<()> {
    let (arn, sm) = setup(&ep, "failure", one_task(json!({"TimeoutSeconds": 60}))).await?;
    let worker = Worker::start(
        &ep,
        &arn,
        FnActivity::new(|v, _| async move {
            match v["kind"].as_str() {
                Some("custom") => Err(TaskError::new("Billing.CardDeclined", "card 42 declined")),
                _ => Err(TaskError::msg("the bucket is gone")),
            }
        }),
        2,
        0,
    );
    let default = start(&ep, &sm, json!({"kind": "default"})).await?;
    let custom = start(&ep, &sm, json!({"kind": "custom"})).await?;
    let (d, c) = (
        finished(&ep, &default).await?,
        finished(&ep, &custom).await?,
    );
    worker.stop().await?;
    expect_failed(&d, "Task.Failure", "the bucket is gone")?;
    expect_failed(&c, "Billing.CardDeclined", "card 42 declined")
}

/// Input that does not decode into the activity's type fails with `Stefuna.InvalidInput` (the
/// runtime's `decode_input`); the worker carries on.
pub async fn bad_input(ep: Endpoint) -> anyhow::Result<()> {
    let (arn, sm) = setup(&ep, "badinput", one_task(json!({"TimeoutSeconds": 60}))).await?;
    let worker = Worker::start_activity(&ep, &arn, Counter, 1, 0, true);
    let bad = start(&ep, &sm, json!({"count": "many"})).await?;
    let bad_end = finished(&ep, &bad).await?;
    let good = start(&ep, &sm, json!({"count": 3})).await?;
    let good_end = finished(&ep, &good).await?;
    worker.stop().await?;
    expect_failed(&bad_end, "Stefuna.InvalidInput", "invalid type")?;
    ensure!(
        good_end.output == Some(json!({"count": 3})),
        "the worker did not carry on: {good_end:?}"
    );
    Ok(())
}

/// An activity with typed input, decoded the way `#[stefuna::activity]` does it.
struct Counter;

#[derive(serde::Deserialize, serde::Serialize)]
struct Count {
    count: u32,
}

impl Activity for Counter {
    fn name(&self) -> &str {
        "Counter"
    }
    fn invoke(self: Arc<Self>, input: String, _ctx: Context) -> Invocation {
        Invocation::Async(Box::pin(async move {
            let c: Count = stefuna_core::decode_input(&input)?;
            stefuna_core::encode_output(&c)
        }))
    }
}

/// Output over 262,144 bytes fails with `Stefuna.OutputTooLarge` instead of a lost task.
pub async fn oversized_output(ep: Endpoint) -> anyhow::Result<()> {
    let (arn, sm) = setup(&ep, "oversized", one_task(json!({"TimeoutSeconds": 60}))).await?;
    let worker = Worker::start(
        &ep,
        &arn,
        FnActivity::new(|_, _| async move { Ok(Value::String("x".repeat(300_000))) }),
        1,
        0,
    );
    let exec = start(&ep, &sm, json!({})).await?;
    let ended = finished(&ep, &exec).await?;
    worker.stop().await?;
    expect_failed(&ended, "Stefuna.OutputTooLarge", "")
}

/// A task longer than HeartbeatSeconds succeeds because the worker beats.
pub async fn heartbeats_keep_task_alive(ep: Endpoint) -> anyhow::Result<()> {
    let (arn, sm) = setup(
        &ep,
        "heartbeat",
        one_task(json!({"HeartbeatSeconds": 3, "TimeoutSeconds": 60})),
    )
    .await?;
    // Beats every second; the task runs 5 s, past HeartbeatSeconds = 3.
    let worker = Worker::start(
        &ep,
        &arn,
        FnActivity::new(|_, _| async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(json!({"done": true}))
        }),
        1,
        1,
    );
    let exec = start(&ep, &sm, json!({})).await?;
    let ended = finished(&ep, &exec).await?;
    worker.stop().await?;
    ensure!(
        ended.status == ExecutionStatus::Succeeded,
        "heartbeats did not keep the task alive: {ended:?}"
    );
    Ok(())
}

/// A worker beating slower than HeartbeatSeconds: the execution fails with `States.Timeout` and
/// the task is cancelled when the next beat learns it is lost. The timed-out token then answers
/// a heartbeat with TaskTimedOut on AWS, InvalidToken on LocalStack
/// ([`Difference::NoTaskTimedOut`]; stefuna treats both as lost).
pub async fn heartbeat_timeout_cancels_task(ep: Endpoint) -> anyhow::Result<()> {
    let (arn, sm) = setup(
        &ep,
        "hbtimeout",
        one_task(json!({"HeartbeatSeconds": 1, "TimeoutSeconds": 120})),
    )
    .await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let (tokens, mut token_rx) = mpsc::unbounded_channel::<String>();
    let worker = Worker::start(
        &ep,
        &arn,
        FnActivity::new(move |_, ctx: Context| {
            let tx = tx.clone();
            let _ = tokens.send(ctx.token().as_str().to_owned());
            async move {
                ctx.cancelled().await;
                let _ = tx.send(());
                Err(TaskError::msg("cancelled"))
            }
        }),
        1,
        3,
    );
    let exec = start(&ep, &sm, json!({})).await?;
    let ended = finished(&ep, &exec).await?;
    ensure!(ended.status == ExecutionStatus::Failed, "{ended:?}");
    ensure!(
        ended.error.as_deref() == Some("States.Timeout"),
        "{ended:?}"
    );
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .map_err(|_| anyhow!("the timed-out task was not cancelled within 30 s"))?
        .ok_or_else(|| anyhow!("the activity was dropped without seeing cancellation"))?;
    worker.stop().await?;

    let token = received(&mut token_rx, "the task token").await?;
    let beat = ep
        .client()
        .send_task_heartbeat()
        .task_token(token)
        .send()
        .await;
    let code = error_code(&beat);
    let expected = if ep.differs(Difference::NoTaskTimedOut) {
        "InvalidToken"
    } else {
        "TaskTimedOut"
    };
    ensure!(
        code.as_deref() == Some(expected),
        "SendTaskHeartbeat on a timed-out token: expected {expected}, got {beat:?}"
    );
    Ok(())
}

/// Retry re-runs a failing task; Catch routes a failure to its handler state.
pub async fn retry_and_catch(ep: Endpoint) -> anyhow::Result<()> {
    let definition = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "${activity}", "TimeoutSeconds": 60,
              "Retry": [{"ErrorEquals": ["Flaky.Error"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.0}],
              "Catch": [{"ErrorEquals": ["Task.Failure"], "ResultPath": "$.caught", "Next": "Handled"}],
              "End": true},
        "Handled": {"Type": "Pass", "End": true}}});
    let (arn, sm) = setup(&ep, "retry", definition).await?;
    let attempts: Arc<Mutex<BTreeMap<String, u32>>> = Arc::default();
    let seen = attempts.clone();
    let worker = Worker::start(
        &ep,
        &arn,
        FnActivity::new(move |v, _| {
            let seen = seen.clone();
            async move {
                let id = v["id"].as_str().unwrap_or("").to_owned();
                let n = {
                    let mut m = seen.lock().expect("not poisoned");
                    let n = m.entry(id.clone()).or_default();
                    *n += 1;
                    *n
                };
                match (id.as_str(), n) {
                    ("flaky", 1) => Err(TaskError::new("Flaky.Error", "first try fails")),
                    ("flaky", _) => Ok(json!({"attempt": n})),
                    _ => Err(TaskError::msg("always fails")),
                }
            }
        }),
        2,
        0,
    );
    let flaky = start(&ep, &sm, json!({"id": "flaky"})).await?;
    let broken = start(&ep, &sm, json!({"id": "broken"})).await?;
    let (f, b) = (finished(&ep, &flaky).await?, finished(&ep, &broken).await?);
    worker.stop().await?;
    ensure!(
        f.output == Some(json!({"attempt": 2})),
        "retry did not re-run the task: {f:?}"
    );
    ensure!(
        b.status == ExecutionStatus::Succeeded,
        "catch did not handle the failure: {b:?}"
    );
    let caught = &b
        .output
        .as_ref()
        .ok_or_else(|| anyhow!("no output: {b:?}"))?["caught"];
    ensure!(caught["Error"] == "Task.Failure", "{b:?}");
    ensure!(caught["Cause"] == "always fails", "{b:?}");
    Ok(())
}

/// How long [`drain_on_shutdown`] holds its task after asking the worker to stop.
const DRAIN_HOLD: Duration = Duration::from_secs(3);

/// Shutdown (the in-process form of SIGTERM: the server's shutdown future, without giving up
/// polls) lets an in-flight task finish and deliver before the server returns.
pub async fn drain_on_shutdown(ep: Endpoint) -> anyhow::Result<()> {
    let (arn, sm) = setup(&ep, "drain", one_task(json!({"TimeoutSeconds": 60}))).await?;
    let (started_tx, mut started_rx) = mpsc::unbounded_channel::<()>();
    let gate = Arc::new(tokio::sync::Notify::new());
    let g = gate.clone();
    let mut worker = Worker::start_draining(
        &ep,
        &arn,
        FnActivity::new(move |_, _| {
            let (started, gate) = (started_tx.clone(), g.clone());
            async move {
                let _ = started.send(());
                gate.notified().await;
                Ok(json!({"drained": true}))
            }
        }),
        1,
    );
    let exec = start(&ep, &sm, json!({})).await?;
    tokio::time::timeout(Duration::from_secs(60), started_rx.recv())
        .await
        .map_err(|_| anyhow!("the task did not start within 60 s"))?;
    worker.request_stop();
    // While the task is held at its gate, stop must not return: a stop that did not wait for
    // in-flight tasks would be back once its open polls ended (within a second on
    // stefuna-local, whose long poll is 1 s here).
    let stop = worker.stop();
    tokio::pin!(stop);
    if let Ok(early) = tokio::time::timeout(DRAIN_HOLD, &mut stop).await {
        bail!("stop returned ({early:?}) while the task was still held at its gate");
    }
    gate.notify_one();
    stop.await?;
    // Delivered before the server returned: the endpoint records ActivitySucceeded when it
    // accepts SendTaskSuccess, so it is in the history as soon as the drain ends.
    let history = ep
        .client()
        .get_execution_history()
        .execution_arn(&exec)
        .send()
        .await
        .context("GetExecutionHistory")?;
    ensure!(
        history
            .events()
            .iter()
            .any(|e| e.activity_succeeded_event_details().is_some()),
        "the server returned before the drained task's result was delivered: {:?}",
        history
            .events()
            .iter()
            .map(|e| e.r#type())
            .collect::<Vec<_>>()
    );
    let ended = finished(&ep, &exec).await?;
    ensure!(
        ended.output == Some(json!({"drained": true})),
        "the in-flight task was not drained: {ended:?}"
    );
    Ok(())
}

/// Several workers on one activity: every execution completes, each task runs exactly once.
pub async fn concurrent_workers_exactly_once(ep: Endpoint) -> anyhow::Result<()> {
    const EXECUTIONS: usize = 12;
    let (arn, sm) = setup(&ep, "concurrent", one_task(json!({"TimeoutSeconds": 60}))).await?;
    let runs: Arc<Mutex<BTreeMap<u64, usize>>> = Arc::default();
    let mut workers = Vec::new();
    for _ in 0..3 {
        let runs = runs.clone();
        workers.push(Worker::start(
            &ep,
            &arn,
            FnActivity::new(move |v, _| {
                let runs = runs.clone();
                async move {
                    let id = v["id"].as_u64().unwrap_or(u64::MAX);
                    *runs.lock().expect("not poisoned").entry(id).or_default() += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok(json!({"id": id}))
                }
            }),
            2,
            0,
        ));
    }
    let mut execs = Vec::new();
    for id in 0..EXECUTIONS as u64 {
        execs.push((id, start(&ep, &sm, json!({"id": id})).await?));
    }
    let mut problems = Vec::new();
    for (id, exec) in &execs {
        let ended = finished(&ep, exec).await?;
        if ended.output != Some(json!({"id": id})) {
            problems.push(format!("execution {id}: {ended:?}"));
        }
    }
    for w in workers {
        w.stop().await?;
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    let runs = runs.lock().expect("not poisoned").clone();
    let expected: BTreeMap<u64, usize> = (0..EXECUTIONS as u64).map(|i| (i, 1)).collect();
    ensure!(
        runs == expected,
        "tasks did not run exactly once each: {runs:?}"
    );
    Ok(())
}

/// A manual heartbeat on a state without HeartbeatSeconds: AWS accepts it and the task's result
/// is the execution's output. LocalStack answers InvalidToken
/// ([`Difference::HeartbeatWithoutHeartbeatSecondsIsInvalidToken`]), so the worker counts the
/// task lost, does not send its result, and the execution ends with `States.Timeout` at
/// TimeoutSeconds.
pub async fn heartbeat_without_heartbeat_seconds(ep: Endpoint) -> anyhow::Result<()> {
    let (arn, sm) = setup(&ep, "hbnone", one_task(json!({"TimeoutSeconds": 5}))).await?;
    let (beats, mut beat_rx) = mpsc::unbounded_channel::<Result<(), String>>();
    let worker = Worker::start(
        &ep,
        &arn,
        FnActivity::new(move |_, ctx: Context| {
            let beats = beats.clone();
            async move {
                // A transient answer means "the task goes on; try again" (LocalStack sometimes
                // answers a beat sent right after delivery with InternalError), so beat until
                // the answer is final.
                let mut beat = ctx.heartbeat().await;
                for _ in 0..50 {
                    if !matches!(beat, Err(HeartbeatError::Transient(_))) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    beat = ctx.heartbeat().await;
                }
                let _ = beats.send(beat.as_ref().map_err(ToString::to_string).copied());
                Ok(json!({"beat": beat.is_ok()}))
            }
        }),
        1,
        0,
    );
    let exec = start(&ep, &sm, json!({})).await?;
    let beat = received(&mut beat_rx, "the heartbeat's answer").await?;
    let ended = finished(&ep, &exec).await?;
    worker.stop().await?;
    if ep.differs(Difference::HeartbeatWithoutHeartbeatSecondsIsInvalidToken) {
        ensure!(
            beat.as_ref().is_err_and(|e| e.contains("InvalidToken")),
            "LocalStack is documented to answer InvalidToken to a heartbeat on a state without \
             HeartbeatSeconds, got {beat:?}"
        );
        expect_failed(&ended, "States.Timeout", "")
    } else {
        ensure!(
            beat.is_ok(),
            "a heartbeat on a state without HeartbeatSeconds was refused: {beat:?}"
        );
        ensure!(
            ended.status == ExecutionStatus::Succeeded
                && ended.output == Some(json!({"beat": true})),
            "{ended:?}"
        );
        Ok(())
    }
}

/// StopExecution while a task runs: AWS aborts the execution at once and refuses the task's late
/// result; LocalStack keeps the execution RUNNING until the task answers, then aborts it
/// ([`Difference::StopWaitsForTask`]). Either way the execution ends ABORTED without output, and
/// the worker delivers (or drops) the late result and stops cleanly.
pub async fn stop_execution_while_task_runs(ep: Endpoint) -> anyhow::Result<()> {
    let (arn, sm) = setup(&ep, "stop", one_task(json!({"TimeoutSeconds": 60}))).await?;
    let (started_tx, mut started_rx) = mpsc::unbounded_channel::<()>();
    let gate = Arc::new(tokio::sync::Notify::new());
    let g = gate.clone();
    let worker = Worker::start(
        &ep,
        &arn,
        FnActivity::new(move |_, _| {
            let (started, gate) = (started_tx.clone(), g.clone());
            async move {
                let _ = started.send(());
                gate.notified().await;
                Ok(json!({"late": true}))
            }
        }),
        1,
        0,
    );
    let exec = start(&ep, &sm, json!({})).await?;
    received(&mut started_rx, "the task's start").await?;
    let sfn = ep.client();
    sfn.stop_execution()
        .execution_arn(&exec)
        .error("Conformance.Stopped")
        .cause("stopped while its task ran")
        .send()
        .await
        .context("StopExecution")?;
    let status = sfn
        .describe_execution()
        .execution_arn(&exec)
        .send()
        .await
        .context("DescribeExecution")?
        .status()
        .clone();
    if ep.differs(Difference::StopWaitsForTask) {
        ensure!(
            status == ExecutionStatus::Running,
            "LocalStack is documented to keep a stopped execution running until its task \
             answers, got {status:?}"
        );
    } else {
        ensure!(
            status == ExecutionStatus::Aborted,
            "StopExecution did not abort the execution at once: {status:?}"
        );
    }
    gate.notify_one();
    let ended = finished(&ep, &exec).await?;
    worker.stop().await?;
    ensure!(
        ended.status == ExecutionStatus::Aborted && ended.output.is_none(),
        "expected ABORTED without output, got {ended:?}"
    );
    Ok(())
}

/// SIGTERM to a worker process (`conformance-worker`, a `run_main` binary) while its task runs:
/// it announces the drain, the task finishes and its result is delivered before the process
/// exits 0.
pub async fn drain_on_sigterm(ep: Endpoint) -> anyhow::Result<()> {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    use tokio::process::Command;

    let bin = ep.worker_bin.clone().ok_or_else(|| {
        anyhow!("drain_on_sigterm needs the conformance-worker binary: Endpoint::with_worker_bin")
    })?;
    let (arn, sm) = setup(&ep, "sigterm", one_task(json!({"TimeoutSeconds": 60}))).await?;
    let mut cmd = Command::new(&bin);
    cmd.args(["--activity-arn", &arn, "--endpoint-url", &ep.url])
        .args([
            "--region",
            &ep.region,
            "--processes",
            "1",
            "--healthcheck",
            "0",
        ])
        .args(["--name", "conformance"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    // The worker refuses STEFUNA_* keys it does not know (this test's own, for one).
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("STEFUNA_") {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let pid = child
        .id()
        .ok_or_else(|| anyhow!("the worker exited at once"))?;
    let mut stdin = child.stdin.take().context("worker stdin")?;
    let mut stdout = BufReader::new(child.stdout.take().context("worker stdout")?).lines();
    // Stderr is read to its end (a full pipe would block the worker); the drain's log line is
    // reported on a channel.
    let (drain_tx, mut drain_rx) = mpsc::unbounded_channel::<()>();
    let stderr = child.stderr.take().context("worker stderr")?;
    let log = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        let mut all = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("shutting down") {
                let _ = drain_tx.send(());
            }
            all.push(line);
        }
        all.join("\n")
    });

    let exec = start(&ep, &sm, json!({})).await?;
    let started = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = stdout.next_line().await? {
            if line == "task started" {
                return Ok(true);
            }
        }
        anyhow::Ok(false)
    })
    .await;
    if !matches!(started, Ok(Ok(true))) {
        let _ = child.kill().await;
        bail!(
            "the worker's task did not start ({started:?}); its log:\n{}",
            log.await.unwrap_or_default()
        );
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .context("cannot run kill")?;
    ensure!(killed.success(), "kill -TERM {pid} failed: {killed}");
    if tokio::time::timeout(Duration::from_secs(30), drain_rx.recv())
        .await
        .ok()
        .flatten()
        .is_none()
    {
        let _ = child.kill().await;
        bail!(
            "the worker did not announce a drain after SIGTERM; its log:\n{}",
            log.await.unwrap_or_default()
        );
    }
    stdin.write_all(b"go\n").await?;
    stdin.flush().await?;
    let status = match tokio::time::timeout(Duration::from_secs(90), child.wait()).await {
        Ok(s) => s?,
        Err(_) => {
            let _ = child.kill().await;
            bail!(
                "the worker did not exit within 90 s of its task finishing; its log:\n{}",
                log.await.unwrap_or_default()
            );
        }
    };
    let log = log.await.unwrap_or_default();
    ensure!(
        status.success(),
        "the drained worker exited with {status}; its log:\n{log}"
    );
    let history = ep
        .client()
        .get_execution_history()
        .execution_arn(&exec)
        .send()
        .await
        .context("GetExecutionHistory")?;
    ensure!(
        history
            .events()
            .iter()
            .any(|e| e.activity_succeeded_event_details().is_some()),
        "the worker exited before the drained task's result was delivered; its log:\n{log}"
    );
    let ended = finished(&ep, &exec).await?;
    ensure!(
        ended.output == Some(json!({"drained": true})),
        "the in-flight task was not drained: {ended:?}"
    );
    Ok(())
}
