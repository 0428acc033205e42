//! The definition before any call: its shape, the one generated for a worker without
//! `--definition`, and how workers' heartbeats fit its Task states.

use anyhow::{anyhow, bail};
use serde_json::Value;
use stefuna_runtime::definition::arn_name;
use stefuna_runtime::describe::ActivityDescription;

/// `TimeoutSeconds` of a generated Task state.
const GENERATED_TIMEOUT_SECONDS: u64 = 3600;

/// Parses `text` and checks it is a state machine definition at all (the service validates
/// the rest).
pub(crate) fn parse_definition(text: &str) -> anyhow::Result<Value> {
    let parsed: Value =
        serde_json::from_str(text).map_err(|e| anyhow!("the definition is not valid JSON: {e}"))?;
    if parsed.get("StartAt").and_then(Value::as_str).is_none()
        || !parsed.get("States").is_some_and(Value::is_object)
    {
        bail!("invalid definition: it needs a string `StartAt` and a `States` object");
    }
    Ok(parsed)
}

/// One Task state per activity, in order, named and written as `${activity:NAME}` after the
/// ARN's name; each times out after an hour and, for a worker that beats, after three missed
/// beats (one late beat is not a lost task).
pub(crate) fn generated_definition(activities: &[ActivityDescription], name: &str) -> Value {
    let mut states = serde_json::Map::new();
    for (i, a) in activities.iter().enumerate() {
        let mut task = serde_json::json!({
            "Type": "Task",
            "Resource": format!("${{activity:{}}}", arn_name(&a.arn)),
            "TimeoutSeconds": GENERATED_TIMEOUT_SECONDS,
        });
        if let Some(beat) = a.heartbeat {
            task["HeartbeatSeconds"] = (beat * 3).into();
        }
        match activities.get(i + 1) {
            Some(next) => task["Next"] = arn_name(&next.arn).into(),
            None => task["End"] = true.into(),
        }
        states.insert(arn_name(&a.arn).to_owned(), task);
    }
    serde_json::json!({
        "Comment": format!("stefuna worker `{name}`, deployed by cargo xtask deploy"),
        "StartAt": activities.first().map_or("", |a| arn_name(&a.arn)),
        "States": states,
    })
}

/// A worker's activity as deployed: the ARN its Task states use and how often it beats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Worker {
    /// The activity ARN in the resolved definition.
    pub(crate) arn: String,
    /// `Activity::name`.
    pub(crate) name: String,
    /// Heartbeat interval in seconds; `None`: never beats.
    pub(crate) heartbeat: Option<u64>,
}

/// The Task states of a definition (nested Parallel branches and Map processors included).
fn task_states(def: &Value, out: &mut Vec<(String, Value)>) {
    let Some(states) = def.get("States").and_then(Value::as_object) else {
        return;
    };
    for (name, state) in states {
        match state.get("Type").and_then(Value::as_str) {
            Some("Task") => out.push((name.clone(), state.clone())),
            Some("Parallel") => {
                for b in state
                    .get("Branches")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    task_states(b, out);
                }
            }
            Some("Map") => {
                for key in ["ItemProcessor", "Iterator"] {
                    if let Some(p) = state.get(key) {
                        task_states(p, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Warnings about how `workers` and the resolved definition's timeouts fit together: a worker
/// that beats no more often than its state's `HeartbeatSeconds`, and activity Task states with
/// neither `HeartbeatSeconds` nor `TimeoutSeconds`.
pub(crate) fn cross_check(def: &Value, workers: &[Worker]) -> Vec<String> {
    let mut tasks = Vec::new();
    task_states(def, &mut tasks);
    let mut warnings = Vec::new();
    for (state, task) in tasks {
        let resource = task.get("Resource").and_then(Value::as_str).unwrap_or("");
        if !resource.contains(":activity:") {
            continue;
        }
        let activity = arn_name(resource);
        let hb_secs = task.get("HeartbeatSeconds").and_then(Value::as_u64);
        let has_hb = hb_secs.is_some() || task.get("HeartbeatSecondsPath").is_some();
        let has_timeout =
            task.get("TimeoutSeconds").is_some() || task.get("TimeoutSecondsPath").is_some();
        let worker = workers.iter().find(|w| w.arn == resource);
        if let (Some(hb), Some(worker)) = (hb_secs, worker) {
            let name = &worker.name;
            match worker.heartbeat {
                Some(beat) if beat >= hb => warnings.push(format!(
                    "state `{state}`: the `{name}` worker beats every {beat} s but \
                     HeartbeatSeconds is {hb}; tasks will time out between beats (set the \
                     worker's `heartbeat` below {hb})"
                )),
                None => warnings.push(format!(
                    "state `{state}`: HeartbeatSeconds is {hb} but the `{name}` worker never \
                     beats (heartbeat 0); every task longer than {hb} s will time out (set the \
                     worker's `heartbeat` below {hb})"
                )),
                _ => {}
            }
        }
        if !has_hb && !has_timeout {
            warnings.push(format!(
                "state `{state}` (activity `{activity}`) has no HeartbeatSeconds and no \
                 TimeoutSeconds; a lost worker would leave executions hanging for up to a year"
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arn(name: &str) -> String {
        format!("arn:aws:states:us-east-1:123456789012:activity:{name}")
    }

    fn worker(name: &str, heartbeat: Option<u64>) -> Worker {
        Worker {
            arn: arn(name),
            name: name.to_owned(),
            heartbeat,
        }
    }

    #[test]
    fn definitions_need_start_at_and_states() {
        assert!(parse_definition(r#"{"StartAt": "A", "States": {}}"#).is_ok());
        for bad in [
            "{",
            r#"{"States": {}}"#,
            r#"{"StartAt": "A", "States": []}"#,
        ] {
            assert!(parse_definition(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cross_check_warns_about_heartbeats_and_missing_timeouts() {
        let def = serde_json::json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": arn("slow"), "HeartbeatSeconds": 100, "Next": "B"},
            "B": {"Type": "Task", "Resource": arn("silent"), "HeartbeatSeconds": 30, "Next": "C"},
            "C": {"Type": "Parallel", "Branches": [{"StartAt": "D", "States": {
                "D": {"Type": "Task", "Resource": arn("other"), "End": true}}}], "Next": "E"},
            "E": {"Type": "Task", "Resource": arn("fine"), "HeartbeatSeconds": 60, "Next": "F"},
            "F": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}
        }});
        let workers = [
            worker("slow", Some(120)),
            worker("silent", None),
            worker("fine", Some(20)),
        ];
        let w = cross_check(&def, &workers);
        assert_eq!(w.len(), 3, "{w:#?}");
        assert!(
            w[0].contains("every 120 s") && w[0].contains("HeartbeatSeconds is 100"),
            "{w:#?}"
        );
        assert!(
            w[1].contains("never beats") && w[1].contains("30"),
            "{w:#?}"
        );
        assert!(
            w[2].contains("`D`") && w[2].contains("up to a year"),
            "{w:#?}"
        );
        // A beat equal to HeartbeatSeconds is already too slow.
        let w = cross_check(&def, &[worker("fine", Some(60))]);
        assert!(w.iter().any(|w| w.contains("every 60 s")), "{w:#?}");
    }

    #[test]
    fn generated_definition_chains_tasks_with_timeouts() {
        // The type is `#[non_exhaustive]`: built the way a reader gets it, from JSON.
        let a = |name: &str, heartbeat: Option<u64>| -> ActivityDescription {
            serde_json::from_value(serde_json::json!({"name": name,
                "arn": arn(&name.to_lowercase()), "region": "us-east-1",
                "heartbeat": heartbeat, "processes": 1}))
            .unwrap()
        };
        let acts = [a("Hello", Some(120)), a("Count", None)];
        let def = generated_definition(&acts, "w");
        assert_eq!(def["StartAt"], "hello");
        assert_eq!(def["States"]["hello"]["Resource"], "${activity:hello}");
        assert_eq!(def["States"]["hello"]["HeartbeatSeconds"], 360);
        assert_eq!(def["States"]["hello"]["Next"], "count");
        assert_eq!(def["States"]["count"]["TimeoutSeconds"], 3600);
        assert_eq!(def["States"]["count"]["End"], true);
        assert!(def["States"]["count"].get("HeartbeatSeconds").is_none());
    }
}
