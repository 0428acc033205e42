//! End to end: real state machines in stefuna-local, the real SDK over HTTP, the runtime in
//! this process with hand-written activities.

use stefuna_runtime_testkit as support;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};
use serde::{Deserialize, Serialize};
use stefuna_core::{Activity, Context, Invocation, TaskError, decode_input, encode_output};
use stefuna_local::{Emulator, Faults};
use stefuna_runtime::Server;
use support::{FnActivity, ROLE, Running, client, config, finished, machine, start, within};
use tokio::sync::{Notify, mpsc};

async fn emulator() -> Emulator {
    Emulator::builder()
        .long_poll(Duration::from_secs(1))
        .start()
        .await
        .unwrap()
}

/// Creates activity `name` and a one-Task state machine for it, with `HeartbeatSeconds` when
/// given; returns both ARNs.
async fn setup(sfn: &aws_sdk_sfn::Client, name: &str, heartbeat: Option<u32>) -> (String, String) {
    let task = match heartbeat {
        Some(h) => serde_json::json!({"HeartbeatSeconds": h}),
        None => serde_json::json!({}),
    };
    machine(sfn, name, task).await
}

async fn history(sfn: &aws_sdk_sfn::Client, exec: &str) -> Vec<HistoryEvent> {
    sfn.get_execution_history()
        .execution_arn(exec)
        .send()
        .await
        .unwrap()
        .events()
        .to_vec()
}

fn worker_of(events: &[HistoryEvent]) -> Option<String> {
    events.iter().find_map(|e| {
        e.activity_started_event_details()
            .and_then(|d| d.worker_name())
            .map(str::to_owned)
    })
}

/// An activity written the way `#[stefuna::activity]` expands: decode, call, encode.
struct Greeter;

#[derive(Deserialize)]
struct Input {
    kind: String,
    #[serde(default)]
    name: String,
}

#[derive(Serialize)]
struct Output {
    message: String,
}

fn greet(input: Input) -> Result<serde_json::Value, TaskError> {
    match input.kind.as_str() {
        "hello" => Ok(serde_json::to_value(Output {
            message: format!("Hello {}", input.name),
        })?),
        "fail" => Err("the bucket is gone".into()),
        "custom" => Err(TaskError::new("Greeter.NoName", "nobody to greet")),
        "big" => Ok(serde_json::Value::String("x".repeat(300_000))),
        _ => Ok(serde_json::Value::Null),
    }
}

impl Activity for Greeter {
    fn name(&self) -> &str {
        "Greeter"
    }

    fn invoke(self: Arc<Self>, input: String, _ctx: Context) -> Invocation {
        Invocation::Async(Box::pin(async move {
            let input: Input = decode_input(&input)?;
            if input.kind == "unserializable" {
                let mut m = std::collections::BTreeMap::new();
                m.insert(vec![1u8], 1);
                return encode_output(&m);
            }
            encode_output(&greet(input)?)
        }))
    }
}

#[tokio::test]
async fn outcomes_reach_the_state_machine() {
    let emu = emulator().await;
    let sfn = client(emu.endpoint());
    let (arn, sm) = setup(&sfn, "greeter", None).await;
    let server = Running::start(
        Server::builder().activity(Greeter).config(config(&arn, 4)),
        emu.endpoint(),
    )
    .await;

    let cases = [
        (r#"{"kind": "hello", "name": "World"}"#, None),
        (r#"{"kind": "nothing"}"#, None),
        (r#"{"kind": "fail"}"#, Some("Task.Failure")),
        (r#"{"kind": "custom"}"#, Some("Greeter.NoName")),
        (r#"{"name": "no kind"}"#, Some("Stefuna.InvalidInput")),
        (
            r#"{"kind": "unserializable"}"#,
            Some("Stefuna.InvalidOutput"),
        ),
        (r#"{"kind": "big"}"#, Some("Stefuna.OutputTooLarge")),
    ];
    let mut execs = Vec::new();
    for (input, _) in &cases {
        execs.push(start(&sfn, &sm, input).await);
    }
    for ((input, expected), exec) in cases.iter().zip(&execs) {
        let ended = finished(&sfn, exec).await;
        match expected {
            None => assert_eq!(
                ended.status,
                ExecutionStatus::Succeeded,
                "{input}: {ended:?}"
            ),
            Some(error) => {
                assert_eq!(ended.status, ExecutionStatus::Failed, "{input}: {ended:?}");
                assert_eq!(ended.error.as_deref(), Some(*error), "{input}: {ended:?}");
            }
        }
    }
    let hello = finished(&sfn, &execs[0]).await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(hello.output.as_deref().unwrap()).unwrap(),
        serde_json::json!({"message": "Hello World"})
    );
    assert_eq!(
        finished(&sfn, &execs[1]).await.output.as_deref(),
        Some("{}")
    );
    assert_eq!(
        finished(&sfn, &execs[2]).await.cause.as_deref(),
        Some("the bucket is gone")
    );
    let invalid = finished(&sfn, &execs[4]).await.cause.unwrap();
    assert!(invalid.contains("missing field `kind`"), "{invalid}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_panic_fails_its_task_and_the_next_one_runs() {
    let emu = emulator().await;
    let sfn = client(emu.endpoint());
    let (arn, sm) = setup(&sfn, "panicky", None).await;
    let activity = FnActivity::new("Panicky", |input, _ctx| async move {
        if input.contains("boom") {
            panic!("kaboom: {input}");
        }
        Ok(input)
    });
    let server = Running::start(
        Server::builder().activity(activity).config(config(&arn, 1)),
        emu.endpoint(),
    )
    .await;
    let first = start(&sfn, &sm, r#"{"boom": true}"#).await;
    let ended = finished(&sfn, &first).await;
    assert_eq!(ended.error.as_deref(), Some("Stefuna.Panic"));
    assert!(ended.cause.unwrap().starts_with("kaboom: "));
    let second = start(&sfn, &sm, r#"{"fine": true}"#).await;
    assert_eq!(
        finished(&sfn, &second).await.status,
        ExecutionStatus::Succeeded
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn heartbeats_keep_a_long_task_alive() {
    let emu = emulator().await;
    let sfn = client(emu.endpoint());
    // The task runs past several HeartbeatSeconds windows; only the beats keep it alive.
    let (arn, sm) = setup(&sfn, "beating", Some(3)).await;
    let beats = Arc::new(Notify::new());
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let b = beats.clone();
    let activity = FnActivity::new("Beating", move |_input, _ctx| {
        let (b, tx) = (b.clone(), tx.clone());
        async move {
            let _ = tx.send(());
            b.notified().await;
            Ok("{\"beaten\": true}".to_owned())
        }
    });
    let mut cfg = config(&arn, 1);
    cfg.heartbeat = 1;
    let server = Running::start(
        Server::builder().activity(activity).config(cfg),
        emu.endpoint(),
    )
    .await;
    let exec = start(&sfn, &sm, "{}").await;
    within(Duration::from_secs(10), "the task", rx.recv()).await;
    within(
        Duration::from_secs(20),
        "four heartbeats (past the 3 s HeartbeatSeconds)",
        async {
            while server
                .metric("stefuna_heartbeats_total{activity=\"Beating\"}")
                .await
                < 4.0
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        },
    )
    .await;
    beats.notify_one();
    let ended = finished(&sfn, &exec).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
    assert_eq!(
        server
            .metric("stefuna_heartbeat_errors_total{activity=\"Beating\"}")
            .await,
        0.0
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn heartbeat_loss_cancels_the_task() {
    let emu = emulator().await;
    let sfn = client(emu.endpoint());
    let (arn, sm) = setup(&sfn, "stopped", Some(60)).await;
    let (tx, mut rx) = mpsc::unbounded_channel::<&'static str>();
    let activity = FnActivity::new("Stopped", move |_input, ctx: Context| {
        let tx = tx.clone();
        async move {
            let _ = tx.send("started");
            ctx.cancelled().await;
            let _ = tx.send("cancelled");
            Err(TaskError::msg("cancelled"))
        }
    });
    let mut cfg = config(&arn, 1);
    cfg.heartbeat = 1;
    let server = Running::start(
        Server::builder().activity(activity).config(cfg),
        emu.endpoint(),
    )
    .await;
    let exec = start(&sfn, &sm, "{}").await;
    assert_eq!(
        within(Duration::from_secs(10), "start", rx.recv()).await,
        Some("started")
    );
    sfn.stop_execution()
        .execution_arn(&exec)
        .send()
        .await
        .unwrap();
    assert_eq!(
        within(Duration::from_secs(10), "cancellation", rx.recv()).await,
        Some("cancelled")
    );
    assert_eq!(finished(&sfn, &exec).await.status, ExecutionStatus::Aborted);
    within(Duration::from_secs(10), "the loss to be counted", async {
        while server
            .metric("stefuna_tasks_lost_total{activity=\"Stopped\"}")
            .await
            < 1.0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_busy_worker_leaves_the_next_task_to_another() {
    let emu = emulator().await;
    let sfn = client(emu.endpoint());
    let (arn, sm) = setup(&sfn, "slots", None).await;
    let release = Arc::new(Notify::new());
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let r = release.clone();
    let busy = FnActivity::new("Slots", move |input, _ctx| {
        let (r, tx) = (r.clone(), tx.clone());
        async move {
            let _ = tx.send(());
            r.notified().await;
            Ok(input)
        }
    });
    let mut cfg_a = config(&arn, 1);
    cfg_a.name = "Busy".into();
    let a = Running::start(
        Server::builder().activity(busy).config(cfg_a),
        emu.endpoint(),
    )
    .await;
    let first = start(&sfn, &sm, "1").await;
    within(Duration::from_secs(10), "the first task", rx.recv()).await;

    let second = start(&sfn, &sm, "2").await;
    let mut cfg_b = config(&arn, 1);
    cfg_b.name = "Idle".into();
    let echo = FnActivity::new("Slots", |input, _ctx| async move { Ok(input) });
    let b = Running::start(
        Server::builder().activity(echo).config(cfg_b),
        emu.endpoint(),
    )
    .await;
    assert_eq!(
        finished(&sfn, &second).await.status,
        ExecutionStatus::Succeeded
    );
    let second_worker = worker_of(&history(&sfn, &second).await).unwrap();
    assert!(second_worker.starts_with("Idle-"), "{second_worker}");

    release.notify_one();
    assert_eq!(
        finished(&sfn, &first).await.status,
        ExecutionStatus::Succeeded
    );
    let first_worker = worker_of(&history(&sfn, &first).await).unwrap();
    assert!(first_worker.starts_with("Busy-"), "{first_worker}");
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test]
async fn results_are_retried_through_injected_throttling() {
    let emu = emulator().await;
    let sfn = client(emu.endpoint());
    let (arn, sm) = setup(&sfn, "throttled", None).await;
    let echo = FnActivity::new("Throttled", |input, _ctx| async move { Ok(input) });
    let server = Running::start(
        Server::builder().activity(echo).config(config(&arn, 1)),
        emu.endpoint(),
    )
    .await;
    emu.set_faults(Faults {
        throttle: 1.0,
        operations: Some(vec!["SendTaskSuccess".to_owned()]),
        ..Faults::default()
    });
    let exec = start(&sfn, &sm, r#"{"n": 1}"#).await;
    within(Duration::from_secs(20), "two throttled deliveries", async {
        while server
            .metric("stefuna_delivery_retries_total{activity=\"Throttled\"}")
            .await
            < 2.0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    emu.set_faults(Faults::default());
    let ended = finished(&sfn, &exec).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
    let output: serde_json::Value = serde_json::from_str(ended.output.as_deref().unwrap()).unwrap();
    assert_eq!(output, serde_json::json!({"n": 1}));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn several_activities_share_state_and_worker_config() {
    let emu = emulator().await;
    let sfn = client(emu.endpoint());
    let (alpha_arn, alpha_sm) = setup(&sfn, "alpha", None).await;
    let (beta_arn, beta_sm) = setup(&sfn, "beta", None).await;
    let report = |input: String, ctx: Context| async move {
        let _ = input;
        #[derive(Deserialize)]
        struct Cfg {
            bucket: String,
        }
        let cfg: Cfg = ctx.worker_config().map_err(TaskError::from)?;
        let db = ctx.state::<String>().cloned().unwrap_or_default();
        Ok(serde_json::json!({
            "arn": ctx.activity_arn(),
            "bucket": cfg.bucket,
            "db": db,
        })
        .to_string())
    };
    let mut cfg = {
        let mut c = stefuna_runtime::Config::default();
        c.healthcheck = 0;
        c.region = Some(support::REGION.to_owned());
        c.worker_config = serde_json::json!({"bucket": "b1"});
        c
    };
    for (name, arn, processes) in [("alpha", &alpha_arn, 1), ("beta", &beta_arn, 2)] {
        let mut entry = stefuna_runtime::config::ActivityConfig::default();
        entry.activity_arn = Some(arn.clone());
        entry.processes = Some(processes);
        cfg.activities.insert(name.to_owned(), entry);
    }
    let server = Running::start(
        Server::builder()
            .activity(FnActivity::new("Alpha", report))
            .activity(FnActivity::new("Beta", report))
            .state(String::from("postgres://db"))
            .config(cfg),
        emu.endpoint(),
    )
    .await;
    for (sm, arn) in [(&alpha_sm, &alpha_arn), (&beta_sm, &beta_arn)] {
        let exec = start(&sfn, sm, "{}").await;
        let ended = finished(&sfn, &exec).await;
        assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
        let out: serde_json::Value = serde_json::from_str(&ended.output.unwrap()).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"arn": arn, "bucket": "b1", "db": "postgres://db"})
        );
    }
    for name in ["Alpha", "Beta"] {
        let started = server
            .metric(&format!(
                "stefuna_tasks_started_total{{activity=\"{name}\"}}"
            ))
            .await;
        assert_eq!(started, 1.0, "{name}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn long_polls_that_wait_are_not_errors() {
    // Longer than the SDK's default 5 s stalled-stream grace and read timeouts of other calls.
    let emu = Emulator::builder()
        .long_poll(Duration::from_secs(12))
        .start()
        .await
        .unwrap();
    let sfn = client(emu.endpoint());
    let (arn, sm) = setup(&sfn, "patient", None).await;
    let echo = FnActivity::new("Patient", |input, _ctx| async move { Ok(input) });
    let server = Running::start(
        Server::builder().activity(echo).config(config(&arn, 1)),
        emu.endpoint(),
    )
    .await;
    // One poll ends empty after the full long poll; then a task arrives.
    within(Duration::from_secs(30), "an empty poll", async {
        while server
            .metric("stefuna_polls_total{activity=\"Patient\"}")
            .await
            < 1.0
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let exec = start(&sfn, &sm, "[1]").await;
    assert_eq!(
        finished(&sfn, &exec).await.status,
        ExecutionStatus::Succeeded
    );
    assert_eq!(
        server
            .metric("stefuna_poll_errors_total{activity=\"Patient\"}")
            .await,
        0.0
    );
    // Shut the emulator down first so the open 12 s poll answers at once.
    emu.shutdown().await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_task_failed_by_shutdown_is_retried_on_another_worker() {
    let emu = Emulator::builder()
        .long_poll(Duration::from_secs(1))
        .time_scale(20.0)
        .start()
        .await
        .unwrap();
    let sfn = client(emu.endpoint());
    let arn = sfn
        .create_activity()
        .name("moving")
        .send()
        .await
        .unwrap()
        .activity_arn()
        .to_owned();
    let definition = serde_json::json!({
        "StartAt": "T",
        "States": {"T": {
            "Type": "Task",
            "Resource": arn,
            "Retry": [{"ErrorEquals": ["Stefuna.WorkerShutdown"], "IntervalSeconds": 1, "MaxAttempts": 2}],
            "End": true
        }}
    });
    let sm = sfn
        .create_state_machine()
        .name("moving")
        .role_arn(ROLE)
        .definition(definition.to_string())
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();

    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let stuck = FnActivity::new("Moving", move |_input, ctx: Context| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(());
            ctx.cancelled().await;
            Err(TaskError::msg("cancelled"))
        }
    });
    let mut cfg = config(&arn, 1);
    cfg.name = "Leaving".into();
    cfg.shutdown_grace = Some(0);
    let leaving = Running::start(
        Server::builder().activity(stuck).config(cfg),
        emu.endpoint(),
    )
    .await;
    let exec = start(&sfn, &sm, r#"{"job": 1}"#).await;
    within(Duration::from_secs(10), "the first attempt", rx.recv()).await;
    leaving.stop().await.unwrap();

    let mut cfg = config(&arn, 1);
    cfg.name = "Staying".into();
    let echo = FnActivity::new("Moving", |input, _ctx| async move { Ok(input) });
    let staying =
        Running::start(Server::builder().activity(echo).config(cfg), emu.endpoint()).await;
    let ended = finished(&sfn, &exec).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
    let workers: Vec<String> = history(&sfn, &exec)
        .await
        .iter()
        .filter_map(|e| {
            e.activity_started_event_details()?
                .worker_name()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(workers.len(), 2, "{workers:?}");
    assert!(
        workers[0].starts_with("Leaving-") && workers[1].starts_with("Staying-"),
        "{workers:?}"
    );
    staying.stop().await.unwrap();
}
