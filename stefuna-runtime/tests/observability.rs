//! Observability end to end: `/metrics` scraped after real runs (stefuna-local and the fake
//! service for exact fault counts), liveness flipping when Step Functions goes away and comes
//! back, and the facts of `GET /`.

use stefuna_runtime_testkit as support;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde::Deserialize;
use stefuna_core::{TaskError, decode_input};
use stefuna_local::Emulator;
use stefuna_runtime::Server;
use support::fake_sfn::{FakeSfn, Sent};
use support::{FnActivity, Running, client, config, get, machine, until_status, within};

/// The series of a Prometheus text scrape, `name{labels}` → value.
fn parse(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            let value = value
                .parse()
                .unwrap_or_else(|e| panic!("bad value in {l:?}: {e}"));
            (series.to_owned(), value)
        })
        .collect()
}

async fn scrape(server: &Running) -> HashMap<String, f64> {
    let (code, body) = get(&format!("{}/metrics", server.health)).await.unwrap();
    assert_eq!(code, 200, "{body}");
    parse(&body)
}

/// Scrapes until `done` holds (at most 30 s); returns that scrape.
async fn scrape_until(
    server: &Running,
    what: &str,
    done: impl Fn(&HashMap<String, f64>) -> bool,
) -> HashMap<String, f64> {
    within(Duration::from_secs(30), what, async {
        loop {
            let m = scrape(server).await;
            if done(&m) {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

fn value(m: &HashMap<String, f64>, series: &str) -> f64 {
    m.get(series).copied().unwrap_or(0.0)
}

async fn run_to_end(sfn: &aws_sdk_sfn::Client, sm: &str, input: &str) -> ExecutionStatus {
    let exec = sfn
        .start_execution()
        .state_machine_arn(sm)
        .input(input)
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();
    within(Duration::from_secs(30), "the execution to end", async {
        loop {
            let d = sfn
                .describe_execution()
                .execution_arn(&exec)
                .send()
                .await
                .unwrap();
            if *d.status() != ExecutionStatus::Running {
                return d.status().clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

#[derive(Deserialize)]
struct Order {
    kind: String,
}

/// Succeeds, fails with a default or a custom name, panics or beats twice, as told.
fn counted() -> FnActivity {
    FnActivity::new("Counted", |input, ctx| async move {
        let order: Order = decode_input(&input)?;
        match order.kind.as_str() {
            "fail" => Err(TaskError::msg("the bucket is gone")),
            "custom" => Err(TaskError::new("Counted.NoStock", "nothing left")),
            "panic" => panic!("counted panicked"),
            "beat" => {
                ctx.heartbeat()
                    .await
                    .map_err(|e| TaskError::msg(e.to_string()))?;
                ctx.heartbeat()
                    .await
                    .map_err(|e| TaskError::msg(e.to_string()))?;
                Ok(input)
            }
            _ => Ok(input),
        }
    })
}

#[tokio::test]
async fn metrics_count_an_end_to_end_run_against_stefuna_local() {
    let emu = Emulator::builder()
        .long_poll(Duration::from_millis(500))
        .start()
        .await
        .unwrap();
    let sfn = client(emu.endpoint());
    let (arn, sm) = machine(&sfn, "counted", serde_json::json!({})).await;
    let server = Running::start(
        Server::builder()
            .activity(counted())
            .config(config(&arn, 2)),
        emu.endpoint(),
    )
    .await;

    let runs = [
        (r#"{"kind": "ok"}"#, ExecutionStatus::Succeeded),
        (r#"{"kind": "ok"}"#, ExecutionStatus::Succeeded),
        (r#"{"kind": "ok"}"#, ExecutionStatus::Succeeded),
        (r#"{"kind": "beat"}"#, ExecutionStatus::Succeeded),
        (r#"{"kind": "fail"}"#, ExecutionStatus::Failed),
        (r#"{"kind": "fail"}"#, ExecutionStatus::Failed),
        (r#"{"kind": "custom"}"#, ExecutionStatus::Failed),
        (r#"{"kind": "panic"}"#, ExecutionStatus::Failed),
        (r#"{"no": "kind"}"#, ExecutionStatus::Failed),
    ];
    let ends =
        futures::future::join_all(runs.iter().map(|(input, _)| run_to_end(&sfn, &sm, input))).await;
    for ((input, expected), got) in runs.iter().zip(ends) {
        assert_eq!(&got, expected, "{input}");
    }

    // Results are counted once Step Functions answered; a task leaves `in_flight` after that.
    let a = "activity=\"Counted\"";
    let m = scrape_until(&server, "every task to be counted", |m| {
        value(m, &format!("stefuna_tasks_started_total{{{a}}}")) == 9.0
            && value(m, &format!("stefuna_tasks_in_flight{{{a}}}")) == 0.0
    })
    .await;
    let expect = [
        (format!("stefuna_tasks_succeeded_total{{{a}}}"), 4.0),
        (
            format!("stefuna_tasks_failed_total{{{a},error=\"Task.Failure\"}}"),
            2.0,
        ),
        (
            format!("stefuna_tasks_failed_total{{{a},error=\"Counted.NoStock\"}}"),
            1.0,
        ),
        (
            format!("stefuna_tasks_failed_total{{{a},error=\"Stefuna.Panic\"}}"),
            1.0,
        ),
        (
            format!("stefuna_tasks_failed_total{{{a},error=\"Stefuna.InvalidInput\"}}"),
            1.0,
        ),
        (format!("stefuna_heartbeats_total{{{a}}}"), 2.0),
        (format!("stefuna_heartbeat_errors_total{{{a}}}"), 0.0),
        (format!("stefuna_poll_errors_total{{{a}}}"), 0.0),
        (format!("stefuna_delivery_retries_total{{{a}}}"), 0.0),
        (format!("stefuna_delivery_dropped_total{{{a}}}"), 0.0),
        (format!("stefuna_tasks_lost_total{{{a}}}"), 0.0),
        (format!("stefuna_slots{{{a}}}"), 2.0),
        (
            format!("stefuna_task_duration_seconds_count{{{a},outcome=\"succeeded\"}}"),
            4.0,
        ),
        (
            format!("stefuna_task_duration_seconds_count{{{a},outcome=\"failed\"}}"),
            5.0,
        ),
        (
            format!("stefuna_task_duration_seconds_bucket{{{a},outcome=\"failed\",le=\"+Inf\"}}"),
            5.0,
        ),
    ];
    for (series, want) in &expect {
        assert_eq!(value(&m, series), *want, "{series} in {m:#?}");
    }
    assert!(
        !m.keys()
            .any(|k| k.starts_with("stefuna_poll_errors_by_code_total")),
        "no poll error happened: {m:#?}"
    );

    // Polls that carried a task started one; the others were empty. Slots are either free or
    // held by an open poll now that no task runs. Both hold in one scrape between poll answers.
    let m = scrape_until(&server, "a scrape between two poll answers", |m| {
        value(m, &format!("stefuna_polls_total{{{a}}}"))
            == value(m, &format!("stefuna_polls_empty_total{{{a}}}")) + 9.0
            && value(m, &format!("stefuna_slots_free{{{a}}}"))
                + value(m, &format!("stefuna_polls_open{{{a}}}"))
                == 2.0
    })
    .await;
    assert!(
        value(&m, &format!("stefuna_polls_open{{{a}}}")) <= 2.0,
        "{m:#?}"
    );
    let age = m[&format!("stefuna_last_poll_age_seconds{{{a}}}")];
    assert!(age.is_finite() && age >= 0.0, "{age}");

    // The facts of `GET /` agree, in stefuna 1.0.1's shape.
    let (code, body) = get(&format!("{}/", server.health)).await.unwrap();
    assert_eq!(code, 200);
    let facts: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(facts["status"], "ok", "{facts}");
    assert_eq!(facts["state"], "polling", "{facts}");
    assert_eq!(facts["live"], true, "{facts}");
    assert_eq!(facts["ready"], true, "{facts}");
    assert_eq!(facts["in_flight"], 0, "{facts}");
    assert_eq!(facts["activities"]["Counted"]["slots"], 2, "{facts}");
    assert!(facts["last_poll_age_seconds"].is_f64(), "{facts}");
    // Nothing of the tasks is exposed.
    for text in [
        &body,
        &get(&format!("{}/metrics", server.health)).await.unwrap().1,
    ] {
        assert!(
            !text.contains("bucket is gone") && !text.contains("kind"),
            "{text}"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn poll_errors_by_code_and_delivery_retries_are_exact() {
    let fake = FakeSfn::start().await;
    fake.throttle("GetActivityTask", 3);
    let server = Running::start(
        Server::builder()
            .activity(FnActivity::new(
                "Echo",
                |input, _ctx| async move { Ok(input) },
            ))
            .config(config(
                "arn:aws:states:us-east-1:123456789012:activity:echo",
                1,
            )),
        &fake.endpoint,
    )
    .await;
    fake.until("three throttled polls", |f| f.calls("GetActivityTask") > 3)
        .await;
    fake.throttle("SendTaskSuccess", 2);
    fake.push("t1", "[1]");
    assert_eq!(fake.result("t1").await, Sent::Success("[1]".into()));
    let a = "activity=\"Echo\"";
    let m = scrape_until(&server, "the success to be counted", |m| {
        value(m, &format!("stefuna_tasks_succeeded_total{{{a}}}")) == 1.0
    })
    .await;
    for (series, want) in [
        (format!("stefuna_poll_errors_total{{{a}}}"), 3.0),
        (
            format!("stefuna_poll_errors_by_code_total{{{a},code=\"ThrottlingException\"}}"),
            3.0,
        ),
        (format!("stefuna_delivery_retries_total{{{a}}}"), 2.0),
        (format!("stefuna_tasks_started_total{{{a}}}"), 1.0),
    ] {
        assert_eq!(value(&m, &series), want, "{series} in {m:#?}");
    }
    // The scrape is Prometheus text, as the content type says.
    let res = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{}/metrics", server.health))
        .send()
        .await
        .unwrap();
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn openmetrics_is_served_to_scrapers_that_ask_for_it() {
    let fake = FakeSfn::start().await;
    let server = Running::start(
        Server::builder()
            .activity(FnActivity::new(
                "Echo",
                |input, _ctx| async move { Ok(input) },
            ))
            .config(config(
                "arn:aws:states:us-east-1:123456789012:activity:echo",
                1,
            )),
        &fake.endpoint,
    )
    .await;
    let res = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{}/metrics", server.health))
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap();
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    let body = res.text().await.unwrap();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(
        body.contains("stefuna_tasks_started_total{activity=\"Echo\"} 0"),
        "{body}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn liveness_flips_when_step_functions_goes_away_and_back() {
    let emu = Emulator::builder()
        .long_poll(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let port = emu.addr().port();
    let endpoint = emu.endpoint().to_owned();
    let sfn = client(&endpoint);
    let (arn, _) = machine(&sfn, "flipping", serde_json::json!({})).await;
    let mut cfg = config(&arn, 1);
    cfg.liveness_timeout = 2;
    let server = Running::start(
        Server::builder()
            .activity(FnActivity::new("Flipping", |input, _ctx| async move {
                Ok(input)
            }))
            .config(cfg),
        &endpoint,
    )
    .await;
    let healthz = format!("{}/healthz", server.health);
    until_status(&healthz, 200, Duration::from_secs(20)).await;

    // The endpoint goes away: polls fail, and after `liveness_timeout` liveness fails.
    emu.shutdown().await;
    let body = until_status(&healthz, 503, Duration::from_secs(30)).await;
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "unhealthy", "{body}");
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("no step functions call succeeded"),
        "{body}"
    );
    // Readiness is about the phase, not the endpoint; `/` says what is wrong.
    assert_eq!(
        get(&format!("{}/readyz", server.health)).await.unwrap().0,
        200
    );
    let (_, facts) = get(&format!("{}/", server.health)).await.unwrap();
    let facts: serde_json::Value = serde_json::from_str(&facts).unwrap();
    assert_eq!(facts["live"], false, "{facts}");
    assert!(
        facts["last_error"]
            .as_str()
            .unwrap()
            .contains("GetActivityTask failed"),
        "{facts}"
    );
    let m = scrape(&server).await;
    assert!(
        value(
            &m,
            "stefuna_poll_errors_by_code_total{activity=\"Flipping\",code=\"network\"}"
        ) >= 1.0,
        "{m:#?}"
    );

    // It comes back on the same port with the same activity: polls succeed, liveness holds.
    let emu = Emulator::builder()
        .port(port)
        .long_poll(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let (again, sm) = machine(&sfn, "flipping", serde_json::json!({})).await;
    assert_eq!(again, arn);
    // Poll back-off is capped at 30 s.
    until_status(&healthz, 200, Duration::from_secs(60)).await;
    assert_eq!(
        run_to_end(&sfn, &sm, r#"{"back": true}"#).await,
        ExecutionStatus::Succeeded
    );
    let (_, facts) = get(&format!("{}/", server.health)).await.unwrap();
    let facts: serde_json::Value = serde_json::from_str(&facts).unwrap();
    assert_eq!(facts["last_error"], serde_json::Value::Null, "{facts}");
    emu.shutdown().await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn liveness_fails_while_a_poll_hangs_on_a_silent_endpoint() {
    // Accepts connections and never answers: a poll stays open until its read timeout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (accepted_tx, mut accepted_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
            let _ = accepted_tx.send(());
        }
    });
    let mut cfg = config("arn:aws:states:us-east-1:123456789012:activity:silent", 1);
    cfg.liveness_timeout = 1;
    let server = Running::start(
        Server::builder()
            .activity(FnActivity::new(
                "Silent",
                |input, _ctx| async move { Ok(input) },
            ))
            .config(cfg),
        &endpoint,
    )
    .await;
    within(
        Duration::from_secs(20),
        "the poll to connect",
        accepted_rx.recv(),
    )
    .await
    .unwrap();
    // The open poll holds the only slot, yet the worker is not busy: liveness must fail.
    let body = until_status(
        &format!("{}/healthz", server.health),
        503,
        Duration::from_secs(20),
    )
    .await;
    assert!(body.contains("no step functions call succeeded"), "{body}");
    let m = scrape(&server).await;
    assert_eq!(
        value(&m, "stefuna_polls_open{activity=\"Silent\"}"),
        1.0,
        "{m:#?}"
    );
    assert_eq!(
        value(&m, "stefuna_slots_free{activity=\"Silent\"}"),
        0.0,
        "{m:#?}"
    );
    assert_eq!(
        value(&m, "stefuna_tasks_in_flight{activity=\"Silent\"}"),
        0.0,
        "{m:#?}"
    );
    // Closing the connections ends the hung poll, so the drain does not wait for its timeout.
    silent.abort();
    let _ = silent.await;
    server.stop().await.unwrap();
}
