//! Intrinsic edge cases pinned to AWS's recorded answers. The source is LocalStack's snapshot
//! files, recorded against AWS (`tests/aws/services/stepfunctions/v2/intrinsic_functions/`):
//! each case runs the same Pass state AWS ran and expects AWS's output.

use serde_json::{Value, json};

use super::*;

/// Runs `{"Type": "Pass", "Parameters": {"FunctionResult.$": expr}}` on `input`.
fn pass(expr: &str, input: Value) -> Value {
    let def = json!({"StartAt": "State_0", "States": {"State_0": {
        "Type": "Pass", "End": true, "Parameters": {"FunctionResult.$": expr}}}});
    let out = exec(def, input, &FakeHost::echo()).expect("the execution succeeds");
    out["FunctionResult"].clone()
}

/// `test_math_operations.snapshot.json::test_math_add`: each argument is rounded half up
/// (Java's `Math.round`) before adding.
#[test]
fn math_add_rounds_each_argument_half_up_as_aws_does() {
    let cases = [
        (json!(-9), json!(3), -6),
        (json!(1.49), json!(1.5), 3),
        (json!(1.5), json!(1.51), 4),
        (json!(-1.49), json!(-1.5), -2),
        (json!(-1.5), json!(-1.51), -3),
        (json!(1.49), json!(0), 1),
        (json!(1.49), json!(-1.49), 0),
        (json!(1.5), json!(0), 2),
        (json!(1.51), json!(0), 2),
        (json!(-1.49), json!(0), -1),
        (json!(-1.5), json!(0), -1),
        (json!(-1.51), json!(0), -2),
        (json!(0.5), json!(0), 1),
        (json!(2.5), json!(0), 3),
        (json!(3.5), json!(0), 4),
        (json!(-0.5), json!(0.5), 1),
        (json!(-0.5), json!(0), 0),
        (json!(-2.5), json!(0), -2),
        (json!(-3.5), json!(0), -3),
    ];
    for (fst, snd, want) in cases {
        let input = json!({"FunctionInput": {"fst": fst, "snd": snd}});
        let got = pass(
            "States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)",
            input,
        );
        assert_eq!(got, json!(want), "MathAdd({fst}, {snd})");
    }
}

/// `test_generic.snapshot.json::test_format_2` and `test_context_json_path`: objects and
/// arrays print as Java's `toString` does.
#[test]
fn format_prints_objects_and_arrays_as_aws_does() {
    let fmt = "States.Format('Formatting arguments fst={} and snd={}.', $.FunctionInput.fst, $.FunctionInput.snd)";
    let cases = [
        (json!(""), "Formatting arguments fst= and snd=."),
        (json!(null), "Formatting arguments fst=null and snd=null."),
        (json!(1), "Formatting arguments fst=1 and snd=1."),
        (json!(1.1), "Formatting arguments fst=1.1 and snd=1.1."),
        (
            json!("{\"Arg1\": 1, \"Arg2\": []}"),
            "Formatting arguments fst={\"Arg1\": 1, \"Arg2\": []} and snd={\"Arg1\": 1, \"Arg2\": []}.",
        ),
        (
            json!({"Arg1": 1, "Arg2": []}),
            "Formatting arguments fst={Arg1=1, Arg2=[]} and snd={Arg1=1, Arg2=[]}.",
        ),
        (
            json!(["a", {"b": [1, "c"]}]),
            "Formatting arguments fst=[a, {b=[1, c]}] and snd=[a, {b=[1, c]}].",
        ),
    ];
    for (arg, want) in cases {
        let got = pass(fmt, json!({"FunctionInput": {"fst": arg, "snd": arg}}));
        assert_eq!(got, json!(want), "Format of {arg}");
    }
    let got = pass(
        "States.Format('Formatting arguments fst={} and snd={}.', $$.Execution.Id, $$.StateMachine)",
        json!({}),
    );
    assert_eq!(
        got,
        json!(
            "Formatting arguments fst=arn:aws:states:us-east-1:123456789012:execution:sm:ex1 and snd={Id=arn:aws:states:us-east-1:123456789012:stateMachine:sm, Name=sm}."
        )
    );
}

/// `test_json_manipulation.snapshot.json::test_string_to_json`.
#[test]
fn string_to_json_edge_cases_match_aws() {
    let cases = [
        ("", json!(null)),
        (" ", json!(null)),
        ("null", json!(null)),
        ("-0", json!(0)),
        ("1", json!(1)),
        ("1.1", json!(1.1)),
        ("true", json!(true)),
        ("\"HelloWorld\"", json!("HelloWorld")),
        ("[1, 2, \"HelloWorld\"]", json!([1, 2, "HelloWorld"])),
        (
            "{\"Arg1\": 1, \"Arg2\": []}",
            json!({"Arg1": 1, "Arg2": []}),
        ),
    ];
    for (text, want) in cases {
        let got = pass(
            "States.StringToJson($.FunctionInput)",
            json!({ "FunctionInput": text }),
        );
        // The same JSON text too: `0`, never `-0.0`.
        assert_eq!(got.to_string(), want.to_string(), "StringToJson({text:?})");
    }
}

/// `test_base_scenarios.snapshot.json::test_escape_sequence_parsing[ESCAPE_SEQUENCES_JSONPATH]`:
/// inside a quoted bracket field a backslash escapes only the quote; any other backslash is
/// part of the name.
#[test]
fn bracket_path_with_escaped_quotes_reads_as_aws_does() {
    let def = json!({"StartAt": "JsonPathEscapeTest", "States": {"JsonPathEscapeTest": {
        "Type": "Pass", "End": true, "Parameters": {"value.$": "$['Test\\\"\"Name\"']"}}}});
    let input = json!({"Test\\\"\"Name\"": "Value\"\\"});
    let out = exec(def, input, &FakeHost::echo()).expect("the execution succeeds");
    assert_eq!(out, json!({"value": "Value\"\\"}));
}
