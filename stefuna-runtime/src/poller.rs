//! The poll loop: take a free slot, then long-poll `GetActivityTask` with it; a claimed task
//! starts at once on the slot it was polled with.

use std::sync::Arc;
use std::time::Duration;

use stefuna_core::TaskToken;

use crate::budget::is_throttling;
use crate::client::{
    ErrorClass, NO_CREDENTIALS_HINT, backoff, classify, describe, error_code, hint,
    is_missing_credentials,
};
use crate::pool::{ActivityPool, Shared};
use crate::task;

const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// One poller of `pool`; runs until shutdown drains (an open poll finishes first).
pub(crate) async fn poll_loop(shared: Arc<Shared>, pool: Arc<ActivityPool>, index: usize) {
    let drain = &shared.shutdown.drain;
    let mut failures = 0u32;
    loop {
        let permit = match pool.slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                tokio::select! {
                    p = pool.slots.clone().acquire_owned() => {
                        // All slots were busy: not polling was right, so liveness holds.
                        shared.health.note_ok();
                        match p { Ok(p) => p, Err(_) => return }
                    }
                    () = drain.cancelled() => return,
                }
            }
        };
        // Results and heartbeats being throttled go first: no new task until they land.
        tokio::select! {
            () = shared.health.budget.before_poll() => {}
            () = drain.cancelled() => return,
        }
        if drain.is_cancelled() {
            return;
        }
        let call = pool
            .clients
            .poll
            .get_activity_task()
            .activity_arn(pool.arn.as_ref())
            .worker_name(shared.worker_name.as_ref())
            .send();
        let call = shared.metrics.track_poll(&pool, call);
        // A poll that is open when the drain starts finishes: Step Functions may already have
        // handed it a task. Only a forced shutdown (or local mode's drain) abandons it.
        let res = tokio::select! {
            r = call => r,
            () = shared.shutdown.force.cancelled() => return,
            () = shared.shutdown.abandon_polls.cancelled() => return,
        };
        match res {
            Ok(out) => {
                failures = 0;
                shared.health.budget.ok("GetActivityTask");
                shared.health.note_poll();
                shared.metrics.polled(&pool.series, &out);
                match out.task_token().filter(|t| !t.is_empty()) {
                    Some(token) => {
                        let token = TaskToken::new(token);
                        let input = out.input().unwrap_or("{}").to_owned();
                        shared.tracker.spawn(task::run(
                            shared.clone(),
                            pool.clone(),
                            token,
                            input,
                            permit,
                        ));
                    }
                    None => tracing::trace!(poller = index, "poll returned no task"),
                }
            }
            Err(e) => {
                drop(permit);
                shared.metrics.poll_failed(&pool.name, &e);
                let why = describe(&e);
                shared.health.note_poll_error(match error_code(&e) {
                    Some(code) => format!("GetActivityTask failed: {code}"),
                    None if is_missing_credentials(&e) => {
                        "GetActivityTask failed: no AWS credentials".to_owned()
                    }
                    None => "GetActivityTask failed: network or timeout error".to_owned(),
                });
                let throttled = is_throttling(&e);
                let wait = if throttled {
                    shared.health.budget.wait(failures)
                } else {
                    backoff(failures, BACKOFF_BASE, BACKOFF_CAP)
                };
                failures = failures.saturating_add(1);
                let advice = error_code(&e).as_deref().and_then(hint);
                if throttled {
                    // Logged once per episode by the budget, not once per call.
                    shared.health.budget.throttled("GetActivityTask");
                } else if is_missing_credentials(&e) {
                    tracing::error!(activity = %pool.name, error = %why, retry_in = ?wait, hint = NO_CREDENTIALS_HINT, "GetActivityTask failed; retrying");
                } else if let Some(hint) = advice {
                    tracing::error!(activity = %pool.name, arn = %pool.arn, error = %why, retry_in = ?wait, hint, "GetActivityTask refused; retrying");
                } else if classify(&e) == ErrorClass::Permanent {
                    tracing::error!(activity = %pool.name, arn = %pool.arn, error = %why, retry_in = ?wait, "GetActivityTask refused; retrying");
                } else {
                    tracing::warn!(activity = %pool.name, error = %why, retry_in = ?wait, "GetActivityTask failed; retrying");
                }
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = drain.cancelled() => return,
                }
            }
        }
    }
}
