//! JSONata states: `Arguments`, `Output`, `Assign`, `$states`, Choice `Condition`, Map `Items`,
//! Step Functions' own functions and `States.QueryEvaluationError`. The examples marked as
//! AWS's come from "Transforming data with JSONata in Step Functions"
//! (<https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html>).

use serde_json::json;

use super::*;

fn jsonata(states: Value) -> Value {
    let start = states.as_object().unwrap().keys().next().unwrap().clone();
    json!({"QueryLanguage": "JSONata", "StartAt": start, "States": states})
}

fn pass_output(output: Value, input: Value) -> Result<Value, ErrorCause> {
    let host = FakeHost::echo();
    exec(
        jsonata(json!({"P": {"Type": "Pass", "Output": output, "End": true}})),
        input,
        &host,
    )
}

/// AWS's example of converting a JSONPath Task to JSONata: `Arguments` with a static value, an
/// expression, a variable, and a string that only looks like one.
#[test]
fn aws_example_arguments_after_conversion_from_jsonpath() {
    let host = FakeHost::echo();
    let def = jsonata(json!({
        "Init": {"Type": "Pass", "Assign": {"customerName": "María"}, "Next": "T"},
        "T": {"Type": "Task", "Resource": ARN, "End": true, "Arguments": {
            "static": "Hello",
            "title": "{% $states.input.title %}",
            "name": "{% $customerName %}",
            "not-evaluated": "$customerName"
        }}
    }));
    let out = exec(def, json!({"title": "Doctor"}), &host).unwrap();
    let want = json!({"static": "Hello", "title": "Doctor", "name": "María", "not-evaluated": "$customerName"});
    assert_eq!(host.requests()[0].input, want);
    assert_eq!(out, want, "a Task without Output outputs its result");
}

/// AWS's functions, with the values the page gives for its examples.
#[test]
fn aws_example_step_functions_jsonata_functions() {
    let out = pass_output(
        json!({
            "partition": "{% $partition([1,2,3,4,5,6,7,8,9], 3) %}",
            "range": "{% $range(0, 10, 2) %}",
            "down": "{% $range(3, 1, -1) %}",
            "step1": "{% $range(1, 3) %}",
            "hash": "{% $hash('input data', 'SHA-1') %}",
            "parsed": "{% $parse($states.input.json_string) %}",
            "seeded": "{% $random(7) = $random(7) %}",
            "unseeded": "{% $random() < 1 %}",
            "uuid": "{% $length($uuid()) %}"
        }),
        json!({"json_string": "{\"key\": \"value\"}"}),
    )
    .unwrap();
    assert_eq!(out["partition"], json!([[1, 2, 3], [4, 5, 6], [7, 8, 9]]));
    assert_eq!(out["range"], json!([0, 2, 4, 6, 8, 10]));
    assert_eq!(out["down"], json!([3, 2, 1]));
    assert_eq!(out["step1"], json!([1, 2, 3]));
    assert_eq!(out["hash"], "aaff4a450a104cd177d28d18d74485e8cae074b7");
    assert_eq!(out["parsed"], json!({"key": "value"}));
    assert_eq!(out["seeded"], true);
    assert_eq!(out["unseeded"], true);
    assert_eq!(out["uuid"], 36);
}

#[test]
fn jsonata_library_functions_work() {
    let out = pass_output(
        json!("{% {'sum': $sum($states.input.n), 'up': $uppercase('a'), 'type': $type($states.input), 'n': $formatNumber(1234.5, '#,##0.00')} %}"),
        json!({"n": [1, 2, 3]}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"sum": 6, "up": "A", "type": "object", "n": "1,234.50"})
    );
}

#[test]
fn unsupported_functions_and_evaluation_errors_are_query_evaluation_errors() {
    for (expr, needle) in [
        ("{% $nope(1) %}", "$nope(1)"),
        ("{% $eval('1') %}", "$parse"),
        ("{% $states.input.missing %}", "undefined"),
        ("{% 1 + 'a' %}", "could not be evaluated"),
        ("{% $hash('x', 'CRC32') %}", "CRC32"),
        ("{% function($x) { $x } %}", "function"),
    ] {
        let e = pass_output(json!(expr), json!({})).unwrap_err();
        assert_eq!(e.error, "States.QueryEvaluationError", "{expr}");
        assert!(e.cause.contains("'Output'"), "{expr}: {}", e.cause);
        assert!(e.cause.contains(needle), "{expr}: {}", e.cause);
    }
}

#[test]
fn query_evaluation_errors_can_be_caught_with_the_error_output() {
    let host = FakeHost::echo();
    let def = jsonata(json!({
        "T": {"Type": "Task", "Resource": ARN, "Next": "Done",
              "Output": "{% $nope() %}",
              "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "Done",
                         "Output": "{% $states.errorOutput.Error %}",
                         "Assign": {"caught": "{% $states.input.id %}"}}]},
        "Done": {"Type": "Pass", "Output": "{% [$states.input, $caught] %}", "End": true}
    }));
    let out = exec(def, json!({"id": 9}), &host).unwrap();
    assert_eq!(out, json!(["States.QueryEvaluationError", 9]));
}

#[test]
fn invalid_expressions_are_refused_with_their_location() {
    let e = parse(
        &jsonata(json!({"P": {"Type": "Pass", "Output": {"a": "{% 1 + %}"}, "End": true}}))
            .to_string(),
    )
    .unwrap_err();
    assert_eq!(e.path, "/States/P/Output/a");
    assert!(e.message.contains("JSONata"), "{}", e.message);
    let e =
        parse(&jsonata(json!({"P": {"Type": "Pass", "Parameters": {}, "End": true}})).to_string())
            .unwrap_err();
    assert_eq!(e.path, "/States/P/Parameters");
}

#[test]
fn states_result_and_context_in_task_output() {
    let host = FakeHost::new(|_| Ok(json!({"n": 2})));
    let def = jsonata(json!({"T": {"Type": "Task", "Resource": ARN, "End": true,
        "Arguments": {"token": "{% $states.context.Task.Token %}"},
        "TimeoutSeconds": "{% $states.input.t %}", "HeartbeatSeconds": 5,
        "Output": {"double": "{% $states.result.n * 2 %}", "in": "{% $states.input.t %}",
                   "state": "{% $states.context.State.Name %}", "sm": "{% $states.context.StateMachine.Name %}"}}}));
    let out = exec(def, json!({"t": 60}), &host).unwrap();
    assert_eq!(
        out,
        json!({"double": 4, "in": 60, "state": "T", "sm": "sm"})
    );
    let req = &host.requests()[0];
    assert_eq!(req.input["token"], req.task_token.as_str());
    assert_eq!(
        (req.timeout_seconds, req.heartbeat_seconds),
        (Some(60), Some(5))
    );
}

#[test]
fn choice_conditions_pick_a_rule_or_the_default() {
    let def = || {
        jsonata(json!({
            "C": {"Type": "Choice", "Default": "Other", "Choices": [
                {"Condition": "{% $states.input.type = 'Private' %}", "Next": "Private",
                 "Output": {"kind": "private"}},
                {"Condition": "{% $states.input.n > 10 %}", "Next": "Other", "Assign": {"big": true}}
            ]},
            "Private": {"Type": "Succeed"},
            "Other": {"Type": "Pass", "Output": "{% [$states.input, $exists($big)] %}", "End": true}
        }))
    };
    let host = FakeHost::echo();
    assert_eq!(
        exec(def(), json!({"type": "Private"}), &host).unwrap(),
        json!({"kind": "private"})
    );
    assert_eq!(
        exec(def(), json!({"n": 11}), &host).unwrap(),
        json!([{"n": 11}, true])
    );
    assert_eq!(
        exec(def(), json!({"n": 1}), &host).unwrap(),
        json!([{"n": 1}, false])
    );
    let bad = jsonata(json!({"C": {"Type": "Choice", "Choices": [
        {"Condition": "{% 'yes' %}", "Next": "S"}]}, "S": {"Type": "Succeed"}}));
    let e = exec(bad, json!({}), &host).unwrap_err();
    assert_eq!(e.error, "States.QueryEvaluationError");
    assert!(e.cause.contains("boolean"), "{}", e.cause);
}

#[test]
fn map_items_item_selector_and_max_concurrency() {
    let host = FakeHost::echo();
    let def = jsonata(json!({"M": {"Type": "Map", "End": true,
        "Items": "{% $states.input.orders %}",
        "MaxConcurrency": "{% 1 %}",
        "ItemSelector": {"index": "{% $states.context.Map.Item.Index %}",
                         "value": "{% $states.context.Map.Item.Value %}",
                         "tax": "{% $states.input.tax %}"},
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass",
            "Output": "{% $states.input.value * (1 + $states.input.tax) %}", "End": true}}},
        "Output": "{% $sum($states.result) %}"}}));
    let out = exec(def, json!({"orders": [10, 20], "tax": 0.5}), &host).unwrap();
    assert_eq!(out, json!(45));
    let e = exec(
        jsonata(json!({"M": {"Type": "Map", "End": true, "Items": "{% 3 %}",
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}}})),
        json!({}),
        &host,
    )
    .unwrap_err();
    assert_eq!(e.error, "States.QueryEvaluationError");
}

#[test]
fn parallel_arguments_wait_and_fail_fields() {
    let host = FakeHost::echo();
    let def = jsonata(json!({
        "P": {"Type": "Parallel", "Next": "W", "Arguments": {"x": "{% $states.input.x %}"},
              "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "Output": "{% $states.input.x + 1 %}", "End": true}}},
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Output": "{% $states.input.x + 2 %}", "End": true}}}
              ]},
        "W": {"Type": "Wait", "Seconds": "{% $states.input[0] %}", "Next": "F"},
        "F": {"Type": "Fail", "Error": "{% 'E' & $string($states.input[1]) %}", "Cause": "{% 'c' %}"}
    }));
    let e = exec(def, json!({"x": 1}), &host).unwrap_err();
    assert_eq!((e.error.as_str(), e.cause.as_str()), ("E3", "c"));
    assert_eq!(host.sleeps(), vec![2.0]);
}

#[test]
fn a_jsonpath_machine_can_have_a_jsonata_state() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {"v.$": "$.v"}, "Next": "B"},
        "B": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input.v * 3 %}", "End": true}
    }});
    assert_eq!(exec(def, json!({"v": 2}), &host).unwrap(), json!(6));
}

/// jsonata-core turns on serde_json's `preserve_order`: objects keep the key order they were
/// written in, as on AWS, in outputs and in `States.Format`.
#[test]
fn objects_keep_their_key_order() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
        "Parameters": {"zeta": 1, "alpha.$": "States.Format('{}', $.o)"}}}});
    let input: Value = serde_json::from_str(r#"{"o": {"b": 1, "a": 2}}"#).unwrap();
    let out = exec(def, input, &host).unwrap();
    assert_eq!(
        serde_json::to_string(&out).unwrap(),
        r#"{"zeta":1,"alpha":"{b=1, a=2}"}"#
    );
}
