//! Why a task timed out: a per-token trace of the calls AWS's quotas let through and refused,
//! read back when a task's `HeartbeatSeconds` runs out.
//!
//! While quotas are enforced, every `SendTaskHeartbeat`, `SendTaskSuccess` and
//! `SendTaskFailure` is noted against the token it names: accepted or throttled, and when. When
//! a task then times out on its heartbeat, the emulator (which sees every call) records a
//! [`HeartbeatTimeout`]: how many beats and results for that token were throttled and accepted
//! in its last `HeartbeatSeconds`, and how long before the timeout its last beat was accepted.
//! A timeout with a throttled call in that window was caused by throttling; one with no call at
//! all in it is a worker that did not try (stalled, or gave the beat up).
//!
//! Nothing is traced while quotas are off. A token's trace is dropped once a result for it is
//! accepted or it times out, and every entry idle for an hour is dropped when the map grows, so
//! a long run keeps only the open tasks.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Calls kept per token (the newest): enough for a beat retried every 100 ms for 100 s.
const KEEP: usize = 1024;
/// An entry with no call for this long is dropped when the map is pruned.
const IDLE: Duration = Duration::from_secs(3600);
/// The map is pruned when it grows past this (and then past twice what was left).
const PRUNE_AT: usize = 10_000;

/// A heartbeat timeout, and what the emulator saw of its token's calls before it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HeartbeatTimeout {
    /// The task that timed out.
    pub task_token: String,
    /// Its execution.
    pub execution_arn: String,
    /// The state's `HeartbeatSeconds` (on the emulator's clock).
    pub heartbeat_seconds: u64,
    /// The same window in real milliseconds (`HeartbeatSeconds` divided by `time_scale`).
    pub window_ms: u64,
    /// `SendTaskHeartbeat` calls for the token answered `ThrottlingException` in the window.
    pub heartbeats_throttled: u32,
    /// `SendTaskHeartbeat` calls for the token let through in the window.
    pub heartbeats_accepted: u32,
    /// `SendTaskSuccess`/`SendTaskFailure` calls for the token throttled in the window.
    pub results_throttled: u32,
    /// `SendTaskHeartbeat` calls for the token let through over the task's life.
    pub heartbeats_accepted_total: u32,
    /// Real milliseconds from the last accepted beat (or the delivery, if none) to the timeout.
    pub since_last_accepted_ms: Option<u64>,
    /// Real milliseconds from the token's last call of any kind to the timeout (`None`: it had
    /// none).
    pub since_last_call_ms: Option<u64>,
}

/// What caused a [`HeartbeatTimeout`], from the calls in its last `HeartbeatSeconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum TimeoutCause {
    /// A beat or result for the task was throttled in its last `HeartbeatSeconds`.
    Throttled,
    /// No beat or result for the task reached the emulator in its last `HeartbeatSeconds`: the
    /// worker did not try (it stalled, or it gave the beat up).
    NotAttempted,
    /// Calls arrived in the window and none was throttled (e.g. a beat that raced the timeout).
    Other,
}

impl HeartbeatTimeout {
    /// The cause, as measured.
    pub fn cause(&self) -> TimeoutCause {
        if self.heartbeats_throttled + self.results_throttled > 0 {
            TimeoutCause::Throttled
        } else if self.heartbeats_accepted == 0 {
            TimeoutCause::NotAttempted
        } else {
            TimeoutCause::Other
        }
    }
}

/// One traced call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    BeatAccepted,
    BeatThrottled,
    ResultThrottled,
}

#[derive(Debug, Default)]
struct TokenTrace {
    calls: VecDeque<(Instant, Call)>,
    beats_accepted: u32,
}

/// The trace of one emulator.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    tokens: Mutex<HashMap<String, TokenTrace>>,
    /// When the map is pruned next.
    prune_at: Mutex<usize>,
    timeouts: Mutex<Vec<HeartbeatTimeout>>,
}

impl Trace {
    /// Notes a call to `operation` (traced: the three a task token's life is made of) with
    /// `body`, `accepted` or throttled by its bucket at `now`.
    pub(crate) fn note(&self, operation: &str, body: &[u8], accepted: bool, now: Instant) {
        let call = match (operation, accepted) {
            ("SendTaskHeartbeat", true) => Call::BeatAccepted,
            ("SendTaskHeartbeat", false) => Call::BeatThrottled,
            ("SendTaskSuccess" | "SendTaskFailure", false) => Call::ResultThrottled,
            ("SendTaskSuccess" | "SendTaskFailure", true) => {
                if let Some(token) = token_of(body) {
                    lock(&self.tokens).remove(&token);
                }
                return;
            }
            _ => return,
        };
        let Some(token) = token_of(body) else {
            return;
        };
        let mut tokens = lock(&self.tokens);
        let t = tokens.entry(token).or_default();
        if t.calls.len() == KEEP {
            t.calls.pop_front();
        }
        t.calls.push_back((now, call));
        if call == Call::BeatAccepted {
            t.beats_accepted += 1;
        }
        let mut prune_at = lock(&self.prune_at);
        if tokens.len() >= (*prune_at).max(PRUNE_AT) {
            tokens.retain(|_, t| {
                t.calls
                    .back()
                    .is_some_and(|(at, _)| now.saturating_duration_since(*at) < IDLE)
            });
            *prune_at = tokens.len() * 2;
        }
    }

    /// Records that `token`'s task (of `execution_arn`) timed out at `now` after
    /// `heartbeat_seconds` (`window` in real time) without a beat, its last accepted beat (or
    /// delivery) at `last_beat`; forgets the token's trace.
    pub(crate) fn timed_out(
        &self,
        token: &str,
        execution_arn: &str,
        heartbeat_seconds: u64,
        window: Duration,
        last_beat: Option<Instant>,
        now: Instant,
    ) {
        let trace = lock(&self.tokens).remove(token).unwrap_or_default();
        let from = now.checked_sub(window);
        let in_window = |call: Call| {
            trace
                .calls
                .iter()
                .filter(|(at, c)| *c == call && from.is_none_or(|f| *at >= f))
                .count() as u32
        };
        let ms = |d: Duration| d.as_millis().try_into().unwrap_or(u64::MAX);
        let timeout = HeartbeatTimeout {
            task_token: token.to_owned(),
            execution_arn: execution_arn.to_owned(),
            heartbeat_seconds,
            window_ms: ms(window),
            heartbeats_throttled: in_window(Call::BeatThrottled),
            heartbeats_accepted: in_window(Call::BeatAccepted),
            results_throttled: in_window(Call::ResultThrottled),
            heartbeats_accepted_total: trace.beats_accepted,
            since_last_accepted_ms: last_beat.map(|b| ms(now.saturating_duration_since(b))),
            since_last_call_ms: trace
                .calls
                .back()
                .map(|(at, _)| ms(now.saturating_duration_since(*at))),
        };
        lock(&self.timeouts).push(timeout);
    }

    /// Every heartbeat timeout recorded so far, oldest first.
    pub(crate) fn timeouts(&self) -> Vec<HeartbeatTimeout> {
        lock(&self.timeouts).clone()
    }
}

/// The `taskToken` of a request body.
fn token_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Input {
        task_token: String,
    }
    serde_json::from_slice::<Input>(body)
        .ok()
        .map(|i| i.task_token)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(token: &str) -> Vec<u8> {
        format!(r#"{{"taskToken":"{token}"}}"#).into_bytes()
    }

    #[test]
    fn a_timeout_counts_only_the_calls_in_its_window() {
        let trace = Trace::default();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        trace.note("SendTaskHeartbeat", &body("a"), true, t0);
        trace.note("SendTaskHeartbeat", &body("a"), false, t0 + s(1));
        trace.note("SendTaskHeartbeat", &body("a"), true, t0 + s(2));
        trace.note("SendTaskHeartbeat", &body("a"), false, t0 + s(5));
        trace.note("SendTaskSuccess", &body("a"), false, t0 + s(6));
        trace.note("SendTaskHeartbeat", &body("b"), false, t0 + s(6));
        trace.timed_out("a", "arn", 20, s(10), Some(t0 + s(2)), t0 + s(12));
        trace.timed_out("c", "arn", 20, s(10), Some(t0), t0 + s(12));
        let [a, c] = &trace.timeouts()[..] else {
            panic!("two timeouts");
        };
        assert_eq!(
            (
                a.heartbeats_throttled,
                a.heartbeats_accepted,
                a.results_throttled
            ),
            (1, 1, 1)
        );
        assert_eq!(a.heartbeats_accepted_total, 2);
        assert_eq!(a.since_last_accepted_ms, Some(10_000));
        assert_eq!(a.since_last_call_ms, Some(6_000));
        assert_eq!(a.cause(), TimeoutCause::Throttled);
        assert_eq!(c.cause(), TimeoutCause::NotAttempted);
        assert_eq!(c.since_last_call_ms, None);
        // "a" is forgotten, "b" still traced.
        assert_eq!(lock(&trace.tokens).len(), 1);
    }

    #[test]
    fn an_accepted_result_forgets_its_token() {
        let trace = Trace::default();
        let now = Instant::now();
        trace.note("SendTaskHeartbeat", &body("a"), false, now);
        trace.note("SendTaskSuccess", &body("a"), true, now);
        trace.note("GetActivityTask", &body("a"), false, now);
        assert!(lock(&trace.tokens).is_empty());
    }
}
