//! Interpreter tests with a fake [`Host`](super::Host): activities answer from a closure, sleeps
//! return at once and are recorded, events are collected.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::channel::oneshot;
use futures::executor::{LocalPool, block_on};
use futures::future::BoxFuture;
use futures::task::LocalSpawnExt;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{ActivityRequest, ErrorCause, Event, ExecutionInfo, Host, StateMachine, parse, run};

const ARN: &str = "arn:aws:states:us-east-1:123456789012:activity:work";

type Responder = Box<dyn FnMut(&ActivityRequest) -> Result<Value, ErrorCause> + Send>;

struct FakeHost {
    responder: Mutex<Responder>,
    requests: Mutex<Vec<ActivityRequest>>,
    sleeps: Mutex<Vec<Duration>>,
    events: Mutex<Vec<Event>>,
    now: OffsetDateTime,
}

impl FakeHost {
    fn new(
        responder: impl FnMut(&ActivityRequest) -> Result<Value, ErrorCause> + Send + 'static,
    ) -> Arc<Self> {
        Arc::new(FakeHost {
            responder: Mutex::new(Box::new(responder)),
            requests: Mutex::new(Vec::new()),
            sleeps: Mutex::new(Vec::new()),
            events: Mutex::new(Vec::new()),
            now: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        })
    }

    /// Echoes the activity input back.
    fn echo() -> Arc<Self> {
        FakeHost::new(|r| Ok(r.input.clone()))
    }

    fn sleeps(&self) -> Vec<f64> {
        self.sleeps
            .lock()
            .unwrap()
            .iter()
            .map(Duration::as_secs_f64)
            .collect()
    }

    fn requests(&self) -> Vec<ActivityRequest> {
        self.requests.lock().unwrap().clone()
    }

    fn event_types(&self) -> Vec<&'static str> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.event_type)
            .collect()
    }
}

impl Host for FakeHost {
    fn run_activity(&self, req: ActivityRequest) -> BoxFuture<'static, Result<Value, ErrorCause>> {
        let res = (self.responder.lock().unwrap())(&req);
        self.requests.lock().unwrap().push(req);
        futures::future::ready(res).boxed()
    }

    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        self.sleeps.lock().unwrap().push(d);
        futures::future::ready(()).boxed()
    }

    fn now(&self) -> OffsetDateTime {
        self.now
    }

    fn record(&self, event: Event) {
        self.events.lock().unwrap().push(event);
    }
}

fn info() -> ExecutionInfo {
    ExecutionInfo {
        id: "arn:aws:states:us-east-1:123456789012:execution:sm:ex1".into(),
        name: "ex1".into(),
        start_time: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        role_arn: "arn:aws:iam::123456789012:role/r".into(),
        state_machine_id: "arn:aws:states:us-east-1:123456789012:stateMachine:sm".into(),
        state_machine_name: "sm".into(),
    }
}

fn machine(def: Value) -> Arc<StateMachine> {
    parse(&def.to_string()).unwrap_or_else(|e| panic!("definition should parse: {e}"))
}

fn exec(def: Value, input: Value, host: &Arc<FakeHost>) -> Result<Value, ErrorCause> {
    let host: Arc<dyn Host> = host.clone();
    block_on(run(machine(def), input, info(), host))
}

fn task(extra: Value) -> Value {
    let mut t = json!({"Type": "Task", "Resource": ARN, "End": true});
    t.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"StartAt": "T", "States": {"T": t}})
}

fn fail_with(error: &str) -> ErrorCause {
    ErrorCause::new(error, "boom")
}

#[test]
fn timeout_seconds_is_exposed() {
    let m = machine(
        json!({"TimeoutSeconds": 9, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
    );
    assert_eq!(m.timeout_seconds(), Some(9));
    assert_eq!(m.definition["StartAt"], "P");
}

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
    assert_eq!(r.state_name, "T");
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
    let a = super::interpreter::task_token();
    let b = super::interpreter::task_token();
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
        err.cause
            .contains("Invalid path '$.foo' : No results for path: $['foo']"),
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
fn non_activity_resources_are_refused_at_run_time() {
    let host = FakeHost::echo();
    let mut def = task(json!({}));
    def["States"]["T"]["Resource"] = json!("arn:aws:states:::lambda:invoke");
    let err = exec(def, json!({}), &host).unwrap_err();
    assert_eq!(err.error, "States.Runtime");
    assert!(
        err.cause.contains("only activity resources"),
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

fn map_def(extra: Value) -> Value {
    let mut m = json!({"Type": "Map", "End": true, "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Task", "Resource": ARN, "End": true}}}});
    m.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"StartAt": "M", "States": {"M": m}})
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

type Gate = (Value, oneshot::Sender<Result<Value, ErrorCause>>);

/// A host whose activities finish only when the test says so, to observe concurrency.
struct GatedHost {
    pending: Mutex<Vec<Gate>>,
}

impl Host for GatedHost {
    fn run_activity(&self, req: ActivityRequest) -> BoxFuture<'static, Result<Value, ErrorCause>> {
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().push((req.input, tx));
        async move {
            rx.await
                .unwrap_or_else(|_| Err(ErrorCause::new("Dropped", "")))
        }
        .boxed()
    }
    fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> {
        futures::future::ready(()).boxed()
    }
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH
    }
    fn record(&self, _: Event) {}
}

/// Runs `def` on a local pool; answers activities in reverse order of arrival, `batch` at a
/// time, and returns the result plus the largest number of activities seen pending at once.
fn run_gated(def: Value, input: Value) -> (Result<Value, ErrorCause>, usize) {
    let host = Arc::new(GatedHost {
        pending: Mutex::new(Vec::new()),
    });
    let result = Arc::new(Mutex::new(None));
    let mut pool = LocalPool::new();
    let (h, r) = (host.clone() as Arc<dyn Host>, result.clone());
    let m = machine(def);
    pool.spawner()
        .spawn_local(async move {
            let out = run(m, input, info(), h).await;
            *r.lock().unwrap() = Some(out);
        })
        .unwrap();
    let mut max_pending = 0;
    loop {
        pool.run_until_stalled();
        if let Some(out) = result.lock().unwrap().take() {
            return (out, max_pending);
        }
        let mut pending = std::mem::take(&mut *host.pending.lock().unwrap());
        assert!(
            !pending.is_empty(),
            "execution stalled with no pending activity"
        );
        max_pending = max_pending.max(pending.len());
        while let Some((input, tx)) = pending.pop() {
            let _ = tx.send(Ok(json!({"done": input})));
        }
    }
}

#[test]
fn map_runs_concurrently_and_keeps_item_order() {
    let (out, max_pending) = run_gated(map_def(json!({})), json!({"items": [0, 1, 2, 3, 4]}));
    assert_eq!(
        out.unwrap(),
        json!([{"done": 0}, {"done": 1}, {"done": 2}, {"done": 3}, {"done": 4}])
    );
    assert_eq!(
        max_pending, 5,
        "all items should run at once without MaxConcurrency"
    );
}

#[test]
fn map_max_concurrency_limits_items_in_flight() {
    let (out, max_pending) = run_gated(
        map_def(json!({"MaxConcurrency": 2})),
        json!({"items": [0, 1, 2, 3, 4]}),
    );
    assert_eq!(out.unwrap().as_array().unwrap().len(), 5);
    assert_eq!(max_pending, 2);
}

#[test]
fn parallel_branches_run_concurrently_in_branch_order() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": ARN, "Parameters": {"b": "a"}, "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": ARN, "Parameters": {"b": "b"}, "End": true}}}
    ]}}});
    let (out, max_pending) = run_gated(def, json!({}));
    assert_eq!(
        out.unwrap(),
        json!([{"done": {"b": "a"}}, {"done": {"b": "b"}}])
    );
    assert_eq!(max_pending, 2);
}

#[test]
fn run_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let host: Arc<dyn Host> = FakeHost::echo();
    let fut = run(machine(task(json!({}))), json!({}), info(), host);
    assert_send(&fut);
}

#[test]
fn oversized_state_output_fails_with_data_limit_exceeded() {
    let host = FakeHost::new(|_| Ok(json!("x".repeat(300_000))));
    let def = task(json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "T"}]}));
    let err = exec(def, json!({}), &host).unwrap_err();
    assert_eq!(err.error, "States.DataLimitExceeded");
}

#[test]
fn data_paths_cannot_read_the_context_object() {
    for (field, value) in [
        ("InputPath", "$$.Execution.Input"),
        ("ResultPath", "$$.x"),
        ("OutputPath", "$$.State"),
    ] {
        let def =
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true, field: value}}});
        let e = parse(&def.to_string()).unwrap_err();
        assert_eq!(e.path, format!("/States/P/{field}"));
    }
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
