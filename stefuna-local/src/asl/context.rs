//! The `$$` context object: facts about the execution, the state and the current Map item.
//! It is built only when a path reads it, at most once per state evaluation.

use std::borrow::Cow;
use std::cell::OnceCell;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ExecutionInfo;
use super::path::Path;

/// Execution-wide facts, computed once per execution.
pub(crate) struct ExecCtx {
    pub(crate) info: ExecutionInfo,
    pub(crate) input: Value,
}

impl ExecCtx {
    pub(crate) fn new(info: ExecutionInfo, input: Value) -> Self {
        ExecCtx { info, input }
    }
}

/// Per-state facts plus a lazily built context object.
pub(crate) struct Ctx<'a> {
    pub(crate) exec: &'a ExecCtx,
    pub(crate) state_name: &'a str,
    pub(crate) entered_time: OffsetDateTime,
    /// `$$.State.RetryCount`: only in the states that can retry (Task, Parallel, Map). AWS's
    /// documentation lists `RetryCount` in every context object, but its recorded answers
    /// disagree and win: a Pass state's has none (test_context_object `test_input_path[$$]`),
    /// a Task's and a Map's have it (`InvokeLambdaWithRetry`, TestState of a Map).
    pub(crate) retry_count: Option<u32>,
    pub(crate) token: Option<&'a str>,
    pub(crate) map_item: Option<(usize, &'a Value)>,
    /// The workflow variables the state sees (`$name` paths, JSONata).
    pub(crate) vars: Option<&'a super::variables::Frame>,
    cell: OnceCell<Value>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        exec: &'a ExecCtx,
        state_name: &'a str,
        entered_time: OffsetDateTime,
    ) -> Self {
        Ctx {
            exec,
            state_name,
            entered_time,
            retry_count: None,
            token: None,
            map_item: None,
            vars: None,
            cell: OnceCell::new(),
        }
    }

    /// The value of the variable `name`, if the state sees one.
    pub(crate) fn var(&self, name: &str) -> Option<Value> {
        self.vars.and_then(|f| f.get(name))
    }

    /// The context object as JSON.
    pub(crate) fn value(&self) -> &Value {
        self.cell.get_or_init(|| {
            let info = &self.exec.info;
            let mut v = json!({
                "Execution": {
                    "Id": info.id,
                    "Input": self.exec.input,
                    "Name": info.name,
                    "RoleArn": info.role_arn,
                    // No redrive in stefuna-local: always 0, as AWS shows before any.
                    "RedriveCount": 0,
                    // Formatted here, not per execution: most never read `$$`.
                    "StartTime": format_time(info.start_time),
                },
                "StateMachine": {"Id": info.state_machine_id, "Name": info.state_machine_name},
                "State": {
                    "Name": self.state_name,
                    "EnteredTime": format_time(self.entered_time),
                },
            });
            if let Some(n) = self.retry_count {
                v["State"]["RetryCount"] = n.into();
            }
            if let Some(token) = self.token {
                v["Task"] = json!({ "Token": token });
            }
            if let Some((index, value)) = self.map_item {
                v["Map"] = json!({"Item": {"Index": index, "Value": value}});
            }
            v
        })
    }

    /// AWS's error for `path` selecting nothing in `input` (or in the context object).
    pub(crate) fn missing(&self, path: &Path, input: &Value) -> super::ErrorCause {
        if let Some(name) = path.var() {
            return super::ErrorCause::new(
                "States.Runtime",
                match self.var(name) {
                    None => format!(
                        "The variable '${name}' of the path '{}' is not defined",
                        path.text()
                    ),
                    Some(v) => path.no_results_in(&v),
                },
            );
        }
        let root = if path.is_context() {
            self.value()
        } else {
            input
        };
        super::ErrorCause::new("States.Runtime", path.no_results_in(root))
    }

    /// Evaluates `path` against `input`, or against the context object for `$$` paths.
    pub(crate) fn resolve<'v>(&'v self, path: &Path, input: &'v Value) -> Option<Cow<'v, Value>> {
        if let Some(name) = path.var() {
            let v = self.var(name)?;
            return path.select(&v).map(|x| Cow::Owned(x.into_owned()));
        }
        if path.is_context() {
            path.select(self.value())
        } else {
            path.select(input)
        }
    }
}

/// Formats a time the way Step Functions shows it: `2019-03-26T20:14:13.192Z`.
pub(crate) fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses an RFC 3339 timestamp as ASL accepts it (an uppercase `T` separator and a zone).
pub(crate) fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    if !s.contains('T') || s.contains('t') || s.ends_with('z') {
        return None;
    }
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec() -> ExecCtx {
        ExecCtx::new(
            ExecutionInfo {
                id: "arn:exec".into(),
                name: "e1".into(),
                start_time: OffsetDateTime::from_unix_timestamp(1_553_631_253).unwrap(),
                role_arn: "arn:role".into(),
                state_machine_id: "arn:sm".into(),
                state_machine_name: "sm".into(),
            },
            json!({"in": 1}),
        )
    }

    #[test]
    fn context_object_has_execution_state_and_map_facts() {
        let e = exec();
        let item = json!("v");
        let mut c = Ctx::new(&e, "S", e.info.start_time);
        c.retry_count = Some(2);
        c.token = Some("tok");
        c.map_item = Some((3, &item));
        let v = c.value();
        assert_eq!(v["Execution"]["Id"], "arn:exec");
        assert_eq!(v["Execution"]["Input"], json!({"in": 1}));
        assert_eq!(v["Execution"]["StartTime"], "2019-03-26T20:14:13.000Z");
        assert_eq!(v["StateMachine"]["Name"], "sm");
        assert_eq!(v["State"]["RetryCount"], 2);
        assert_eq!(v["Task"]["Token"], "tok");
        assert_eq!(v["Map"]["Item"]["Index"], 3);
        assert_eq!(v["Map"]["Item"]["Value"], "v");
    }

    /// The context object of a Pass state as AWS recorded it (test_context_object.snapshot.json
    /// `test_input_path[$$]`): `RedriveCount` in Execution, no `RetryCount`, no Task or Map.
    #[test]
    fn pass_state_context_object_has_aws_fields() {
        let e = exec();
        let v = Ctx::new(&e, "TestState", e.info.start_time).value().clone();
        assert_eq!(
            v,
            json!({
                "Execution": {"Id": "arn:exec", "Input": {"in": 1}, "StartTime": "2019-03-26T20:14:13.000Z",
                    "Name": "e1", "RoleArn": "arn:role", "RedriveCount": 0},
                "StateMachine": {"Id": "arn:sm", "Name": "sm"},
                "State": {"Name": "TestState", "EnteredTime": "2019-03-26T20:14:13.000Z"}
            })
        );
    }

    #[test]
    fn timestamps_parse_strictly() {
        assert!(parse_timestamp("2016-03-14T01:59:00Z").is_some());
        assert!(parse_timestamp("2016-03-14T01:59:00.123+02:00").is_some());
        assert!(parse_timestamp("2016-03-14 01:59:00Z").is_none());
        assert!(parse_timestamp("2016-03-14t01:59:00Z").is_none());
        assert!(parse_timestamp("yesterday").is_none());
    }
}
