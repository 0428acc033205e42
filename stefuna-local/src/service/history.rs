//! Execution history: events as the service and the interpreter record them, and
//! GetExecutionHistory.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Call, Service, paging, reply};
use crate::error::ApiResult;

/// One recorded event.
pub(crate) struct HistoryEvent {
    pub(crate) timestamp: f64,
    pub(crate) event_type: &'static str,
    pub(crate) details_key: Option<&'static str>,
    /// The details object as compact JSON text: written once per event, read only by
    /// GetExecutionHistory, and far smaller to keep than a `Value` tree.
    pub(crate) details: Box<str>,
}

/// An execution's events; once a terminal event (`ExecutionSucceeded`, ...) is in, later ones
/// are dropped (an interpreter being cancelled may still try to record).
#[derive(Default)]
pub(crate) struct History {
    pub(crate) events: Vec<HistoryEvent>,
    pub(crate) closed: bool,
}

impl History {
    /// Appends an event unless the history is closed; `terminal` closes it.
    /// Appends an event; gives its id (1-based, as AWS numbers events; after the history is
    /// closed, the id it would have had).
    pub(crate) fn push(&mut self, event: HistoryEvent, terminal: bool) -> u64 {
        if !self.closed {
            self.closed = terminal;
            self.events.push(event);
        }
        self.events.len() as u64
    }
}

/// Details as JSON text.
pub(crate) fn details_text(details: &impl Serialize) -> Box<str> {
    // Plain data: serializing it cannot fail, and serde_json writes UTF-8 only.
    let mut out = Vec::with_capacity(128);
    if serde_json::to_writer(&mut out, details).is_err() {
        return "{}".into();
    }
    String::from_utf8(out)
        .unwrap_or_else(|_| "{}".to_owned())
        .into_boxed_str()
}

/// `{"truncated": false}` as AWS puts beside payloads.
#[derive(Clone, Copy, Serialize)]
pub(crate) struct NotTruncated {
    truncated: bool,
}

/// The one value of [`NotTruncated`].
pub(crate) const NOT_TRUNCATED: NotTruncated = NotTruncated { truncated: false };

/// `error` and `cause` (ActivityFailed, ExecutionFailed, ...TimedOut, ...ScheduleFailed).
/// An empty one is absent, and AWS leaves it out: a Fail state without `Error` or `Cause`, a
/// SendTaskFailure without them, a timeout (recorded: `"executionFailedEventDetails": {}`
/// after a failed Map, `{"error": "States.Timeout"}` after ActivityTimedOut).
#[derive(Serialize)]
pub(crate) struct ErrorDetails<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    pub(crate) error: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub(crate) cause: &'a str,
}

/// An output and its `outputDetails` (ActivitySucceeded, ExecutionSucceeded).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OutputDetails<'a> {
    pub(crate) output: &'a str,
    pub(crate) output_details: NotTruncated,
}

/// `executionStartedEventDetails`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StartedDetails<'a> {
    pub(crate) input: &'a str,
    pub(crate) input_details: NotTruncated,
    pub(crate) role_arn: &'a str,
}

/// `activityScheduledEventDetails`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScheduledDetails<'a> {
    pub(crate) resource: &'a str,
    pub(crate) input: &'a str,
    pub(crate) input_details: NotTruncated,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) timeout_in_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) heartbeat_in_seconds: Option<u64>,
}

/// `activityStartedEventDetails`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WorkerDetails<'a> {
    pub(crate) worker_name: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetExecutionHistoryInput {
    execution_arn: String,
    max_results: Option<i64>,
    next_token: Option<String>,
    reverse_order: Option<bool>,
    include_execution_data: Option<bool>,
}

/// Removes payload members (`input`, `output`) when `includeExecutionData` is false.
fn strip_data(details: &mut Map<String, Value>) {
    for key in ["input", "output"] {
        details.remove(key);
    }
}

impl Service {
    pub(super) fn get_execution_history(&self, call: Call<'_>) -> ApiResult {
        let input: GetExecutionHistoryInput = call.input()?;
        let exec = self.execution(&input.execution_arn)?;
        let size = paging::page_size(input.max_results)?;
        let skip = paging::position(input.next_token.as_deref())?.unwrap_or(0);
        let reverse = input.reverse_order.unwrap_or(false);
        let include_data = input.include_execution_data.unwrap_or(true);
        let history = super::lock(&exec.history);
        let total = history.events.len();
        let ids: Box<dyn Iterator<Item = usize>> = if reverse {
            Box::new((0..total).rev())
        } else {
            Box::new(0..total)
        };
        let events: Vec<Value> = ids
            .skip(skip)
            .take(size)
            .map(|i| {
                let e = &history.events[i];
                let mut obj = Map::new();
                obj.insert("timestamp".into(), e.timestamp.into());
                obj.insert("type".into(), e.event_type.into());
                obj.insert("id".into(), (i as u64 + 1).into());
                obj.insert("previousEventId".into(), (i as u64).into());
                if let Some(key) = e.details_key {
                    let mut details: Value =
                        serde_json::from_str(&e.details).unwrap_or(Value::Null);
                    if !include_data && let Value::Object(d) = &mut details {
                        strip_data(d);
                    }
                    obj.insert(key.into(), details);
                }
                Value::Object(obj)
            })
            .collect();
        drop(history);
        let next = (skip + size < total).then(|| paging::token(skip + size));
        reply(&serde_json::json!({ "events": events, "nextToken": next }))
    }
}
