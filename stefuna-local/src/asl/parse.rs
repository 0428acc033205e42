//! Parsing and validating a definition: the top level and each (sub-)machine, transitions
//! resolved to indexes, reachability and terminal states checked.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::DefinitionError;
use super::definition::{Definition, Machine, State};
use super::fields::{Fields, error, schema};
use super::states::parse_state;

/// Parses and validates a whole definition.
pub(crate) fn parse(text: &str) -> Result<Definition, DefinitionError> {
    if text.trim().is_empty() {
        return Err(error("MISSING_DESCRIPTION", "/", "the definition is empty"));
    }
    let v: Value = serde_json::from_str(text).map_err(|e| {
        error(
            "INVALID_JSON_DESCRIPTION",
            "/",
            format!("the definition is not valid JSON: {e}"),
        )
    })?;
    if let Some((at, key)) = super::dupes::find_duplicate(text) {
        return Err(if at.ends_with("/States") {
            error(
                "DUPLICATE_STATE_NAME",
                format!("{at}/{key}"),
                format!("state name '{key}' is used more than once"),
            )
        } else {
            schema(
                format!("{at}/{key}"),
                format!("field '{key}' appears more than once"),
            )
        });
    }
    let f = Fields::new(&v, "")?;
    f.only(&[
        "StartAt",
        "States",
        "Comment",
        "TimeoutSeconds",
        "Version",
        "QueryLanguage",
    ])?;
    f.str("Comment")?;
    f.str("Version")?;
    let jsonata = query_language(&f, false)?;
    let timeout_seconds = f.uint("TimeoutSeconds", 1)?;
    let mut names = HashSet::new();
    let machine = parse_machine(&f, &mut names, jsonata)?;
    super::variables::check_scopes(&machine, &HashSet::new())?;
    Ok(Definition {
        machine,
        timeout_seconds,
        json: v,
    })
}

/// Whether `f` (the top level, or a state in a machine whose language is JSONata when
/// `inherited` is set) uses JSONata. A JSONata machine's states cannot go back to JSONPath.
pub(crate) fn query_language(f: &Fields<'_>, inherited: bool) -> Result<bool, DefinitionError> {
    match f.str("QueryLanguage")? {
        None => Ok(inherited),
        Some("JSONata") => Ok(true),
        Some("JSONPath") if inherited => Err(schema(
            f.at("QueryLanguage"),
            "a state cannot use JSONPath when the state machine's QueryLanguage is JSONata",
        )),
        Some("JSONPath") => Ok(false),
        Some(other) => Err(schema(
            f.at("QueryLanguage"),
            format!("'QueryLanguage' '{other}' is not valid; accepted: JSONPath, JSONata"),
        )),
    }
}

fn root_at(at: &str) -> &str {
    if at.is_empty() { "/" } else { at }
}

pub(crate) fn parse_machine(
    f: &Fields<'_>,
    names: &mut HashSet<String>,
    jsonata: bool,
) -> Result<Machine, DefinitionError> {
    let start_name = f.req_str("StartAt").map_err(|e| DefinitionError {
        path: root_at(&e.path).into(),
        ..e
    })?;
    let states_v = f
        .get("States")
        .ok_or_else(|| schema(root_at(&f.at), "these fields are required: [States]"))?;
    let states_f = Fields::new(states_v, f.at("States"))?;
    if states_f.obj.is_empty() {
        return Err(schema(
            f.at("States"),
            "'States' must have at least one state",
        ));
    }
    let mut states = Vec::with_capacity(states_f.obj.len());
    let mut index = HashMap::with_capacity(states_f.obj.len());
    for (name, sv) in states_f.obj {
        let at = states_f.at(name);
        if name.is_empty() || name.chars().count() > 128 {
            return Err(error(
                "INVALID_STATE_NAME",
                at,
                "state names must be 1 to 128 characters long",
            ));
        }
        if !names.insert(name.clone()) {
            return Err(error(
                "DUPLICATE_STATE_NAME",
                at,
                format!(
                    "state name '{name}' is used more than once; names must be unique in the whole state machine"
                ),
            ));
        }
        index.insert(name.clone(), states.len());
        states.push(parse_state(name, &Fields::new(sv, at)?, names, jsonata)?);
    }
    let start = *index.get(start_name).ok_or_else(|| {
        error(
            "MISSING_TRANSITION_TARGET",
            f.at("StartAt"),
            format!("missing 'StartAt' target: {start_name}"),
        )
    })?;
    for st in &mut states {
        for t in st.targets_mut() {
            t.idx = *index.get(&t.name).ok_or_else(|| {
                error(
                    "MISSING_TRANSITION_TARGET",
                    t.at.clone(),
                    format!("missing 'Next' target: {}", t.name),
                )
            })?;
        }
    }
    let mut machine = Machine { states, start };
    check_reachable(&mut machine, &states_f)?;
    if !machine.states.iter().any(State::is_terminal) {
        return Err(error(
            "MISSING_END_STATE",
            root_at(&f.at),
            "the workflow has no terminal state",
        ));
    }
    Ok(machine)
}

fn check_reachable(m: &mut Machine, states_f: &Fields<'_>) -> Result<(), DefinitionError> {
    let mut seen = vec![false; m.states.len()];
    let mut stack = vec![m.start];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        stack.extend(m.states[i].targets_mut().into_iter().map(|t| t.idx));
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        let name = &m.states[i].name;
        return Err(error(
            "UNREACHABLE_STATE",
            states_f.at(name),
            format!("state '{name}' is not reachable"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asl::definition::{Int, Kind, Transition, is_activity_arn};
    use serde_json::json;

    fn err(def: Value) -> DefinitionError {
        parse(&def.to_string()).expect_err("definition should be rejected")
    }

    fn one(state: Value) -> Value {
        json!({"StartAt": "S", "States": {"S": state}})
    }

    #[test]
    fn parses_a_valid_machine_and_resolves_transitions() {
        let d = parse(
            &json!({
                "Comment": "x", "TimeoutSeconds": 30, "Version": "1.0",
                "StartAt": "A",
                "States": {
                    "A": {"Type": "Pass", "Next": "B"},
                    "B": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:hello",
                          "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}], "End": true},
                    "F": {"Type": "Fail", "Error": "E"}
                }
            })
            .to_string(),
        )
        .unwrap();
        assert_eq!(d.timeout_seconds, Some(30));
        let m = &d.machine;
        assert_eq!(m.states[m.start].name, "A");
        let Transition::Next(t) = &m.states[m.start].transition else {
            panic!("A has Next")
        };
        assert_eq!(m.states[t.idx].name, "B");
        let Kind::Task(task) = &m.states[t.idx].kind else {
            panic!("B is a task")
        };
        assert!(task.is_activity);
        assert_eq!(m.states[task.results.catch[0].next.idx].name, "F");
    }

    #[test]
    fn activity_arns() {
        assert!(is_activity_arn(
            "arn:aws:states:us-east-1:123456789012:activity:hello"
        ));
        assert!(!is_activity_arn("arn:aws:states:::lambda:invoke"));
        assert!(!is_activity_arn(
            "arn:aws:lambda:us-east-1:123456789012:function:f"
        ));
        assert!(!is_activity_arn("arn:aws:states:us-east-1::activity:x"));
    }

    #[test]
    fn json_and_top_level_errors() {
        let e = parse("{nope").unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.path.as_str()),
            ("INVALID_JSON_DESCRIPTION", "/")
        );
        let e = err(json!({"States": {"A": {"Type": "Succeed"}}}));
        assert_eq!(
            (e.code.as_str(), e.path.as_str()),
            ("SCHEMA_VALIDATION_FAILED", "/")
        );
        assert!(e.message.contains("StartAt"));
        let e = err(json!({"StartAt": "X", "States": {"A": {"Type": "Succeed"}}}));
        assert_eq!(
            (e.code.as_str(), e.path.as_str()),
            ("MISSING_TRANSITION_TARGET", "/StartAt")
        );
        let e = err(json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}, "Bogus": 1}));
        assert_eq!(e.path, "/Bogus");
        let e = err(json!({"StartAt": "A", "States": {}}));
        assert_eq!(e.path, "/States");
        assert_eq!(
            e.to_string(),
            format!(
                "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: {} at /States'",
                e.message
            )
        );
    }

    #[test]
    fn state_level_errors_carry_their_paths() {
        let cases = [
            (
                one(json!({"Type": "Nope", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/Type",
            ),
            (
                one(json!({"Type": "Pass"})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(json!({"Type": "Pass", "Next": "S", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(json!({"Type": "Pass", "Next": "Nowhere"})),
                "MISSING_TRANSITION_TARGET",
                "/States/S/Next",
            ),
            (
                one(json!({"Type": "Pass", "End": true, "Foo": 1})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/Foo",
            ),
            (
                one(json!({"Type": "Task", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(json!({"Type": "Task", "Resource": "hello", "End": true})),
                "INVALID_RESOURCE",
                "/States/S/Resource",
            ),
            (
                one(json!({"Type": "Choice"})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(json!({"Type": "Choice", "Choices": []})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/Choices",
            ),
            (
                one(json!({"Type": "Pass", "InputPath": "foo", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/InputPath",
            ),
            (
                one(json!({"Type": "Pass", "ResultPath": "$.a[*]", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/ResultPath",
            ),
            (
                one(json!({"Type": "Pass", "Parameters": {"a.$": "x"}, "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/Parameters/a.$",
            ),
            (
                one(json!({"Type": "Wait", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(json!({"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(json!({"Type": "Wait", "Timestamp": "tomorrow", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/Timestamp",
            ),
            (
                one(json!({"Type": "Succeed", "Next": "S"})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/Next",
            ),
            (
                one(json!({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(json!({"Type": "Parallel", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(json!({"Type": "Map", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(
                    json!({"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a",
                           "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}], "End": true}),
                ),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/Retry/0/ErrorEquals",
            ),
            (
                one(
                    json!({"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a",
                           "Catch": [{"ErrorEquals": ["X"], "Next": "Nowhere"}], "End": true}),
                ),
                "MISSING_TRANSITION_TARGET",
                "/States/S/Catch/0/Next",
            ),
            (
                one(
                    json!({"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a",
                           "TimeoutSeconds": 5, "HeartbeatSeconds": 5, "End": true}),
                ),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/HeartbeatSeconds",
            ),
        ];
        for (def, code, path) in cases {
            let e = err(def.clone());
            assert_eq!(
                (e.code.as_str(), e.path.as_str()),
                (code, path),
                "{def}: {}",
                e.message
            );
        }
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let e = parse(
            r#"{"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "A": {"Type": "Succeed"}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.path.as_str()),
            ("DUPLICATE_STATE_NAME", "/States/A")
        );
        let e = parse(r#"{"StartAt": "A", "States": {"A": {"Type": "Succeed", "Type": "Pass"}}}"#)
            .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.path.as_str()),
            ("SCHEMA_VALIDATION_FAILED", "/States/A/Type")
        );
    }

    #[test]
    fn state_names_are_limited_to_128_characters() {
        let long = "x".repeat(129);
        let e = err(json!({"StartAt": long, "States": {long.clone(): {"Type": "Succeed"}}}));
        assert_eq!(e.code, "INVALID_STATE_NAME");
        let ok = "y".repeat(128);
        assert!(
            parse(&json!({"StartAt": ok, "States": {ok.clone(): {"Type": "Succeed"}}}).to_string())
                .is_ok()
        );
    }

    #[test]
    fn query_language_is_jsonpath_or_jsonata() {
        let ok = one(json!({"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}));
        assert!(parse(&ok.to_string()).is_ok());
        let ok = one(json!({"Type": "Pass", "QueryLanguage": "JSONata", "End": true}));
        assert!(parse(&ok.to_string()).is_ok());
        let e = err(one(
            json!({"Type": "Pass", "QueryLanguage": "XPath", "End": true}),
        ));
        assert_eq!(e.path, "/States/S/QueryLanguage");
        let mut top = one(json!({"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}));
        top["QueryLanguage"] = json!("JSONata");
        assert_eq!(err(top).path, "/States/S/QueryLanguage");
    }

    #[test]
    fn unreachable_and_endless_machines() {
        let e = err(
            json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}}),
        );
        assert_eq!(
            (e.code.as_str(), e.path.as_str()),
            ("UNREACHABLE_STATE", "/States/B")
        );
        let e = err(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}));
        assert_eq!(
            (e.code.as_str(), e.path.as_str()),
            ("MISSING_END_STATE", "/")
        );
    }

    #[test]
    fn nested_machines_are_validated_with_their_paths() {
        let e = err(one(json!({"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Next": "Gone"}}}
        ]})));
        assert_eq!(
            (e.code.as_str(), e.path.as_str()),
            (
                "MISSING_TRANSITION_TARGET",
                "/States/S/Branches/0/States/B1/Next"
            )
        );
        let e = err(one(json!({"Type": "Map", "End": true, "ItemProcessor":
            {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true, "X": 1}}}})));
        assert_eq!(e.path, "/States/S/ItemProcessor/States/I/X");
        let e = err(one(json!({"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}
        ]})));
        assert_eq!(e.code, "DUPLICATE_STATE_NAME");
        // a branch cannot jump to a state outside it
        let e = err(json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Next": "Done", "Branches": [
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "Done"}}}]},
            "Done": {"Type": "Succeed"}}}));
        assert_eq!(e.path, "/States/P/Branches/0/States/B/Next");
    }

    #[test]
    fn map_accepts_iterator_or_item_processor() {
        for key in ["Iterator", "ItemProcessor"] {
            let def = one(
                json!({"Type": "Map", "End": true, "ItemsPath": "$.items", "MaxConcurrency": 2,
                key: {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}}),
            );
            let d = parse(&def.to_string()).unwrap();
            let Kind::Map(m) = &d.machine.states[0].kind else {
                panic!("map")
            };
            assert!(matches!(m.max_concurrency, Some(Int::Fixed(2))));
        }
    }
}
