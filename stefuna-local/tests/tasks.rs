//! GetActivityTask and SendTask* through the real SDK: long polls, delivery, answers, timeouts.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use futures::future::join_all;
use stefuna_local_testkit::*;

async fn start(c: &aws_sdk_sfn::Client, machine: &str, input: &str) -> String {
    c.start_execution()
        .state_machine_arn(machine)
        .input(input)
        .send()
        .await
        .unwrap()
        .execution_arn
}

#[tokio::test]
async fn empty_long_poll_answers_without_a_token() {
    let emu = emulator().await;
    let c = client(&emu);
    let arn = c
        .create_activity()
        .name("idle")
        .send()
        .await
        .unwrap()
        .activity_arn;
    let out = c
        .get_activity_task()
        .activity_arn(&arn)
        .worker_name("w")
        .send()
        .await
        .unwrap();
    assert_eq!(out.task_token, None);
    assert_eq!(out.input, None);
}

#[tokio::test]
async fn each_token_is_delivered_once_to_32_concurrent_pollers() {
    const TASKS: usize = 96;
    let emu = emulator().await;
    let c = client(&emu);
    let (activity, machine) = activity_machine(&c, "fanout", None, None).await;
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let pollers: Vec<_> = (0..32)
        .map(|i| {
            let (c, activity, received, count) =
                (c.clone(), activity.clone(), received.clone(), count.clone());
            tokio::spawn(async move {
                while count.load(Ordering::SeqCst) < TASKS {
                    let out = c
                        .get_activity_task()
                        .activity_arn(&activity)
                        .worker_name(format!("w{i}"))
                        .send()
                        .await
                        .unwrap();
                    let Some(token) = out.task_token else {
                        continue;
                    };
                    count.fetch_add(1, Ordering::SeqCst);
                    c.send_task_success()
                        .task_token(&token)
                        .output(out.input.unwrap())
                        .send()
                        .await
                        .unwrap();
                    received.lock().unwrap().push(token);
                }
            })
        })
        .collect();
    let execs = join_all((0..TASKS).map(|i| {
        let c = c.clone();
        let machine = machine.clone();
        async move { start(&c, &machine, &format!("{{\"i\":{i}}}")).await }
    }))
    .await;
    for p in pollers {
        p.await.unwrap();
    }
    let tokens = received.lock().unwrap().clone();
    assert_eq!(tokens.len(), TASKS);
    assert_eq!(tokens.iter().collect::<HashSet<_>>().len(), TASKS);
    for (i, e) in execs.iter().enumerate() {
        let d = wait_done(&c, e).await;
        assert_eq!(d.status, ExecutionStatus::Succeeded);
        let out: serde_json::Value = serde_json::from_str(d.output.as_deref().unwrap()).unwrap();
        assert_eq!(out, serde_json::json!({ "i": i }));
    }
}

#[tokio::test]
async fn tasks_are_delivered_in_fifo_order() {
    let emu = emulator().await;
    let c = client(&emu);
    let (activity, machine) = activity_machine(&c, "fifo", None, None).await;
    for i in 0..5 {
        start(&c, &machine, &format!("{{\"i\":{i}}}")).await;
    }
    for i in 0..5 {
        let (_, input) = poll_task(&c, &activity).await;
        let v: serde_json::Value = serde_json::from_str(&input).unwrap();
        assert_eq!(v["i"], i);
    }
}

#[tokio::test]
async fn send_task_failure_fails_the_execution_with_error_and_cause() {
    let emu = emulator().await;
    let c = client(&emu);
    let (activity, machine) = activity_machine(&c, "fail", None, None).await;
    let exec = start(&c, &machine, "{}").await;
    let (token, _) = poll_task(&c, &activity).await;
    c.send_task_failure()
        .task_token(&token)
        .error("Task.Failure")
        .cause("it broke")
        .send()
        .await
        .unwrap();
    let d = wait_done(&c, &exec).await;
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!(d.error.as_deref(), Some("Task.Failure"));
    assert_eq!(d.cause.as_deref(), Some("it broke"));
    // The token is closed now.
    let err = c
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "TaskDoesNotExist");
}

#[tokio::test]
async fn send_task_calls_check_their_arguments() {
    let emu = emulator().await;
    let c = client(&emu);
    let (activity, machine) = activity_machine(&c, "args", None, None).await;
    let exec = start(&c, &machine, "{}").await;
    let (token, _) = poll_task(&c, &activity).await;

    let err = c
        .send_task_success()
        .task_token(&token)
        .output("not json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidOutput");
    let big = format!("\"{}\"", "x".repeat(262_144));
    let err = c
        .send_task_success()
        .task_token(&token)
        .output(big)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidOutput");
    let err = c
        .send_task_failure()
        .task_token(&token)
        .error("e".repeat(257))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let err = c
        .send_task_failure()
        .task_token(&token)
        .cause("c".repeat(32_769))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    for call in ["garbage", "AAAAKgAAAAIAAAAA0000"] {
        let err = c
            .send_task_heartbeat()
            .task_token(call)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "InvalidToken");
    }
    // None of the refused calls closed the task: it still succeeds, with the largest output.
    c.send_task_heartbeat()
        .task_token(&token)
        .send()
        .await
        .unwrap();
    let max = format!("\"{}\"", "x".repeat(262_142));
    c.send_task_success()
        .task_token(&token)
        .output(max)
        .send()
        .await
        .unwrap();
    assert_eq!(
        wait_done(&c, &exec).await.status,
        ExecutionStatus::Succeeded
    );
    let err = c
        .send_task_heartbeat()
        .task_token(&token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "TaskDoesNotExist");
}

#[tokio::test]
async fn missed_heartbeat_times_the_task_out() {
    // 60 s heartbeat at 200x: 0.3 s real.
    let emu = builder().time_scale(200.0).start().await.unwrap();
    let c = client(&emu);
    let (activity, machine) = activity_machine(&c, "hb", Some(60), None).await;
    let exec = start(&c, &machine, "{}").await;
    let (token, _) = poll_task(&c, &activity).await;
    let d = wait_done(&c, &exec).await;
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!(d.error.as_deref(), Some("States.Timeout"));
    let err = c
        .send_task_heartbeat()
        .task_token(&token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "TaskTimedOut");
    let err = c
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "TaskTimedOut");
    let history = c
        .get_execution_history()
        .execution_arn(&exec)
        .send()
        .await
        .unwrap();
    let timed_out = history
        .events
        .iter()
        .find(|e| e.r#type == aws_sdk_sfn::types::HistoryEventType::ActivityTimedOut)
        .expect("an ActivityTimedOut event");
    let details = timed_out.activity_timed_out_event_details.as_ref().unwrap();
    assert_eq!(details.error.as_deref(), Some("States.Timeout"));
}

#[tokio::test]
async fn heartbeats_keep_a_task_alive() {
    // 10 s heartbeat at 20x: 0.5 s real; beats every 0.1 s real for longer than that.
    let emu = builder().time_scale(20.0).start().await.unwrap();
    let c = client(&emu);
    let (activity, machine) = activity_machine(&c, "alive", Some(10), None).await;
    let exec = start(&c, &machine, "{}").await;
    let (token, _) = poll_task(&c, &activity).await;
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        c.send_task_heartbeat()
            .task_token(&token)
            .send()
            .await
            .unwrap();
    }
    c.send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        wait_done(&c, &exec).await.status,
        ExecutionStatus::Succeeded
    );
}

#[tokio::test]
async fn total_timeout_counts_from_scheduling() {
    // Nobody polls: a 100 s TimeoutSeconds at 500x ends the task in 0.2 s real.
    let emu = builder().time_scale(500.0).start().await.unwrap();
    let c = client(&emu);
    let (activity, machine) = activity_machine(&c, "total", None, Some(100)).await;
    let exec = start(&c, &machine, "{}").await;
    let d = wait_done(&c, &exec).await;
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!(d.error.as_deref(), Some("States.Timeout"));
    // The timed-out task is no longer handed out.
    let out = c
        .get_activity_task()
        .activity_arn(&activity)
        .send()
        .await
        .unwrap();
    assert_eq!(out.task_token, None);
}

#[tokio::test]
async fn stop_execution_aborts_and_closes_its_tokens() {
    let emu = emulator().await;
    let c = client(&emu);
    let (activity, machine) = activity_machine(&c, "stop", None, None).await;
    let exec = start(&c, &machine, "{}").await;
    let (token, _) = poll_task(&c, &activity).await;
    let stopped = c
        .stop_execution()
        .execution_arn(&exec)
        .error("Stopped")
        .cause("by the test")
        .send()
        .await
        .unwrap();
    let d = c
        .describe_execution()
        .execution_arn(&exec)
        .send()
        .await
        .unwrap();
    assert_eq!(d.status, ExecutionStatus::Aborted);
    assert_eq!(d.stop_date, Some(stopped.stop_date));
    assert_eq!(d.error.as_deref(), Some("Stopped"));
    for err in [
        c.send_task_success()
            .task_token(&token)
            .output("{}")
            .send()
            .await
            .map(|_| ())
            .unwrap_err()
            .into_service_error()
            .meta()
            .code()
            .map(str::to_owned),
        c.send_task_heartbeat()
            .task_token(&token)
            .send()
            .await
            .map(|_| ())
            .unwrap_err()
            .into_service_error()
            .meta()
            .code()
            .map(str::to_owned),
    ] {
        assert_eq!(err.as_deref(), Some("TaskDoesNotExist"));
    }
    let history = c
        .get_execution_history()
        .execution_arn(&exec)
        .reverse_order(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        history.events[0].r#type,
        aws_sdk_sfn::types::HistoryEventType::ExecutionAborted
    );
}

#[tokio::test]
async fn shutdown_ends_open_polls() {
    let emu = Emulator::builder()
        .long_poll(Duration::from_secs(600))
        .start()
        .await
        .unwrap();
    let c = client(&emu);
    let arn = c
        .create_activity()
        .name("w")
        .send()
        .await
        .unwrap()
        .activity_arn;
    let poll = tokio::spawn({
        let c = c.clone();
        async move { c.get_activity_task().activity_arn(arn).send().await }
    });
    // A few round trips on other connections give the poll time to reach the server.
    for _ in 0..3 {
        c.list_activities().send().await.unwrap();
    }
    emu.shutdown().await;
    let out = poll
        .await
        .unwrap()
        .expect("the open poll is answered, not cut");
    assert_eq!(out.task_token, None);
}

use stefuna_local::Emulator;
