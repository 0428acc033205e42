//! What the emulator counted, for tests that must prove their faults happened: the faults it
//! injected, by kind and operation, and per task token the answers it received and accepted.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// A kind of injected fault (see [`crate::Faults`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum FaultKind {
    /// Extra latency before the request was handled.
    Latency,
    /// Answered `ThrottlingException` without handling the request.
    Throttle,
    /// Answered 503 `ServiceUnavailable` without handling the request.
    Unavailable,
    /// Closed the connection without handling the request.
    DroppedConnection,
    /// Handled the request (its effect is applied), then closed the connection instead of
    /// answering.
    LostAnswer,
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FaultKind::Latency => "latency",
            FaultKind::Throttle => "throttle",
            FaultKind::Unavailable => "unavailable",
            FaultKind::DroppedConnection => "dropped connection",
            FaultKind::LostAnswer => "lost answer",
        })
    }
}

/// Faults injected so far: how many of each kind, per operation.
pub type FaultCounts = BTreeMap<(FaultKind, String), u64>;

/// What happened to one task token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenAnswers {
    /// The execution the task belongs to.
    pub execution_arn: String,
    /// `SendTaskSuccess` / `SendTaskFailure` calls naming this token that reached the service
    /// (requests refused by an injected fault before handling are not counted).
    pub received: u32,
    /// Those of them that closed the task (at most one can).
    pub accepted: u32,
    /// Accepted `SendTaskSuccess` / `SendTaskFailure` calls whose answer was dropped on purpose.
    pub answers_lost: u32,
    /// The `GetActivityTask` answer that handed out this token was dropped on purpose: no worker
    /// ever saw the task.
    pub poll_answer_lost: bool,
    /// Applied `SendTaskHeartbeat` calls whose answer was dropped on purpose.
    pub heartbeats_lost: u32,
}

/// The counter of injected faults.
#[derive(Debug, Default)]
pub(crate) struct Injected(Mutex<FaultCounts>);

impl Injected {
    /// Counts one fault of `kind` on `operation`.
    pub(crate) fn note(&self, kind: FaultKind, operation: &str) {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match counts.get_mut(&(kind, operation.to_owned())) {
            Some(n) => *n += 1,
            None => {
                counts.insert((kind, operation.to_owned()), 1);
            }
        }
    }

    /// A copy of the counts.
    pub(crate) fn snapshot(&self) -> FaultCounts {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
