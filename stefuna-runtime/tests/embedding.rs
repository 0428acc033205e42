//! A worker inside a service: the init hook (state, readiness while it runs, failure), `run()`
//! dropped with tasks in flight, and health and metrics mounted on a host's own warp server and
//! registry. Real SDK over HTTP against stefuna-local.

use stefuna_runtime_testkit as support;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use stefuna_local::Emulator;
use stefuna_runtime::{InitContext, Monitor, Server, ServerError};
use support::{
    FnActivity, claimed, client, config, finished, get, machine, start, until_status, within,
};
use tokio::sync::{Notify, mpsc, oneshot};
use warp::Filter;

async fn emulator() -> Emulator {
    Emulator::builder()
        .long_poll(Duration::from_secs(1))
        .start()
        .await
        .unwrap()
}

/// A loopback listener for the health server, and its URL.
fn health_listener() -> (std::net::TcpListener, String) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    (l, url)
}

/// Waits until nothing listens at `url` any more: the server behind it has returned.
async fn until_gone(url: &str) {
    within(Duration::from_secs(30), "the server to stop", async {
        while get(url).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

#[derive(serde::Deserialize)]
struct Db {
    url: String,
}

struct Pool(String);

#[tokio::test]
async fn init_hook_state_reaches_tasks_and_readiness_waits_for_it() {
    let emu = emulator().await;
    let sfn = client(emu.endpoint());
    let (arn, sm) = machine(&sfn, "init-ok", serde_json::json!({})).await;
    let mut cfg = config(&arn, 2);
    cfg.worker_config = serde_json::json!({"url": "postgres://orders"});
    cfg.server_config.set("pool_label", "blue");

    let (gate_tx, gate_rx) = oneshot::channel::<()>();
    let (ran_tx, mut ran_rx) = mpsc::unbounded_channel::<String>();
    let hook = move |ctx: InitContext| async move {
        let db: Db = ctx.worker_config()?;
        #[derive(serde::Deserialize)]
        struct Mine {
            pool_label: String,
        }
        let mine: Mine = ctx.server_config()?;
        ran_tx.send(ctx.worker_name().to_owned()).unwrap();
        let _ = gate_rx.await;
        Ok::<_, stefuna_runtime::ConfigError>(Pool(format!("{} ({})", db.url, mine.pool_label)))
    };
    let activity = FnActivity::new("Lookup", |input, ctx| async move {
        let pool = ctx.state::<Pool>().map(|p| p.0.clone()).unwrap_or_default();
        Ok(serde_json::json!({"input": input, "pool": pool}).to_string())
    });
    let (listener, health) = health_listener();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::builder()
            .activity(activity)
            .init(hook)
            .config(cfg)
            .client(client(emu.endpoint()))
            .health_listener(listener)
            .shutdown(async move {
                let _ = stop_rx.await;
            })
            .run(),
    );

    let worker = within(Duration::from_secs(20), "the hook to run", ran_rx.recv())
        .await
        .unwrap();
    assert!(worker.starts_with("StefunaWorker-"), "{worker}");
    // The hook is still running: not ready, and nothing polls, so an execution waits.
    let (code, body) = get(&format!("{health}/readyz")).await.unwrap();
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("starting"), "{body}");
    let exec = start(&sfn, &sm, "\"order-7\"").await;
    tokio::time::sleep(Duration::from_millis(300)).await; // not a sync point: nothing may happen
    assert!(
        !claimed(&sfn, &exec).await,
        "a task was claimed before the init hook finished"
    );

    gate_tx.send(()).unwrap();
    until_status(&format!("{health}/readyz"), 200, Duration::from_secs(20)).await;
    let ended = finished(&sfn, &exec).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
    let out: serde_json::Value = serde_json::from_str(ended.output.as_deref().unwrap()).unwrap();
    assert_eq!(out["pool"], "postgres://orders (blue)");
    assert_eq!(out["input"], "\"order-7\"");

    stop_tx.send(()).unwrap();
    within(Duration::from_secs(30), "the server to stop", server)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn init_error_stops_the_server_before_it_polls() {
    let emu = emulator().await;
    let sfn = client(emu.endpoint());
    let (arn, sm) = machine(&sfn, "init-fails", serde_json::json!({})).await;
    let exec = start(&sfn, &sm, "{}").await;
    let hook = |_ctx: InitContext| async {
        Err::<Pool, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "cannot reach postgres://orders:5432\nafter 3 tries",
        ))
    };
    let res = within(
        Duration::from_secs(20),
        "run to return",
        Server::builder()
            .activity(FnActivity::new("Never", |_, _| async { Ok("{}".into()) }))
            .init(hook)
            .config(config(&arn, 1))
            .client(client(emu.endpoint()))
            .run(),
    )
    .await;
    let Err(e) = res else { panic!("run succeeded") };
    assert!(matches!(e, ServerError::Init(_)), "{e:?}");
    assert_eq!(e.exit_code(), 1);
    let line = e.to_string();
    assert_eq!(
        line,
        "init failed: cannot reach postgres://orders:5432 after 3 tries"
    );
    assert!(
        !claimed(&sfn, &exec).await,
        "a task was claimed although init failed"
    );
}

/// `run()` dropped inside `select!` with two tasks in flight: no new poll opens, and both
/// tasks are still finished and answered in the background.
#[tokio::test]
async fn dropping_run_drains_in_flight_tasks() {
    let emu = emulator().await;
    let sfn = client(emu.endpoint());
    let (arn, sm) = machine(&sfn, "dropped", serde_json::json!({})).await;
    let release = Arc::new(Notify::new());
    let (started_tx, mut started_rx) = mpsc::unbounded_channel::<()>();
    let gate = release.clone();
    let activity = FnActivity::new("Gated", move |input, _ctx| {
        let gate = gate.clone();
        let started = started_tx.clone();
        async move {
            started.send(()).unwrap();
            gate.notified().await;
            Ok(input)
        }
    });
    let (listener, health) = health_listener();
    let first = start(&sfn, &sm, "{\"n\": 1}").await;
    let second = start(&sfn, &sm, "{\"n\": 2}").await;
    let run = Server::builder()
        .activity(activity)
        .config(config(&arn, 2))
        .client(client(emu.endpoint()))
        .health_listener(listener)
        .run();
    tokio::select! {
        res = run => panic!("run returned before it was dropped: {res:?}"),
        () = async {
            started_rx.recv().await;
            started_rx.recv().await;
        } => {}
    }
    // The run() future is gone. Both slots are busy, so no poll was open when it was dropped,
    // and none may open from now on.
    let third = start(&sfn, &sm, "{\"n\": 3}").await;
    until_status(&format!("{health}/readyz"), 503, Duration::from_secs(20)).await;
    release.notify_waiters();
    for exec in [&first, &second] {
        let ended = finished(&sfn, exec).await;
        assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
    }
    until_gone(&format!("{health}/")).await;
    assert!(
        !claimed(&sfn, &third).await,
        "a poll opened after run() was dropped"
    );
    assert!(started_rx.try_recv().is_err());
}

/// Past `shutdown_grace`, a dropped `run()` fails what still runs with `Stefuna.WorkerShutdown`.
#[tokio::test]
async fn dropping_run_fails_tasks_still_running_after_the_grace() {
    let emu = emulator().await;
    let sfn = client(emu.endpoint());
    let (arn, sm) = machine(&sfn, "dropped-grace", serde_json::json!({})).await;
    let (started_tx, mut started_rx) = mpsc::unbounded_channel::<()>();
    let activity = FnActivity::new("Stuck", move |_input, ctx| {
        let started = started_tx.clone();
        async move {
            started.send(()).unwrap();
            ctx.cancelled().await;
            Ok("{}".into())
        }
    });
    let mut cfg = config(&arn, 1);
    cfg.shutdown_grace = Some(1);
    let exec = start(&sfn, &sm, "{}").await;
    let run = Server::builder()
        .activity(activity)
        .config(cfg)
        .client(client(emu.endpoint()))
        .run();
    tokio::select! {
        res = run => panic!("run returned before it was dropped: {res:?}"),
        _ = started_rx.recv() => {}
    }
    let ended = finished(&sfn, &exec).await;
    assert_eq!(ended.status, ExecutionStatus::Failed, "{ended:?}");
    assert_eq!(ended.error.as_deref(), Some("Stefuna.WorkerShutdown"));
}

/// `/healthz`, `/readyz` and `/` on the host's own warp server beside its routes, and the
/// `stefuna_*` series in the host's own prometheus-client registry.
#[tokio::test]
async fn health_and_metrics_mount_on_the_host_service() {
    let emu = emulator().await;
    let sfn = client(emu.endpoint());
    let (arn, sm) = machine(&sfn, "mounted", serde_json::json!({})).await;

    let monitor = Monitor::new();
    let mut registry = prometheus_client::registry::Registry::default();
    let hits = prometheus_client::metrics::counter::Counter::<u64>::default();
    registry.register("host_hits", "Host requests", hits.clone());
    monitor.register_metrics(&mut registry);
    let registry = Arc::new(registry);
    let api = warp::path!("hello").map(move || {
        hits.inc();
        "hi"
    });
    let metrics = warp::path!("metrics").map(move || {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        text
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        warp::serve(api.or(metrics).or(monitor.routes()))
            .incoming(listener)
            .run(),
    );
    assert!(!monitor.is_ready());
    assert_eq!(get(&format!("{host}/readyz")).await.unwrap().0, 503);

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::builder()
            .activity(FnActivity::new(
                "Mounted",
                |input, _| async move { Ok(input) },
            ))
            .config(config(&arn, 1))
            .client(client(emu.endpoint()))
            .monitor(monitor.clone())
            .shutdown(async move {
                let _ = stop_rx.await;
            })
            .run(),
    );
    until_status(&format!("{host}/readyz"), 200, Duration::from_secs(20)).await;
    assert!(monitor.is_ready() && monitor.is_live());
    assert_eq!(get(&format!("{host}/healthz")).await.unwrap().0, 200);
    let (code, body) = get(&format!("{host}/hello")).await.unwrap();
    assert_eq!((code, body.as_str()), (200, "hi"));
    let (code, _) = get(&format!("{host}/not-a-route")).await.unwrap();
    assert_eq!(
        code, 404,
        "stefuna's routes must not answer the host's other paths"
    );

    let exec = start(&sfn, &sm, "{\"x\": 1}").await;
    assert_eq!(
        finished(&sfn, &exec).await.status,
        ExecutionStatus::Succeeded
    );
    let (_, text) = get(&format!("{host}/metrics")).await.unwrap();
    assert!(text.contains("host_hits_total 1"), "{text}");
    let line = "stefuna_tasks_succeeded_total{activity=\"Mounted\"} 1";
    let text = within(Duration::from_secs(10), line, async {
        loop {
            let (_, text) = get(&format!("{host}/metrics")).await.unwrap();
            if text.contains(line) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        text.contains("stefuna_slots{activity=\"Mounted\"} 1"),
        "{text}"
    );
    assert!(text.contains("# HELP stefuna_polls Get"), "{text}");

    stop_tx.send(()).unwrap();
    within(Duration::from_secs(30), "the server to stop", server)
        .await
        .unwrap()
        .unwrap();
    assert!(!monitor.is_ready());
}
