//! Workers under AWS's API quotas: a small fleet against stefuna-local with quotas on loses
//! no execution, runs none twice and lets no heartbeat time out, while being throttled.
//! (`cargo xtask fleet` is the full-size version, with separate processes.)

use stefuna_runtime_testkit as support;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use stefuna_local::Emulator;
use stefuna_runtime::Server;
use support::*;

const EXECUTIONS: usize = 240;
const WORKERS: usize = 3;
const SLOTS: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_fleet_loses_no_task_and_runs_none_twice() {
    // A twenty-fifth of AWS's quotas: buckets of 120, refilling 20/s per API.
    let emu = Emulator::builder()
        .long_poll(Duration::from_secs(2))
        .quota_scale(0.04)
        .start()
        .await
        .unwrap();
    let sfn = client(emu.endpoint());
    let (arn, sm) = machine(&sfn, "fleet", serde_json::json!({ "HeartbeatSeconds": 4 })).await;
    let mut executions = Vec::new();
    for i in 0..EXECUTIONS {
        executions.push(start(&sfn, &sm, &format!(r#"{{"n": {i}}}"#)).await);
    }
    emu.set_aws_quotas(true);

    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let activity = FnActivity::new("Fleet", |input, _ctx| async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            Ok(input)
        });
        let mut c = config(&arn, SLOTS);
        c.heartbeat = 1;
        workers.push(
            Running::start(
                Server::builder().activity(activity).config(c),
                emu.endpoint(),
            )
            .await,
        );
    }

    let settled = |answers: &HashMap<String, stefuna_local::TokenAnswers>| {
        answers.values().filter(|a| a.accepted >= 1).count()
    };
    within(
        Duration::from_secs(180),
        "every execution to be answered",
        async {
            while settled(&emu.answers()) < EXECUTIONS {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        },
    )
    .await;
    let counts = emu.quota_counts();
    emu.set_aws_quotas(false);

    // Throttled for real: the quotas bound, and the workers counted it.
    let throttled: u64 = counts.values().map(|c| c.throttled).sum();
    assert!(throttled > 0, "no call was throttled: {counts:?}");
    let mut metric = 0.0;
    for w in &workers {
        for api in ["GetActivityTask", "SendTaskSuccess", "SendTaskHeartbeat"] {
            metric += w
                .metric(&format!("stefuna_throttled_total{{api=\"{api}\"}}"))
                .await;
        }
    }
    assert!(metric > 0.0, "no worker counted throttling: {counts:?}");

    // One task per execution, one accepted result each: none lost, none run twice, no
    // heartbeat timeout (a timed-out token would have no accepted result).
    let answers = emu.answers();
    assert_eq!(answers.len(), EXECUTIONS, "{counts:?}");
    assert!(answers.values().all(|a| a.accepted == 1), "{answers:?}");
    for exec in &executions {
        let ended = finished(&sfn, exec).await;
        assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
    }
    for w in workers {
        w.stop().await.unwrap();
    }
}
