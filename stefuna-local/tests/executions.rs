//! State machines, executions and history through the real SDK.

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use stefuna_local_testkit::*;

const PASS: &str = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
const WAIT: &str = r#"{"StartAt":"W","TimeoutSeconds":5,"States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}"#;

async fn machine(c: &aws_sdk_sfn::Client, name: &str, definition: &str) -> String {
    c.create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn
}

#[tokio::test]
async fn state_machine_crud() {
    let emu = emulator().await;
    let c = client(&emu);
    let arn = machine(&c, "crud", PASS).await;
    assert_eq!(
        arn,
        "arn:aws:states:us-east-1:123456789012:stateMachine:crud"
    );
    // Same name and definition: the same machine.
    assert_eq!(machine(&c, "crud", PASS).await, arn);
    let d = c
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(d.name, "crud");
    assert_eq!(d.definition, PASS);
    assert_eq!(d.role_arn, ROLE);
    assert_eq!(d.r#type, aws_sdk_sfn::types::StateMachineType::Standard);

    let other = r#"{"StartAt":"Q","States":{"Q":{"Type":"Succeed"}}}"#;
    let err = c
        .create_state_machine()
        .name("crud")
        .definition(other)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "StateMachineAlreadyExists");

    c.update_state_machine()
        .state_machine_arn(&arn)
        .definition(other)
        .send()
        .await
        .unwrap();
    let d = c
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(d.definition, other);

    machine(&c, "second", PASS).await;
    let listed = c.list_state_machines().max_results(1).send().await.unwrap();
    assert_eq!(listed.state_machines.len(), 1);
    assert_eq!(listed.state_machines[0].name, "crud");
    let rest = c
        .list_state_machines()
        .set_next_token(listed.next_token)
        .send()
        .await
        .unwrap();
    assert_eq!(rest.state_machines[0].name, "second");
    assert!(rest.next_token.is_none());

    c.delete_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    let err = c
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "StateMachineDoesNotExist");
    let err = c
        .start_execution()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "StateMachineDoesNotExist");
}

#[tokio::test]
async fn invalid_definitions_and_names_are_refused() {
    let emu = emulator().await;
    let c = client(&emu);
    let err = c
        .create_state_machine()
        .name("bad")
        .definition(r#"{"StartAt":"Missing","States":{"P":{"Type":"Pass","End":true}}}"#)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidDefinition");
    let message = err
        .into_service_error()
        .meta()
        .message()
        .unwrap()
        .to_owned();
    assert!(message.contains("Missing"), "{message}");
    let err = c
        .create_state_machine()
        .name("bad")
        .definition("not json")
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidDefinition");
    let err = c
        .create_state_machine()
        .name("bad name")
        .definition(PASS)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidName");
    let err = c
        .create_state_machine()
        .name("bad")
        .definition(PASS)
        .role_arn("role")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArn");
}

#[tokio::test]
async fn start_execution_is_idempotent_while_running() {
    let emu = emulator().await;
    let c = client(&emu);
    let (_, arn) = activity_machine(&c, "idem", None, None).await;
    let a = c
        .start_execution()
        .state_machine_arn(&arn)
        .name("run-1")
        .input(r#"{"a":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        a.execution_arn,
        "arn:aws:states:us-east-1:123456789012:execution:idem-machine:run-1"
    );
    let b = c
        .start_execution()
        .state_machine_arn(&arn)
        .name("run-1")
        .input(r#"{"a":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(a.execution_arn, b.execution_arn);
    assert_eq!(a.start_date, b.start_date);
    let err = c
        .start_execution()
        .state_machine_arn(&arn)
        .name("run-1")
        .input(r#"{"a":2}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ExecutionAlreadyExists");
    let err = c
        .start_execution()
        .state_machine_arn(&arn)
        .input("{not json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidExecutionInput");
    let err = c
        .start_execution()
        .state_machine_arn(&arn)
        .name("a/b")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidName");
    // Without a name, a fresh one each time.
    let x = c
        .start_execution()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    let y = c
        .start_execution()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_ne!(x.execution_arn, y.execution_arn);
}

#[tokio::test]
async fn pass_execution_succeeds_with_its_input() {
    let emu = emulator().await;
    let c = client(&emu);
    let arn = machine(&c, "pass", PASS).await;
    let exec = c
        .start_execution()
        .state_machine_arn(&arn)
        .input(r#"{"x":[1,2]}"#)
        .send()
        .await
        .unwrap()
        .execution_arn;
    let d = wait_done(&c, &exec).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(d.input.as_deref(), Some(r#"{"x":[1,2]}"#));
    let out: serde_json::Value = serde_json::from_str(d.output.as_deref().unwrap()).unwrap();
    assert_eq!(out, serde_json::json!({"x": [1, 2]}));
    assert_eq!(d.state_machine_arn, arn);
    assert!(d.stop_date.unwrap().secs() >= d.start_date.secs());
    let err = c
        .describe_execution()
        .execution_arn(format!("{}-nope", exec))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ExecutionDoesNotExist");
    let err = c
        .describe_execution()
        .execution_arn("arn:nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArn");
    let sm = c
        .describe_state_machine_for_execution()
        .execution_arn(&exec)
        .send()
        .await
        .unwrap();
    assert_eq!(sm.definition, PASS);
}

#[tokio::test]
async fn execution_timeout_ends_it_timed_out() {
    // TimeoutSeconds 5 on a one-hour Wait, at 100x: 0.05 s real.
    let emu = builder().time_scale(100.0).start().await.unwrap();
    let c = client(&emu);
    let arn = machine(&c, "slow", WAIT).await;
    let exec = c
        .start_execution()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap()
        .execution_arn;
    let d = wait_done(&c, &exec).await;
    assert_eq!(d.status, ExecutionStatus::TimedOut);
    let h = c
        .get_execution_history()
        .execution_arn(&exec)
        .reverse_order(true)
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(h.events[0].r#type, HistoryEventType::ExecutionTimedOut);
}

#[tokio::test]
async fn list_executions_filters_and_pages_newest_first() {
    let emu = emulator().await;
    let c = client(&emu);
    let (activity, arn) = activity_machine(&c, "list", None, None).await;
    for i in 0..4 {
        c.start_execution()
            .state_machine_arn(&arn)
            .name(format!("e{i}"))
            .send()
            .await
            .unwrap();
    }
    // Finish the oldest one.
    let (token, _) = poll_task(&c, &activity).await;
    c.send_task_success()
        .task_token(token)
        .output("{}")
        .send()
        .await
        .unwrap();
    let first = arn.replace(":stateMachine:", ":execution:") + ":e0";
    wait_done(&c, &first).await;

    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .list_executions()
            .state_machine_arn(&arn)
            .max_results(3)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        names.extend(page.executions.into_iter().map(|e| e.name));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["e3", "e2", "e1", "e0"]);
    let running = c
        .list_executions()
        .state_machine_arn(&arn)
        .status_filter(ExecutionStatus::Running)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = running.executions.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["e3", "e2", "e1"]);
    let done = c
        .list_executions()
        .state_machine_arn(&arn)
        .status_filter(ExecutionStatus::Succeeded)
        .send()
        .await
        .unwrap();
    assert_eq!(done.executions.len(), 1);
    assert_eq!(done.executions[0].name, "e0");
    assert!(done.executions[0].stop_date.is_some());
}

#[tokio::test]
async fn history_records_the_activity_round_trip() {
    let emu = emulator().await;
    let c = client(&emu);
    let (activity, arn) = activity_machine(&c, "hist", Some(30), Some(300)).await;
    let exec = c
        .start_execution()
        .state_machine_arn(&arn)
        .input(r#"{"n":1}"#)
        .send()
        .await
        .unwrap()
        .execution_arn;
    let (token, _) = poll_task(&c, &activity).await;
    c.send_task_success()
        .task_token(token)
        .output(r#"{"n":2}"#)
        .send()
        .await
        .unwrap();
    wait_done(&c, &exec).await;
    let h = c
        .get_execution_history()
        .execution_arn(&exec)
        .send()
        .await
        .unwrap();
    let types: Vec<HistoryEventType> = h.events.iter().map(|e| e.r#type.clone()).collect();
    let mine = [
        HistoryEventType::ExecutionStarted,
        HistoryEventType::ActivityScheduled,
        HistoryEventType::ActivityStarted,
        HistoryEventType::ActivitySucceeded,
        HistoryEventType::ExecutionSucceeded,
    ];
    let positions: Vec<usize> = mine
        .iter()
        .map(|t| {
            types
                .iter()
                .position(|x| x == t)
                .unwrap_or_else(|| panic!("{t:?} in {types:?}"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{types:?}");
    assert_eq!(types[0], HistoryEventType::ExecutionStarted);
    assert_eq!(types.last(), Some(&HistoryEventType::ExecutionSucceeded));
    for (i, e) in h.events.iter().enumerate() {
        assert_eq!(e.id, i as i64 + 1);
        assert_eq!(e.previous_event_id, i as i64);
    }
    let e = &h.events[positions[0]];
    let started = e.execution_started_event_details.as_ref().unwrap();
    assert_eq!(started.input.as_deref(), Some(r#"{"n":1}"#));
    let scheduled = h.events[positions[1]]
        .activity_scheduled_event_details
        .as_ref()
        .unwrap();
    assert_eq!(scheduled.resource, activity);
    assert_eq!(scheduled.heartbeat_in_seconds, Some(30));
    assert_eq!(scheduled.timeout_in_seconds, Some(300));
    let worker = h.events[positions[2]]
        .activity_started_event_details
        .as_ref()
        .unwrap();
    assert_eq!(worker.worker_name.as_deref(), Some("test-worker"));
    let succeeded = h.events[positions[3]]
        .activity_succeeded_event_details
        .as_ref()
        .unwrap();
    assert_eq!(succeeded.output.as_deref(), Some(r#"{"n":2}"#));

    // Reverse order and paging.
    let mut reversed = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .get_execution_history()
            .execution_arn(&exec)
            .reverse_order(true)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        reversed.extend(page.events.into_iter().map(|e| e.id));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    let mut ids: Vec<i64> = h.events.iter().map(|e| e.id).collect();
    ids.reverse();
    assert_eq!(reversed, ids);
}
