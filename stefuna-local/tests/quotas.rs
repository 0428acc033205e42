//! AWS's API quotas (`aws_quotas`), seen through the real SDK: the bucket sizes of AWS's
//! service-quotas page per Region, `ThrottlingException` answered as AWS answers it, the
//! 1,000 open pollers per activity ARN, and the counts the bench reads.

use std::time::Duration;

use aws_sdk_sfn::config::retry::RetryConfig;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use futures::StreamExt;
use stefuna_local::{ApiCounts, Emulator, MAX_POLLERS_PER_ARN, TimeoutCause};
use stefuna_local_testkit::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A clock so slow that no bucket refills during a test: what is let through is the burst.
const FROZEN: f64 = 1e-9;

async fn quota_emulator(time_scale: f64) -> Emulator {
    builder()
        .aws_quotas(true)
        .time_scale(time_scale)
        .start()
        .await
        .expect("emulator starts")
}

fn no_retries(emu: &Emulator, region: &'static str) -> aws_sdk_sfn::Client {
    client_with(emu, region, RetryConfig::disabled())
}

/// Sends `n` `SendTaskHeartbeat` calls (64 at a time); gives how many were throttled.
async fn heartbeats(client: &aws_sdk_sfn::Client, n: usize) -> usize {
    futures::stream::iter(0..n)
        .map(|_| async {
            let err = client
                .send_task_heartbeat()
                .task_token("not-a-token")
                .send()
                .await
                .expect_err("no such token");
            err.code() == Some("ThrottlingException")
        })
        .buffer_unordered(64)
        .filter(|throttled| std::future::ready(*throttled))
        .count()
        .await
}

#[tokio::test]
async fn a_spent_bucket_answers_throttling_exception_as_aws_does() {
    let emu = quota_emulator(FROZEN).await;
    let c = no_retries(&emu, "us-east-1");
    // CreateActivity: a bucket of 100 in every Region.
    for i in 0..100 {
        c.create_activity()
            .name(format!("a{i}"))
            .send()
            .await
            .unwrap();
    }
    let err = c
        .create_activity()
        .name("one-more")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"));
    assert_eq!(err.message(), Some("Rate exceeded"));
    let SdkError::ServiceError(se) = &err else {
        panic!("expected a service error, got {err:?}");
    };
    assert_eq!(se.raw().status().as_u16(), 400);
    let body: serde_json::Value =
        serde_json::from_slice(se.raw().body().bytes().expect("a body in memory")).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "__type": "com.amazon.coral.availability#ThrottlingException",
            "message": "Rate exceeded",
        })
    );
    // Other APIs have their own buckets.
    c.list_activities().send().await.unwrap();
    assert_eq!(
        emu.quota_counts()["CreateActivity"],
        counts(100, 1, 0),
        "{:?}",
        emu.quota_counts()
    );

    // The SDK classifies it as a throttling error and retries it.
    let retrying = client_with(
        &emu,
        "us-east-1",
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1)),
    );
    let err = retrying
        .create_activity()
        .name("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"));
    assert_eq!(emu.quota_counts()["CreateActivity"].throttled, 1 + 3);
}

#[tokio::test]
async fn buckets_have_aws_sizes_per_region() {
    let emu = quota_emulator(FROZEN).await;
    // eu-central-1 is not one of the three large Regions: 1,500 there, 3,000 in us-west-2.
    let small = no_retries(&emu, "eu-central-1");
    assert_eq!(heartbeats(&small, 1_500).await, 0);
    assert_eq!(heartbeats(&small, 10).await, 10);
    let large = no_retries(&emu, "us-west-2");
    assert_eq!(heartbeats(&large, 3_000).await, 0);
    assert_eq!(heartbeats(&large, 10).await, 10);
    assert_eq!(
        emu.quota_counts()["SendTaskHeartbeat"],
        counts(4_500, 20, 0)
    );
    assert_eq!(
        stefuna_local::aws_bucket("SendTaskHeartbeat", "eu-central-1"),
        Some((1_500.0, 300.0))
    );
}

#[tokio::test]
async fn refills_run_at_aws_rate_times_time_scale() {
    // CreateActivity refills 1 token/s; at time_scale 1000 that is one per real millisecond.
    let emu = quota_emulator(1_000.0).await;
    let c = no_retries(&emu, "us-east-1");
    let mut made = 0;
    // Far more than the burst of 100 goes through: the bucket refills while we call.
    while made < 300 {
        match c.create_activity().name(format!("a{made}")).send().await {
            Ok(_) => made += 1,
            Err(e) => assert_eq!(e.code(), Some("ThrottlingException")),
        }
    }
    assert!(emu.quota_counts()["CreateActivity"].accepted >= 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_1001st_open_poll_on_an_activity_is_refused() {
    let emu = builder()
        .aws_quotas(true)
        .long_poll(Duration::from_secs(600))
        .start()
        .await
        .unwrap();
    // A thousand connections opening at once on a loaded machine: no connect timeout.
    let c = aws_sdk_sfn::Client::from_conf(
        client(&emu)
            .config()
            .to_builder()
            .timeout_config(
                aws_smithy_types::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(120))
                    .build(),
            )
            .build(),
    );
    let (arn, machine) = activity_machine(&c, "busy", None, None).await;
    let (other, _) = activity_machine(&c, "other", None, None).await;
    let mut polls = tokio::task::JoinSet::new();
    for _ in 0..MAX_POLLERS_PER_ARN {
        let (c, arn) = (c.clone(), arn.clone());
        polls.spawn(async move { c.get_activity_task().activity_arn(arn).send().await });
    }
    while (emu
        .quota_counts()
        .get("GetActivityTask")
        .map_or(0, |c| c.accepted) as usize)
        < MAX_POLLERS_PER_ARN
    {
        // Every poll must still be open: none may have failed on the way.
        if let Some(done) = polls.try_join_next() {
            panic!("a poll ended early: {done:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let err = no_retries(&emu, "us-east-1")
        .get_activity_task()
        .activity_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ActivityWorkerLimitExceeded"));
    assert_eq!(
        err.message(),
        Some(
            "The maximum number of workers concurrently polling for activity tasks has been reached."
        )
    );
    assert_eq!(
        emu.quota_counts()["GetActivityTask"].worker_limit_exceeded,
        1
    );

    // The limit is per ARN: another activity's poll is taken.
    let (c2, other2) = (c.clone(), other.clone());
    polls.spawn(async move { c2.get_activity_task().activity_arn(other2).send().await });
    wait_for(&emu, |n| n.accepted as usize > MAX_POLLERS_PER_ARN).await;

    // A poll that is answered frees its place.
    c.start_execution()
        .state_machine_arn(&machine)
        .input("{}")
        .send()
        .await
        .unwrap();
    let got = polls.join_next().await.unwrap().unwrap().unwrap();
    assert!(got.task_token().is_some());
    let c3 = c.clone();
    let arn3 = arn.clone();
    polls.spawn(async move { c3.get_activity_task().activity_arn(arn3).send().await });
    wait_for(&emu, |n| n.accepted as usize > MAX_POLLERS_PER_ARN + 1).await;
    assert_eq!(
        emu.quota_counts()["GetActivityTask"].worker_limit_exceeded,
        1
    );

    emu.shutdown().await;
    while let Some(p) = polls.join_next().await {
        p.unwrap().unwrap();
    }
}

#[tokio::test]
async fn counts_are_served_as_json_for_the_bench() {
    let emu = quota_emulator(FROZEN).await;
    let c = no_retries(&emu, "us-east-1");
    c.list_activities().send().await.unwrap();
    let body = get(&emu, "/_stefuna/quotas").await;
    assert_eq!(
        body,
        serde_json::json!({
            "enabled": true,
            "apis": { "ListActivities": {"accepted": 1, "throttled": 0, "workerLimitExceeded": 0} },
            "heartbeatTimeouts": [],
        })
    );
    let off = emulator().await;
    assert_eq!(
        get(&off, "/_stefuna/quotas").await,
        serde_json::json!({ "enabled": false, "apis": {}, "heartbeatTimeouts": [] })
    );
    // Without quotas nothing is ever throttled.
    let c = no_retries(&off, "us-east-1");
    for i in 0..150 {
        c.create_activity()
            .name(format!("a{i}"))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_heartbeat_timeout_is_attributed_to_throttling_or_to_a_silent_worker() {
    // Buckets of one token that never refill in the test's time; HeartbeatSeconds 8 on a
    // clock x4: two real seconds.
    let emu = builder()
        .quota_scale(1e-6)
        .time_scale(4.0)
        .start()
        .await
        .unwrap();
    let c = no_retries(&emu, "us-east-1");
    let (arn, machine) = activity_machine(&c, "beats", Some(8), None).await;
    let mut executions = Vec::new();
    for _ in 0..2 {
        let e = c.start_execution().state_machine_arn(&machine).send().await;
        executions.push(e.unwrap().execution_arn);
    }
    let (throttled, _) = poll_task(&c, &arn).await;
    let (silent, _) = poll_task(&c, &arn).await;
    emu.set_aws_quotas(true);

    // The one token of the heartbeat bucket: accepted. Then every beat is throttled until the
    // task times out; the other task never beats.
    let beat = || c.send_task_heartbeat().task_token(&throttled).send();
    beat().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while emu.heartbeat_timeouts().len() < 2 {
        assert_eq!(
            beat().await.unwrap_err().code(),
            Some("ThrottlingException")
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "no heartbeat timeout"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let json = get(&emu, "/_stefuna/quotas").await;
    emu.set_aws_quotas(false);
    for e in &executions {
        let d = wait_done(&c, e).await;
        assert_eq!(d.error(), Some("States.Timeout"));
    }

    let timeouts = emu.heartbeat_timeouts();
    let of = |token: &str| timeouts.iter().find(|t| t.task_token == token).unwrap();
    let t = of(&throttled);
    assert_eq!(t.cause(), TimeoutCause::Throttled);
    assert!(t.heartbeats_throttled >= 1, "{t:?}");
    assert_eq!((t.heartbeats_accepted, t.heartbeats_accepted_total), (0, 1));
    assert_eq!((t.heartbeat_seconds, t.window_ms), (8, 2_000));
    assert!(t.since_last_accepted_ms.unwrap() >= 2_000, "{t:?}");
    assert!(t.since_last_call_ms.unwrap() < 2_000, "{t:?}");
    let s = of(&silent);
    assert_eq!(s.cause(), TimeoutCause::NotAttempted);
    assert_eq!(
        (s.heartbeats_throttled, s.heartbeats_accepted_total),
        (0, 0)
    );
    assert_eq!(s.since_last_call_ms, None);
    assert!(s.since_last_accepted_ms.unwrap() >= 2_000, "{s:?}");
    assert!(executions.contains(&s.execution_arn));

    // The same, as JSON, for the fleet report.
    let causes: Vec<(&str, &str)> = json["heartbeatTimeouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["taskToken"].as_str().unwrap(),
                t["cause"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        causes.contains(&(throttled.as_str(), "throttled")),
        "{json}"
    );
    assert!(
        causes.contains(&(silent.as_str(), "notAttempted")),
        "{json}"
    );
}

fn counts(accepted: u64, throttled: u64, worker_limit_exceeded: u64) -> ApiCounts {
    let mut c = ApiCounts::default();
    c.accepted = accepted;
    c.throttled = throttled;
    c.worker_limit_exceeded = worker_limit_exceeded;
    c
}

/// Waits until the `GetActivityTask` counts satisfy `done` (polls reach the server
/// asynchronously; the counts are the signal).
async fn wait_for(emu: &Emulator, done: impl Fn(&ApiCounts) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let now = emu
            .quota_counts()
            .get("GetActivityTask")
            .copied()
            .unwrap_or_default();
        if done(&now) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "polls never arrived: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A plain HTTP GET on the emulator, parsed as JSON.
async fn get(emu: &Emulator, path: &str) -> serde_json::Value {
    let mut s = tokio::net::TcpStream::connect(emu.addr()).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    serde_json::from_str(body).unwrap()
}
