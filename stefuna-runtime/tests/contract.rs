//! The worker contract against a fake Step Functions endpoint that records exactly what the
//! worker sent: results, heartbeats, retries, slots, shutdown.

use stefuna_runtime_testkit as support;

use std::sync::Arc;
use std::time::Duration;

use stefuna_core::{Context, TaskError, decode_input};
use stefuna_runtime::Server;
use support::fake_sfn::{FakeSfn, Sent};
use support::{FnActivity, Running, config, get, within};
use tokio::sync::{Notify, mpsc};

const ARN: &str = "arn:aws:states:us-east-1:123456789012:activity:test";

fn echo() -> FnActivity {
    FnActivity::new("Echo", |input, _ctx| async move { Ok(input) })
}

async fn serve(fake: &FakeSfn, activity: FnActivity, cfg: stefuna_runtime::Config) -> Running {
    Running::start(
        Server::builder().activity(activity).config(cfg),
        &fake.endpoint,
    )
    .await
}

#[tokio::test]
async fn success_output_is_sent_once() {
    let fake = FakeSfn::start().await;
    let server = serve(&fake, echo(), config(ARN, 2)).await;
    fake.push("t1", r#"{"a": 1}"#);
    assert_eq!(fake.result("t1").await, Sent::Success(r#"{"a": 1}"#.into()));
    server.stop().await.unwrap();
    assert_eq!(fake.results("t1").len(), 1);
}

#[tokio::test]
async fn errors_are_sent_with_their_names() {
    #[derive(serde::Deserialize)]
    struct Input {
        kind: String,
    }
    let fake = FakeSfn::start().await;
    let activity = FnActivity::new("Errors", |input, _ctx| async move {
        let input: Input = decode_input(&input)?;
        match input.kind.as_str() {
            "plain" => Err(TaskError::msg("disk full")),
            "custom" => Err(TaskError::new("Resize.TooLarge", "9000 pixels")),
            "long" => Err(TaskError::new("E".repeat(300), "c".repeat(40_000))),
            "not-json" => Ok("not json".to_owned()),
            "huge" => Ok(format!("\"{}\"", "x".repeat(300_000))),
            _ => Ok("{}".to_owned()),
        }
    });
    let server = serve(&fake, activity, config(ARN, 4)).await;
    for (token, input) in [
        ("plain", r#"{"kind": "plain"}"#),
        ("custom", r#"{"kind": "custom"}"#),
        ("long", r#"{"kind": "long"}"#),
        ("bad-input", r#"{"kind": 5}"#),
        ("not-json", r#"{"kind": "not-json"}"#),
        ("huge", r#"{"kind": "huge"}"#),
    ] {
        fake.push(token, input);
    }
    let failure = |sent: Sent| match sent {
        Sent::Failure(e, c) => (e, c),
        other => panic!("expected a failure, got {other:?}"),
    };
    assert_eq!(
        failure(fake.result("plain").await),
        ("Task.Failure".into(), "disk full".into())
    );
    assert_eq!(
        failure(fake.result("custom").await),
        ("Resize.TooLarge".into(), "9000 pixels".into())
    );
    let (e, c) = failure(fake.result("long").await);
    assert_eq!((e.len(), c.len()), (256, 32_768));
    let (e, c) = failure(fake.result("bad-input").await);
    assert_eq!(e, "Stefuna.InvalidInput");
    assert!(c.contains("invalid type: integer `5`"), "{c}");
    assert_eq!(
        failure(fake.result("not-json").await).0,
        "Stefuna.InvalidOutput"
    );
    assert_eq!(
        failure(fake.result("huge").await).0,
        "Stefuna.OutputTooLarge"
    );
    assert_eq!(
        server
            .metric(
                "stefuna_tasks_failed_total{activity=\"Errors\",error=\"Stefuna.InvalidInput\"}"
            )
            .await,
        1.0
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn panics_are_reported_and_the_server_keeps_serving() {
    let fake = FakeSfn::start().await;
    let server = serve(
        &fake,
        FnActivity::new("Panicky", |input, _ctx| async move {
            if input.contains("panic") {
                panic!("async boom");
            }
            Ok(input)
        }),
        config(ARN, 1),
    )
    .await;
    fake.push("p1", r#""panic""#);
    assert_eq!(
        fake.result("p1").await,
        Sent::Failure("Stefuna.Panic".into(), "async boom".into())
    );
    // One slot: the next task only runs if the panicked one gave its slot back.
    fake.push("p2", r#""fine""#);
    assert_eq!(fake.result("p2").await, Sent::Success(r#""fine""#.into()));
    server.stop().await.unwrap();

    let fake = FakeSfn::start().await;
    let server = serve(
        &fake,
        FnActivity::blocking("BlockingPanicky", |input, _ctx| {
            if input.contains("panic") {
                panic!("blocking boom {}", 7);
            }
            Ok(input)
        }),
        config(ARN, 1),
    )
    .await;
    fake.push("b1", r#""panic""#);
    assert_eq!(
        fake.result("b1").await,
        Sent::Failure("Stefuna.Panic".into(), "blocking boom 7".into())
    );
    fake.push("b2", "[]");
    assert_eq!(fake.result("b2").await, Sent::Success("[]".into()));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn heartbeats_are_sent_while_the_task_runs() {
    let fake = FakeSfn::start().await;
    let f = fake.clone();
    let activity = FnActivity::new("Beating", move |_input, ctx: Context| {
        let f = f.clone();
        async move {
            // Finish once the fake has seen two automatic beats for this task.
            let token = ctx.token().as_str().to_owned();
            f.until("two heartbeats", |f| f.beats(&token) >= 2).await;
            ctx.heartbeat()
                .await
                .map_err(|e| TaskError::msg(e.to_string()))?;
            Ok("{}".to_owned())
        }
    });
    let mut cfg = config(ARN, 1);
    cfg.heartbeat = 1;
    let server = serve(&fake, activity, cfg).await;
    fake.push("hb", "{}");
    assert_eq!(fake.result("hb").await, Sent::Success("{}".into()));
    assert!(fake.beats("hb") >= 3, "two automatic beats and one manual");
    assert!(
        server
            .metric("stefuna_heartbeats_total{activity=\"Beating\"}")
            .await
            >= 3.0
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_lost_heartbeat_cancels_the_task_and_sends_nothing() {
    let fake = FakeSfn::start().await;
    let (tx, mut rx) = mpsc::unbounded_channel::<&'static str>();
    let activity = FnActivity::new("Lost", move |_input, ctx: Context| {
        let tx = tx.clone();
        async move {
            let _ = tx.send("started");
            ctx.cancelled().await;
            let _ = tx.send("cancelled");
            Ok("{}".to_owned())
        }
    });
    let mut cfg = config(ARN, 1);
    cfg.heartbeat = 1;
    let server = serve(&fake, activity, cfg).await;
    fake.push("lost", "{}");
    assert_eq!(
        within(Duration::from_secs(10), "start", rx.recv()).await,
        Some("started")
    );
    fake.kill("lost");
    assert_eq!(
        within(Duration::from_secs(10), "cancellation", rx.recv()).await,
        Some("cancelled")
    );
    within(Duration::from_secs(10), "the task to end", async {
        while server
            .metric("stefuna_tasks_in_flight{activity=\"Lost\"}")
            .await
            != 0.0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(
        server
            .metric("stefuna_tasks_lost_total{activity=\"Lost\"}")
            .await,
        1.0
    );
    assert!(
        fake.results("lost").is_empty(),
        "a lost task's result is not sent"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_busy_worker_opens_no_poll() {
    let fake = FakeSfn::start().await;
    let release = Arc::new(Notify::new());
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let r = release.clone();
    let busy = FnActivity::new("Busy", move |input, _ctx| {
        let (r, tx) = (r.clone(), tx.clone());
        async move {
            let _ = tx.send(());
            r.notified().await;
            Ok(input)
        }
    });
    let mut cfg_a = config(ARN, 1);
    cfg_a.name = "A".into();
    let a = serve(&fake, busy, cfg_a).await;
    fake.push("first", "1");
    within(Duration::from_secs(10), "the first task", rx.recv()).await;
    assert!(fake.assigned("first").unwrap().starts_with("A-"));

    // A holds its only slot: it has no poll open, so the next task waits for B.
    fake.push("second", "2");
    let mut cfg_b = config(ARN, 1);
    cfg_b.name = "B".into();
    let b = serve(&fake, echo(), cfg_b).await;
    assert_eq!(fake.result("second").await, Sent::Success("2".into()));
    assert!(fake.assigned("second").unwrap().starts_with("B-"));
    b.stop().await.unwrap();

    release.notify_one();
    assert_eq!(fake.result("first").await, Sent::Success("1".into()));
    a.stop().await.unwrap();
}

#[tokio::test]
async fn results_are_retried_through_throttling() {
    let fake = FakeSfn::start().await;
    fake.throttle("SendTaskSuccess", 3);
    fake.throttle("SendTaskFailure", 2);
    let server = serve(
        &fake,
        FnActivity::new("Retry", |input, _ctx| async move {
            if input == "\"fail\"" {
                Err(TaskError::msg("no"))
            } else {
                Ok(input)
            }
        }),
        config(ARN, 2),
    )
    .await;
    fake.push("ok", "\"ok\"");
    fake.push("fail", "\"fail\"");
    assert_eq!(fake.result("ok").await, Sent::Success("\"ok\"".into()));
    assert_eq!(
        fake.result("fail").await,
        Sent::Failure("Task.Failure".into(), "no".into())
    );
    assert_eq!(fake.calls("SendTaskSuccess"), 4);
    assert_eq!(fake.calls("SendTaskFailure"), 3);
    assert_eq!(
        server
            .metric("stefuna_delivery_retries_total{activity=\"Retry\"}")
            .await,
        5.0
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_dead_token_result_is_dropped_without_retries() {
    let fake = FakeSfn::start().await;
    fake.kill("dead");
    let server = serve(&fake, echo(), config(ARN, 1)).await;
    fake.push("dead", "{}");
    within(Duration::from_secs(10), "the delivery attempt", async {
        while server
            .metric("stefuna_delivery_dropped_total{activity=\"Echo\"}")
            .await
            != 1.0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(fake.calls("SendTaskSuccess"), 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn poll_errors_back_off_and_recover() {
    let fake = FakeSfn::start().await;
    fake.throttle("GetActivityTask", 3);
    let server = serve(&fake, echo(), config(ARN, 1)).await;
    fake.push("after", "7");
    assert_eq!(fake.result("after").await, Sent::Success("7".into()));
    assert_eq!(
        server
            .metric("stefuna_poll_errors_total{activity=\"Echo\"}")
            .await,
        3.0
    );
    let (code, body) = get(&format!("{}/", server.health)).await.unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_waits_for_in_flight_tasks() {
    let fake = FakeSfn::start().await;
    let release = Arc::new(Notify::new());
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let r = release.clone();
    let activity = FnActivity::new("Drain", move |input, _ctx| {
        let (r, tx) = (r.clone(), tx.clone());
        async move {
            let _ = tx.send(());
            r.notified().await;
            Ok(input)
        }
    });
    let mut server = serve(&fake, activity, config(ARN, 2)).await;
    fake.push("inflight", "\"x\"");
    within(Duration::from_secs(10), "the task", rx.recv()).await;
    server.request_shutdown();
    within(Duration::from_secs(10), "draining", async {
        loop {
            let (code, body) = get(&format!("{}/", server.health)).await.unwrap();
            assert_eq!(code, 200, "health stays up while draining");
            if body.contains("\"state\":\"draining\"") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(
        get(&format!("{}/readyz", server.health)).await.unwrap().0,
        503
    );
    assert!(fake.results("inflight").is_empty());
    release.notify_one();
    assert_eq!(fake.result("inflight").await, Sent::Success("\"x\"".into()));
    server.join().await.unwrap();
}

#[tokio::test]
async fn shutdown_grace_fails_leftovers_with_worker_shutdown() {
    let fake = FakeSfn::start().await;
    let (tx, mut rx) = mpsc::unbounded_channel::<&'static str>();
    let (unblock_tx, unblock_rx) = std::sync::mpsc::channel::<()>();
    let unblock_rx = Arc::new(std::sync::Mutex::new(unblock_rx));
    let tx2 = tx.clone();
    let activity = FnActivity::new("Stuck", move |input, ctx: Context| {
        let tx = tx2.clone();
        async move {
            let _ = tx.send("started");
            ctx.cancelled().await;
            let _ = tx.send("cancelled");
            std::future::pending::<()>().await;
            Ok(input)
        }
    });
    let mut cfg = config(ARN, 1);
    cfg.shutdown_grace = Some(1);
    let server = serve(&fake, activity, cfg).await;
    fake.push("stuck", "{}");
    assert_eq!(
        within(Duration::from_secs(10), "start", rx.recv()).await,
        Some("started")
    );
    server.stop().await.unwrap();
    match fake.result("stuck").await {
        Sent::Failure(e, c) => {
            assert_eq!(e, "Stefuna.WorkerShutdown");
            assert!(c.contains("shut down before the task finished"), "{c}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rx.recv().await, Some("cancelled"));

    // A blocking task that never looks at its context does not hold the server either.
    let fake = FakeSfn::start().await;
    let activity = FnActivity::blocking("StuckBlocking", move |_input, _ctx| {
        let _ = unblock_rx.lock().unwrap().recv();
        Ok("{}".to_owned())
    });
    let mut cfg = config(ARN, 1);
    cfg.shutdown_grace = Some(0);
    let server = serve(&fake, activity, cfg).await;
    fake.push("stuck-blocking", "{}");
    fake.until("the task to be claimed", |f| {
        f.assigned("stuck-blocking").is_some()
    })
    .await;
    server.stop().await.unwrap();
    assert_eq!(
        fake.result("stuck-blocking").await,
        Sent::Failure(
            "Stefuna.WorkerShutdown".into(),
            "the worker shut down before the task finished; retry it on another worker".into()
        )
    );
    // Let the blocking thread end so the test runtime can shut down.
    unblock_tx.send(()).unwrap();
}

#[tokio::test]
async fn a_failed_heartbeat_does_not_stop_the_task() {
    let fake = FakeSfn::start().await;
    fake.throttle("SendTaskHeartbeat", 1);
    let f = fake.clone();
    let activity = FnActivity::new("Flaky", move |_input, ctx: Context| {
        let f = f.clone();
        async move {
            let token = ctx.token().as_str().to_owned();
            f.until("a heartbeat after the throttled one", |f| {
                f.beats(&token) >= 1
            })
            .await;
            Ok(format!("{}", ctx.is_cancelled()))
        }
    });
    let mut cfg = config(ARN, 1);
    cfg.heartbeat = 1;
    let server = serve(&fake, activity, cfg).await;
    fake.push("flaky", "{}");
    assert_eq!(fake.result("flaky").await, Sent::Success("false".into()));
    assert_eq!(fake.calls("SendTaskHeartbeat"), 2);
    assert_eq!(
        server
            .metric("stefuna_heartbeat_errors_total{activity=\"Flaky\"}")
            .await,
        1.0
    );
    server.stop().await.unwrap();
}

#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_show_token_hashes_never_tokens_or_data() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = FakeSfn::start().await;
    let server = serve(
        &fake,
        FnActivity::new("Quiet", |input, _ctx| async move {
            if input.contains("fail") {
                Err(TaskError::msg("failed on SECRET-CAUSE"))
            } else {
                Ok(input)
            }
        }),
        config(ARN, 1),
    )
    .await;
    let token = "SECRET-TOKEN-0001";
    fake.push(token, r#""SECRET-INPUT""#);
    fake.push("SECRET-TOKEN-0002", r#""fail""#);
    fake.result(token).await;
    fake.result("SECRET-TOKEN-0002").await;
    server.stop().await.unwrap();

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let hash = stefuna_core::TaskToken::new(token).short_hash();
    assert!(
        text.contains(&hash),
        "the task's span names its token hash:\n{text}"
    );
    assert!(text.contains("task succeeded"), "{text}");
    assert!(
        !text.contains("SECRET"),
        "no token, input or cause in info logs:\n{text}"
    );
}

#[tokio::test]
async fn a_poll_open_at_shutdown_finishes_and_its_task_runs() {
    let fake = FakeSfn::start_with_long_poll(Duration::from_secs(60)).await;
    let mut server = serve(&fake, echo(), config(ARN, 1)).await;
    fake.until("a poll to be open", |f| f.open_polls() == 1)
        .await;
    server.request_shutdown();
    within(Duration::from_secs(10), "draining", async {
        while get(&format!("{}/readyz", server.health)).await.unwrap().0 != 503 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // Step Functions hands the open poll a task after the drain began: it still runs.
    fake.push("late", "\"late\"");
    assert_eq!(fake.result("late").await, Sent::Success("\"late\"".into()));
    server.join().await.unwrap();
    assert_eq!(
        fake.calls("GetActivityTask"),
        1,
        "no poll after the drain began"
    );
}

#[tokio::test]
async fn a_lost_task_ignoring_cancellation_is_dropped_after_its_grace() {
    struct DropSignal(mpsc::UnboundedSender<&'static str>);
    impl Drop for DropSignal {
        fn drop(&mut self) {
            let _ = self.0.send("dropped");
        }
    }
    let fake = FakeSfn::start().await;
    let (tx, mut rx) = mpsc::unbounded_channel::<&'static str>();
    let activity = FnActivity::new("Stubborn", move |input, _ctx| {
        let tx = tx.clone();
        async move {
            if input == "\"stubborn\"" {
                let _guard = DropSignal(tx.clone());
                let _ = tx.send("started");
                std::future::pending::<()>().await;
            }
            Ok(input)
        }
    });
    let mut cfg = config(ARN, 1);
    cfg.heartbeat = 1;
    cfg.server_config.set("lost_task_grace", 0.2);
    let server = serve(&fake, activity, cfg).await;
    fake.push("stubborn", "\"stubborn\"");
    assert_eq!(
        within(Duration::from_secs(10), "start", rx.recv()).await,
        Some("started")
    );
    fake.kill("stubborn");
    assert_eq!(
        within(Duration::from_secs(10), "the task to be dropped", rx.recv()).await,
        Some("dropped")
    );
    // The only slot is free again.
    fake.push("next", "\"next\"");
    assert_eq!(fake.result("next").await, Sent::Success("\"next\"".into()));
    assert!(fake.results("stubborn").is_empty());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn open_polls_never_exceed_pollers_or_free_slots() {
    let fake = FakeSfn::start_with_long_poll(Duration::from_millis(200)).await;
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let r = release.clone();
    let activity = FnActivity::new("Held", move |input, _ctx| {
        let r = r.clone();
        async move {
            r.acquire().await.unwrap().forget();
            Ok(input)
        }
    });
    let mut cfg = config(ARN, 4);
    cfg.pollers = Some(2);
    let server = serve(&fake, activity, cfg).await;
    // Several rounds of empty polls, then three tasks take three of the four slots.
    fake.until("a few poll rounds", |f| f.calls("GetActivityTask") >= 6)
        .await;
    for t in ["h1", "h2", "h3"] {
        fake.push(t, "1");
    }
    fake.until("the tasks to be claimed", |f| {
        ["h1", "h2", "h3"].iter().all(|t| f.assigned(t).is_some())
    })
    .await;
    let before = fake.calls("GetActivityTask");
    fake.until("more polls with one free slot", |f| {
        f.calls("GetActivityTask") >= before + 3
    })
    .await;
    assert_eq!(fake.max_open_polls(), 2, "at most `pollers` polls open");
    assert!(fake.open_polls() <= 1, "one free slot, at most one poll");
    release.add_permits(3);
    for t in ["h1", "h2", "h3"] {
        assert_eq!(fake.result(t).await, Sent::Success("1".into()));
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn liveness_fails_and_health_shows_the_error_while_polls_fail() {
    // Nothing listens on this port: every poll fails.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = config(ARN, 1);
    cfg.liveness_timeout = 0;
    let server = Running::start(
        Server::builder().activity(echo()).config(cfg),
        &format!("http://127.0.0.1:{port}"),
    )
    .await;
    within(Duration::from_secs(10), "a poll error", async {
        while server
            .metric("stefuna_poll_errors_total{activity=\"Echo\"}")
            .await
            < 1.0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(
        get(&format!("{}/healthz", server.health)).await.unwrap().0,
        503
    );
    let (code, body) = get(&format!("{}/", server.health)).await.unwrap();
    assert_eq!(code, 200);
    let facts: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(facts["state"], "polling");
    assert!(
        facts["last_error"]
            .as_str()
            .unwrap()
            .starts_with("GetActivityTask failed"),
        "{facts}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn heartbeats_go_on_while_a_throttled_result_retries() {
    let fake = FakeSfn::start().await;
    fake.throttle("SendTaskSuccess", 1_000);
    let mut cfg = config(ARN, 1);
    cfg.heartbeat = 1;
    let server = serve(&fake, echo(), cfg).await;
    fake.push("slow-delivery", "{}");
    // The task returned at once: every beat the fake sees is sent during the delivery.
    fake.until("two beats during delivery", |f| {
        f.beats("slow-delivery") >= 2
    })
    .await;
    assert!(fake.results("slow-delivery").is_empty());
    fake.throttle("SendTaskSuccess", 0);
    assert_eq!(
        fake.result("slow-delivery").await,
        Sent::Success("{}".into())
    );
    assert_eq!(
        server
            .metric("stefuna_tasks_lost_total{activity=\"Echo\"}")
            .await,
        0.0
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn undeliverable_results_do_not_hold_the_exit_forever() {
    let fake = FakeSfn::start().await;
    fake.throttle("SendTaskFailure", 1_000_000);
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let activity = FnActivity::new("Unsendable", move |_input, _ctx| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(());
            std::future::pending::<()>().await;
            Ok(String::new())
        }
    });
    let mut cfg = config(ARN, 1);
    cfg.shutdown_grace = Some(0);
    cfg.server_config.set("delivery_budget", 0.5);
    let server = serve(&fake, activity, cfg).await;
    fake.push("unsendable", "{}");
    within(Duration::from_secs(10), "the task", rx.recv()).await;
    // Well under the default 15 s budget: only the configured half second lets `run` return.
    let mut server = server;
    server.request_shutdown();
    within(Duration::from_secs(8), "run to return", server.join())
        .await
        .unwrap();
    assert!(fake.calls("SendTaskFailure") >= 1);
    assert!(fake.results("unsendable").is_empty());
}
