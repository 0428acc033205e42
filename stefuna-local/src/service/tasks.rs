//! Activity tasks: their life cycle (scheduled → started → closed) and SendTaskSuccess,
//! SendTaskFailure, SendTaskHeartbeat.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use super::history::{ErrorDetails, NOT_TRUNCATED, OutputDetails, WorkerDetails};
use super::{Call, Execution, Service, lock};
use crate::asl::ErrorCause;
use crate::error::{ApiError, ApiResult};
use crate::ledger::TokenAnswers;

/// Largest output `SendTaskSuccess` takes, in bytes.
pub(crate) const MAX_OUTPUT: usize = 262_144;
/// Longest `error` of `SendTaskFailure`, in characters.
const MAX_ERROR: usize = 256;
/// Longest `cause` of `SendTaskFailure`, in characters.
const MAX_CAUSE: usize = 32_768;
/// Longest task token AWS accepts.
const MAX_TOKEN: usize = 2048;

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Queued, not yet delivered to a poller.
    Scheduled,
    /// Delivered; heartbeats count from here.
    Started,
    /// Answered with SendTaskSuccess.
    Succeeded,
    /// Answered with SendTaskFailure.
    Failed,
    /// Timed out (heartbeat or total).
    TimedOut,
    /// Its execution stopped or the state was cancelled.
    Aborted,
}

/// Mutable part of a task.
pub(crate) struct TaskState {
    pub(crate) status: Status,
    /// Real time of delivery or of the last heartbeat.
    pub(crate) last_beat: Option<Instant>,
    /// The interpreter waiting for the result.
    result: Option<oneshot::Sender<Result<Value, ErrorCause>>>,
    /// What the token received, for [`crate::Emulator::answers`].
    pub(crate) answers: TokenAnswers,
}

/// One activity task.
pub(crate) struct Task {
    pub(crate) token: String,
    /// The input as the JSON text pollers receive.
    pub(crate) input: String,
    pub(crate) execution: Arc<Execution>,
    pub(crate) state: Mutex<TaskState>,
    /// Wakes the timer loop on start and on each heartbeat.
    pub(crate) beat: Notify,
    /// For a service integration's `.waitForTaskToken` callback (not an activity task): the
    /// history's `resourceType` and `resource`, recorded on its `TaskSucceeded`/`TaskFailed`.
    pub(crate) integration: Option<(String, String)>,
}

impl Task {
    /// A scheduled task and the receiver of its result.
    pub(crate) fn new(
        token: String,
        input: String,
        execution: Arc<Execution>,
    ) -> (Arc<Task>, oneshot::Receiver<Result<Value, ErrorCause>>) {
        let (tx, rx) = oneshot::channel();
        let task = Arc::new(Task {
            token,
            input,
            execution,
            state: Mutex::new(TaskState {
                status: Status::Scheduled,
                last_beat: None,
                result: Some(tx),
                answers: TokenAnswers::default(),
            }),
            beat: Notify::new(),
            integration: None,
        });
        (task, rx)
    }

    /// A `.waitForTaskToken` callback of a service integration (`resource_type`, `resource`):
    /// started at once (its heartbeats count from now), answered only by SendTask* calls.
    pub(crate) fn callback(
        token: String,
        input: String,
        execution: Arc<Execution>,
        resource_type: String,
        resource: String,
    ) -> (Arc<Task>, oneshot::Receiver<Result<Value, ErrorCause>>) {
        let (tx, rx) = oneshot::channel();
        let task = Arc::new(Task {
            token,
            input,
            execution,
            state: Mutex::new(TaskState {
                status: Status::Started,
                last_beat: Some(Instant::now()),
                result: Some(tx),
                answers: TokenAnswers::default(),
            }),
            beat: Notify::new(),
            integration: Some((resource_type, resource)),
        });
        (task, rx)
    }

    /// Marks the task delivered to `worker`; false if it is no longer waiting for a worker.
    pub(crate) fn start(&self, worker: &str, now: OffsetDateTime) -> bool {
        {
            let mut st = lock(&self.state);
            if st.status != Status::Scheduled {
                return false;
            }
            st.status = Status::Started;
            st.last_beat = Some(Instant::now());
        }
        self.execution.record_at(
            now,
            "ActivityStarted",
            Some("activityStartedEventDetails"),
            &WorkerDetails {
                worker_name: worker,
            },
        );
        self.beat.notify_one();
        true
    }

    /// Closes an open task with `status`; false if it was already closed.
    pub(crate) fn close(&self, status: Status) -> bool {
        let mut st = lock(&self.state);
        if matches!(st.status, Status::Scheduled | Status::Started) {
            st.status = status;
            st.result = None;
            true
        } else {
            false
        }
    }

    /// Closes an open task and hands the interpreter its result; the answer for a closed one.
    /// `output` is the output as the worker sent it, which the history records as it is.
    fn finish(
        &self,
        status: Status,
        result: Result<Value, ErrorCause>,
        output: Option<String>,
    ) -> Result<(), ApiError> {
        let tx = {
            let mut st = lock(&self.state);
            st.answers.received += 1;
            match st.status {
                Status::Scheduled | Status::Started => {
                    st.status = status;
                    st.answers.accepted += 1;
                    st.result.take()
                }
                closed => return Err(closed_error(closed, &self.token)),
            }
        };
        // Recorded before the interpreter wakes so the history stays in order.
        let now = self.execution.clock.now();
        if let Some((resource_type, resource)) = &self.integration {
            super::integrations::record_answer(
                &self.execution,
                now,
                resource_type,
                resource,
                &result,
                output,
            );
            self.execution.forget_task(&self.token);
            if let Some(tx) = tx {
                let _ = tx.send(result);
            }
            return Ok(());
        }
        match &result {
            Ok(v) => self.execution.record_at(
                now,
                "ActivitySucceeded",
                Some("activitySucceededEventDetails"),
                &OutputDetails {
                    output: &output.unwrap_or_else(|| v.to_string()),
                    output_details: NOT_TRUNCATED,
                },
            ),
            Err(e) => self.execution.record_at(
                now,
                "ActivityFailed",
                Some("activityFailedEventDetails"),
                &ErrorDetails {
                    error: &e.error,
                    cause: &e.cause,
                },
            ),
        }
        self.execution.forget_task(&self.token);
        if let Some(tx) = tx {
            let _ = tx.send(result);
        }
        Ok(())
    }
}

/// The error for a call on a closed task.
fn closed_error(status: Status, token: &str) -> ApiError {
    let short: String = token.chars().take(24).collect();
    match status {
        Status::TimedOut => ApiError::new(
            "TaskTimedOut",
            format!("task timed out: token {short}... is no longer accepted"),
        ),
        _ => ApiError::new(
            "TaskDoesNotExist",
            format!(
                "task does not exist: token {short}... belongs to a task that is already closed"
            ),
        ),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendTaskSuccessInput {
    task_token: String,
    output: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendTaskFailureInput {
    task_token: String,
    error: Option<String>,
    cause: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenInput {
    task_token: String,
}

/// Which dropped answer [`Service::note_lost_answer`] records.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LostAnswer {
    /// The `GetActivityTask` answer that handed out the token.
    Poll,
    /// An accepted `SendTaskSuccess` / `SendTaskFailure`.
    Result,
    /// An applied `SendTaskHeartbeat`.
    Heartbeat,
}

impl Service {
    /// Records on its token that an answer about a task was dropped on purpose.
    pub(crate) fn note_lost_answer(&self, token: &str, what: LostAnswer) {
        let Some(task) = lock(&self.tasks).get(token).cloned() else {
            return;
        };
        let mut st = lock(&task.state);
        match what {
            LostAnswer::Poll => st.answers.poll_answer_lost = true,
            LostAnswer::Result => st.answers.answers_lost += 1,
            LostAnswer::Heartbeat => st.answers.heartbeats_lost += 1,
        }
    }

    /// Every token issued so far and what it received.
    pub(crate) fn answers(&self) -> HashMap<String, TokenAnswers> {
        let tasks: Vec<Arc<Task>> = lock(&self.tasks).values().cloned().collect();
        tasks
            .into_iter()
            .map(|t| {
                let mut answers = lock(&t.state).answers.clone();
                answers.execution_arn.clone_from(&t.execution.arn);
                (t.token.clone(), answers)
            })
            .collect()
    }

    /// The task a token names, or `InvalidToken`.
    fn task(&self, token: &str) -> Result<Arc<Task>, ApiError> {
        let n = token.chars().count();
        if n == 0 || n > MAX_TOKEN {
            return Err(ApiError::validation(format!(
                "invalid taskToken: must be 1 to {MAX_TOKEN} characters, found {n}"
            )));
        }
        lock(&self.tasks).get(token).cloned().ok_or_else(|| {
            ApiError::new(
                "InvalidToken",
                "invalid taskToken: not a token this service issued",
            )
        })
    }

    pub(super) fn send_task_success(&self, call: Call<'_>) -> ApiResult {
        let input: SendTaskSuccessInput = call.input()?;
        if input.output.len() > MAX_OUTPUT {
            return Err(ApiError::new(
                "InvalidOutput",
                format!(
                    "invalid output: {} bytes is over the limit of {MAX_OUTPUT} bytes",
                    input.output.len()
                ),
            ));
        }
        let output: Value = serde_json::from_str(&input.output).map_err(|e| {
            ApiError::new("InvalidOutput", format!("invalid output: not JSON: {e}"))
        })?;
        let task = self.task(&input.task_token)?;
        task.finish(Status::Succeeded, Ok(output), Some(input.output))?;
        Ok("{}".to_owned())
    }

    pub(super) fn send_task_failure(&self, call: Call<'_>) -> ApiResult {
        let input: SendTaskFailureInput = call.input()?;
        let error = input.error.unwrap_or_default();
        let cause = input.cause.unwrap_or_default();
        if error.chars().count() > MAX_ERROR {
            return Err(ApiError::validation(format!(
                "invalid error: at most {MAX_ERROR} characters, found {}",
                error.chars().count()
            )));
        }
        if cause.chars().count() > MAX_CAUSE {
            return Err(ApiError::validation(format!(
                "invalid cause: at most {MAX_CAUSE} characters, found {}",
                cause.chars().count()
            )));
        }
        let task = self.task(&input.task_token)?;
        task.finish(Status::Failed, Err(ErrorCause::new(error, cause)), None)?;
        Ok("{}".to_owned())
    }

    pub(super) fn send_task_heartbeat(&self, call: Call<'_>) -> ApiResult {
        let input: TokenInput = call.input()?;
        let task = self.task(&input.task_token)?;
        {
            let mut st = lock(&task.state);
            match st.status {
                Status::Scheduled | Status::Started => st.last_beat = Some(Instant::now()),
                closed => return Err(closed_error(closed, &task.token)),
            }
        }
        task.beat.notify_one();
        Ok("{}".to_owned())
    }
}
