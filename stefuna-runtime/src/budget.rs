//! The worker's share of the account's Step Functions API quotas.
//!
//! Every worker of every activity in an account and Region draws on the same token buckets
//! (`GetActivityTask`, `SendTaskSuccess`, `SendTaskFailure`, `SendTaskHeartbeat` each have
//! one). A fleet that meets them must not lose tasks, so:
//!
//! - **Results and heartbeats go first.** While a result or a heartbeat is being retried after
//!   throttling, this worker opens no new poll: a new task would only add to the calls that
//!   are already refused, and a heartbeat that keeps being throttled ends in a heartbeat
//!   timeout. Polls resume once the urgent calls have landed.
//! - **Backoff with full jitter.** A throttled call waits a random time (exponential, capped),
//!   so a fleet's retries spread over the bucket's refill instead of arriving together.
//! - **Jittered heartbeats.** A task's first beat comes at a random point of its interval and
//!   every later one a little early at random, so tasks claimed together do not beat together.
//! - **Heartbeats that land.** A throttled beat is retried (ahead of polls, which stay paused)
//!   until it is accepted or its task ends; the next beat is due an interval after it landed.
//!   While this worker's beats are being throttled, a beat due less than 1.5 intervals after
//!   the task's last accepted beat (or its delivery) waits until then: fewer beats per task,
//!   still half an interval inside the two intervals `HeartbeatSeconds` should be at least, and
//!   a short task ends before it needs one.
//! - **One warning per API when throttling starts, then at most one a minute** (with the count),
//!   never one per call; every throttled call is counted in `stefuna_throttled_total{api}`.
//!
//! Why not the SDK's adaptive retry mode: its client-side rate limiter is one per retry
//! partition (every operation of a client and Region together), so it would slow results and
//! heartbeats down for throttling of polls; it has no notion of priority; and it sleeps inside
//! the SDK call, where the runtime cannot choose what goes first. The runtime keeps the SDK's
//! own retries off (a poll is never re-sent behind its back) and retries itself, here.
//!
//! `_STEFUNA_QUOTA_NAIVE=1` (internal, outside the `STEFUNA_*` settings namespace on purpose, for `cargo xtask fleet`'s comparison) turns priority and
//! jitter off: polls do not wait for results and heartbeats, throttled calls retry after a
//! fixed delay, heartbeats beat exactly on their interval and a throttled beat is given up
//! after half an interval.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use tokio::sync::Notify;

use crate::client::{HasStatus, backoff};
use crate::metrics::Throttled;

/// First throttled retry waits up to this long.
const THROTTLE_BASE: Duration = Duration::from_millis(50);
/// Longest wait between throttled retries of a poll.
const THROTTLE_CAP: Duration = Duration::from_secs(5);
/// Longest wait between throttled retries of a result or heartbeat: well under any sensible
/// `HeartbeatSeconds`, so they keep trying while the task is still alive.
const URGENT_CAP: Duration = Duration::from_secs(1);
/// After a result or heartbeat was throttled, polls stay paused this long (jittered up to
/// twice): fewer new tasks until the buckets results and heartbeats draw on recover.
const URGENT_QUIET: Duration = Duration::from_millis(500);
/// The fixed delay of the naive mode.
const NAIVE_DELAY: Duration = Duration::from_millis(100);
/// At most one "throttled" warning per API this often.
const LOG_EVERY: Duration = Duration::from_secs(60);
/// While beats are throttled, a beat waits until this many intervals after the task's last
/// accepted beat (jittered down by up to a tenth of an interval).
const DEFER_TO: f64 = 1.5;
/// Beats count as throttled for this many intervals after the last throttled one.
const PRESSURE_FOR: u32 = 2;

/// Error codes Step Functions (and AWS generally) throttles with.
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
];

/// Whether a failed call was throttled.
pub(crate) fn is_throttling<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
    R: HasStatus,
{
    match err {
        SdkError::ServiceError(se) => {
            se.raw().status() == 429 || THROTTLING_CODES.contains(&se.err().code().unwrap_or(""))
        }
        _ => false,
    }
}

/// Per API, its throttling so far.
#[derive(Debug, Default)]
struct Episode {
    /// Throttled calls since the last call that went through.
    calls: u64,
    /// When the last warning was logged.
    logged: Option<Instant>,
}

/// The shared budget of one worker process.
#[derive(Debug)]
pub(crate) struct Budget {
    /// Priority and jitter on (off only in the naive mode).
    smart: bool,
    /// Results and heartbeats being retried after throttling.
    urgent: AtomicUsize,
    /// Wakes polls when `urgent` drops to zero.
    clear: Notify,
    /// Polls stay paused until then (set when a result or heartbeat is throttled).
    quiet_until: Mutex<Option<tokio::time::Instant>>,
    /// When a heartbeat was last throttled.
    beat_throttled_at: Mutex<Option<tokio::time::Instant>>,
    episodes: Mutex<HashMap<&'static str, Episode>>,
    throttled: Throttled,
}

/// An urgent call (a result or a heartbeat) retrying after throttling; polls wait while any
/// exists.
#[derive(Debug)]
pub(crate) struct Urgent<'a>(&'a Budget);

impl Drop for Urgent<'_> {
    fn drop(&mut self) {
        if self.0.urgent.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.clear.notify_waiters();
        }
    }
}

impl Budget {
    /// A budget counting into `throttled`; naive when `_STEFUNA_QUOTA_NAIVE` is `1`/`true`.
    pub(crate) fn new(throttled: Throttled) -> Budget {
        let naive = std::env::var("_STEFUNA_QUOTA_NAIVE")
            .is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        Budget::with_mode(throttled, !naive)
    }

    fn with_mode(throttled: Throttled, smart: bool) -> Budget {
        Budget {
            smart,
            urgent: AtomicUsize::new(0),
            clear: Notify::new(),
            quiet_until: Mutex::new(None),
            beat_throttled_at: Mutex::new(None),
            episodes: Mutex::default(),
            throttled,
        }
    }

    /// Whether priority and jitter are on (off in the naive mode).
    pub(crate) fn smart(&self) -> bool {
        self.smart
    }

    /// When a task last beaten (or delivered) at `last_ok` should beat next, if later than its
    /// schedule: while this worker's beats are being throttled (one was within the last two
    /// intervals), 1.4 to 1.5 `interval`s after `last_ok`. `None` otherwise, and in the naive
    /// mode.
    pub(crate) fn defer_beat(
        &self,
        last_ok: tokio::time::Instant,
        interval: Duration,
    ) -> Option<tokio::time::Instant> {
        if !self.smart {
            return None;
        }
        let at = (*self
            .beat_throttled_at
            .lock()
            .unwrap_or_else(|e| e.into_inner()))?;
        if at.elapsed() > interval * PRESSURE_FOR {
            return None;
        }
        Some(last_ok + interval.mul_f64(DEFER_TO - fastrand::f64() / 10.0))
    }

    /// Waits, before a new poll, until no result or heartbeat is retrying after throttling.
    pub(crate) async fn before_poll(&self) {
        if !self.smart {
            return;
        }
        loop {
            let cleared = self.clear.notified();
            if self.urgent.load(Ordering::Acquire) == 0 {
                let quiet = *self.quiet_until.lock().unwrap_or_else(|e| e.into_inner());
                match quiet {
                    Some(until) if until > tokio::time::Instant::now() => {
                        tokio::time::sleep_until(until).await;
                        continue;
                    }
                    _ => return,
                }
            }
            cleared.await;
        }
    }

    /// Marks a result or heartbeat as retrying after throttling, until the guard drops.
    pub(crate) fn urgent(&self) -> Urgent<'_> {
        self.urgent.fetch_add(1, Ordering::AcqRel);
        self.hold_polls();
        Urgent(self)
    }

    /// Pauses polls for a jittered while after a result or heartbeat was throttled.
    fn hold_polls(&self) {
        if !self.smart {
            return;
        }
        let until = tokio::time::Instant::now() + URGENT_QUIET.mul_f64(1.0 + fastrand::f64());
        let mut quiet = self.quiet_until.lock().unwrap_or_else(|e| e.into_inner());
        if quiet.is_none_or(|q| q < until) {
            *quiet = Some(until);
        }
    }

    /// How long to wait before retry `attempt` (from 0) of a throttled result or heartbeat.
    pub(crate) fn urgent_wait(&self, attempt: u32) -> Duration {
        self.hold_polls();
        if self.smart {
            backoff(attempt, THROTTLE_BASE, URGENT_CAP)
        } else {
            NAIVE_DELAY
        }
    }

    /// How long to wait before retry `attempt` (from 0) of a throttled call.
    pub(crate) fn wait(&self, attempt: u32) -> Duration {
        if self.smart {
            backoff(attempt, THROTTLE_BASE, THROTTLE_CAP)
        } else {
            NAIVE_DELAY
        }
    }

    /// The delay before a task's first automatic heartbeat.
    pub(crate) fn first_beat(&self, interval: Duration) -> Duration {
        if self.smart {
            // Anywhere in the second half of the interval: never later than configured.
            interval.mul_f64(0.5 + fastrand::f64() / 2.0)
        } else {
            interval
        }
    }

    /// The delay between two automatic heartbeats: up to 10 % early, at random.
    pub(crate) fn next_beat(&self, interval: Duration) -> Duration {
        if self.smart {
            interval.mul_f64(0.9 + fastrand::f64() / 10.0)
        } else {
            interval
        }
    }

    /// Counts a throttled call to `api`; warns on the first, then at most once a minute, never
    /// per call.
    pub(crate) fn throttled(&self, api: &'static str) {
        self.throttled.inc(api);
        if api == "SendTaskHeartbeat" {
            *self
                .beat_throttled_at
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(tokio::time::Instant::now());
        }
        let mut episodes = self.episodes.lock().unwrap_or_else(|e| e.into_inner());
        let ep = episodes.entry(api).or_default();
        ep.calls += 1;
        let due = ep.logged.is_none_or(|at| at.elapsed() >= LOG_EVERY);
        if due {
            ep.logged = Some(Instant::now());
            tracing::warn!(
                api,
                throttled_calls = ep.calls,
                "step functions is throttling {api} (the account's API quota for this Region): \
                 backing off with jitter, results and heartbeats before new polls; further \
                 throttling is counted in stefuna_throttled_total, not logged per call"
            );
        }
    }

    /// A call to `api` went through: the next throttling of it starts a new count (its warning
    /// still waits for the minute to pass, so a flapping bucket does not flood the log).
    pub(crate) fn ok(&self, api: &'static str) {
        let mut episodes = self.episodes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ep) = episodes.get_mut(api)
            && ep.calls > 0
        {
            tracing::debug!(
                api,
                throttled_calls = ep.calls,
                "a call went through after throttling"
            );
            ep.calls = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn polls_wait_while_a_result_or_heartbeat_is_throttled() {
        let b = std::sync::Arc::new(Budget::with_mode(Throttled::default(), true));
        b.before_poll().await;
        let guard = b.urgent();
        let waiting = {
            let b = b.clone();
            tokio::spawn(async move { b.before_poll().await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(guard);
        waiting.await.unwrap();
    }

    #[tokio::test]
    async fn the_naive_mode_lets_polls_through() {
        let b = Budget::with_mode(Throttled::default(), false);
        let _guard = b.urgent();
        b.before_poll().await;
        assert_eq!(b.wait(7), NAIVE_DELAY);
        assert_eq!(
            b.first_beat(Duration::from_secs(10)),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn heartbeats_are_jittered_but_never_late() {
        let b = Budget::with_mode(Throttled::default(), true);
        let i = Duration::from_secs(10);
        let firsts: Vec<Duration> = (0..100).map(|_| b.first_beat(i)).collect();
        assert!(firsts.iter().all(|d| *d >= i / 2 && *d <= i));
        assert!(firsts.iter().any(|d| *d != firsts[0]));
        assert!((0..100).all(|_| {
            let d = b.next_beat(i);
            d >= i.mul_f64(0.9) && d <= i
        }));
    }

    #[test]
    fn beats_are_deferred_only_while_beats_are_throttled() {
        let b = Budget::with_mode(Throttled::default(), true);
        let i = Duration::from_secs(10);
        let last_ok = tokio::time::Instant::now();
        assert_eq!(b.defer_beat(last_ok, i), None);
        b.throttled("GetActivityTask");
        assert_eq!(b.defer_beat(last_ok, i), None);
        b.throttled("SendTaskHeartbeat");
        let later = b.defer_beat(last_ok, i).unwrap();
        assert!(later >= last_ok + i.mul_f64(1.4) && later <= last_ok + i.mul_f64(1.5));
        // Two intervals after the last throttled beat, beats are on schedule again.
        *b.beat_throttled_at.lock().unwrap() = Some(last_ok - (i * 2 + Duration::from_secs(1)));
        assert_eq!(b.defer_beat(last_ok, i), None);
        let naive = Budget::with_mode(Throttled::default(), false);
        naive.throttled("SendTaskHeartbeat");
        assert_eq!(naive.defer_beat(last_ok, i), None);
    }

    #[test]
    fn a_flapping_bucket_warns_once_a_minute_not_per_episode() {
        let b = Budget::with_mode(Throttled::default(), true);
        let logged_at = |b: &Budget| b.episodes.lock().unwrap()["GetActivityTask"].logged;
        b.throttled("GetActivityTask");
        let first = logged_at(&b);
        assert!(first.is_some());
        b.ok("GetActivityTask");
        std::thread::sleep(Duration::from_millis(2));
        b.throttled("GetActivityTask");
        // The second episode, within the minute, did not log again.
        assert_eq!(logged_at(&b), first);
        assert_eq!(b.episodes.lock().unwrap()["GetActivityTask"].calls, 1);
    }

    #[test]
    fn throttled_calls_are_counted_per_api() {
        let t = Throttled::default();
        let b = Budget::with_mode(t.clone(), true);
        for _ in 0..5 {
            b.throttled("SendTaskHeartbeat");
        }
        b.ok("SendTaskHeartbeat");
        b.throttled("GetActivityTask");
        assert_eq!(t.get("SendTaskHeartbeat"), 5);
        assert_eq!(t.get("GetActivityTask"), 1);
    }
}
