//! Runtime error texts pinned to AWS's recorded answers (LocalStack's snapshots recorded
//! against AWS: `base/test_wait.snapshot.json`, `scenarios/test_base_scenarios.snapshot.json`).
//! Every cause starts with AWS's prefix naming the state and the id of its entered event.

use serde_json::{Value, json};

use super::*;

fn runtime_cause(def: Value, input: Value) -> String {
    let err = exec(def, input, &FakeHost::echo()).expect_err("the execution fails");
    assert_eq!(err.error, "States.Runtime", "{}", err.cause);
    err.cause
}

fn wait_seconds_path(input: Value) -> String {
    let def = json!({"StartAt": "WaitState", "States": {"WaitState": {
        "Type": "Wait", "SecondsPath": "$.input.waitSeconds", "End": true}}});
    runtime_cause(def, input)
}

const WAIT_PREFIX: &str =
    "An error occurred while executing the state 'WaitState' (entered at the event id #2). ";

#[test]
fn seconds_path_causes_match_aws() {
    for (input, rest) in [
        (
            json!({}),
            "The SecondsPath parameter does not reference an input value: $.input.waitSeconds",
        ),
        (
            json!({"input": {"waitSeconds": -1}}),
            "The SecondsPath parameter references a negative value: $.input.waitSeconds == -1",
        ),
        (
            json!({"input": {"waitSeconds": 1.5}}),
            "The SecondsPath parameter cannot be parsed as a long value: $.input.waitSeconds == 1.5",
        ),
        (
            json!({"input": {"waitSeconds": -1.5}}),
            "The SecondsPath parameter cannot be parsed as a long value: $.input.waitSeconds == -1.5",
        ),
    ] {
        assert_eq!(wait_seconds_path(input), format!("{WAIT_PREFIX}{rest}"));
    }
}

#[test]
fn timestamp_path_causes_match_aws() {
    let def = json!({"StartAt": "WaitUntil", "States": {"WaitUntil": {
        "Type": "Wait", "TimestampPath": "$.TimestampValue", "End": true}}});
    for bad in [
        "2016-13-05T21:29:29Z",
        "2016-12-05T25:29:29Z",
        "2016-12-05T21:29:29",
        "2016-12-05 21:29:29Z",
        "05-12-2016T21:29:29Z",
    ] {
        assert_eq!(
            runtime_cause(def.clone(), json!({ "TimestampValue": bad })),
            format!(
                "An error occurred while executing the state 'WaitUntil' (entered at the event id #2). The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: $.TimestampValue == {bad}"
            )
        );
    }
}

/// Recorded: 24855 days ahead waits, 24856 days fails.
#[test]
fn a_wait_too_far_ahead_fails_as_on_aws() {
    let now = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    let at = |days: i64| {
        let t = now + time::Duration::days(days);
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let def = json!({"StartAt": "State_1", "States": {"State_1": {
        "Type": "Wait", "TimestampPath": "$.start_at", "End": true}}});
    assert_eq!(
        runtime_cause(def.clone(), json!({"start_at": at(24_856)})),
        "An error occurred while executing the state 'State_1' (entered at the event id #2). Wait state delay is too long."
    );
    let host = FakeHost::echo();
    exec(def, json!({"start_at": at(24_855)}), &host).expect("waits");
    assert_eq!(host.sleeps(), vec![24_855.0 * 86_400.0]);
}

#[test]
fn max_concurrency_path_causes_match_aws() {
    let def = json!({"StartAt": "MapState", "States": {"MapState": {
        "Type": "Map", "ItemsPath": "$.Values", "MaxConcurrencyPath": "$.MaxConcurrencyValue",
        "End": true,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
    for (v, shown) in [(json!("NoNumber"), "NoNumber"), (json!({}), "{}")] {
        assert_eq!(
            runtime_cause(
                def.clone(),
                json!({"MaxConcurrencyValue": v, "Values": ["HelloWorld"]})
            ),
            format!(
                "An error occurred while executing the state 'MapState' (entered at the event id #2). The MaxConcurrencyPath field refers to value \"{shown}\" which is not a valid integer: $.MaxConcurrencyValue"
            )
        );
    }
}

/// `test_invalid_jsonpath[...]`: AWS names the field and prints the input it searched.
#[test]
fn missing_paths_name_the_field_as_aws_does() {
    let pass_then = |second: Value| {
        json!({"StartAt": "pass", "States": {
            "pass": {"Type": "Pass", "Next": "fail", "Parameters": {"Error": "error-value"}},
            "fail": second}})
    };
    assert_eq!(
        runtime_cause(
            pass_then(json!({"Type": "Fail", "ErrorPath": "$.ErrorX"})),
            json!({"int-literal": 0})
        ),
        "An error occurred while executing the state 'fail' (entered at the event id #4). The JSONPath '$.ErrorX' specified for the field 'ErrorPath' could not be found in the input '{\"Error\":\"error-value\"}'"
    );
    assert_eq!(
        runtime_cause(
            pass_then(json!({"Type": "Fail", "CausePath": "$.NoSuchCausePath"})),
            json!({"int-literal": 0})
        ),
        "An error occurred while executing the state 'fail' (entered at the event id #4). The JSONPath '$.NoSuchCausePath' specified for the field 'CausePath' could not be found in the input '{\"Error\":\"error-value\"}'"
    );
    let pass = |fields: Value| {
        let mut p = json!({"Type": "Pass", "End": true});
        p.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        json!({"StartAt": "pass", "States": {"pass": p}})
    };
    assert_eq!(
        runtime_cause(
            pass(json!({"Parameters": {"value.$": "$.no_such_jsonpath"}})),
            json!({"int-literal": 0})
        ),
        "An error occurred while executing the state 'pass' (entered at the event id #2). The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '{\"int-literal\":0}'"
    );
    let cause = runtime_cause(
        pass(json!({"Parameters": {"value.$": "$$.Execution.Input.no_such_jsonpath"}})),
        json!({"int-literal": 0}),
    );
    let prefix = "An error occurred while executing the state 'pass' (entered at the event id #2). The JSONPath '$$.Execution.Input.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '";
    assert!(cause.starts_with(prefix), "{cause}");
    // The input searched is the context object, as compact JSON.
    let searched: Value = serde_json::from_str(&cause[prefix.len()..cause.len() - 1]).unwrap();
    assert_eq!(searched["Execution"]["Input"], json!({"int-literal": 0}));
    for (field, path, name) in [
        ("InputPath", "$.NoSuchInputPath", "NoSuchInputPath"),
        ("OutputPath", "$.NoSuchOutputPath", "NoSuchOutputPath"),
    ] {
        assert_eq!(
            runtime_cause(pass(json!({ field: path })), json!({"int-literal": 0})),
            format!(
                "An error occurred while executing the state 'pass' (entered at the event id #2). Invalid path '{path}' : No results for path: $['{name}']"
            )
        );
    }
}

/// `test_catch_states_runtime`: a property missing before the path's last step.
#[test]
fn a_missing_inner_property_is_named_as_aws_does() {
    let def = json!({"StartAt": "RaiseRuntime", "States": {"RaiseRuntime": {
        "Type": "Pass", "OutputPath": "$.no.such.result.path", "End": true}}});
    assert_eq!(
        runtime_cause(def, json!({})),
        "An error occurred while executing the state 'RaiseRuntime' (entered at the event id #2). Invalid path '$.no.such.result.path' : Missing property in path $['no']"
    );
}

/// `test_map_state_...`: a Map over something that is not an array.
#[test]
fn map_over_a_non_array_fails_as_on_aws() {
    let def = json!({"StartAt": "MapIterateState", "States": {"MapIterateState": {
        "Type": "Map", "End": true,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
    for (input, shown) in [
        (json!({"foo": "bar"}), "{\"foo\":\"bar\"}"),
        (json!(1), "1"),
        (json!(null), "null"),
        (json!("string"), "\"string\""),
        (json!(true), "true"),
    ] {
        assert_eq!(
            runtime_cause(def.clone(), input),
            format!(
                "An error occurred while executing the state 'MapIterateState' (entered at the event id #2). Map state input must be an array but was: {shown}"
            )
        );
    }
}

/// A runtime error inside a Map iteration keeps the inner state's prefix and event id.
#[test]
fn nested_runtime_errors_keep_the_inner_prefix() {
    let def = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": true, "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "W", "States": {"W": {
            "Type": "Wait", "SecondsPath": "$.s", "End": true}}}}}});
    assert_eq!(
        runtime_cause(def, json!({"items": [{"s": -1}]})),
        "An error occurred while executing the state 'W' (entered at the event id #5). The SecondsPath parameter references a negative value: $.s == -1"
    );
}

/// AWS's context object (see `context.rs`): RetryCount only where a state can retry.
#[test]
fn retry_count_is_only_in_states_that_retry() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Parameters": {"ctx.$": "$$.State"}, "ResultPath": "$.pass", "Next": "T"},
        "T": {"Type": "Task", "Resource": ARN, "Parameters": {"ctx.$": "$$.State"}, "ResultPath": "$.task", "End": true}}});
    let out = exec(def, json!({}), &FakeHost::echo()).unwrap();
    assert_eq!(out["pass"]["ctx"].get("RetryCount"), None);
    assert_eq!(out["task"]["ctx"]["RetryCount"], 0);
}
