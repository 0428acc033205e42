//! Choice, Wait, Succeed, Fail, Parallel and Map.

use serde_json::{Value, json};

use super::*;

fn choice_def() -> Value {
    json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
            {"And": [{"Variable": "$.s", "IsPresent": true}, {"Variable": "$.s", "StringMatches": "a*"}], "Next": "A"},
            {"Not": {"Variable": "$.flag", "BooleanEquals": true}, "Next": "NotFlag"}
        ], "Default": "Def"},
        "Big": {"Type": "Pass", "Result": "big", "End": true},
        "A": {"Type": "Pass", "Result": "a", "End": true},
        "NotFlag": {"Type": "Pass", "Result": "notflag", "End": true},
        "Def": {"Type": "Pass", "Result": "default", "End": true}
    }})
}

#[test]
fn choice_routes_by_rules_and_default() {
    let host = FakeHost::echo();
    assert_eq!(
        exec(choice_def(), json!({"n": 11, "flag": true}), &host).unwrap(),
        json!("big")
    );
    assert_eq!(
        exec(
            choice_def(),
            json!({"n": 1, "s": "abc", "flag": true}),
            &host
        )
        .unwrap(),
        json!("a")
    );
    assert_eq!(
        exec(
            choice_def(),
            json!({"n": 1, "s": "xyz", "flag": false}),
            &host
        )
        .unwrap(),
        json!("notflag")
    );
    assert_eq!(
        exec(choice_def(), json!({"n": 1, "flag": true}), &host).unwrap(),
        json!("default")
    );
    assert!(host.event_types().contains(&"ChoiceStateEntered"));
    assert!(host.event_types().contains(&"ChoiceStateExited"));
}

#[test]
fn choice_without_match_or_default_fails() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "E"}]},
        "E": {"Type": "Succeed"}}});
    assert_eq!(
        exec(def.clone(), json!({"n": 2}), &host).unwrap_err().error,
        "States.NoChoiceMatched"
    );
    assert_eq!(
        exec(def.clone(), json!({"n": 1}), &host).unwrap(),
        json!({"n": 1})
    );
    assert_eq!(
        exec(def, json!({}), &host).unwrap_err().error,
        "States.Runtime"
    );
}

#[test]
fn wait_sleeps_on_the_host_clock() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Wait", "Seconds": 5, "Next": "B"},
        "B": {"Type": "Wait", "SecondsPath": "$.s", "Next": "C"},
        "C": {"Type": "Wait", "Timestamp": "2023-11-14T22:14:00Z", "Next": "D"},
        "D": {"Type": "Wait", "TimestampPath": "$.ts", "Next": "E"},
        "E": {"Type": "Wait", "Timestamp": "2000-01-01T00:00:00Z", "End": true}
    }});
    // host.now() is 2023-11-14T22:13:20Z
    let out = exec(def, json!({"s": 3, "ts": "2023-11-14T22:13:30Z"}), &host).unwrap();
    assert_eq!(out, json!({"s": 3, "ts": "2023-11-14T22:13:30Z"}));
    assert_eq!(host.sleeps(), vec![5.0, 3.0, 40.0, 10.0]);
    assert_eq!(
        host.event_types()
            .iter()
            .filter(|e| **e == "WaitStateExited")
            .count(),
        5
    );
}

#[test]
fn fail_state_reports_error_and_cause() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "My.Error", "Cause": "because"}}});
    assert_eq!(
        exec(def, json!({}), &host).unwrap_err(),
        ErrorCause::new("My.Error", "because")
    );
    assert_eq!(host.event_types(), ["FailStateEntered"]);
    let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e",
        "CausePath": "States.Format('code {}', $.c)"}}});
    assert_eq!(
        exec(def, json!({"e": "E1", "c": 7}), &host).unwrap_err(),
        ErrorCause::new("E1", "code 7")
    );
}

#[test]
fn succeed_applies_input_and_output_paths() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "S", "States": {"S": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}}});
    assert_eq!(exec(def, json!({"a": {"b": 3}}), &host).unwrap(), json!(3));
    assert_eq!(
        host.event_types(),
        ["SucceedStateEntered", "SucceedStateExited"]
    );
}

fn parallel_def() -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
    "ResultSelector": {"first.$": "$[0]", "second.$": "$[1]"},
    "Branches": [
        {"StartAt": "B1", "States": {"B1": {"Type": "Task", "Resource": ARN, "Parameters": {"b": 1}, "End": true}}},
        {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "Result": "two", "End": true}}}
    ]}}})
}

#[test]
fn parallel_outputs_branch_results_in_order() {
    let host = FakeHost::echo();
    let out = exec(parallel_def(), json!({}), &host).unwrap();
    assert_eq!(out, json!({"first": {"b": 1}, "second": "two"}));
    let types = host.event_types();
    assert_eq!(types.first(), Some(&"ParallelStateEntered"));
    assert_eq!(types[1], "ParallelStateStarted");
    assert_eq!(
        &types[types.len() - 2..],
        ["ParallelStateSucceeded", "ParallelStateExited"]
    );
}

#[test]
fn parallel_branch_failure_fails_the_state_and_can_be_caught() {
    let host = FakeHost::new(|_| Err(fail_with("Branch.Error")));
    let err = exec(parallel_def(), json!({}), &host).unwrap_err();
    assert_eq!(err.error, "Branch.Error");
    assert!(host.event_types().contains(&"ParallelStateFailed"));
    let mut def = parallel_def();
    def["States"]["P"]["Catch"] =
        json!([{"ErrorEquals": ["Branch.Error"], "Next": "H", "ResultPath": "$.err"}]);
    def["States"]["H"] = json!({"Type": "Pass", "End": true});
    let out = exec(def, json!({"x": 1}), &host).unwrap();
    assert_eq!(out["err"]["Error"], "Branch.Error");
    assert_eq!(out["x"], 1);
}

#[test]
fn map_runs_items_with_item_selector_context() {
    let host = FakeHost::echo();
    let def = map_def(
        json!({"ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "k.$": "$.k"}}),
    );
    let out = exec(def, json!({"k": "K", "items": ["a", "b", "c"]}), &host).unwrap();
    assert_eq!(
        out,
        json!([{"i": 0, "v": "a", "k": "K"}, {"i": 1, "v": "b", "k": "K"}, {"i": 2, "v": "c", "k": "K"}])
    );
    let events = host.events.lock().unwrap();
    let started = events
        .iter()
        .find(|e| e.event_type == "MapStateStarted")
        .unwrap();
    assert_eq!(started.details, json!({"length": 3}));
    let iters: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "MapIterationSucceeded")
        .collect();
    assert_eq!(iters.len(), 3);
    assert_eq!(iters[0].details["name"], "M");
}

#[test]
fn map_failure_fails_the_state() {
    let host = FakeHost::new(|r| {
        if r.input == json!(2) {
            Err(fail_with("Item.Error"))
        } else {
            Ok(r.input.clone())
        }
    });
    let err = exec(map_def(json!({})), json!({"items": [1, 2, 3]}), &host).unwrap_err();
    assert_eq!(err.error, "Item.Error");
    let types = host.event_types();
    assert!(types.contains(&"MapIterationFailed"));
    assert!(types.contains(&"MapStateFailed"));
    assert!(!types.contains(&"MapStateExited"));
}

#[test]
fn map_legacy_iterator_and_parameters() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemsPath": "$.xs",
        "Parameters": {"x.$": "$$.Map.Item.Value"},
        "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Pass", "OutputPath": "$.x", "End": true}}}}}});
    assert_eq!(
        exec(def, json!({"xs": [5, 6]}), &host).unwrap(),
        json!([5, 6])
    );
}

#[test]
fn map_items_path_must_be_an_array() {
    let host = FakeHost::echo();
    let err = exec(map_def(json!({})), json!({"items": {"a": 1}}), &host).unwrap_err();
    assert_eq!(err.error, "States.Runtime");
}

#[test]
fn dropping_the_execution_aborts_the_running_state() {
    let host = FakeHost::echo();
    host.hang_sleeps
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let def =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}});
    let dyn_host: std::sync::Arc<dyn crate::asl::Host> = host.clone();
    let fut = crate::asl::run(machine(def), json!({}), info(), dyn_host);
    assert!(
        futures::FutureExt::now_or_never(fut).is_none(),
        "the wait should still be pending"
    );
    assert_eq!(host.event_types(), ["WaitStateEntered", "WaitStateAborted"]);
}

#[test]
fn a_failed_branch_aborts_the_other_branches() {
    let host = FakeHost::new(|_| Err(fail_with("Boom")));
    host.hang_sleeps
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": true}}},
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": ARN, "End": true}}}
    ]}}});
    assert_eq!(exec(def, json!({}), &host).unwrap_err().error, "Boom");
    let types = host.event_types();
    assert!(types.contains(&"WaitStateAborted"), "{types:?}");
    assert!(!types.contains(&"WaitStateExited"), "{types:?}");
    assert!(
        !types.contains(&"TaskStateAborted"),
        "a failed state is not aborted: {types:?}"
    );
    assert_eq!(types.last(), Some(&"ParallelStateFailed"));
}

#[test]
fn job_poller_loops_until_the_job_is_done() {
    let mut polls = 0;
    let host = FakeHost::new(move |r| {
        if r.input.get("jobId").is_none() {
            return Ok(json!({"jobId": "j-1"}));
        }
        polls += 1;
        Ok(json!(if polls < 3 { "RUNNING" } else { "SUCCEEDED" }))
    });
    let activity = |name: &str| format!("arn:aws:states:us-east-1:123456789012:activity:{name}");
    let def = json!({
        "Comment": "submit, then poll every 5 s until done",
        "StartAt": "Submit",
        "States": {
            "Submit": {"Type": "Task", "Resource": activity("submit"), "ResultPath": "$.job", "Next": "Wait"},
            "Wait": {"Type": "Wait", "SecondsPath": "$.every", "Next": "Status"},
            "Status": {"Type": "Task", "Resource": activity("status"), "InputPath": "$.job",
                       "ResultPath": "$.status", "Next": "Done?"},
            "Done?": {"Type": "Choice", "Choices": [
                {"Variable": "$.status", "StringEquals": "FAILED", "Next": "Failed"},
                {"Variable": "$.status", "StringEquals": "SUCCEEDED", "Next": "Report"}
            ], "Default": "Wait"},
            "Failed": {"Type": "Fail", "Error": "Job.Failed"},
            "Report": {"Type": "Pass", "Parameters": {"job.$": "$.job.jobId", "status.$": "$.status"}, "End": true}
        }
    });
    let out = exec(def, json!({"every": 5}), &host).unwrap();
    assert_eq!(out, json!({"job": "j-1", "status": "SUCCEEDED"}));
    assert_eq!(host.sleeps(), vec![5.0, 5.0, 5.0]);
    let reqs = host.requests();
    assert_eq!(reqs.len(), 4);
    assert_eq!(reqs[1].resource, activity("status"));
    assert_eq!(reqs[1].input, json!({"jobId": "j-1"}));
    assert_eq!(
        host.event_types()
            .iter()
            .filter(|t| **t == "ChoiceStateEntered")
            .count(),
        3
    );
}

#[test]
fn map_over_no_items_outputs_an_empty_array() {
    let host = FakeHost::echo();
    let out = exec(
        map_def(json!({"ResultPath": "$.results"})),
        json!({"items": []}),
        &host,
    )
    .unwrap();
    assert_eq!(out, json!({"items": [], "results": []}));
    assert!(host.requests().is_empty());
    let events = host.events.lock().unwrap();
    let started = events
        .iter()
        .find(|e| e.event_type == "MapStateStarted")
        .unwrap();
    assert_eq!(started.details, json!({"length": 0}));
}
