//! `Host::run_integration`: a Task state that calls a service integration answers from the
//! execution's mock test case, recording the events AWS records for it (`TaskScheduled`,
//! `TaskStarted`, then `TaskSucceeded`, `TaskFailed` or, for `.waitForTaskToken`,
//! `TaskSubmitted` and the wait for `SendTaskSuccess`/`SendTaskFailure`).

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::history::{NOT_TRUNCATED, NotTruncated};
use super::host::{AbortOnDrop, await_answer};
use super::{Execution, Service, Task, lock};
use crate::asl::integrations::{Pattern, unmocked};
use crate::asl::mock::MockedResponse;
use crate::asl::{ErrorCause, IntegrationRequest};
use crate::names::region_of;

/// `taskScheduledEventDetails`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Scheduled<'a> {
    resource_type: &'a str,
    resource: &'a str,
    region: &'a str,
    parameters: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_in_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    heartbeat_in_seconds: Option<u64>,
}

/// `taskStartedEventDetails`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Named<'a> {
    resource_type: &'a str,
    resource: &'a str,
}

/// `taskSucceededEventDetails` and `taskSubmittedEventDetails`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Output<'a> {
    resource_type: &'a str,
    resource: &'a str,
    output: &'a str,
    output_details: NotTruncated,
}

/// `taskFailedEventDetails` and `taskTimedOutEventDetails` (an empty error or cause is left
/// out, as AWS does).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Failed<'a> {
    resource_type: &'a str,
    resource: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    error: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    cause: &'a str,
}

/// Records how a service integration ended: `TaskSucceeded` with its output (`output`, the text
/// as sent, when there is one) or `TaskFailed`.
pub(super) fn record_answer(
    exec: &Execution,
    at: OffsetDateTime,
    resource_type: &str,
    resource: &str,
    result: &Result<Value, ErrorCause>,
    output: Option<String>,
) {
    match result {
        Ok(v) => exec.record_at(
            at,
            "TaskSucceeded",
            Some("taskSucceededEventDetails"),
            &Output {
                resource_type,
                resource,
                output: &output.unwrap_or_else(|| v.to_string()),
                output_details: NOT_TRUNCATED,
            },
        ),
        Err(e) => exec.record_at(
            at,
            "TaskFailed",
            Some("taskFailedEventDetails"),
            &Failed {
                resource_type,
                resource,
                error: &e.error,
                cause: &e.cause,
            },
        ),
    }
}

/// Runs one service integration call from the execution's mock test case.
pub(super) async fn run_integration(
    svc: Arc<Service>,
    exec: Arc<Execution>,
    req: IntegrationRequest,
) -> Result<Value, ErrorCause> {
    let Some(case) = exec.mocks.clone() else {
        let why = if svc.settings.mock_config.is_some() {
            "the execution was started without a test case (its stateMachineArn has no '#TESTCASE')"
        } else {
            "stefuna-local was started without a mock configuration"
        };
        return Err(unmocked(&req, Some(why)));
    };
    let response = match case.response(&req.state_name, req.attempt) {
        None => {
            let why = format!(
                "the test case '{}' does not name the state '{}'",
                case.name(),
                req.state_name
            );
            return Err(unmocked(&req, Some(&why)));
        }
        Some(Err(n)) => {
            return Err(ErrorCause::new(
                "States.Runtime",
                format!(
                    "the test case '{}' has mocked responses for {n} attempt(s) of the state '{}' (keys \"0\" to \"{}\"), and this is attempt {} ($$.State.RetryCount {}): add a response for it",
                    case.name(),
                    req.state_name,
                    n.saturating_sub(1),
                    req.attempt,
                    req.attempt
                ),
            ));
        }
        Some(Ok(r)) => r.clone(),
    };
    let (rt, res) = (req.resource_type.as_str(), req.action.as_str());
    let parameters = req.parameters.to_string();
    exec.record_at(
        svc.clock.now(),
        "TaskScheduled",
        Some("taskScheduledEventDetails"),
        &Scheduled {
            resource_type: rt,
            resource: res,
            region: region_of(&exec.arn),
            parameters: &parameters,
            timeout_in_seconds: req.timeout_seconds,
            heartbeat_in_seconds: req.heartbeat_seconds,
        },
    );
    exec.record_at(
        svc.clock.now(),
        "TaskStarted",
        Some("taskStartedEventDetails"),
        &Named {
            resource_type: rt,
            resource: res,
        },
    );
    let value = match response {
        MockedResponse::Throw(e) => {
            let result = Err(e);
            record_answer(&exec, svc.clock.now(), rt, res, &result, None);
            return result;
        }
        MockedResponse::Return(v) => v,
    };
    if req.pattern != Pattern::WaitForTaskToken {
        let result = Ok(value);
        record_answer(&exec, svc.clock.now(), rt, res, &result, None);
        return result;
    }
    // The mocked answer is the service's acknowledgement; the result comes with the token.
    let (task, rx) = Task::callback(
        req.task_token.clone(),
        parameters,
        exec.clone(),
        rt.to_owned(),
        res.to_owned(),
    );
    lock(&svc.tasks).insert(req.task_token.clone(), task.clone());
    if !exec.track(&task) {
        return Err(ErrorCause::new(
            "States.Runtime",
            "the execution ended before the task was submitted",
        ));
    }
    let _guard = AbortOnDrop(task.clone());
    exec.record_at(
        svc.clock.now(),
        "TaskSubmitted",
        Some("taskSubmittedEventDetails"),
        &Output {
            resource_type: rt,
            resource: res,
            output: &value.to_string(),
            output_details: NOT_TRUNCATED,
        },
    );
    await_answer(
        &svc,
        &task,
        rx,
        req.timeout_seconds,
        req.heartbeat_seconds,
        |now| {
            exec.record_at(
                now,
                "TaskTimedOut",
                Some("taskTimedOutEventDetails"),
                &Failed {
                    resource_type: rt,
                    resource: res,
                    error: "States.Timeout",
                    cause: "",
                },
            );
        },
    )
    .await
}
