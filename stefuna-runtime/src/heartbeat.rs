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
use crate::metrics::{ActivitySeries, Event};

/// Sends `SendTaskHeartbeat` for one task and remembers when Step Functions lost it.
pub(crate) struct SfnHeartbeat {
    client: aws_sdk_sfn::Client,
    token: TaskToken,
    activity: ActivitySeries,
    health: Arc<Health>,
    /// Fires once a beat answers TaskTimedOut, TaskDoesNotExist or InvalidToken.
    lost: CancellationToken,
    /// The task's cancellation (what `Context::cancelled()` watches).
    cancel: CancellationToken,
    /// Set once the result is being sent: from then on a dead token is the delivery's business.
    delivering: AtomicBool,
    /// The last beat was throttled.
    throttled: AtomicBool,
    /// When the last beat was accepted (at first: when the task was received).
    last_ok: std::sync::Mutex<tokio::time::Instant>,
}

impl SfnHeartbeat {
    /// A heartbeat for `token`.
    pub(crate) fn new(
        client: aws_sdk_sfn::Client,
        token: TaskToken,
        activity: ActivitySeries,
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
            last_ok: std::sync::Mutex::new(tokio::time::Instant::now()),
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

    /// When the last beat was accepted, or the task received.
    fn last_ok(&self) -> tokio::time::Instant {
        *self.last_ok.lock().unwrap_or_else(|e| e.into_inner())
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
                *self.last_ok.lock().unwrap_or_else(|e| e.into_inner()) =
                    tokio::time::Instant::now();
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
/// task is lost. A throttled beat is retried with backoff, ahead of new polls (which wait), until
/// it is accepted; the next beat is due an interval after that. While this worker's beats are
/// being throttled, a beat waits until 1.4 to 1.5 intervals after the task's last accepted one.
/// The caller aborts it when the task ends. The naive mode is [`beat_naively`].
pub(crate) async fn beat_every(hb: Arc<SfnHeartbeat>, interval: Duration) {
    let budget = &hb.health.budget;
    if !budget.smart() {
        return beat_naively(hb, interval).await;
    }
    let mut next = on_tick(tokio::time::Instant::now() + budget.first_beat(interval));
    loop {
        tokio::time::sleep_until(next).await;
        if let Some(later) = budget.defer_beat(hb.last_ok(), interval) {
            tokio::time::sleep_until(later).await;
        }
        let mut urgent = None;
        let mut attempt = 0;
        loop {
            // Boxed: the SDK call's future is kilobytes; inline, every waiting beat loop holds it.
            match Box::pin(hb.send()).await {
                Err(HeartbeatError::TaskLost(_)) => return,
                Err(HeartbeatError::Transient(_)) if hb.throttled_last() => {
                    urgent.get_or_insert_with(|| budget.urgent());
                    tokio::time::sleep(budget.urgent_wait(attempt)).await;
                    attempt = attempt.saturating_add(1);
                }
                // Accepted, or failed otherwise (the next beat is due on schedule).
                _ => break,
            }
        }
        drop(urgent);
        next = on_tick(tokio::time::Instant::now() + budget.next_beat(interval));
    }
}

/// The grid automatic beats are coalesced onto.
const BEAT_TICK: Duration = Duration::from_millis(100);

/// `at`, moved back onto this process's [`BEAT_TICK`] grid: never later than asked, at most one
/// tick early. The beats of many tasks then fall due together, so the runtime wakes once per tick
/// and sends them in one burst instead of waking for each alone; with 10,000 tasks beating every
/// 10 s, that cut the worker's CPU by about a third (`perf stat` during the density run,
/// README "Density"). The jitter stays: beats are spread over the interval's ticks, and each
/// process has its own grid.
fn on_tick(at: tokio::time::Instant) -> tokio::time::Instant {
    static EPOCH: std::sync::OnceLock<tokio::time::Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(tokio::time::Instant::now);
    let past = at.saturating_duration_since(epoch).as_nanos() % BEAT_TICK.as_nanos();
    at - Duration::from_nanos(u64::try_from(past).unwrap_or(0))
}

/// `_STEFUNA_QUOTA_NAIVE=1`: beats exactly every `interval`; a throttled beat is retried after
/// a fixed delay for up to half an interval, then given up.
async fn beat_naively(hb: Arc<SfnHeartbeat>, interval: Duration) {
    let budget = &hb.health.budget;
    let mut next = tokio::time::Instant::now() + budget.first_beat(interval);
    loop {
        tokio::time::sleep_until(next).await;
        next += budget.next_beat(interval);
        let started = tokio::time::Instant::now();
        let mut urgent = None;
        let mut attempt = 0;
        loop {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beats_fall_on_a_shared_tick_never_late() {
        let now = tokio::time::Instant::now();
        let ticks: Vec<_> = (0..50u64)
            .map(|ms| now + Duration::from_secs(5) + Duration::from_millis(ms * 7))
            .map(|at| (at, on_tick(at)))
            .collect();
        for (at, tick) in &ticks {
            assert!(tick <= at && *at - *tick < BEAT_TICK, "{at:?} {tick:?}");
        }
        // 50 instants over 343 ms land on at most 5 ticks of 100 ms.
        let mut distinct: Vec<_> = ticks.iter().map(|(_, t)| *t).collect();
        distinct.dedup();
        assert!(distinct.len() <= 5, "{} ticks", distinct.len());
        assert!(distinct.windows(2).all(|w| w[1] - w[0] == BEAT_TICK));
    }
}
