//! Input and output processing: paths, Parameters, ResultSelector, ResultPath, the context
//! object, events.

use serde_json::json;

use super::*;

#[test]
fn pass_state_paths_and_result() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.res", "Next": "B"},
        "B": {"Type": "Pass", "InputPath": "$.res", "Parameters": {"y.$": "$.x", "k": "v"}, "ResultPath": "$.p",
              "OutputPath": "$.p", "Next": "C"},
        "C": {"Type": "Pass", "ResultPath": null, "End": true}
    }});
    let out = exec(def, json!({"in": true}), &host).unwrap();
    assert_eq!(out, json!({"y": 1, "k": "v"}));
    assert_eq!(
        host.event_types(),
        [
            "PassStateEntered",
            "PassStateExited",
            "PassStateEntered",
            "PassStateExited",
            "PassStateEntered",
            "PassStateExited"
        ]
    );
}

#[test]
fn entered_and_exited_events_carry_name_and_json_strings() {
    let host = FakeHost::echo();
    exec(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": [1], "End": true}}}),
        json!({"a": 1}),
        &host,
    )
    .unwrap();
    let events = host.events.lock().unwrap();
    assert_eq!(events[0].details_key, Some("stateEnteredEventDetails"));
    assert_eq!(events[0].details["name"], "A");
    assert_eq!(events[0].details["input"], "{\"a\":1}");
    assert_eq!(events[1].details_key, Some("stateExitedEventDetails"));
    assert_eq!(events[1].details["output"], "[1]");
}

#[test]
fn input_path_null_gives_empty_object() {
    let host = FakeHost::echo();
    let out = exec(task(json!({"InputPath": null})), json!({"a": 1}), &host).unwrap();
    assert_eq!(out, json!({}));
}

#[test]
fn task_runs_the_activity_with_effective_input_and_shapes_the_result() {
    let host = FakeHost::new(|_| Ok(json!({"body": {"n": 7}, "noise": 1})));
    let def = task(json!({
        "InputPath": "$.job",
        "Parameters": {"id.$": "$.id", "exec.$": "$$.Execution.Name", "token.$": "$$.Task.Token",
                       "state.$": "$$.State.Name", "sm.$": "$$.StateMachine.Name", "orig.$": "$$.Execution.Input.job.id"},
        "ResultSelector": {"n.$": "$.body.n"},
        "ResultPath": "$.job.result",
        "OutputPath": "$.job",
        "HeartbeatSeconds": 10,
        "TimeoutSeconds": 60
    }));
    let out = exec(def, json!({"job": {"id": "j1"}, "other": 2}), &host).unwrap();
    assert_eq!(out, json!({"id": "j1", "result": {"n": 7}}));
    let reqs = host.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.resource, ARN);
    assert_eq!(
        (r.heartbeat_seconds, r.timeout_seconds),
        (Some(10), Some(60))
    );
    assert_eq!(r.input["id"], "j1");
    assert_eq!(r.input["exec"], "ex1");
    assert_eq!(r.input["state"], "T");
    assert_eq!(r.input["sm"], "sm");
    assert_eq!(r.input["orig"], "j1");
    assert_eq!(r.input["token"], r.task_token.as_str());
    assert!(
        r.task_token.len() >= 100,
        "token should be long and opaque: {}",
        r.task_token
    );
    assert_eq!(host.event_types(), ["TaskStateEntered", "TaskStateExited"]);
}

#[test]
fn task_tokens_are_unique() {
    let a = crate::asl::interpreter::task_token();
    let b = crate::asl::interpreter::task_token();
    assert_ne!(a, b);
}

#[test]
fn timeout_and_heartbeat_paths_are_resolved_from_the_input() {
    let host = FakeHost::echo();
    exec(
        task(json!({"TimeoutSecondsPath": "$.t", "HeartbeatSecondsPath": "$.h"})),
        json!({"t": 30, "h": 5}),
        &host,
    )
    .unwrap();
    let r = &host.requests()[0];
    assert_eq!(
        (r.heartbeat_seconds, r.timeout_seconds),
        (Some(5), Some(30))
    );
    let err = exec(
        task(json!({"TimeoutSecondsPath": "$.t"})),
        json!({"t": "soon"}),
        &host,
    )
    .unwrap_err();
    assert_eq!(err.error, "States.Runtime");
}

#[test]
fn intrinsics_in_pass_parameters() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true, "Parameters": {
        "greeting.$": "States.Format('Hello, {}!', $.name)",
        "list.$": "States.Array($.name, 1)",
        "len.$": "States.ArrayLength($.items)",
        "sum.$": "States.MathAdd($.n, 2)",
        "s.$": "States.JsonToString($.items)",
        "id.$": "States.UUID()"
    }}}});
    let out = exec(
        def,
        json!({"name": "World", "items": [1, 2], "n": 40}),
        &host,
    )
    .unwrap();
    assert_eq!(out["greeting"], "Hello, World!");
    assert_eq!(out["list"], json!(["World", 1]));
    assert_eq!(out["len"], 2);
    assert_eq!(out["sum"], 42);
    assert_eq!(out["s"], "[1,2]");
    assert_eq!(out["id"].as_str().unwrap().len(), 36);
}

#[test]
fn oversized_state_output_fails_with_data_limit_exceeded() {
    let host = FakeHost::new(|_| Ok(json!("x".repeat(300_000))));
    let def = task(json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "T"}]}));
    let err = exec(def, json!({}), &host).unwrap_err();
    assert_eq!(err.error, "States.DataLimitExceeded");
}

#[test]
fn result_path_cannot_write_the_context_object() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true, "ResultPath": "$$.x"}}});
    let e = parse(&def.to_string()).unwrap_err();
    assert_eq!(e.path, "/States/P/ResultPath");
}

#[test]
fn data_paths_can_read_the_context_object() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "InputPath": "$$.Execution.Id", "ResultPath": "$.id", "Next": "W"},
        "W": {"Type": "Wait", "SecondsPath": "$$.Execution.Input.s", "Next": "M"},
        "M": {"Type": "Map", "ItemsPath": "$$.Execution.Input.items", "OutputPath": "$$.State.Name", "End": true,
              "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}}
    }});
    let out = exec(def, json!({"s": 2, "items": [1]}), &host).unwrap();
    assert_eq!(out, json!("M"));
    assert_eq!(host.sleeps(), vec![2.0]);
    let events = host.events.lock().unwrap();
    let exited = events
        .iter()
        .find(|e| e.event_type == "PassStateExited")
        .unwrap();
    let output: serde_json::Value =
        serde_json::from_str(exited.details["output"].as_str().unwrap()).unwrap();
    assert_eq!(
        output["id"],
        "arn:aws:states:us-east-1:123456789012:execution:sm:ex1"
    );
}

#[test]
fn context_entered_time_and_start_time_are_formatted_like_aws() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
        "Parameters": {"entered.$": "$$.State.EnteredTime", "start.$": "$$.Execution.StartTime", "id.$": "$$.Execution.Id"}}}});
    let out = exec(def, json!({}), &host).unwrap();
    assert_eq!(out["entered"], "2023-11-14T22:13:20.000Z");
    assert_eq!(out["start"], "2023-11-14T22:13:20.000Z");
    assert_eq!(
        out["id"],
        "arn:aws:states:us-east-1:123456789012:execution:sm:ex1"
    );
}
