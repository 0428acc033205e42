//! `Host::run_activity`: schedules an activity task, enforces HeartbeatSeconds and
//! TimeoutSeconds on the service clock, and waits for the worker's answer.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::oneshot;

use super::history::{ErrorDetails, NOT_TRUNCATED, ScheduledDetails};
use super::tasks::Status;
use super::{Execution, Service, Task, lock, read};
use crate::asl::{ActivityRequest, ErrorCause};
use crate::clock::sleep_until;

/// AWS's TimeoutSeconds when a Task state sets none.
const DEFAULT_TIMEOUT: u64 = 99_999_999;

/// Closes the task as aborted if the interpreter drops the wait (StopExecution, a failed
/// Parallel branch), so its token is refused afterwards.
pub(super) struct AbortOnDrop(pub(super) Arc<Task>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if self.0.close(Status::Aborted) {
            self.0.execution.forget_task(&self.0.token);
        }
    }
}

/// Runs one activity task to its end.
pub(super) async fn run_activity(
    svc: Arc<Service>,
    exec: Arc<Execution>,
    req: ActivityRequest,
) -> Result<Value, ErrorCause> {
    let now = svc.clock.now();
    let Some(activity) = read(&svc.activities).get(&req.resource).cloned() else {
        // Recorded on AWS (test_activity_task_on_deleted): no event for the task, the
        // execution fails with this cause after the state's prefix.
        let cause = format!("The activity {} does not exist.", req.resource);
        return Err(ErrorCause::new("States.Runtime", cause));
    };
    let input = req.input.to_string();
    let token = req.task_token;
    let (task, rx) = Task::new(token.clone(), input, exec.clone());
    lock(&svc.tasks).insert(token.clone(), task.clone());
    if !exec.track(&task) {
        return Err(ErrorCause::new(
            "States.Runtime",
            "the execution ended before the task was scheduled",
        ));
    }
    let _guard = AbortOnDrop(task.clone());
    exec.record_at(
        now,
        "ActivityScheduled",
        Some("activityScheduledEventDetails"),
        &ScheduledDetails {
            resource: &req.resource,
            input: &task.input,
            input_details: NOT_TRUNCATED,
            timeout_in_seconds: req.timeout_seconds,
            heartbeat_in_seconds: req.heartbeat_seconds,
        },
    );
    activity.enqueue(task.clone());
    await_answer(
        &svc,
        &task,
        rx,
        req.timeout_seconds,
        req.heartbeat_seconds,
        |now| {
            // AWS gives no cause for a timeout (recorded: test_activity_task_start_timeout
            // has `"activityTimedOutEventDetails": {"error": "States.Timeout"}`).
            exec.record_at(
                now,
                "ActivityTimedOut",
                Some("activityTimedOutEventDetails"),
                &ErrorDetails {
                    error: "States.Timeout",
                    cause: "",
                },
            );
        },
    )
    .await
}

/// Waits for a started or scheduled task's answer, enforcing `timeout_seconds` (AWS's default
/// when `None`) and, once it is started, `heartbeat_seconds`; on a timeout closes the task,
/// records the timeout with `record_timeout` and fails with `States.Timeout`.
pub(super) async fn await_answer(
    svc: &Service,
    task: &Arc<Task>,
    mut rx: oneshot::Receiver<Result<Value, ErrorCause>>,
    timeout_seconds: Option<u64>,
    heartbeat_seconds: Option<u64>,
    record_timeout: impl FnOnce(OffsetDateTime),
) -> Result<Value, ErrorCause> {
    let total = Duration::from_secs(timeout_seconds.unwrap_or(DEFAULT_TIMEOUT));
    let total_deadline = svc.clock.deadline(total);
    let heartbeat = heartbeat_seconds.map(Duration::from_secs);
    loop {
        let beat_deadline = heartbeat.and_then(|h| {
            let st = lock(&task.state);
            (st.status == Status::Started)
                .then_some(st.last_beat)
                .flatten()
                .and_then(|b| b.checked_add(svc.clock.real(h)))
        });
        let deadline = match (total_deadline, beat_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        tokio::select! {
            biased;
            result = &mut rx => {
                return result.unwrap_or_else(|_| {
                    Err(ErrorCause::new("States.Runtime", "the task closed without a result"))
                });
            }
            () = task.beat.notified() => continue,
            () = sleep_until(deadline) => {
                let now = tokio::time::Instant::now();
                let total_hit = total_deadline.is_some_and(|d| d <= now);
                let beat_hit = {
                    let st = lock(&task.state);
                    st.status == Status::Started
                        && heartbeat.is_some_and(|h| {
                            st.last_beat
                                .and_then(|b| b.checked_add(svc.clock.real(h)))
                                .is_some_and(|d| d <= now)
                        })
                };
                // Answered or beaten meanwhile: look again.
                if !(total_hit || beat_hit) || !task.close(Status::TimedOut) {
                    continue;
                }
                if beat_hit && let Some(h) = heartbeat_seconds {
                    let last_beat = lock(&task.state).last_beat;
                    let window = svc.clock.real(Duration::from_secs(h));
                    let arn = &task.execution.arn;
                    svc.quotas.heartbeat_timed_out(&task.token, arn, h, window, last_beat);
                }
                record_timeout(svc.clock.now());
                task.execution.forget_task(&task.token);
                return Err(ErrorCause::new("States.Timeout", String::new()));
            }
        }
    }
}
