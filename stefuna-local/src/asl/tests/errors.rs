//! Retry, Catch and the errors that fail an execution.

use serde_json::{Value, json};

use super::*;

#[test]
fn retry_backs_off_exponentially_then_succeeds() {
    let mut calls = 0;
    let host = FakeHost::new(move |r| {
        calls += 1;
        if calls <= 3 {
            Err(fail_with("Task.Failure"))
        } else {
            Ok(json!({"retries": r.input["rc"].clone()}))
        }
    });
    let def = task(json!({
        "Parameters": {"rc.$": "$$.State.RetryCount"},
        "Retry": [{"ErrorEquals": ["Task.Failure"], "IntervalSeconds": 1, "BackoffRate": 2, "MaxAttempts": 3}]
    }));
    let out = exec(def, json!({}), &host).unwrap();
    assert_eq!(out, json!({"retries": 3}));
    assert_eq!(host.sleeps(), vec![1.0, 2.0, 4.0]);
    assert_eq!(host.requests().len(), 4);
}

#[test]
fn retry_gives_up_after_max_attempts_and_max_delay_caps() {
    let host = FakeHost::new(|_| Err(fail_with("Task.Failure")));
    let def = task(
        json!({"Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "BackoffRate": 3,
        "MaxAttempts": 4, "MaxDelaySeconds": 10}]}),
    );
    let err = exec(def, json!({}), &host).unwrap_err();
    assert_eq!(err, fail_with("Task.Failure"));
    assert_eq!(host.sleeps(), vec![2.0, 6.0, 10.0, 10.0]);
    assert_eq!(host.requests().len(), 5);
    assert_eq!(host.event_types(), ["TaskStateEntered"]);
}

#[test]
fn max_attempts_zero_never_retries() {
    let host = FakeHost::new(|_| Err(fail_with("X")));
    let err = exec(
        task(json!({"Retry": [{"ErrorEquals": ["X"], "MaxAttempts": 0}]})),
        json!({}),
        &host,
    )
    .unwrap_err();
    assert_eq!(err.error, "X");
    assert!(host.sleeps().is_empty());
}

#[test]
fn catch_routes_the_error_with_result_path() {
    let host = FakeHost::new(|_| Err(ErrorCause::new("Task.Failure", "it broke")));
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": ARN, "Next": "Done",
              "Retry": [{"ErrorEquals": ["Task.Failure"], "MaxAttempts": 1}],
              "Catch": [{"ErrorEquals": ["Other"], "Next": "Done"},
                        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handler"}]},
        "Handler": {"Type": "Pass", "End": true},
        "Done": {"Type": "Succeed"}
    }});
    let out = exec(def, json!({"keep": 1}), &host).unwrap();
    assert_eq!(
        out,
        json!({"keep": 1, "error": {"Error": "Task.Failure", "Cause": "it broke"}})
    );
    assert_eq!(host.sleeps(), vec![1.0]);
    assert_eq!(
        host.event_types(),
        [
            "TaskStateEntered",
            "TaskStateExited",
            "PassStateEntered",
            "PassStateExited"
        ]
    );
}

#[test]
fn catch_default_result_path_replaces_the_input() {
    let host = FakeHost::new(|_| Err(ErrorCause::new("E", "c")));
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": ARN, "End": true, "Catch": [{"ErrorEquals": ["E"], "Next": "H"}]},
        "H": {"Type": "Pass", "End": true}}});
    assert_eq!(
        exec(def, json!({"a": 1}), &host).unwrap(),
        json!({"Error": "E", "Cause": "c"})
    );
}

#[test]
fn task_failed_does_not_match_timeout_but_states_timeout_does() {
    let def = |errors: Value| {
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": ARN, "End": true, "Catch": [{"ErrorEquals": errors, "Next": "H"}]},
            "H": {"Type": "Pass", "Result": "caught", "End": true}}})
    };
    let host = FakeHost::new(|_| Err(ErrorCause::new("States.Timeout", "")));
    assert_eq!(
        exec(def(json!(["States.TaskFailed"])), json!({}), &host)
            .unwrap_err()
            .error,
        "States.Timeout"
    );
    assert_eq!(
        exec(def(json!(["States.Timeout"])), json!({}), &host).unwrap(),
        json!("caught")
    );
    assert_eq!(
        exec(def(json!(["States.ALL"])), json!({}), &host).unwrap(),
        json!("caught")
    );
    let host = FakeHost::new(|_| Err(ErrorCause::new("Custom.Error", "")));
    assert_eq!(
        exec(def(json!(["States.TaskFailed"])), json!({}), &host).unwrap(),
        json!("caught")
    );
    assert_eq!(
        exec(def(json!(["Other"])), json!({}), &host)
            .unwrap_err()
            .error,
        "Custom.Error"
    );
}

#[test]
fn runtime_errors_are_neither_retried_nor_caught() {
    let host = FakeHost::echo();
    let def = task(json!({
        "Parameters": {"x.$": "$.foo"},
        "Retry": [{"ErrorEquals": ["States.ALL"]}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "T"}]
    }));
    let err = exec(def, json!({}), &host).unwrap_err();
    assert_eq!(err.error, "States.Runtime");
    assert!(err.cause.contains("state 'T'"), "{}", err.cause);
    assert!(
        err.cause.contains(
            "The JSONPath '$.foo' specified for the field 'x.$' could not be found in the input '{}'"
        ),
        "{}",
        err.cause
    );
    assert!(host.sleeps().is_empty());
    assert!(host.requests().is_empty());
}

#[test]
fn path_errors_fail_with_states_runtime() {
    let host = FakeHost::echo();
    for def in [
        task(json!({"InputPath": "$.missing"})),
        task(json!({"OutputPath": "$.missing"})),
        task(json!({"ResultSelector": {"a.$": "$.missing"}})),
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.missing", "End": true}}}),
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.missing", "End": true}}}),
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.missing", "End": true,
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}}}}),
    ] {
        let err = exec(def.clone(), json!({"a": 1}), &host).unwrap_err();
        assert_eq!(err.error, "States.Runtime", "{def}");
        assert!(err.cause.contains("$.missing"), "{def}: {}", err.cause);
    }
}

#[test]
fn result_path_match_failure_is_catchable() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": ARN, "ResultPath": "$.r", "End": true,
              "Catch": [{"ErrorEquals": ["States.ResultPathMatchFailure"], "Next": "H"}]},
        "H": {"Type": "Pass", "End": true}}});
    let out = exec(def, json!("a string"), &host).unwrap();
    assert_eq!(out["Error"], "States.ResultPathMatchFailure");
}

#[test]
fn unmocked_service_integrations_fail_naming_the_state_and_the_mock_file() {
    let host = FakeHost::echo();
    let mut def = task(json!({}));
    def["States"]["T"]["Resource"] = json!("arn:aws:states:::lambda:invoke");
    let err = exec(def, json!({}), &host).unwrap_err();
    assert_eq!(err.error, "States.Runtime");
    assert!(
        err.cause
            .contains("the Task state 'T' calls 'arn:aws:states:::lambda:invoke'")
            && err.cause.contains("MockConfigFile"),
        "{}",
        err.cause
    );
}

#[test]
fn intrinsic_failures_go_through_catch() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": ARN, "End": true,
              "Parameters": {"j.$": "States.StringToJson($.s)"},
              "Catch": [{"ErrorEquals": ["States.IntrinsicFailure"], "Next": "H"}]},
        "H": {"Type": "Pass", "End": true}}});
    let out = exec(def.clone(), json!({"s": "not json"}), &host).unwrap();
    assert_eq!(out["Error"], "States.IntrinsicFailure");
    let out = exec(def, json!({"s": "{\"a\":[1]}"}), &host).unwrap();
    assert_eq!(out, json!({"j": {"a": [1]}}));
}
