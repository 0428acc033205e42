//! Heartbeats: the [`Heartbeat`] behind `Context::heartbeat()` and the automatic beat loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use stefuna_core::{Heartbeat, HeartbeatError, TaskToken};
use tokio_util::sync::CancellationToken;

use crate::budget::is_throttling;
use crate::client::{ErrorClass, classify, describe, error_code};
use crate::health::Health;
use crate::metrics::Event;

/// Sends `SendTaskHeartbeat` for one task and remembers when Step Functions lost it.
pub(crate) struct SfnHeartbeat {
    client: aws_sdk_sfn::Client,
    token: TaskToken,
    activity: Arc<str>,
    health: Arc<Health>,
    /// Fires once a beat answers TaskTimedOut, TaskDoesNotExist or InvalidToken.
    lost: CancellationToken,
    /// The task's cancellation (what `Context::cancelled()` watches).
    cancel: CancellationToken,
    /// Set once the result is being sent: from then on a dead token is the delivery's business.
    delivering: AtomicBool,
    /// The last beat was throttled.
    throttled: AtomicBool,
}

impl SfnHeartbeat {
    /// A heartbeat for `token`.
    pub(crate) fn new(
        client: aws_sdk_sfn::Client,
        token: TaskToken,
        activity: Arc<str>,
        health: Arc<Health>,
        cancel: CancellationToken,
    ) -> SfnHeartbeat {
        SfnHeartbeat {
            client,
            token,
            activity,
            health,
            lost: CancellationToken::new(),
            cancel,
            delivering: AtomicBool::new(false),
            throttled: AtomicBool::new(false),
        }
    }

    /// The result is about to be sent. Beats go on (a slow, throttled delivery must not let
    /// `HeartbeatSeconds` run out), but a beat that races the result and finds the token closed
    /// no longer counts as a lost task.
    pub(crate) fn set_delivering(&self) {
        self.delivering.store(true, Ordering::SeqCst);
    }

    /// Fires when Step Functions no longer accepts the task.
    pub(crate) fn lost(&self) -> &CancellationToken {
        &self.lost
    }

    /// Whether the last beat was refused with throttling.
    fn throttled_last(&self) -> bool {
        self.throttled.load(Ordering::Relaxed)
    }

    async fn send(&self) -> Result<(), HeartbeatError> {
        if self.lost.is_cancelled() {
            return Err(HeartbeatError::TaskLost("task already lost".into()));
        }
        let res = self
            .client
            .send_task_heartbeat()
            .task_token(self.token.as_str())
            .send()
            .await;
        let metrics = &self.health.metrics;
        self.throttled
            .store(res.as_ref().is_err_and(is_throttling), Ordering::Relaxed);
        match res {
            Ok(_) => {
                self.health.budget.ok("SendTaskHeartbeat");
                self.health.note_ok();
                metrics.record(&self.activity, Event::Heartbeat);
                tracing::debug!("heartbeat sent");
                Ok(())
            }
            Err(e) => {
                let dead = classify(&e) == ErrorClass::TokenDead;
                if dead && self.delivering.load(Ordering::SeqCst) {
                    // The result went first and closed the token: not a loss.
                    return Err(HeartbeatError::TaskLost(error_code(&e).unwrap_or_default()));
                }
                metrics.record(&self.activity, Event::HeartbeatError);
                let why = describe(&e);
                if dead {
                    let code = error_code(&e).unwrap_or_default();
                    if !self.lost.is_cancelled() {
                        metrics.record(&self.activity, Event::Lost);
                        tracing::warn!(
                            code = %code,
                            "step functions no longer accepts this task; cancelling it"
                        );
                    }
                    self.lost.cancel();
                    self.cancel.cancel();
                    Err(HeartbeatError::TaskLost(code))
                } else if is_throttling(&e) {
                    // Logged once per episode by the budget, not once per beat.
                    self.health.budget.throttled("SendTaskHeartbeat");
                    Err(HeartbeatError::Transient(why))
                } else {
                    tracing::warn!(error = %why, "heartbeat failed; the task goes on");
                    Err(HeartbeatError::Transient(why))
                }
            }
        }
    }
}

impl Heartbeat for SfnHeartbeat {
    fn beat(&self) -> BoxFuture<'_, Result<(), HeartbeatError>> {
        Box::pin(self.send())
    }
}

/// Beats about every `interval`, never later, with jitter (see [`crate::budget`]), until the
/// task is lost. A throttled beat is retried with backoff, ahead of new polls, for up to half
/// an interval (the next beat is due by then). The caller aborts it when the task ends.
pub(crate) async fn beat_every(hb: Arc<SfnHeartbeat>, interval: Duration) {
    let budget = &hb.health.budget;
    let mut next = tokio::time::Instant::now() + budget.first_beat(interval);
    loop {
        tokio::time::sleep_until(next).await;
        next += budget.next_beat(interval);
        let started = tokio::time::Instant::now();
        let mut urgent = None;
        let mut attempt = 0;
        loop {
            // Boxed: the SDK call's future is kilobytes; inline, every waiting beat loop holds it.
            match Box::pin(hb.send()).await {
                Err(HeartbeatError::TaskLost(_)) => return,
                Err(HeartbeatError::Transient(_)) if hb.throttled_last() => {
                    let wait = budget.urgent_wait(attempt);
                    attempt += 1;
                    if started.elapsed() + wait > interval / 2 {
                        break;
                    }
                    urgent.get_or_insert_with(|| budget.urgent());
                    tokio::time::sleep(wait).await;
                }
                _ => break,
            }
        }
        drop(urgent);
        // A beat that ran long does not make the next one late.
        next = next.max(tokio::time::Instant::now());
    }
}
