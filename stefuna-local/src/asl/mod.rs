//! Amazon States Language: definition parsing and validation, paths, intrinsics and the
//! interpreter that runs one execution.
//!
//! The interpreter knows nothing of HTTP, tokens or queues: everything that touches the outside
//! (activity tasks, timers, the history) goes through [`Host`], implemented by the service.
//!
//! What is supported, following AWS's documented behaviour:
//!
//! - States: Task (activity resources; other resources answer from a [`mock`] configuration), Pass,
//!   Wait, Choice, Succeed, Fail, Parallel, Map (inline, or Distributed over its input as child
//!   executions of a Map Run; `Iterator` or `ItemProcessor`).
//! - Input/output: InputPath, Parameters/ItemSelector, ResultSelector, ResultPath, OutputPath;
//!   `$$` context paths; JSONPath with fields, indexes, wildcards, slices and filters.
//! - Intrinsics: every `States.*` function (Format, StringToJson, JsonToString, Array*, Base64*,
//!   Hash, JsonMerge, Math*, StringSplit, UUID).
//! - Retry (with MaxDelaySeconds and FULL jitter) and Catch on Task, Parallel and Map.
//! - Validation with AWS's problem codes and the path of the problem (see [`DefinitionError`]).
//!
//! Module map: `parse`/`states` (definition → model in `definition`), `path`/`filter` (JSONPath),
//! `template`/`intrinsics`/`context` (payload templates), `choice`, `retry`, `interpreter`.
//!
//! INTERFACE (shared by the `asl` module and the service; change only by agreement):

mod causes;
mod choice;
mod context;
mod definition;
mod distributed;
mod dupes;
mod fields;
mod filter;
pub(crate) mod fuzzing;
mod hash;
mod inline;
pub(crate) mod integrations;
mod interpreter;
mod intrinsics;
mod jsonata;
pub mod mock;
mod parse;
mod path;
mod retry;
mod retrying;
mod states;
mod template;
#[cfg(test)]
mod tests;
mod variables;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use time::OffsetDateTime;

pub(crate) use integrations::IntegrationRequest;

/// A failure inside an execution: what `Retry`/`Catch` match and what the history shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorCause {
    /// The error name (`States.Timeout`, `Task.Failure`, ...).
    pub error: String,
    /// The cause text.
    pub cause: String,
}

impl ErrorCause {
    /// An error with a name and a cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        ErrorCause {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

/// An invalid state machine definition; `Display` is the message for `InvalidDefinition`,
/// naming the problem and its path (e.g. `/States/Hello/Next`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefinitionError {
    /// AWS-style problem code, e.g. `MISSING_TRANSITION_TARGET`, `SCHEMA_VALIDATION_FAILED`.
    pub code: String,
    /// Human-readable description.
    pub message: String,
    /// JSON-pointer-like location, e.g. `/States/Hello/Next`.
    pub path: String,
}

impl std::fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Invalid State Machine Definition: '{}: {} at {}'",
            self.code, self.message, self.path
        )
    }
}

/// One activity task the interpreter wants run (a `Task` state whose `Resource` is an activity
/// ARN). The host queues it for `GetActivityTask`, enforces the timeouts with its clock, records
/// `ActivityScheduled`/`ActivityStarted`/`ActivitySucceeded`/`ActivityFailed`/`ActivityTimedOut`,
/// and resolves with the output JSON or the error (`States.Timeout` on a timeout).
#[derive(Clone, Debug)]
pub struct ActivityRequest {
    /// The activity ARN from `Resource`.
    pub resource: String,
    /// The effective input (after InputPath and Parameters).
    pub input: Value,
    /// The task token (made by the interpreter, also visible as `$$.Task.Token`).
    pub task_token: String,
    /// `HeartbeatSeconds` (or its resolved `HeartbeatSecondsPath`).
    pub heartbeat_seconds: Option<u64>,
    /// `TimeoutSeconds` (or its resolved `TimeoutSecondsPath`); AWS's default is 99999999.
    pub timeout_seconds: Option<u64>,
}

/// One history event as the interpreter sees it; the host adds id, previousEventId and
/// timestamp.
#[derive(Clone, Debug)]
pub struct Event {
    /// AWS event type, e.g. `TaskStateEntered`, `PassStateExited`, `WaitStateAborted`.
    pub event_type: &'static str,
    /// The details member name, e.g. `stateEnteredEventDetails`; `None` for events without.
    pub details_key: Option<&'static str>,
    /// The details object as compact JSON text (`{"name": ..., "input": ...}` etc., strings as
    /// AWS sends them; `null` for events without details). Text, not a `Value`: the history
    /// keeps it as it is.
    pub details: Box<str>,
}

/// A Distributed Map's Map Run for the host to run: each item is the input of one child
/// execution of `processor`.
#[derive(Clone, Debug)]
pub struct MapRunRequest {
    /// The Map state's name.
    pub state_name: String,
    /// The Map state's `Label`, if any (part of the Map Run's ARN).
    pub label: Option<String>,
    /// The ItemProcessor as a state machine of its own.
    pub processor: Arc<StateMachine>,
    /// The child executions' inputs, in order.
    pub items: Vec<Value>,
    /// Most children running at once; 0 means no limit.
    pub max_concurrency: u64,
    /// `ToleratedFailureCount`, if set.
    pub tolerated_failure_count: Option<u64>,
    /// `ToleratedFailurePercentage`, if set.
    pub tolerated_failure_percentage: Option<f64>,
}

/// What the interpreter needs from the service.
pub trait Host: Send + Sync + 'static {
    /// Runs one activity task to its end (see [`ActivityRequest`]).
    fn run_activity(&self, req: ActivityRequest) -> BoxFuture<'static, Result<Value, ErrorCause>>;
    /// Sleeps on the service's clock (which tests may speed up).
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()>;
    /// The current time on the service's clock.
    fn now(&self) -> OffsetDateTime;
    /// Appends an event to the execution's history; gives its event id (AWS's runtime causes
    /// name the id of the state's entered event).
    fn record(&self, event: Event) -> u64;
    /// Runs one service integration call (a Task whose `Resource` is not an activity):
    /// mocked answers only. Hosts without mocks refuse it, naming the state.
    fn run_integration(
        &self,
        req: IntegrationRequest,
    ) -> BoxFuture<'static, Result<Value, ErrorCause>> {
        Box::pin(std::future::ready(Err(integrations::unmocked(&req, None))))
    }
    /// Runs a Distributed Map's Map Run to its end, recording `MapRunStarted` and
    /// `MapRunSucceeded`/`MapRunFailed`: the children's outputs in item order, or the error
    /// that failed the Map Run. Hosts without child executions refuse it.
    fn map_run(&self, run: MapRunRequest) -> BoxFuture<'static, Result<Vec<Value>, ErrorCause>> {
        let cause = format!(
            "the Distributed Map state '{}' needs child executions, which this host does not run",
            run.state_name
        );
        Box::pin(std::future::ready(Err(ErrorCause::new(
            "States.Runtime",
            cause,
        ))))
    }
}

/// Facts about the execution, for the `$$` context object.
#[derive(Clone, Debug)]
pub struct ExecutionInfo {
    /// Execution ARN (`$$.Execution.Id`).
    pub id: String,
    /// Execution name.
    pub name: String,
    /// Execution start time.
    pub start_time: OffsetDateTime,
    /// The state machine's role ARN.
    pub role_arn: String,
    /// State machine ARN.
    pub state_machine_id: String,
    /// State machine name.
    pub state_machine_name: String,
}

/// A parsed and validated state machine.
#[derive(Debug)]
pub struct StateMachine {
    /// The definition as JSON.
    pub definition: Value,
    /// The typed model the interpreter runs.
    pub(crate) parsed: definition::Definition,
}

impl StateMachine {
    /// Top-level `TimeoutSeconds`, if set.
    pub fn timeout_seconds(&self) -> Option<u64> {
        self.parsed.timeout_seconds
    }
}

/// Parses and validates a definition.
pub fn parse(definition: &str) -> Result<Arc<StateMachine>, DefinitionError> {
    let mut parsed = parse::parse(definition)?;
    let definition = std::mem::take(&mut parsed.json);
    Ok(Arc::new(StateMachine { definition, parsed }))
}

/// Runs an execution to its end: the output, or the error that failed it. The host records
/// `ExecutionStarted` before and `ExecutionSucceeded`/`ExecutionFailed` after; the interpreter
/// records the state events.
pub async fn run(
    machine: Arc<StateMachine>,
    input: Value,
    info: ExecutionInfo,
    host: Arc<dyn Host>,
) -> Result<Value, ErrorCause> {
    interpreter::run(&machine.parsed, input, info, host).await
}
