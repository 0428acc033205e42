//! The signals to autoscale on, end to end against stefuna-local with a sped-up clock:
//! `stefuna_schedule_to_start_seconds` from the `_stefuna.entered_time` a state machine passes,
//! checked against the service's own history, and `stefuna_slot_utilization`.

use stefuna_runtime_testkit as support;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sfn::primitives::{DateTime, DateTimeFormat};
use aws_sdk_sfn::types::ExecutionStatus;
use stefuna_local::Emulator;
use stefuna_runtime::Server;
use support::{FnActivity, Running, client, config, finished, get, machine, start, within};

/// stefuna-local's clock runs this many times faster than the system clock.
const TIME_SCALE: f64 = 20.0;
/// Executions queued for a worker with one slot.
const TASKS: usize = 4;
/// Most a worker's reading may trail the service's `ActivityStarted` stamp, in virtual seconds
/// (50 ms of real time on a loaded machine: the answer's trip back and its parsing).
const SLACK: f64 = 1.0;

/// Prometheus text → `name{labels}` → value.
async fn scrape(server: &Running) -> HashMap<String, f64> {
    let (code, body) = get(&format!("{}/metrics", server.health)).await.unwrap();
    assert_eq!(code, 200, "{body}");
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn seconds(timestamp: &str) -> f64 {
    let t = DateTime::from_str(timestamp, DateTimeFormat::DateTime)
        .unwrap_or_else(|e| panic!("bad timestamp {timestamp:?}: {e}"));
    t.as_secs_f64()
}

/// How long `exec`'s task waited by the service's clock: its `ActivityStarted` stamp minus the
/// `$$.State.EnteredTime` the worker was given (echoed back in the output).
async fn waited(sfn: &aws_sdk_sfn::Client, exec: &str, output: &str) -> f64 {
    let out: serde_json::Value = serde_json::from_str(output).unwrap();
    let entered = out["_stefuna"]["entered_time"]
        .as_str()
        .unwrap_or_else(|| panic!("no entered_time in {output}"));
    let history = sfn
        .get_execution_history()
        .execution_arn(exec)
        .send()
        .await
        .unwrap();
    let started = history
        .events()
        .iter()
        .find(|e| e.activity_started_event_details().is_some())
        .expect("an ActivityStarted event")
        .timestamp()
        .as_secs_f64();
    started - seconds(entered)
}

#[tokio::test]
async fn schedule_to_start_follows_the_service_clock_and_slots_show_use() {
    let emu = Emulator::builder()
        .long_poll(Duration::from_millis(500))
        .time_scale(TIME_SCALE)
        .start()
        .await
        .unwrap();
    let sfn = client(emu.endpoint());
    let (arn, sm) = machine(
        &sfn,
        "queued",
        serde_json::json!({"Parameters": {
            "n.$": "$.n",
            "_stefuna": {"entered_time.$": "$$.State.EnteredTime"},
        }}),
    )
    .await;
    // Queued before the worker starts: with one slot, each task waits for the ones before it
    // (250 ms of real work each, 5 s on the service's clock).
    let mut execs = Vec::new();
    for n in 0..TASKS {
        execs.push(start(&sfn, &sm, &format!(r#"{{"n": {n}}}"#)).await);
    }
    let activity = FnActivity::new("Queued", |input, _| async move {
        tokio::time::sleep(Duration::from_millis(250)).await;
        Ok(input)
    });
    let server = Running::start(
        Server::builder()
            .activity(activity)
            .config(config(&arn, 1))
            .service_clock(emu.clock()),
        emu.endpoint(),
    )
    .await;

    let util = "stefuna_slot_utilization{activity=\"Queued\"}";
    within(Duration::from_secs(30), "a busy slot", async {
        while scrape(&server).await.get(util) != Some(&1.0) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    let mut expected = Vec::new();
    for exec in &execs {
        let ended = finished(&sfn, exec).await;
        assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
        expected.push(waited(&sfn, exec, ended.output.as_deref().unwrap()).await);
    }
    expected.sort_by(f64::total_cmp);
    // The queue is real: the last task waited for the three before it.
    assert!(expected[TASKS - 1] >= 3.0 * 5.0, "{expected:?}");

    let m = scrape(&server).await;
    let series = |s: &str| {
        m.get(&format!("stefuna_schedule_to_start_seconds_{s}"))
            .copied()
    };
    assert_eq!(
        series("count{activity=\"Queued\"}"),
        Some(TASKS as f64),
        "{m:?}"
    );
    let sum = series("sum{activity=\"Queued\"}").unwrap();
    let want: f64 = expected.iter().sum();
    assert!(
        sum >= want - 0.01 && sum <= want + SLACK * TASKS as f64,
        "histogram sum {sum} s, service history says {want} s ({expected:?})"
    );
    // Each bucket holds the waits the history puts there (edges within the slack skipped).
    for le in ["0.5", "1", "2.5", "5", "10", "30", "60"] {
        let edge: f64 = le.parse().unwrap();
        if expected.iter().any(|w| (w - edge).abs() <= SLACK) {
            continue;
        }
        let want = expected.iter().filter(|w| **w <= edge).count() as f64;
        let got = series(&format!("bucket{{activity=\"Queued\",le=\"{le}\"}}"));
        assert_eq!(got, Some(want), "le={le}: history {expected:?}");
    }
    assert_eq!(m.get(util), Some(&0.0), "no task runs now: {m:?}");
    server.stop().await.unwrap();
}
