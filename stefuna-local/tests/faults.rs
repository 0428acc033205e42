//! Fault injection, seen through the real SDK.

use std::time::Duration;

use aws_sdk_sfn::config::retry::RetryConfig;
use stefuna_local::{FaultKind, Faults};
use stefuna_local_testkit::*;

#[tokio::test]
async fn throttling_one_operation_reaches_the_sdk_after_its_retries() {
    let emu = emulator().await;
    let c = client_with(
        &emu,
        "us-east-1",
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1)),
    );
    emu.set_faults(Faults {
        throttle: 1.0,
        operations: Some(vec!["ListActivities".to_owned()]),
        ..Faults::default()
    });
    let err = c.list_activities().send().await.unwrap_err();
    assert_eq!(code(&err), "ThrottlingException");
    // Other operations are untouched.
    c.create_activity().name("fine").send().await.unwrap();
    // And turning faults off heals it.
    emu.set_faults(Faults::default());
    assert_eq!(
        c.list_activities().send().await.unwrap().activities.len(),
        1
    );
}

#[tokio::test]
async fn unavailable_answers_503() {
    let emu = builder()
        .faults(Faults {
            unavailable: 1.0,
            ..Faults::default()
        })
        .start()
        .await
        .unwrap();
    let (status, head, body) =
        raw_post(emu.addr(), Some("AWSStepFunctions.ListActivities"), b"{}").await;
    assert_eq!(status, 503);
    assert!(head.contains("x-amzn-errortype: serviceunavailable"));
    assert!(body.contains("ServiceUnavailable"));
}

#[tokio::test]
async fn dropped_connections_give_no_answer() {
    let emu = builder()
        .faults(Faults {
            drop_connection: 1.0,
            ..Faults::default()
        })
        .start()
        .await
        .unwrap();
    let (status, head, body) =
        raw_post(emu.addr(), Some("AWSStepFunctions.ListActivities"), b"{}").await;
    assert_eq!((status, head.as_str(), body.as_str()), (0, "", ""));
    let c = client_with(&emu, "us-east-1", RetryConfig::disabled());
    let err = c.list_activities().send().await.unwrap_err();
    assert!(err.as_service_error().is_none(), "{err:?}");
}

#[tokio::test]
async fn latency_delays_but_answers() {
    let emu = builder()
        .faults(Faults {
            latency: Some((Duration::from_millis(1), Duration::from_millis(5))),
            ..Faults::default()
        })
        .start()
        .await
        .unwrap();
    let c = client(&emu);
    c.create_activity().name("slow").send().await.unwrap();
    assert_eq!(
        c.list_activities().send().await.unwrap().activities.len(),
        1
    );
}

/// A client whose calls are not retried, so a test sees each answer (or its loss) itself.
fn one_shot(emu: &stefuna_local::Emulator) -> aws_sdk_sfn::Client {
    client_with(emu, "us-east-1", RetryConfig::disabled())
}

fn lose(op: &str) -> Faults {
    Faults {
        lose_answer: vec![(op.to_owned(), 1.0)],
        ..Faults::default()
    }
}

#[tokio::test]
async fn a_lost_result_answer_was_applied_and_its_retry_meets_a_closed_token() {
    let emu = emulator().await;
    let c = one_shot(&emu);
    let (activity, machine) = activity_machine(&c, "lost-result", None, None).await;
    let exec = c
        .start_execution()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap()
        .execution_arn;
    let (token, _) = poll_task(&c, &activity).await;
    emu.set_faults(lose("SendTaskSuccess"));
    let err = c
        .send_task_success()
        .task_token(&token)
        .output(r#"{"done": 1}"#)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error().is_none(),
        "no answer expected: {err:?}"
    );
    // It was applied all the same.
    let done = wait_done(&c, &exec).await;
    assert_eq!(done.output.as_deref(), Some(r#"{"done":1}"#));
    // The retry a worker makes meets the closed token; an error answer is never dropped.
    let retry = c
        .send_task_success()
        .task_token(&token)
        .output(r#"{"done": 2}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&retry), "TaskDoesNotExist");

    let answers = emu.answers();
    let a = &answers[&token];
    assert_eq!((a.received, a.accepted, a.answers_lost), (2, 1, 1), "{a:?}");
    assert!(!a.poll_answer_lost);
    let injected = emu.faults_injected();
    assert_eq!(
        injected.get(&(FaultKind::LostAnswer, "SendTaskSuccess".to_owned())),
        Some(&1),
        "{injected:?}"
    );
}

#[tokio::test]
async fn a_lost_poll_answer_hands_out_a_task_nobody_sees() {
    let emu = emulator().await;
    let c = one_shot(&emu);
    let (activity, machine) = activity_machine(&c, "lost-poll", None, None).await;
    // An empty poll has nothing to lose: it answers.
    emu.set_faults(lose("GetActivityTask"));
    let empty = c
        .get_activity_task()
        .activity_arn(&activity)
        .send()
        .await
        .unwrap();
    assert!(empty.task_token.is_none_or(|t| t.is_empty()));
    let exec = c
        .start_execution()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap()
        .execution_arn;
    let err = c
        .get_activity_task()
        .activity_arn(&activity)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error().is_none(),
        "no answer expected: {err:?}"
    );
    // The task was handed out: the history says started, and no later poll gets it.
    let history = c
        .get_execution_history()
        .execution_arn(&exec)
        .send()
        .await
        .unwrap();
    assert!(
        history
            .events()
            .iter()
            .any(|e| e.activity_started_event_details().is_some()),
        "{history:?}"
    );
    emu.set_faults(Faults::default());
    let next = c
        .get_activity_task()
        .activity_arn(&activity)
        .send()
        .await
        .unwrap();
    assert!(next.task_token.is_none_or(|t| t.is_empty()));

    let answers = emu.answers();
    assert_eq!(answers.len(), 1);
    let a = answers.values().next().unwrap();
    assert!(a.poll_answer_lost, "{a:?}");
    assert_eq!((a.received, a.accepted), (0, 0));
}

#[tokio::test]
async fn a_lost_heartbeat_answer_still_counts_as_a_beat() {
    let emu = emulator().await;
    let c = one_shot(&emu);
    let (activity, machine) = activity_machine(&c, "lost-beat", Some(60), None).await;
    c.start_execution()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    let (token, _) = poll_task(&c, &activity).await;
    emu.set_faults(lose("SendTaskHeartbeat"));
    let err = c
        .send_task_heartbeat()
        .task_token(&token)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error().is_none(),
        "no answer expected: {err:?}"
    );
    emu.set_faults(Faults::default());
    c.send_task_failure()
        .task_token(&token)
        .error("E")
        .send()
        .await
        .unwrap();
    let a = &emu.answers()[&token];
    assert_eq!(
        (a.heartbeats_lost, a.received, a.accepted, a.answers_lost),
        (1, 1, 1, 0),
        "{a:?}"
    );
    let injected = emu.faults_injected();
    assert_eq!(
        injected.get(&(FaultKind::LostAnswer, "SendTaskHeartbeat".to_owned())),
        Some(&1),
        "{injected:?}"
    );
}

#[tokio::test]
async fn faults_before_handling_are_counted_by_kind_and_leave_no_answer_trace() {
    let emu = emulator().await;
    let c = one_shot(&emu);
    let (activity, machine) = activity_machine(&c, "counted", None, None).await;
    c.start_execution()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    let (token, _) = poll_task(&c, &activity).await;
    let only = |f: Faults| Faults {
        operations: Some(vec!["SendTaskSuccess".to_owned()]),
        ..f
    };
    for faults in [
        Faults {
            throttle: 1.0,
            ..Faults::default()
        },
        Faults {
            unavailable: 1.0,
            ..Faults::default()
        },
        Faults {
            drop_connection: 1.0,
            ..Faults::default()
        },
    ] {
        emu.set_faults(only(faults));
        c.send_task_success()
            .task_token(&token)
            .output("{}")
            .send()
            .await
            .unwrap_err();
    }
    emu.set_faults(only(Faults {
        latency: Some((Duration::ZERO, Duration::from_millis(1))),
        ..Faults::default()
    }));
    c.send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .unwrap();
    let a = &emu.answers()[&token];
    assert_eq!((a.received, a.accepted), (1, 1), "{a:?}");
    let injected = emu.faults_injected();
    for kind in [
        FaultKind::Throttle,
        FaultKind::Unavailable,
        FaultKind::DroppedConnection,
    ] {
        assert_eq!(
            injected.get(&(kind, "SendTaskSuccess".to_owned())),
            Some(&1),
            "{kind}: {injected:?}"
        );
    }
    // Latency was set for one call.
    assert_eq!(
        injected.get(&(FaultKind::Latency, "SendTaskSuccess".to_owned())),
        Some(&1),
        "{injected:?}"
    );
}
