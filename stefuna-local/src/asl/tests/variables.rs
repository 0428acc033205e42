//! Workflow variables: `Assign` in JSONPath and JSONata states, `$name` in paths and intrinsic
//! arguments, evaluation order and scopes. The examples marked as AWS's come from "Passing data
//! between states with variables"
//! (<https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html>).

use serde_json::json;

use super::*;

/// AWS's first example: static values assigned in one state, read by a later one.
#[test]
fn aws_example_assign_static_values_and_read_them_later() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"productName": "product1", "count": 42, "available": true}, "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"name.$": "$productName", "count.$": "$count",
              "ok.$": "$available"}, "End": true}
    }});
    let out = exec(def, json!({}), &host).unwrap();
    assert_eq!(out, json!({"name": "product1", "count": 42, "ok": true}));
}

/// AWS's JSONPath `Assign`: `.$` keys read the state's result (after ResultSelector), and
/// intrinsics take variables as arguments.
#[test]
fn jsonpath_assign_reads_the_result_and_intrinsics_take_variables() {
    let host = FakeHost::new(|_| Ok(json!({"Payload": {"id": "u-1", "n": 3}})));
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": ARN, "Next": "P",
              "ResultSelector": {"user.$": "$.Payload"},
              "Assign": {"userId.$": "$.user.id", "n.$": "$.user.n", "fixed": "f"},
              "ResultPath": null},
        "P": {"Type": "Pass", "Parameters": {
              "greeting.$": "States.Format('hi {} ({})', $userId, $fixed)",
              "sum.$": "States.MathAdd($n, 1)",
              "orig.$": "$.orig"}, "End": true}
    }});
    let out = exec(def, json!({"orig": 1}), &host).unwrap();
    assert_eq!(out, json!({"greeting": "hi u-1 (f)", "sum": 4, "orig": 1}));
}

/// AWS: every expression of an `Assign` sees the values from before the state, and so does
/// `Output`.
#[test]
fn assignments_see_the_values_from_before_the_state() {
    let host = FakeHost::echo();
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"x": 42}, "Next": "B"},
        "B": {"Type": "Pass", "Assign": {"x": "{% $x + 1 %}", "y": "{% $x %}"},
              "Output": "{% $x %}", "Next": "C"},
        "C": {"Type": "Pass", "Output": {"input": "{% $states.input %}", "x": "{% $x %}", "y": "{% $y %}"}, "End": true}
    }});
    let out = exec(def, json!({}), &host).unwrap();
    assert_eq!(out, json!({"input": 42, "x": 43, "y": 42}));
}

#[test]
fn inner_states_read_outer_variables_and_keep_their_own() {
    let host = FakeHost::echo();
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"base": 10}, "Next": "M"},
        "M": {"Type": "Map", "Items": [1, 2], "Next": "P",
              "Assign": {"total": "{% $sum($states.result) %}"},
              "ItemProcessor": {"StartAt": "I", "States": {
                  "I": {"Type": "Pass", "Assign": {"mine": "{% $states.input + $base %}"}, "Next": "J"},
                  "J": {"Type": "Pass", "Output": "{% $mine %}", "End": true}}}},
        "P": {"Type": "Pass", "Output": {"total": "{% $total %}", "leaked": "{% $exists($mine) %}"}, "End": true}
    }});
    let out = exec(def, json!({}), &host).unwrap();
    assert_eq!(out, json!({"total": 23, "leaked": false}));
}

#[test]
fn inner_states_cannot_assign_outer_variables() {
    for (lang, assign) in [
        ("JSONata", json!({"x": 2})),
        ("JSONPath", json!({"x.$": "$.v"})),
    ] {
        let def = json!({"QueryLanguage": lang, "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "P"},
            "P": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Assign": assign, "End": true}}}]}
        }});
        let e = parse(&def.to_string()).unwrap_err();
        assert_eq!(e.code, "SCHEMA_VALIDATION_FAILED");
        assert!(e.message.contains("'x'"), "{}", e.message);
        assert!(e.message.contains("outer scope"), "{}", e.message);
    }
    // Sibling branches may use the same name: each has its own scope.
    let ok = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Assign": {"x": 1}, "End": true}}},
        {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "Assign": {"x": 2}, "End": true}}}]}}});
    assert!(parse(&ok.to_string()).is_ok());
}

#[test]
fn variable_names_are_checked() {
    for name in ["1x", "a-b", "states", ""] {
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {name: 1}, "End": true}}});
        let e = parse(&def.to_string()).unwrap_err();
        assert!(e.message.contains("variable name"), "{name}: {}", e.message);
    }
}

#[test]
fn an_undefined_variable_in_a_path_is_a_runtime_error() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {"v.$": "$nothing"}, "End": true}}});
    let e = exec(def, json!({}), &host).unwrap_err();
    assert_eq!(e.error, "States.Runtime");
    assert!(e.cause.contains("$nothing"), "{}", e.cause);
}

#[test]
fn catch_assign_in_jsonpath_reads_the_error_output() {
    let host = FakeHost::new(|_| Err(fail_with("Task.Failure")));
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": ARN, "Next": "Done",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done", "ResultPath": "$.err",
                         "Assign": {"why.$": "$.Cause"}}]},
        "Done": {"Type": "Pass", "Parameters": {"why.$": "$why", "err.$": "$.err.Error"}, "End": true}
    }});
    let out = exec(def, json!({}), &host).unwrap();
    assert_eq!(out, json!({"why": "boom", "err": "Task.Failure"}));
}

#[test]
fn choice_and_wait_assign_from_their_input_in_jsonpath() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Assign": {"seen.$": "$.n"}, "Default": "W",
              "Choices": [{"Variable": "$.n", "NumericGreaterThan": 100, "Next": "W"}]},
        "W": {"Type": "Wait", "Seconds": 0, "Assign": {"waited": true}, "Next": "E"},
        "E": {"Type": "Pass", "Parameters": {"seen.$": "$seen", "waited.$": "$waited"}, "End": true}
    }});
    assert_eq!(
        exec(def, json!({"n": 5}), &host).unwrap(),
        json!({"seen": 5, "waited": true})
    );
}

/// A JSONPath Choice rule's own `Assign` runs when that rule matches (reading the state's
/// input); the state's `Assign` is used when the matched rule (or the Default) has none, as in
/// the JSONata Choice.
#[test]
fn jsonpath_choice_rules_assign_when_they_match() {
    let host = FakeHost::echo();
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Assign": {"path": "default"},
              "Choices": [
                  {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Out",
                   "Assign": {"path": "big", "seen.$": "$.n"}},
                  {"Variable": "$.n", "NumericEquals": 5, "Next": "Out"}
              ],
              "Default": "Out"},
        "Out": {"Type": "Pass", "Parameters": {"path.$": "$path"}, "End": true}
    }});
    let out = exec(def.clone(), json!({"n": 11}), &host).unwrap();
    assert_eq!(out, json!({"path": "big"}));
    let out = exec(def.clone(), json!({"n": 5}), &host).unwrap();
    assert_eq!(out, json!({"path": "default"}));
    let out = exec(def, json!({"n": 1}), &host).unwrap();
    assert_eq!(out, json!({"path": "default"}));
    // `Assign` belongs to top-level rules only.
    let nested = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Not": {"Variable": "$.n", "IsPresent": true, "Assign": {"x": 1}}, "Next": "Out"}
        ], "Default": "Out"},
        "Out": {"Type": "Succeed"}
    }});
    let err = parse(&nested.to_string()).unwrap_err();
    assert!(err.to_string().contains("Assign"), "{err}");
}
