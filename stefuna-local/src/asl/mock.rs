//! Mocked service integrations: AWS Step Functions Local's mock configuration file
//! (`MockConfigFile.json`), read unchanged.
//!
//! ```json
//! {
//!   "StateMachines": {
//!     "Orders": { "TestCases": { "HappyPath": { "Charge": "ChargeOk" } } }
//!   },
//!   "MockedResponses": {
//!     "ChargeOk": {
//!       "0": { "Throw": { "Error": "Lambda.TooManyRequestsException", "Cause": "busy" } },
//!       "1-2": { "Return": { "StatusCode": 200, "Payload": { "charged": true } } }
//!     }
//!   }
//! }
//! ```
//!
//! An execution picks a test case by its state machine ARN (`...:stateMachine:Orders#HappyPath`);
//! each Task state the test case names then answers with its mocked responses instead of calling
//! the service. The key of a response is the attempt it answers (`$$.State.RetryCount`: `"0"` is
//! the first attempt, `"1-2"` the two retries after it), as LocalStack reads it. The whole file
//! is checked when it is loaded, so a mistake shows at start-up rather than mid-execution.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::ErrorCause;

/// A problem in a mock configuration file: what is wrong and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid mock configuration{}: {message}", source_name.as_deref().map(|s| format!(" in {s}")).unwrap_or_default())]
pub struct MockConfigError {
    source_name: Option<String>,
    message: String,
}

impl MockConfigError {
    fn new(message: impl Into<String>) -> Self {
        MockConfigError {
            source_name: None,
            message: message.into(),
        }
    }
}

/// One mocked answer of a Task state.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum MockedResponse {
    /// `Return`: the service's answer (the Task's result before `ResultSelector`).
    Return(Value),
    /// `Throw`: the service fails with this error and cause.
    Throw(ErrorCause),
}

/// A parsed and checked mock configuration file (AWS's `MockConfigFile.json` format).
#[derive(Clone, Debug, Default)]
pub struct MockConfig {
    /// State machine name → test case name → the test case.
    machines: HashMap<String, HashMap<String, Arc<TestCase>>>,
}

/// The mocked states of one test case: state name → its answers, by attempt.
#[derive(Debug, Default)]
pub(crate) struct TestCase {
    name: String,
    states: HashMap<String, Vec<MockedResponse>>,
}

impl TestCase {
    /// The test case's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// What a state answers on attempt `attempt` (0 is the first): `None` when the test case
    /// does not mock the state, `Some(Err(n))` when it has only `n` answers.
    pub(crate) fn response(
        &self,
        state: &str,
        attempt: u32,
    ) -> Option<Result<&MockedResponse, usize>> {
        let answers = self.states.get(state)?;
        Some(answers.get(attempt as usize).ok_or(answers.len()))
    }
}

impl MockConfig {
    /// Reads and checks a mock configuration file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<MockConfig, MockConfigError> {
        let path = path.as_ref();
        let named = |mut e: MockConfigError| {
            e.source_name = Some(path.display().to_string());
            e
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            named(MockConfigError::new(format!(
                "could not read the file: {e}"
            )))
        })?;
        MockConfig::from_json(&text).map_err(named)
    }

    /// Parses and checks a mock configuration from its JSON text.
    pub fn from_json(text: &str) -> Result<MockConfig, MockConfigError> {
        let root: Value = serde_json::from_str(text)
            .map_err(|e| MockConfigError::new(format!("not JSON: {e}")))?;
        let root = object(&root, "the top level")?;
        for key in root.keys() {
            if key != "StateMachines" && key != "MockedResponses" {
                return Err(MockConfigError::new(format!(
                    "unknown field '{key}' at the top level; expected 'StateMachines' and 'MockedResponses'"
                )));
            }
        }
        let empty = Map::new();
        let responses = match root.get("MockedResponses") {
            Some(v) => object(v, "MockedResponses")?,
            None => &empty,
        };
        let mut parsed_responses = HashMap::new();
        for (name, steps) in responses {
            parsed_responses.insert(name.as_str(), answers(name, steps)?);
        }
        let machines = match root.get("StateMachines") {
            Some(v) => object(v, "StateMachines")?,
            None => &empty,
        };
        let mut out = HashMap::new();
        for (machine, body) in machines {
            let at = format!("StateMachines.{machine}");
            let body = object(body, &at)?;
            if let Some(k) = body.keys().find(|k| *k != "TestCases") {
                return Err(MockConfigError::new(format!(
                    "unknown field '{k}' in {at}; expected 'TestCases'"
                )));
            }
            let cases = body
                .get("TestCases")
                .ok_or_else(|| MockConfigError::new(format!("{at} has no 'TestCases'")))?;
            let mut parsed_cases = HashMap::new();
            for (case, states) in object(cases, &format!("{at}.TestCases"))? {
                let at = format!("{at}.TestCases.{case}");
                let mut mocked = HashMap::new();
                for (state, response) in object(states, &at)? {
                    let Some(response) = response.as_str() else {
                        return Err(MockConfigError::new(format!(
                            "{at}.{state} must be the name of a mocked response (a string)"
                        )));
                    };
                    let Some(answers) = parsed_responses.get(response) else {
                        return Err(MockConfigError::new(format!(
                            "{at}.{state} names the mocked response '{response}', which MockedResponses does not define"
                        )));
                    };
                    mocked.insert(state.clone(), answers.clone());
                }
                parsed_cases.insert(
                    case.clone(),
                    Arc::new(TestCase {
                        name: case.clone(),
                        states: mocked,
                    }),
                );
            }
            out.insert(machine.clone(), parsed_cases);
        }
        Ok(MockConfig { machines: out })
    }

    /// The test case `case` of the state machine `machine`, or an error naming what is missing.
    pub(crate) fn test_case(&self, machine: &str, case: &str) -> Result<Arc<TestCase>, String> {
        let Some(cases) = self.machines.get(machine) else {
            return Err(format!(
                "the mock configuration has no test cases for the state machine '{machine}' (StateMachines.{machine}.TestCases.{case})"
            ));
        };
        cases.get(case).cloned().ok_or_else(|| {
            let mut known: Vec<&str> = cases.keys().map(String::as_str).collect();
            known.sort_unstable();
            format!(
                "the mock configuration has no test case '{case}' for the state machine '{machine}'; it has {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )
        })
    }
}

fn object<'v>(v: &'v Value, at: &str) -> Result<&'v Map<String, Value>, MockConfigError> {
    v.as_object()
        .ok_or_else(|| MockConfigError::new(format!("{at} must be a JSON object")))
}

/// A mocked response's answers, one per attempt, from its `"0"`, `"1-2"`, ... keys.
fn answers(name: &str, steps: &Value) -> Result<Vec<MockedResponse>, MockConfigError> {
    let at = format!("MockedResponses.{name}");
    let mut ranges = Vec::new();
    for (key, step) in object(steps, &at)? {
        let at = format!("{at}.{key}");
        let (first, last) = range(key).ok_or_else(|| {
            MockConfigError::new(format!(
                "'{key}' in MockedResponses.{name} is not an attempt number or range; expected e.g. \"0\" or \"1-2\""
            ))
        })?;
        ranges.push((first, last, response(step, &at)?));
    }
    if ranges.is_empty() {
        return Err(MockConfigError::new(format!(
            "{at} has no responses; expected e.g. {{\"0\": {{\"Return\": {{}}}}}}"
        )));
    }
    ranges.sort_by_key(|r| r.0);
    let mut out = Vec::new();
    for (first, last, response) in ranges {
        if first as usize != out.len() {
            return Err(MockConfigError::new(format!(
                "{at}: the responses must number the attempts from 0 without gaps or overlaps; attempt {} is followed by one starting at {first}",
                out.len() as i64 - 1
            )));
        }
        for _ in first..=last {
            out.push(response.clone());
        }
    }
    Ok(out)
}

/// `"3"` → (3, 3); `"1-2"` → (1, 2).
fn range(key: &str) -> Option<(u32, u32)> {
    let (a, b) = key.split_once('-').unwrap_or((key, key));
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b && b - a < 10_000).then_some((a, b))
}

fn response(step: &Value, at: &str) -> Result<MockedResponse, MockConfigError> {
    let step = object(step, at)?;
    match (step.get("Return"), step.get("Throw"), step.len()) {
        (Some(v), None, 1) => Ok(MockedResponse::Return(v.clone())),
        (None, Some(t), 1) => {
            let t = object(t, &format!("{at}.Throw"))?;
            let text = |k: &str| match t.get(k) {
                Some(Value::String(s)) => Ok(s.clone()),
                _ => Err(MockConfigError::new(format!(
                    "{at}.Throw needs '{k}' as a string"
                ))),
            };
            Ok(MockedResponse::Throw(ErrorCause::new(
                text("Error")?,
                text("Cause")?,
            )))
        }
        _ => Err(MockConfigError::new(format!(
            "{at} must hold exactly one of 'Return' and 'Throw'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWS_EXAMPLE: &str = r#"{
      "StateMachines": {
        "LambdaSQSIntegration": {
          "TestCases": {
            "HappyPath": { "LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess" },
            "RetryPath": { "LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess" },
            "HybridPath": { "LambdaState": "MockedLambdaSuccess" }
          }
        }
      },
      "MockedResponses": {
        "MockedLambdaSuccess": {
          "0": { "Return": { "StatusCode": 200, "Payload": { "StatusCode": 200, "body": "Hello from Lambda!" } } }
        },
        "LambdaMockedResourceNotReady": {
          "0": { "Throw": { "Error": "Lambda.ResourceNotReadyException", "Cause": "Lambda resource is not ready." } }
        },
        "MockedSQSSuccess": {
          "0": { "Return": { "MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51", "MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51" } }
        },
        "MockedLambdaRetry": {
          "0": { "Throw": { "Error": "Lambda.ResourceNotReadyException", "Cause": "Lambda resource is not ready." } },
          "1-2": { "Throw": { "Error": "Lambda.TimeoutException", "Cause": "Lambda timed out." } },
          "3": { "Return": { "StatusCode": 200, "Payload": { "StatusCode": 200, "body": "Hello from Lambda!" } } }
        }
      }
    }"#;

    #[test]
    fn reads_the_aws_example_with_its_repeat_ranges() {
        let cfg = MockConfig::from_json(AWS_EXAMPLE).unwrap();
        let case = cfg.test_case("LambdaSQSIntegration", "RetryPath").unwrap();
        assert_eq!(case.name(), "RetryPath");
        let error = |n| match case.response("LambdaState", n) {
            Some(Ok(MockedResponse::Throw(e))) => e.error.clone(),
            other => panic!("attempt {n}: {other:?}"),
        };
        assert_eq!(error(0), "Lambda.ResourceNotReadyException");
        assert_eq!(error(1), "Lambda.TimeoutException");
        assert_eq!(error(2), "Lambda.TimeoutException");
        assert!(matches!(
            case.response("LambdaState", 3),
            Some(Ok(MockedResponse::Return(v))) if v["StatusCode"] == 200
        ));
        assert_eq!(case.response("LambdaState", 4), Some(Err(4)));
        assert_eq!(case.response("Elsewhere", 0), None);
    }

    #[test]
    fn names_a_missing_test_case() {
        let cfg = MockConfig::from_json(AWS_EXAMPLE).unwrap();
        let e = cfg.test_case("LambdaSQSIntegration", "Nope").unwrap_err();
        assert!(e.contains("no test case 'Nope'"), "{e}");
        assert!(e.contains("HappyPath, HybridPath, RetryPath"), "{e}");
        let e = cfg.test_case("Other", "HappyPath").unwrap_err();
        assert!(e.contains("state machine 'Other'"), "{e}");
    }

    #[test]
    fn refuses_mistakes_naming_them() {
        let bad = |text: &str, want: &str| {
            let e = MockConfig::from_json(text).unwrap_err().to_string();
            assert!(e.contains(want), "{e} should contain {want}");
        };
        bad("[", "not JSON");
        bad(r#"{"StateMachine": {}}"#, "unknown field 'StateMachine'");
        bad(
            r#"{"StateMachines": {"M": {"TestCases": {"T": {"S": "Missing"}}}}, "MockedResponses": {}}"#,
            "names the mocked response 'Missing'",
        );
        bad(
            r#"{"MockedResponses": {"R": {"0": {"Return": 1, "Throw": {"Error": "e", "Cause": "c"}}}}}"#,
            "exactly one of 'Return' and 'Throw'",
        );
        bad(
            r#"{"MockedResponses": {"R": {"0": {"Return": 1}, "2": {"Return": 2}}}}"#,
            "without gaps or overlaps",
        );
        bad(
            r#"{"MockedResponses": {"R": {"x": {"Return": 1}}}}"#,
            "'x' in MockedResponses.R is not an attempt number",
        );
        bad(
            r#"{"MockedResponses": {"R": {"0": {"Throw": {"Error": "e"}}}}}"#,
            "needs 'Cause'",
        );
    }

    #[test]
    fn a_file_error_names_the_file() {
        let e = MockConfig::from_file("/nonexistent/mock.json").unwrap_err();
        assert!(e.to_string().contains("/nonexistent/mock.json"), "{e}");
    }
}
