//! Distributed Map over the input array, through the real SDK: child executions, MaxConcurrency,
//! tolerated failures and the Map Run (DescribeMapRun, ListMapRuns, ListExecutions by
//! mapRunArn). Expected events and texts are AWS's, from the histories LocalStack recorded
//! against AWS (`scenarios/test_base_scenarios.snapshot.json`, `test_sfn_api_map_run`,
//! `test_state/test_state_configuration.snapshot.json`).

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType, MapRunStatus};
use serde_json::{Value, json};
use stefuna_local_testkit::*;

/// A Distributed Map over `$.Items` whose items run `processor_states` (starting at `Item`),
/// with `extra` fields on the Map state.
fn map_def(extra: Value, processor_states: Value) -> Value {
    let mut m = json!({
        "Type": "Map", "ItemsPath": "$.Items", "End": true,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Item", "States": processor_states}});
    m.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"StartAt": "MapState", "States": {"MapState": m}})
}

fn pass_item() -> Value {
    json!({"Item": {"Type": "Pass", "End": true}})
}

/// Items `{"fail": true}` fail, the others pass through.
fn fail_some() -> Value {
    json!({
        "Item": {"Type": "Choice", "Default": "Ok",
                 "Choices": [{"Variable": "$.fail", "BooleanEquals": true, "Next": "Bad"}]},
        "Bad": {"Type": "Fail", "Error": "Item.Failed", "Cause": "bad item"},
        "Ok": {"Type": "Pass", "End": true}})
}

async fn start(c: &aws_sdk_sfn::Client, name: &str, def: &Value, input: Value) -> String {
    let arn = c
        .create_state_machine()
        .name(name)
        .definition(def.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .expect("create state machine")
        .state_machine_arn;
    c.start_execution()
        .state_machine_arn(arn)
        .input(input.to_string())
        .send()
        .await
        .expect("start execution")
        .execution_arn
}

async fn history(c: &aws_sdk_sfn::Client, exec: &str) -> Vec<HistoryEvent> {
    c.get_execution_history()
        .execution_arn(exec)
        .send()
        .await
        .unwrap()
        .events
}

fn types(events: &[HistoryEvent]) -> Vec<HistoryEventType> {
    events.iter().map(|e| e.r#type.clone()).collect()
}

fn map_run_arn(events: &[HistoryEvent]) -> String {
    events
        .iter()
        .find_map(|e| e.map_run_started_event_details.as_ref())
        .and_then(|d| d.map_run_arn.clone())
        .expect("MapRunStarted with a mapRunArn")
}

#[tokio::test]
async fn distributed_map_runs_items_as_child_executions() {
    let emu = emulator().await;
    let c = client(&emu);
    let def = map_def(json!({"MaxConcurrency": 1}), pass_item());
    let exec = start(&c, "dmap", &def, json!({"Items": [{"a": 1}, {"b": 2}]})).await;
    let d = wait_done(&c, &exec).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(
        serde_json::from_str::<Value>(d.output.as_deref().unwrap()).unwrap(),
        json!([{"a": 1}, {"b": 2}])
    );
    let events = history(&c, &exec).await;
    // Recorded on AWS: test_map_state_config_distributed_items_path.
    assert_eq!(
        types(&events),
        [
            HistoryEventType::ExecutionStarted,
            HistoryEventType::MapStateEntered,
            HistoryEventType::MapStateStarted,
            HistoryEventType::MapRunStarted,
            HistoryEventType::MapRunSucceeded,
            HistoryEventType::MapStateSucceeded,
            HistoryEventType::MapStateExited,
            HistoryEventType::ExecutionSucceeded,
        ]
    );
    let run_arn = map_run_arn(&events);
    assert!(
        run_arn.starts_with("arn:aws:states:us-east-1:123456789012:mapRun:dmap/"),
        "{run_arn}"
    );

    let runs = c
        .list_map_runs()
        .execution_arn(&exec)
        .send()
        .await
        .unwrap()
        .map_runs;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].map_run_arn, run_arn);
    assert_eq!(runs[0].execution_arn, exec);
    let (machine_part, _id) = run_arn
        .split_once(":mapRun:")
        .unwrap()
        .1
        .rsplit_once(':')
        .unwrap();
    assert_eq!(
        runs[0].state_machine_arn,
        format!("arn:aws:states:us-east-1:123456789012:stateMachine:{machine_part}")
    );
    assert!(runs[0].stop_date.is_some());

    // Recorded: test_list_map_runs_and_describe_map_run.
    let m = c
        .describe_map_run()
        .map_run_arn(&run_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(m.status, MapRunStatus::Succeeded);
    assert_eq!(m.execution_arn, exec);
    assert_eq!(m.max_concurrency, 1);
    assert_eq!(m.tolerated_failure_percentage, 0.0);
    assert_eq!(m.tolerated_failure_count, 0);
    assert!(m.stop_date.is_some());
    for counts in [
        (
            m.item_counts.as_ref().unwrap().total,
            m.item_counts.as_ref().unwrap().succeeded,
        ),
        (
            m.execution_counts.as_ref().unwrap().total,
            m.execution_counts.as_ref().unwrap().succeeded,
        ),
    ] {
        assert_eq!(counts, (2, 2));
    }
    let ic = m.item_counts.unwrap();
    assert_eq!(
        (
            ic.pending,
            ic.running,
            ic.failed,
            ic.timed_out,
            ic.aborted,
            ic.results_written
        ),
        (0, 0, 0, 0, 0, 2)
    );

    // The children: executions of the Map Run, with its ARN.
    let children = c
        .list_executions()
        .map_run_arn(&run_arn)
        .send()
        .await
        .unwrap()
        .executions;
    assert_eq!(children.len(), 2);
    let mut inputs = Vec::new();
    for child in &children {
        assert_eq!(child.map_run_arn.as_deref(), Some(run_arn.as_str()));
        assert_eq!(child.status, ExecutionStatus::Succeeded);
        assert!(
            child.execution_arn.starts_with(&format!(
                "arn:aws:states:us-east-1:123456789012:execution:{machine_part}:"
            )),
            "{}",
            child.execution_arn
        );
        let cd = c
            .describe_execution()
            .execution_arn(&child.execution_arn)
            .send()
            .await
            .unwrap();
        assert_eq!(cd.map_run_arn.as_deref(), Some(run_arn.as_str()));
        assert_eq!(cd.output, cd.input);
        inputs.push(serde_json::from_str::<Value>(cd.input.as_deref().unwrap()).unwrap());
    }
    inputs.sort_by_key(|v| v.to_string());
    assert_eq!(inputs, [json!({"a": 1}), json!({"b": 2})]);
    // Not among the parent machine's own executions.
    let own = c
        .list_executions()
        .state_machine_arn(d.state_machine_arn)
        .send()
        .await
        .unwrap()
        .executions;
    assert_eq!(own.len(), 1);
}

#[tokio::test]
async fn a_label_names_the_map_run() {
    let emu = emulator().await;
    let c = client(&emu);
    let def = map_def(json!({"Label": "myLabel"}), pass_item());
    let exec = start(&c, "labelled", &def, json!({"Items": [1]})).await;
    wait_done(&c, &exec).await;
    let run_arn = map_run_arn(&history(&c, &exec).await);
    assert!(
        run_arn.starts_with("arn:aws:states:us-east-1:123456789012:mapRun:labelled/myLabel:"),
        "{run_arn}"
    );
}

#[tokio::test]
async fn max_concurrency_limits_running_children() {
    let emu = emulator().await;
    let c = client(&emu);
    let activity = c
        .create_activity()
        .name("item-work")
        .send()
        .await
        .unwrap()
        .activity_arn;
    let def = map_def(
        json!({"MaxConcurrency": 2}),
        json!({"Item": {"Type": "Task", "Resource": activity, "End": true}}),
    );
    let exec = start(&c, "limited", &def, json!({"Items": [0, 1, 2, 3, 4]})).await;
    let mut held = vec![
        poll_task(&c, &activity).await,
        poll_task(&c, &activity).await,
    ];
    let run_arn = map_run_arn(&history(&c, &exec).await);
    let describe = || async {
        c.describe_map_run()
            .map_run_arn(&run_arn)
            .send()
            .await
            .unwrap()
    };
    let m = describe().await;
    assert_eq!(m.max_concurrency, 2);
    let ic = m.item_counts.unwrap();
    assert_eq!((ic.running, ic.pending, ic.succeeded), (2, 3, 0));
    let (mut answered, mut started) = (0, 2);
    while let Some((token, input)) = held.pop() {
        c.send_task_success()
            .task_token(token)
            .output(input)
            .send()
            .await
            .unwrap();
        answered += 1;
        if started < 5 {
            held.push(poll_task(&c, &activity).await);
            started += 1;
            // Each answer lets exactly one more child start.
            let ic = describe().await.item_counts.unwrap();
            assert!(ic.running <= 2, "running {}", ic.running);
            assert_eq!(ic.succeeded, answered);
        }
    }
    let d = wait_done(&c, &exec).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(
        serde_json::from_str::<Value>(d.output.as_deref().unwrap()).unwrap(),
        json!([0, 1, 2, 3, 4])
    );
}

#[tokio::test]
async fn tolerated_failures_within_the_threshold_succeed() {
    let emu = emulator().await;
    let c = client(&emu);
    let items =
        json!({"Items": [{"fail": true}, {"fail": false}, {"fail": false}, {"fail": false}]});
    for (name, extra) in [
        ("count", json!({"ToleratedFailureCount": 1})),
        ("pct", json!({"ToleratedFailurePercentage": 25})),
        (
            "pct-path",
            json!({"ToleratedFailurePercentagePath": "$.pct"}),
        ),
    ] {
        let def = map_def(extra, fail_some());
        let mut input = items.clone();
        input["pct"] = json!(25.0);
        let exec = start(&c, name, &def, input).await;
        let d = wait_done(&c, &exec).await;
        assert_eq!(
            d.status,
            ExecutionStatus::Succeeded,
            "{name}: {:?}",
            d.cause
        );
        // A failed item's result is null.
        assert_eq!(
            serde_json::from_str::<Value>(d.output.as_deref().unwrap()).unwrap(),
            json!([null, {"fail": false}, {"fail": false}, {"fail": false}]),
            "{name}"
        );
        let run_arn = map_run_arn(&history(&c, &exec).await);
        let ic = c
            .describe_map_run()
            .map_run_arn(run_arn)
            .send()
            .await
            .unwrap()
            .item_counts
            .unwrap();
        assert_eq!((ic.failed, ic.succeeded, ic.total), (1, 3, 4), "{name}");
    }
}

#[tokio::test]
async fn exceeding_the_threshold_fails_the_map_run() {
    let emu = emulator().await;
    let c = client(&emu);
    let items =
        json!({"Items": [{"fail": true}, {"fail": false}, {"fail": false}, {"fail": false}]});
    for (name, extra) in [
        ("none", json!({})),
        ("count0", json!({"ToleratedFailureCount": 0})),
        ("pct20", json!({"ToleratedFailurePercentage": 20})),
    ] {
        let exec = start(&c, name, &map_def(extra, fail_some()), items.clone()).await;
        let d = wait_done(&c, &exec).await;
        assert_eq!(d.status, ExecutionStatus::Failed, "{name}");
        assert_eq!(
            (d.error.as_deref(), d.cause.as_deref()),
            (
                Some("States.ExceedToleratedFailureThreshold"),
                Some("The specified tolerated failure threshold was exceeded")
            ),
            "{name}"
        );
        let events = history(&c, &exec).await;
        let failed = events
            .iter()
            .find_map(|e| e.map_run_failed_event_details.as_ref())
            .expect("MapRunFailed");
        assert_eq!(
            failed.error.as_deref(),
            Some("States.ExceedToleratedFailureThreshold")
        );
        let tail = types(&events);
        assert_eq!(
            tail[tail.len() - 3..],
            [
                HistoryEventType::MapRunFailed,
                HistoryEventType::MapStateFailed,
                HistoryEventType::ExecutionFailed
            ]
        );
        let m = c
            .describe_map_run()
            .map_run_arn(map_run_arn(&events))
            .send()
            .await
            .unwrap();
        assert_eq!(m.status, MapRunStatus::Failed, "{name}");
    }

    // The error can be caught like any other.
    let mut def = map_def(json!({}), fail_some());
    def["States"]["MapState"]["Catch"] =
        json!([{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "Next": "Handled"}]);
    def["States"]["MapState"]
        .as_object_mut()
        .unwrap()
        .remove("End");
    def["States"]["MapState"]["Next"] = json!("Handled");
    def["States"]["Handled"] = json!({"Type": "Pass", "End": true});
    let exec = start(&c, "caught", &def, items).await;
    let d = wait_done(&c, &exec).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(
        serde_json::from_str::<Value>(d.output.as_deref().unwrap()).unwrap(),
        json!({"Error": "States.ExceedToleratedFailureThreshold",
               "Cause": "The specified tolerated failure threshold was exceeded"})
    );
}

/// Recorded: test_map_state_tolerated_failure_count_path / _percentage_path.
#[tokio::test]
async fn bad_tolerated_failure_values_fail_as_on_aws() {
    let emu = emulator().await;
    let c = client(&emu);
    let prefix =
        "An error occurred while executing the state 'MapState' (entered at the event id #2). ";
    let cases = [
        (
            json!({"ToleratedFailureCountPath": "$.ToleratedFailureCount"}),
            json!({"Items": [0], "ToleratedFailureCount": -1}),
            "ToleratedFailureCount cannot be negative.",
        ),
        (
            json!({"ToleratedFailureCountPath": "$.ToleratedFailureCount"}),
            json!({"Items": [0], "ToleratedFailureCount": "NoNumber"}),
            "The ToleratedFailureCountPath field refers to value \"NoNumber\" which is not a valid integer: $.ToleratedFailureCount",
        ),
        (
            json!({"ToleratedFailurePercentagePath": "$.ToleratedFailurePercentage"}),
            json!({"Items": [0], "ToleratedFailurePercentage": 100.1}),
            "ToleratedFailurePercentage must be between 0 and 100.",
        ),
        (
            json!({"ToleratedFailurePercentagePath": "$.ToleratedFailurePercentage"}),
            json!({"Items": [0], "ToleratedFailurePercentage": {}}),
            "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: $.ToleratedFailurePercentage",
        ),
    ];
    for (i, (extra, input, cause)) in cases.into_iter().enumerate() {
        let exec = start(&c, &format!("bad-{i}"), &map_def(extra, pass_item()), input).await;
        let d = wait_done(&c, &exec).await;
        assert_eq!(d.error.as_deref(), Some("States.Runtime"));
        assert_eq!(d.cause, Some(format!("{prefix}{cause}")));
        assert_eq!(
            types(&history(&c, &exec).await),
            [
                HistoryEventType::ExecutionStarted,
                HistoryEventType::MapStateEntered,
                HistoryEventType::MapStateStarted,
                HistoryEventType::ExecutionFailed,
            ]
        );
    }
}

#[tokio::test]
async fn stopping_the_parent_aborts_the_children() {
    let emu = emulator().await;
    let c = client(&emu);
    let activity = c
        .create_activity()
        .name("never")
        .send()
        .await
        .unwrap()
        .activity_arn;
    let def = map_def(
        json!({}),
        json!({"Item": {"Type": "Task", "Resource": activity, "End": true}}),
    );
    let exec = start(&c, "stopped", &def, json!({"Items": [1]})).await;
    poll_task(&c, &activity).await;
    c.stop_execution()
        .execution_arn(&exec)
        .send()
        .await
        .unwrap();
    let run_arn = map_run_arn(&history(&c, &exec).await);
    // The parent's task ends the run once it sees the stop: wait for that, as wait_done does.
    let m = loop {
        let m = c
            .describe_map_run()
            .map_run_arn(&run_arn)
            .send()
            .await
            .unwrap();
        if m.status != MapRunStatus::Running {
            break m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    assert_eq!(m.status, MapRunStatus::Aborted);
    assert_eq!(m.item_counts.unwrap().aborted, 1);
    let children = c
        .list_executions()
        .map_run_arn(&run_arn)
        .send()
        .await
        .unwrap()
        .executions;
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].status, ExecutionStatus::Aborted);
}

#[tokio::test]
async fn s3_item_sources_are_refused_at_create() {
    let emu = emulator().await;
    let c = client(&emu);
    let def = map_def(
        json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {}}}),
        pass_item(),
    );
    let err = c
        .create_state_machine()
        .name("reader")
        .definition(def.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidDefinition");
    let msg = format!("{:?}", err.into_service_error());
    assert!(msg.contains("ItemReader"), "{msg}");
}

#[tokio::test]
async fn unknown_map_runs_are_not_found() {
    let emu = emulator().await;
    let c = client(&emu);
    let err = c
        .describe_map_run()
        .map_run_arn("arn:aws:states:us-east-1:123456789012:mapRun:sm/x:y")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFound");
}
