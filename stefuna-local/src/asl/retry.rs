//! `Retry` and `Catch`: which errors they match, how long to wait between attempts, and where a
//! caught error goes.

use std::time::Duration;

use serde_json::Value;

use super::DefinitionError;
use super::definition::{ResultPath, Target};
use super::fields::{Fields, kind, schema};

/// Matches every error except `States.Runtime` and `States.DataLimitExceeded`.
pub(crate) const ALL: &str = "States.ALL";
/// Matches every error `States.ALL` matches, except `States.Timeout`.
pub(crate) const TASK_FAILED: &str = "States.TaskFailed";

/// One `Retry` entry.
#[derive(Clone, Debug)]
pub(crate) struct Retrier {
    pub(crate) errors: Vec<String>,
    pub(crate) interval: f64,
    pub(crate) max_attempts: u32,
    pub(crate) backoff: f64,
    pub(crate) max_delay: Option<f64>,
    pub(crate) full_jitter: bool,
}

/// One `Catch` entry.
#[derive(Clone, Debug)]
pub(crate) struct Catcher {
    pub(crate) errors: Vec<String>,
    pub(crate) next: Target,
    pub(crate) result_path: ResultPath,
    /// `Assign`: variables set when this Catcher catches.
    pub(crate) assign: Option<super::variables::Assign>,
    /// JSONata `Output`: the state's output when this Catcher catches.
    pub(crate) output: Option<super::jsonata::JTemplate>,
}

/// Whether an `ErrorEquals` list matches `error`.
pub(crate) fn matches(errors: &[String], error: &str) -> bool {
    if error == "States.Runtime" || error == "States.DataLimitExceeded" {
        return false;
    }
    errors
        .iter()
        .any(|e| e == error || e == ALL || (e == TASK_FAILED && error != "States.Timeout"))
}

impl Retrier {
    /// The wait before retry number `attempt` (0 for the first retry).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let mut secs = self.interval * self.backoff.powi(attempt.min(1024) as i32);
        if let Some(max) = self.max_delay {
            secs = secs.min(max);
        }
        if self.full_jitter {
            secs *= fastrand::f64();
        }
        Duration::from_secs_f64(secs.clamp(0.0, 1e9))
    }
}

/// Per-state retry bookkeeping: how many times each retrier has fired.
#[derive(Debug, Default)]
pub(crate) struct RetryCounts(Vec<u32>);

impl RetryCounts {
    /// The wait before the next attempt, or `None` when the error is not to be retried (no
    /// retrier matches, or the first matching one has used up its attempts).
    pub(crate) fn next_delay(&mut self, retriers: &[Retrier], error: &str) -> Option<Duration> {
        if self.0.len() < retriers.len() {
            self.0.resize(retriers.len(), 0);
        }
        let i = retriers.iter().position(|r| matches(&r.errors, error))?;
        let r = &retriers[i];
        let done = self.0[i];
        if done >= r.max_attempts {
            return None;
        }
        self.0[i] += 1;
        Some(r.delay(done))
    }
}

fn error_equals(f: &Fields<'_>, last: bool) -> Result<Vec<String>, DefinitionError> {
    let at = f.at("ErrorEquals");
    let list = match f.get("ErrorEquals") {
        None => {
            return Err(schema(
                f.at.clone(),
                "these fields are required: [ErrorEquals]",
            ));
        }
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(other) => {
            return Err(schema(
                at,
                format!(
                    "'ErrorEquals' must be a non-empty array of error names, found {}",
                    kind(other)
                ),
            ));
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        let Value::String(s) = e else {
            return Err(schema(
                format!("{at}/{i}"),
                format!("error names must be strings, found {}", kind(e)),
            ));
        };
        out.push(s.clone());
    }
    if out.iter().any(|e| e == ALL) && (out.len() > 1 || !last) {
        return Err(schema(
            at,
            "'States.ALL' must appear alone in ErrorEquals, in the last retrier or catcher",
        ));
    }
    Ok(out)
}

fn entries<'a>(f: &Fields<'a>, key: &str) -> Result<Vec<Fields<'a>>, DefinitionError> {
    match f.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| Fields::new(v, format!("{}/{i}", f.at(key))))
            .collect(),
        Some(other) => Err(schema(
            f.at(key),
            format!("'{key}' must be an array, found {}", kind(other)),
        )),
    }
}

/// Parses a state's `Retry` field.
pub(crate) fn parse_retry(state: &Fields<'_>) -> Result<Vec<Retrier>, DefinitionError> {
    let list = entries(state, "Retry")?;
    let n = list.len();
    let mut out = Vec::with_capacity(n);
    for (i, f) in list.iter().enumerate() {
        f.only(&[
            "ErrorEquals",
            "IntervalSeconds",
            "MaxAttempts",
            "BackoffRate",
            "MaxDelaySeconds",
            "JitterStrategy",
            "Comment",
        ])?;
        let errors = error_equals(f, i + 1 == n)?;
        let interval = f.uint("IntervalSeconds", 1)?.unwrap_or(1) as f64;
        let max_attempts = f
            .uint("MaxAttempts", 0)?
            .unwrap_or(3)
            .min(u64::from(u32::MAX)) as u32;
        let backoff = f.number("BackoffRate", 1.0)?.unwrap_or(2.0);
        let max_delay = f.uint("MaxDelaySeconds", 1)?.map(|n| n as f64);
        let full_jitter = match f.str("JitterStrategy")? {
            None | Some("NONE") => false,
            Some("FULL") => true,
            Some(other) => {
                return Err(schema(
                    f.at("JitterStrategy"),
                    format!("'JitterStrategy' must be FULL or NONE, found '{other}'"),
                ));
            }
        };
        out.push(Retrier {
            errors,
            interval,
            max_attempts,
            backoff,
            max_delay,
            full_jitter,
        });
    }
    Ok(out)
}

/// Parses a state's `Catch` field; a JSONata state's Catchers take `Output` instead of
/// `ResultPath`.
pub(crate) fn parse_catch(
    state: &Fields<'_>,
    jsonata: bool,
) -> Result<Vec<Catcher>, DefinitionError> {
    let list = entries(state, "Catch")?;
    let n = list.len();
    let mut out = Vec::with_capacity(n);
    for (i, f) in list.iter().enumerate() {
        let extra = if jsonata { "Output" } else { "ResultPath" };
        f.only(&["ErrorEquals", "Next", extra, "Assign", "Comment"])?;
        let errors = error_equals(f, i + 1 == n)?;
        let next = Target::new(f.req_str("Next")?, f.at("Next"));
        let result_path = ResultPath::parse(f)?;
        let output = match f.get("Output") {
            Some(v) if jsonata => Some(super::jsonata::JTemplate::compile(v, &f.at("Output"))?),
            _ => None,
        };
        out.push(Catcher {
            errors,
            next,
            result_path,
            assign: super::variables::Assign::parse(f, jsonata)?,
            output,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn retriers(v: Value) -> Result<Vec<Retrier>, DefinitionError> {
        let state = json!({ "Retry": v });
        parse_retry(&Fields::new(&state, "/States/T").unwrap())
    }

    #[test]
    fn matching_rules() {
        let all = vec![ALL.to_string()];
        let tf = vec![TASK_FAILED.to_string()];
        let exact = vec!["Task.Failure".to_string()];
        assert!(matches(&all, "States.Timeout"));
        assert!(matches(&all, "Whatever"));
        assert!(!matches(&all, "States.Runtime"));
        assert!(matches(&tf, "Task.Failure"));
        assert!(!matches(&tf, "States.Timeout"));
        assert!(matches(&exact, "Task.Failure"));
        assert!(!matches(&exact, "Task.Other"));
        assert!(!matches(&exact, "States.Runtime"));
    }

    #[test]
    fn defaults_and_exponential_backoff() {
        let r = retriers(json!([{"ErrorEquals": ["X"]}])).unwrap();
        assert_eq!(
            (r[0].interval, r[0].max_attempts, r[0].backoff),
            (1.0, 3, 2.0)
        );
        let mut counts = RetryCounts::default();
        let delays: Vec<_> = std::iter::from_fn(|| counts.next_delay(&r, "X")).collect();
        assert_eq!(
            delays,
            vec![
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(4)
            ]
        );
    }

    #[test]
    fn max_delay_caps_and_zero_attempts_never_retry() {
        let r = retriers(json!([
            {"ErrorEquals": ["A"], "IntervalSeconds": 3, "BackoffRate": 3, "MaxAttempts": 4, "MaxDelaySeconds": 10},
            {"ErrorEquals": ["B"], "MaxAttempts": 0}
        ]))
        .unwrap();
        let mut counts = RetryCounts::default();
        let delays: Vec<_> = std::iter::from_fn(|| counts.next_delay(&r, "A")).collect();
        let secs: Vec<u64> = delays.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, vec![3, 9, 10, 10]);
        assert_eq!(counts.next_delay(&r, "B"), None);
        assert_eq!(counts.next_delay(&r, "C"), None);
    }

    #[test]
    fn full_jitter_stays_below_the_delay() {
        let r = retriers(
            json!([{"ErrorEquals": ["A"], "IntervalSeconds": 4, "JitterStrategy": "FULL"}]),
        )
        .unwrap();
        for attempt in 0..3 {
            assert!(r[0].delay(attempt) <= Duration::from_secs(4 << attempt));
        }
    }

    #[test]
    fn malformed_retriers_are_rejected() {
        let cases = [
            (
                json!([{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]),
                "/States/T/Retry/0/ErrorEquals",
            ),
            (
                json!([{"ErrorEquals": ["States.ALL", "X"]}]),
                "/States/T/Retry/0/ErrorEquals",
            ),
            (
                json!([{"ErrorEquals": []}]),
                "/States/T/Retry/0/ErrorEquals",
            ),
            (json!([{}]), "/States/T/Retry/0"),
            (
                json!([{"ErrorEquals": ["X"], "BackoffRate": 0.5}]),
                "/States/T/Retry/0/BackoffRate",
            ),
            (
                json!([{"ErrorEquals": ["X"], "IntervalSeconds": 0}]),
                "/States/T/Retry/0/IntervalSeconds",
            ),
            (
                json!([{"ErrorEquals": ["X"], "MaxAttempts": -1}]),
                "/States/T/Retry/0/MaxAttempts",
            ),
            (
                json!([{"ErrorEquals": ["X"], "JitterStrategy": "SOME"}]),
                "/States/T/Retry/0/JitterStrategy",
            ),
            (
                json!([{"ErrorEquals": ["X"], "Bogus": 1}]),
                "/States/T/Retry/0/Bogus",
            ),
            (json!({"ErrorEquals": ["X"]}), "/States/T/Retry"),
        ];
        for (v, path) in cases {
            let e = retriers(v.clone()).unwrap_err();
            assert_eq!(e.code, "SCHEMA_VALIDATION_FAILED", "{v}");
            assert_eq!(e.path, path, "{v}");
        }
    }

    #[test]
    fn catchers_parse_with_result_path() {
        let state =
            json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H", "ResultPath": "$.err"}]});
        let c = parse_catch(&Fields::new(&state, "/States/T").unwrap(), false).unwrap();
        assert_eq!(c[0].next.name, "H");
        assert!(matches!(c[0].result_path, ResultPath::At(_)));
        let state = json!({"Catch": [{"ErrorEquals": ["X"]}]});
        let e = parse_catch(&Fields::new(&state, "/States/T").unwrap(), false).unwrap_err();
        assert_eq!(e.path, "/States/T/Catch/0");
    }
}
