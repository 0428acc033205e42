//! The `Activity` trait: what the worker runtime runs for each task.

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::context::Context;
use crate::error::TaskError;

/// How one task of an activity runs.
///
/// `Async` futures run on the worker's async runtime; `Blocking` closures run on its blocking
/// thread pool, so a plain `fn` never stalls the threads that poll and heartbeat.
/// Either way the result is the task's output JSON or the error to send.
pub enum Invocation {
    /// A future polled on the async runtime.
    Async(BoxFuture<'static, Result<String, TaskError>>),
    /// A closure run on the blocking thread pool.
    Blocking(Box<dyn FnOnce() -> Result<String, TaskError> + Send + 'static>),
}

impl std::fmt::Debug for Invocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Invocation::Async(_) => "Invocation::Async",
            Invocation::Blocking(_) => "Invocation::Blocking",
        })
    }
}

/// Settings an activity carries with it (from `#[stefuna::activity(...)]` arguments).
///
/// They are the lowest configuration layer above the built-in defaults: a config file,
/// environment variables and CLI flags override them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActivityDefaults {
    /// The activity ARN to poll.
    pub arn: Option<String>,
    /// Heartbeat interval in seconds (0 or `None`: no heartbeats).
    pub heartbeat: Option<u64>,
    /// Tasks run at once.
    pub concurrency: Option<usize>,
    /// Where tasks run: `thread` or `process` (the `isolation` key).
    pub isolation: Option<String>,
}

impl ActivityDefaults {
    /// Defaults with the given ARN, heartbeat and concurrency.
    pub fn new(arn: Option<String>, heartbeat: Option<u64>, concurrency: Option<usize>) -> Self {
        ActivityDefaults {
            arn,
            heartbeat,
            concurrency,
            isolation: None,
        }
    }

    /// The same with `isolation` (`"thread"` or `"process"`) set.
    pub fn with_isolation(mut self, isolation: impl Into<String>) -> Self {
        self.isolation = Some(isolation.into());
        self
    }
}

/// A Step Functions activity: turns one task's input JSON into its output JSON.
///
/// `#[stefuna::activity]` implements this for a function; implementing it by hand gives full
/// control (for example an activity that holds its own state).
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use stefuna_core::{Activity, Context, Invocation, TaskError};
///
/// struct Echo;
///
/// impl Activity for Echo {
///     fn name(&self) -> &str { "Echo" }
///     fn invoke(self: Arc<Self>, input: String, _ctx: Context) -> Invocation {
///         Invocation::Async(Box::pin(async move { Ok::<_, TaskError>(input) }))
///     }
/// }
/// ```
pub trait Activity: Send + Sync + 'static {
    /// The activity's name: the base of the worker name and the label in logs and metrics.
    fn name(&self) -> &str;

    /// Settings from the activity's definition; none by default.
    fn defaults(&self) -> ActivityDefaults {
        ActivityDefaults::default()
    }

    /// Starts one task with its raw input JSON.
    fn invoke(self: Arc<Self>, input: String, ctx: Context) -> Invocation;
}
