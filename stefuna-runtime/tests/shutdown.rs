//! Signals to a real worker process (the `test_worker` example): SIGTERM drains, a second
//! signal fails what still runs with `Stefuna.WorkerShutdown` and exits, config errors exit 2.

#![cfg(unix)]

use stefuna_runtime_testkit as support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use support::fake_sfn::{FakeSfn, Sent};
use support::{get, spawn_listening, within, worker_binary};
use tokio::process::{Child, Command};

const ARN: &str = "arn:aws:states:us-east-1:123456789012:activity:test";

/// The `test_worker` example next to this test binary, built on demand when the test was run
/// without examples (`cargo test --test shutdown`).
struct Worker {
    child: Child,
    health: String,
    dir: PathBuf,
}

impl Worker {
    async fn spawn(fake: &FakeSfn, extra: &[&str]) -> Worker {
        Self::spawn_at(&fake.endpoint, ARN, extra).await
    }

    async fn spawn_at(endpoint: &str, arn: &str, extra: &[&str]) -> Worker {
        spawn_listening(
            |port| Self::spawn_on(port, endpoint, arn, extra),
            |w| &mut w.child,
        )
        .await
    }

    fn spawn_on(port: u16, endpoint: &str, arn: &str, extra: &[&str]) -> Worker {
        let dir = std::env::temp_dir().join(format!(
            "stefuna-rt-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(worker_binary!(&[]))
            .args(["--activity-arn", arn, "--endpoint-url", endpoint])
            .args(["--region", "us-east-1", "--healthcheck-host", "127.0.0.1"])
            .args(["--healthcheck", &port.to_string(), "--name", "Child"])
            .args(extra)
            .current_dir(&dir)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env_remove("AWS_ACCESS_KEY_ID")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Worker {
            child,
            health: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().expect("worker still running");
        let ok = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} {pid}");
    }

    async fn wait_draining(&self) {
        within(Duration::from_secs(20), "the worker to drain", async {
            loop {
                if let Ok((200, body)) = get(&format!("{}/", self.health)).await
                    && body.contains("\"state\":\"draining\"")
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        let (ready, _) = get(&format!("{}/readyz", self.health)).await.unwrap();
        assert_eq!(ready, 503, "not ready while draining");
    }

    async fn exit_code(mut self) -> Option<i32> {
        let status = within(
            Duration::from_secs(30),
            "the worker to exit",
            self.child.wait(),
        )
        .await
        .unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
        status.code()
    }
}

#[tokio::test]
async fn sigterm_drains_in_flight_tasks() {
    let fake = FakeSfn::start().await;
    let worker = Worker::spawn(&fake, &["--processes", "2"]).await;
    let flag = worker.dir.join("finish");
    let input = serde_json::json!({ "wait_for_file": flag }).to_string();
    fake.push("inflight", &input);
    fake.until("the task to be claimed", |f| {
        f.assigned("inflight").is_some()
    })
    .await;

    worker.signal("TERM");
    worker.wait_draining().await;
    assert!(
        fake.results("inflight").is_empty(),
        "the task is still running"
    );

    std::fs::write(&flag, b"").unwrap();
    let expected = serde_json::json!({ "done": flag }).to_string();
    assert_eq!(fake.result("inflight").await, Sent::Success(expected));
    assert_eq!(worker.exit_code().await, Some(0));
}

#[tokio::test]
async fn second_signal_fails_running_tasks_and_exits() {
    let fake = FakeSfn::start().await;
    let worker = Worker::spawn(&fake, &["--processes", "2"]).await;
    let never = worker.dir.join("never");
    fake.push(
        "waiting",
        &serde_json::json!({ "wait_for_file": never }).to_string(),
    );
    fake.push("blocked", r#"{"block_forever": true}"#);
    fake.until("both tasks to be claimed", |f| {
        f.assigned("waiting").is_some() && f.assigned("blocked").is_some()
    })
    .await;

    worker.signal("TERM");
    worker.wait_draining().await;
    worker.signal("INT");
    for token in ["waiting", "blocked"] {
        match fake.result(token).await {
            Sent::Failure(error, cause) => {
                assert_eq!(error, "Stefuna.WorkerShutdown", "{token}");
                assert!(
                    cause.contains("shut down before the task finished"),
                    "{cause}"
                );
            }
            other => panic!("{token}: {other:?}"),
        }
    }
    // The blocking task never returns; the process exits anyway.
    assert_eq!(worker.exit_code().await, Some(0));
}

#[tokio::test]
async fn shutdown_grace_expiry_fails_leftovers() {
    let fake = FakeSfn::start().await;
    let worker = Worker::spawn(&fake, &["--shutdown-grace", "1"]).await;
    fake.push("blocked", r#"{"block_forever": true}"#);
    fake.until("the task to be claimed", |f| {
        f.assigned("blocked").is_some()
    })
    .await;
    worker.signal("TERM");
    match fake.result("blocked").await {
        Sent::Failure(error, _) => assert_eq!(error, "Stefuna.WorkerShutdown"),
        other => panic!("{other:?}"),
    }
    assert_eq!(worker.exit_code().await, Some(0));
}

#[tokio::test]
async fn config_errors_exit_2_before_anything_starts() {
    let fake = FakeSfn::start().await;
    let out = Command::new(worker_binary!(&[]))
        .args(["--activity-arn", ARN, "--endpoint-url", &fake.endpoint])
        .args(["--pollers", "0", "--healthcheck", "0"])
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = within(Duration::from_secs(30), "the worker to exit", out)
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`pollers`") && stderr.contains("--pollers"),
        "{stderr}"
    );
    assert_eq!(fake.calls("GetActivityTask"), 0, "nothing started");
}

#[tokio::test]
async fn sigterm_loses_nothing_against_stefuna_local() {
    use aws_sdk_sfn::types::ExecutionStatus;

    let emu = stefuna_local::Emulator::builder()
        .long_poll(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let sfn = support::client(emu.endpoint());
    let arn = sfn
        .create_activity()
        .name("drain")
        .send()
        .await
        .unwrap()
        .activity_arn()
        .to_owned();
    let definition = serde_json::json!({
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": arn, "End": true}}
    });
    let sm = sfn
        .create_state_machine()
        .name("drain")
        .role_arn("arn:aws:iam::123456789012:role/test")
        .definition(definition.to_string())
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();

    let worker = Worker::spawn_at(emu.endpoint(), &arn, &["--processes", "3"]).await;
    let flag = worker.dir.join("finish");
    let mut execs = Vec::new();
    for i in 0..3 {
        let input = serde_json::json!({ "wait_for_file": flag, "n": i }).to_string();
        let out = sfn
            .start_execution()
            .state_machine_arn(&sm)
            .input(input)
            .send();
        execs.push(out.await.unwrap().execution_arn().to_owned());
    }
    // Every task claimed: its ActivityStarted event is in the history.
    within(Duration::from_secs(20), "all tasks to start", async {
        loop {
            let mut started = 0;
            for exec in &execs {
                let h = sfn
                    .get_execution_history()
                    .execution_arn(exec)
                    .send()
                    .await
                    .unwrap();
                if h.events()
                    .iter()
                    .any(|e| e.activity_started_event_details().is_some())
                {
                    started += 1;
                }
            }
            if started == execs.len() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await;

    worker.signal("TERM");
    worker.wait_draining().await;
    std::fs::write(&flag, b"").unwrap();
    assert_eq!(worker.exit_code().await, Some(0));
    for exec in &execs {
        let status = support::finished_within(&sfn, exec, Duration::from_secs(20))
            .await
            .status;
        assert_eq!(status, ExecutionStatus::Succeeded, "{exec}");
    }
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_on_stderr() {
    let fake = FakeSfn::start().await;
    let child = Command::new(worker_binary!(&[]))
        .args(["--activity-arn", ARN, "--endpoint-url", &fake.endpoint])
        .args([
            "--healthcheck",
            "0",
            "--log-format",
            "json",
            "--name",
            "Json",
        ])
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    fake.push("json-token", r#"{"secret": "SECRET-INPUT"}"#);
    fake.result("json-token").await;
    let pid = child.id().unwrap();
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = within(
        Duration::from_secs(30),
        "the worker to exit",
        child.wait_with_output(),
    )
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let hash = stefuna_core::TaskToken::new("json-token").short_hash();
    let done = lines
        .iter()
        .find(|l| l["message"] == "task succeeded")
        .unwrap_or_else(|| panic!("no success line in {stderr}"));
    assert_eq!(done["span"]["token"], hash.as_str(), "{done}");
    assert_eq!(done["span"]["activity"], "TestWorker", "{done}");
    assert!(
        !stderr.contains("SECRET") && !stderr.contains("json-token"),
        "{stderr}"
    );
}
