//! What AWS answers, through the real SDK: absent error and cause fields, runtime causes with
//! the entered event's id, and the context object. Each expected value is AWS's, from the
//! histories LocalStack recorded against AWS (`tests/aws/services/stepfunctions/v2/`).

use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType};
use serde_json::{Value, json};
use stefuna_local_testkit::*;

/// Creates a machine for `definition`, runs it on `input` to its end; gives the description
/// and the history.
async fn run(
    c: &aws_sdk_sfn::Client,
    name: &str,
    definition: Value,
    input: Value,
) -> (DescribeExecutionOutput, Vec<HistoryEvent>) {
    let arn = c
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .expect("create state machine")
        .state_machine_arn;
    let exec = c
        .start_execution()
        .state_machine_arn(arn)
        .input(input.to_string())
        .send()
        .await
        .expect("start execution")
        .execution_arn;
    let d = wait_done(c, &exec).await;
    let events = c
        .get_execution_history()
        .execution_arn(&exec)
        .send()
        .await
        .expect("history")
        .events;
    (d, events)
}

fn types(events: &[HistoryEvent]) -> Vec<HistoryEventType> {
    events.iter().map(|e| e.r#type.clone()).collect()
}

/// The ExecutionFailed event's (error, cause).
fn failed(events: &[HistoryEvent]) -> (Option<String>, Option<String>) {
    let last = events.last().expect("events");
    assert_eq!(last.r#type, HistoryEventType::ExecutionFailed);
    let d = last
        .execution_failed_event_details
        .as_ref()
        .expect("executionFailedEventDetails");
    (d.error.clone(), d.cause.clone())
}

/// `base/test_base.snapshot.json::test_state_fail_empty`: `"executionFailedEventDetails": {}`.
#[tokio::test]
async fn fail_state_without_error_or_cause_leaves_both_out() {
    let emu = emulator().await;
    let c = client(&emu);
    let def = json!({"StartAt": "FailState", "States": {"FailState": {"Type": "Fail"}}});
    let (d, events) = run(&c, "fail-empty", def, json!({})).await;
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!((d.error, d.cause), (None, None));
    assert_eq!(failed(&events), (None, None));
}

/// `test_map_state_catch_empty_fail` (`{}`) and `test_parallel_state_fail`
/// (`{"error": "FailureType"}`).
#[tokio::test]
async fn failed_map_and_parallel_leave_absent_fields_out() {
    let emu = emulator().await;
    let c = client(&emu);
    let map = json!({"StartAt": "MapState", "States": {"MapState": {
        "Type": "Map", "ItemsPath": "$.arr", "End": true,
        "ItemProcessor": {"StartAt": "HandleItemFail", "States": {"HandleItemFail": {"Type": "Fail"}}}}}});
    let (d, events) = run(&c, "map-empty-fail", map, json!({"arr": [1]})).await;
    assert_eq!((d.error, d.cause), (None, None));
    assert_eq!(failed(&events), (None, None));
    assert_eq!(
        types(&events)[3..],
        [
            HistoryEventType::MapIterationStarted,
            HistoryEventType::FailStateEntered,
            HistoryEventType::MapIterationFailed,
            HistoryEventType::MapStateFailed,
            HistoryEventType::ExecutionFailed,
        ]
    );

    let parallel = json!({"StartAt": "ParallelState", "States": {"ParallelState": {
        "Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "Branch1", "States": {"Branch1": {"Type": "Fail", "Error": "FailureType"}}}]}}});
    let (d, events) = run(&c, "parallel-fail", parallel, json!({})).await;
    assert_eq!((d.error.as_deref(), d.cause), (Some("FailureType"), None));
    assert_eq!(failed(&events), (Some("FailureType".to_owned()), None));
}

/// `activities/test_activities.snapshot.json::test_activity_task_start_timeout`:
/// `{"error": "States.Timeout"}` in both ActivityTimedOut and ExecutionFailed.
#[tokio::test]
async fn activity_timeout_has_no_cause() {
    let emu = builder().time_scale(200.0).start().await.unwrap();
    let c = client(&emu);
    let (_activity, machine) = activity_machine(&c, "slow", None, Some(1)).await;
    let exec = c
        .start_execution()
        .state_machine_arn(machine)
        .send()
        .await
        .unwrap()
        .execution_arn;
    let d = wait_done(&c, &exec).await;
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!(
        (d.error.as_deref(), d.cause),
        (Some("States.Timeout"), None)
    );
    let events = c
        .get_execution_history()
        .execution_arn(&exec)
        .send()
        .await
        .unwrap()
        .events;
    let timed_out = events
        .iter()
        .find_map(|e| e.activity_timed_out_event_details.as_ref())
        .expect("ActivityTimedOut");
    assert_eq!(timed_out.error.as_deref(), Some("States.Timeout"));
    assert_eq!(timed_out.cause, None);
    assert_eq!(failed(&events), (Some("States.Timeout".to_owned()), None));
}

/// `test_activity_task_on_deleted`: no task event, and AWS's cause.
#[tokio::test]
async fn task_on_a_missing_activity_fails_as_on_aws() {
    let emu = emulator().await;
    let c = client(&emu);
    let arn = "arn:aws:states:us-east-1:123456789012:activity:gone";
    let def = json!({"StartAt": "ActivityTask", "States": {"ActivityTask": {
        "Type": "Task", "Resource": arn, "End": true}}});
    let (_, events) = run(&c, "deleted", def, json!({"Value1": "HelloWorld"})).await;
    assert_eq!(
        types(&events),
        [
            HistoryEventType::ExecutionStarted,
            HistoryEventType::TaskStateEntered,
            HistoryEventType::ExecutionFailed,
        ]
    );
    assert_eq!(
        failed(&events),
        (
            Some("States.Runtime".to_owned()),
            Some(format!(
                "An error occurred while executing the state 'ActivityTask' (entered at the event id #2). The activity {arn} does not exist."
            ))
        )
    );
}

/// The id in the prefix is the entered event's id in the real history.
#[tokio::test]
async fn runtime_cause_names_the_entered_event_id() {
    let emu = emulator().await;
    let c = client(&emu);
    let def = json!({"StartAt": "First", "States": {
        "First": {"Type": "Pass", "Next": "WaitState"},
        "WaitState": {"Type": "Wait", "SecondsPath": "$.input.waitSeconds", "End": true}}});
    let (d, events) = run(&c, "wait-path", def, json!({"input": {}})).await;
    assert_eq!(
        d.cause.as_deref(),
        Some(
            "An error occurred while executing the state 'WaitState' (entered at the event id #4). The SecondsPath parameter does not reference an input value: $.input.waitSeconds"
        )
    );
    assert_eq!(events[3].id, 4);
    assert_eq!(events[3].r#type, HistoryEventType::WaitStateEntered);
}

/// `context_object/test_context_object.snapshot.json::test_input_path[$$]`: a Pass state's
/// context object, field by field.
#[tokio::test]
async fn pass_state_context_object_matches_aws() {
    let emu = emulator().await;
    let c = client(&emu);
    let def = json!({"StartAt": "TestState", "States": {"TestState": {
        "Type": "Pass", "InputPath": "$$", "End": true}}});
    let (d, _) = run(&c, "ctx", def, json!({"input-value": 0})).await;
    let out: Value = serde_json::from_str(d.output.as_deref().unwrap()).unwrap();
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&out), ["Execution", "State", "StateMachine"]);
    assert_eq!(
        keys(&out["Execution"]),
        [
            "Id",
            "Input",
            "Name",
            "RedriveCount",
            "RoleArn",
            "StartTime"
        ]
    );
    assert_eq!(out["Execution"]["RedriveCount"], 0);
    assert_eq!(out["Execution"]["Id"], d.execution_arn.as_str());
    assert_eq!(out["Execution"]["Input"], json!({"input-value": 0}));
    assert_eq!(keys(&out["State"]), ["EnteredTime", "Name"]);
    assert_eq!(out["State"]["Name"], "TestState");
    assert_eq!(keys(&out["StateMachine"]), ["Id", "Name"]);
}
