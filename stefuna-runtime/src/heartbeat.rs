//! Heartbeats: the [`Heartbeat`] behind `Context::heartbeat()` and the automatic beat loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use stefuna_core::{Heartbeat, HeartbeatError, TaskToken};
use tokio_util::sync::CancellationToken;

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
        match res {
            Ok(_) => {
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

/// Beats every `interval` (the first one `interval` after the start) until the task is lost.
/// The caller aborts it when the task ends.
pub(crate) async fn beat_every(hb: Arc<SfnHeartbeat>, interval: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // Boxed: the SDK call's future is kilobytes; inline, every waiting beat loop holds it.
        if let Err(HeartbeatError::TaskLost(_)) = Box::pin(hb.send()).await {
            return;
        }
    }
}
