//! Delivering a task's result: `SendTaskSuccess` / `SendTaskFailure`, retried with backoff on
//! throttling, 5xx, timeouts and network errors until it lands or the token is dead.
//!
//! An attempt that failed without a clear refusal (a lost connection, a timeout, a 5xx) may
//! have landed all the same, its answer lost on the way back. When the retry of such an attempt
//! meets a closed token, the earlier attempt is what closed it: the result counts as delivered,
//! neither a failed delivery nor a lost task.

use std::time::Duration;

use stefuna_core::{TaskError, TaskToken, names};

use crate::budget::is_throttling;
use crate::client::{ErrorClass, backoff, classify, describe, error_code};
use crate::metrics::Event;
use crate::pool::{ActivityPool, Shared};

const RETRY_BASE: Duration = Duration::from_millis(100);
const RETRY_CAP: Duration = Duration::from_secs(20);

/// How a delivery ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Delivered {
    /// Step Functions took it.
    Sent,
    /// An attempt's answer was lost and the retry met a closed token: the lost attempt closed
    /// it (the error code the retry met).
    SentAnswerLost(String),
    /// The token is dead (the task timed out, was stopped, or the token is invalid).
    TokenDead(String),
    /// Step Functions refused the request for good, or the server exited first.
    Failed(String),
}

/// Sends `result` for `token`, retrying transient errors. Every outcome is logged; none is
/// silent.
pub(crate) async fn deliver(
    shared: &Shared,
    pool: &ActivityPool,
    token: &TaskToken,
    result: Result<String, TaskError>,
) -> Delivered {
    match result {
        Ok(output) => {
            let sent = send_success(shared, pool, token, &output).await;
            match sent {
                Delivered::Sent | Delivered::SentAnswerLost(_) => {
                    shared.metrics.record(&pool.series, Event::Succeeded);
                    tracing::info!("task succeeded");
                    sent
                }
                // Step Functions refused the output itself: tell the state machine rather than
                // leave the task to time out.
                Delivered::Failed(why) if !shared.shutdown.exit.is_cancelled() => {
                    let err = TaskError::new(
                        names::INVALID_OUTPUT,
                        format!("step functions refused the task output: {why}"),
                    );
                    Box::pin(send_failure(shared, pool, token, err)).await
                }
                other => other,
            }
        }
        Err(err) => send_failure(shared, pool, token, err).await,
    }
}

async fn send_success(
    shared: &Shared,
    pool: &ActivityPool,
    token: &TaskToken,
    output: &str,
) -> Delivered {
    let res = retry(shared, pool, "SendTaskSuccess", move || async move {
        pool.clients
            .call
            .send_task_success()
            .task_token(token.as_str())
            .output(output)
            .send()
            .await
            .map(|_| ())
    })
    .await;
    report(shared, pool, "SendTaskSuccess", res)
}

async fn send_failure(
    shared: &Shared,
    pool: &ActivityPool,
    token: &TaskToken,
    err: TaskError,
) -> Delivered {
    let err = err.truncated();
    let name = err.error().to_owned();
    let err = &err;
    let res = retry(shared, pool, "SendTaskFailure", move || async move {
        pool.clients
            .call
            .send_task_failure()
            .task_token(token.as_str())
            .error(err.error())
            .cause(err.cause())
            .send()
            .await
            .map(|_| ())
    })
    .await;
    let delivered = report(shared, pool, "SendTaskFailure", res);
    if matches!(delivered, Delivered::Sent | Delivered::SentAnswerLost(_)) {
        shared.metrics.record(&pool.series, Event::Failed(&name));
        tracing::info!(error = %name, "task failed");
    }
    delivered
}

fn report(
    shared: &Shared,
    pool: &ActivityPool,
    operation: &str,
    res: Result<(), Delivered>,
) -> Delivered {
    match res {
        Ok(()) => {
            shared.health.note_ok();
            Delivered::Sent
        }
        Err(Delivered::TokenDead(code)) => {
            shared.metrics.record(&pool.series, Event::DeliveryDropped);
            tracing::warn!(
                operation,
                code = %code,
                "result not delivered: step functions no longer accepts this task (timed out, \
                 stopped or invalid token)"
            );
            Delivered::TokenDead(code)
        }
        Err(Delivered::Failed(why)) => {
            shared.metrics.record(&pool.series, Event::DeliveryDropped);
            tracing::error!(operation, error = %why, "result not delivered");
            Delivered::Failed(why)
        }
        Err(Delivered::SentAnswerLost(code)) => {
            shared.health.note_ok();
            tracing::info!(
                operation,
                code = %code,
                "an earlier attempt's answer was lost and the retry found the task closed: \
                 that attempt delivered the result"
            );
            Delivered::SentAnswerLost(code)
        }
        Err(Delivered::Sent) => Delivered::Sent,
    }
}

/// Whether a request that failed with transient `err` may have been applied: not when it was
/// refused with a 4xx (throttling) or never reached the endpoint (connection refused); else
/// (5xx, timeout, connection lost mid-request) nobody can tell.
fn may_have_landed<E>(
    err: &aws_sdk_sfn::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool
where
    E: std::error::Error + 'static,
{
    use aws_sdk_sfn::error::SdkError;
    match err {
        SdkError::ServiceError(se) => se.raw().status().as_u16() >= 500,
        _ => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
            while let Some(s) = source {
                if s.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
                {
                    return false;
                }
                source = s.source();
            }
            true
        }
    }
}

/// Calls `call` until it succeeds, the token is dead, the error is permanent, or the server
/// exits.
async fn retry<F, Fut, E>(
    shared: &Shared,
    pool: &ActivityPool,
    operation: &'static str,
    mut call: F,
) -> Result<(), Delivered>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<
            Output = Result<
                (),
                aws_sdk_sfn::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
            >,
        >,
    E: aws_sdk_sfn::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut attempt = 0u32;
    // Whether an earlier attempt may have landed with its answer lost.
    let mut maybe_landed = false;
    let budget = &shared.health.budget;
    // Held while this result is retried after throttling: polls wait for it.
    let mut urgent = None;
    loop {
        let err = match call().await {
            Ok(()) => {
                if urgent.is_some() {
                    budget.ok(operation);
                }
                return Ok(());
            }
            Err(e) => e,
        };
        let why = describe(&err);
        match classify(&err) {
            ErrorClass::TokenDead => {
                let code = error_code(&err).unwrap_or_default();
                return Err(if maybe_landed {
                    Delivered::SentAnswerLost(code)
                } else {
                    Delivered::TokenDead(code)
                });
            }
            ErrorClass::Permanent => return Err(Delivered::Failed(why)),
            ErrorClass::Transient => maybe_landed |= may_have_landed(&err),
        }
        if shared.shutdown.exit.is_cancelled() {
            return Err(Delivered::Failed(format!(
                "worker exited before delivery: {why}"
            )));
        }
        let throttled = is_throttling(&err);
        let wait = if throttled {
            budget.urgent_wait(attempt)
        } else {
            backoff(attempt, RETRY_BASE, RETRY_CAP)
        };
        attempt = attempt.saturating_add(1);
        shared.metrics.record(&pool.series, Event::DeliveryRetry);
        if throttled {
            // Logged once per episode by the budget, not once per call.
            budget.throttled(operation);
            urgent.get_or_insert_with(|| budget.urgent());
        } else {
            tracing::warn!(operation, attempt, error = %why, retry_in = ?wait, "delivery failed; retrying");
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.shutdown.exit.cancelled() => {
                return Err(Delivered::Failed(format!("worker exited before delivery: {why}")));
            }
        }
    }
}
