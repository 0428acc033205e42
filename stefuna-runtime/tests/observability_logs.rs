//! JSON logs end to end: one object per line, the activity's own `tracing` events nested in the
//! task span with the execution id and attempt the state machine passed under `_stefuna`, the
//! `loglevel` directives applied, and no token or input in the output.
//!
//! The subscriber is process-global, so this file holds one test.

use stefuna_runtime_testkit as support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use stefuna_local::Emulator;
use stefuna_runtime::config::LogFormat;
use stefuna_runtime::{Config, Server};
use support::{FnActivity, Running, client, config, within};

const ROLE: &str = "arn:aws:iam::123456789012:role/test";

/// Log output collected in memory.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_nest_activity_events_in_task_spans_with_the_execution() {
    let logs = Buffer::default();
    let log_config = {
        let mut c = Config::default();
        c.loglevel = "info,stefuna=debug".into();
        c.log_format = LogFormat::Json;
        c
    };
    let writer = logs.clone();
    stefuna_runtime::logging::init_with_writer(&log_config, move || writer.clone());

    let emu = Emulator::builder()
        .long_poll(Duration::from_millis(500))
        .time_scale(100.0)
        .start()
        .await
        .unwrap();
    let sfn = client(emu.endpoint());
    let arn = sfn
        .create_activity()
        .name("logged")
        .send()
        .await
        .unwrap()
        .activity_arn()
        .to_owned();
    // The README's snippet: the execution id and retry count ride along under `_stefuna`.
    let definition = serde_json::json!({
        "StartAt": "T",
        "States": {"T": {
            "Type": "Task",
            "Resource": arn,
            "Parameters": {
                "order.$": "$.order",
                "secret.$": "$.secret",
                "_stefuna": {
                    "execution_id.$": "$$.Execution.Id",
                    "retry_count.$": "$$.State.RetryCount"
                }
            },
            "Retry": [{"ErrorEquals": ["Logged.Again"], "IntervalSeconds": 1, "MaxAttempts": 1}],
            "End": true
        }}
    });
    let sm = sfn
        .create_state_machine()
        .name("logged-machine")
        .role_arn(ROLE)
        .definition(definition.to_string())
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();

    let tokens = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = tokens.clone();
    let activity = FnActivity::new("Logged", move |input, ctx| {
        seen.lock().unwrap().push(ctx.token().as_str().to_owned());
        async move {
            let v: serde_json::Value = serde_json::from_str(&input).unwrap();
            tracing::info!(order = %v["order"].as_str().unwrap_or("?"), "user event");
            tracing::debug!("user debug, filtered out by `info`");
            if v["_stefuna"]["retry_count"] == 0 {
                return Err(stefuna_core::TaskError::new("Logged.Again", "try again"));
            }
            Ok("{}".to_owned())
        }
    });
    let server = Running::start(
        Server::builder().activity(activity).config(config(&arn, 1)),
        emu.endpoint(),
    )
    .await;
    let exec = sfn
        .start_execution()
        .state_machine_arn(&sm)
        .input(r#"{"order": "o-1", "secret": "SECRET-INPUT"}"#)
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();
    let status = within(Duration::from_secs(30), "the execution to end", async {
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
    .await;
    assert_eq!(status, ExecutionStatus::Succeeded);
    // Stopping waits for the delivery, so its log line is written.
    server.stop().await.unwrap();
    emu.shutdown().await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    // Shown with `--nocapture`: what a log pipeline receives.
    println!("{text}");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l.is_object() && l["level"].is_string() && l["timestamp"].is_string()),
        "{text}"
    );

    let find = |message: &str, attempt: u64| {
        lines
            .iter()
            .find(|l| l["message"] == message && l["span"]["attempt"] == attempt)
            .unwrap_or_else(|| panic!("no {message:?} line for attempt {attempt} in\n{text}"))
    };
    let taken = tokens.lock().unwrap().clone();
    assert_eq!(taken.len(), 2, "two attempts: {taken:?}");
    for (attempt, token) in [(1, &taken[0]), (2, &taken[1])] {
        let user = find("user event", attempt);
        assert_eq!(user["target"], "observability_logs", "{user}");
        assert_eq!(user["order"], "o-1", "{user}");
        let span = &user["span"];
        assert_eq!(span["name"], "task", "{user}");
        assert_eq!(span["activity"], "Logged", "{user}");
        assert_eq!(span["execution"], exec.as_str(), "{user}");
        let hash = stefuna_core::TaskToken::new(token.as_str()).short_hash();
        assert_eq!(span["token"], hash.as_str(), "{user}");
        assert!(
            span["worker"]
                .as_str()
                .unwrap()
                .starts_with("StefunaWorker-"),
            "{user}"
        );
    }
    assert_eq!(find("task failed", 1)["error"], "Logged.Again");
    find("task succeeded", 2);

    // `stefuna=debug` turned on the runtime's debug events; `info` kept the activity's off.
    assert!(
        lines.iter().any(|l| l["level"] == "DEBUG"
            && l["target"].as_str().unwrap().starts_with("stefuna_runtime")),
        "{text}"
    );
    assert!(!text.contains("user debug"), "{text}");
    // Neither the input nor a token reaches the logs.
    assert!(!text.contains("SECRET-INPUT"), "{text}");
    for token in &taken {
        assert!(
            !text.contains(token.as_str()),
            "token {token} logged:\n{text}"
        );
    }
}
