//! The per-task `Context`: token, identity, heartbeats, cancellation, config and shared state.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

/// A Step Functions task token.
///
/// Tokens are credentials for one task: `Debug` and `Display` show only a short hash, so a token
/// never ends up whole in a log line. [`TaskToken::as_str`] gives the real value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TaskToken(Arc<str>);

impl TaskToken {
    /// Wraps a token string.
    pub fn new(token: impl Into<Arc<str>>) -> Self {
        TaskToken(token.into())
    }

    /// The full token, as Step Functions sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short stable hash of the token (16 hex digits, FNV-1a), for logs.
    pub fn short_hash(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.0.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskToken({})", self.short_hash())
    }
}

impl fmt::Display for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.short_hash())
    }
}

/// Why a heartbeat did not go through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeartbeatError {
    /// Step Functions no longer knows the task (`TaskTimedOut`, `TaskDoesNotExist`,
    /// `InvalidToken`): stop working on it; its result will not be accepted.
    TaskLost(String),
    /// The call failed for a reason that may pass (throttling, network); the task goes on.
    Transient(String),
}

impl fmt::Display for HeartbeatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeartbeatError::TaskLost(why) => write!(f, "task lost: {why}"),
            HeartbeatError::Transient(why) => write!(f, "heartbeat failed: {why}"),
        }
    }
}

impl std::error::Error for HeartbeatError {}

/// Sends a heartbeat for one task; the worker runtime provides it.
pub trait Heartbeat: Send + Sync + 'static {
    /// Sends `SendTaskHeartbeat` for the task.
    fn beat(&self) -> BoxFuture<'_, Result<(), HeartbeatError>>;
}

/// Values shared by every task of a server, looked up by type (see [`Context::state`]).
#[derive(Clone, Default)]
pub struct SharedState {
    map: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl SharedState {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a value, replacing any earlier value of the same type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.map.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The value of type `T`, if one was added.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map.get(&TypeId::of::<T>())?.downcast_ref()
    }

    /// How many values are held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl fmt::Debug for SharedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedState({} values)", self.map.len())
    }
}

struct NoHeartbeat;

impl Heartbeat for NoHeartbeat {
    fn beat(&self) -> BoxFuture<'_, Result<(), HeartbeatError>> {
        Box::pin(async { Ok(()) })
    }
}

/// What one task knows about itself and its worker.
///
/// An activity function receives `&Context` when it declares one. `Context` is cheap to clone.
///
/// # Example
/// ```
/// use stefuna_core::Context;
///
/// # futures::executor::block_on(async {
/// let ctx = Context::builder().worker_config(serde_json::json!({"bucket": "b1"})).build();
/// #[derive(serde::Deserialize)]
/// struct Cfg { bucket: String }
/// assert_eq!(ctx.worker_config::<Cfg>().unwrap().bucket, "b1");
/// ctx.heartbeat().await.unwrap();
/// assert!(!ctx.is_cancelled());
/// # });
/// ```
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    token: TaskToken,
    worker_name: Arc<str>,
    activity_arn: Arc<str>,
    heartbeat: Arc<dyn Heartbeat>,
    cancel: CancellationToken,
    worker_config: Arc<serde_json::Value>,
    state: Arc<SharedState>,
}

impl Context {
    /// A builder, for the runtime and for unit tests of activity functions.
    pub fn builder() -> ContextBuilder {
        ContextBuilder::default()
    }

    /// The task token.
    pub fn token(&self) -> &TaskToken {
        &self.inner.token
    }

    /// This worker's name, as sent with `GetActivityTask`.
    pub fn worker_name(&self) -> &str {
        &self.inner.worker_name
    }

    /// The activity ARN the task came from.
    pub fn activity_arn(&self) -> &str {
        &self.inner.activity_arn
    }

    /// Sends a heartbeat now, beside the automatic ones.
    ///
    /// [`HeartbeatError::TaskLost`] means Step Functions no longer accepts this task; the task
    /// is then also cancelled.
    pub async fn heartbeat(&self) -> Result<(), HeartbeatError> {
        let res = self.inner.heartbeat.beat().await;
        if let Err(HeartbeatError::TaskLost(_)) = &res {
            self.inner.cancel.cancel();
        }
        res
    }

    /// Completes when the task is cancelled: Step Functions lost it (a heartbeat answered
    /// `TaskTimedOut`, `TaskDoesNotExist` or `InvalidToken`), or the worker's shutdown grace ran
    /// out. Long tasks should select on it and stop.
    pub async fn cancelled(&self) {
        self.inner.cancel.cancelled().await
    }

    /// Whether the task has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// The `worker_config` table of the configuration, decoded into `T`.
    pub fn worker_config<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&*self.inner.worker_config)
    }

    /// The raw `worker_config` table.
    pub fn worker_config_value(&self) -> &serde_json::Value {
        &self.inner.worker_config
    }

    /// Shared state of type `T` registered on the server, if any.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.inner.state.get::<T>()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("token", &self.inner.token)
            .field("worker_name", &self.inner.worker_name)
            .field("activity_arn", &self.inner.activity_arn)
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Context`]; every part has a harmless default (no-op heartbeat, empty config).
#[derive(Default)]
pub struct ContextBuilder {
    token: Option<TaskToken>,
    worker_name: Option<Arc<str>>,
    activity_arn: Option<Arc<str>>,
    heartbeat: Option<Arc<dyn Heartbeat>>,
    cancel: Option<CancellationToken>,
    worker_config: Option<Arc<serde_json::Value>>,
    state: Option<Arc<SharedState>>,
}

impl ContextBuilder {
    /// The task token.
    pub fn token(mut self, token: TaskToken) -> Self {
        self.token = Some(token);
        self
    }

    /// The worker name.
    pub fn worker_name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.worker_name = Some(name.into());
        self
    }

    /// The activity ARN.
    pub fn activity_arn(mut self, arn: impl Into<Arc<str>>) -> Self {
        self.activity_arn = Some(arn.into());
        self
    }

    /// What [`Context::heartbeat`] calls.
    pub fn heartbeat(mut self, hb: Arc<dyn Heartbeat>) -> Self {
        self.heartbeat = Some(hb);
        self
    }

    /// The token whose cancellation [`Context::cancelled`] reports.
    pub fn cancellation(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// The `worker_config` table.
    pub fn worker_config(mut self, value: serde_json::Value) -> Self {
        self.worker_config = Some(Arc::new(value));
        self
    }

    /// The `worker_config` table, shared.
    pub fn worker_config_shared(mut self, value: Arc<serde_json::Value>) -> Self {
        self.worker_config = Some(value);
        self
    }

    /// The shared state.
    pub fn state(mut self, state: Arc<SharedState>) -> Self {
        self.state = Some(state);
        self
    }

    /// The context.
    pub fn build(self) -> Context {
        Context {
            inner: Arc::new(Inner {
                token: self.token.unwrap_or_else(|| TaskToken::new("test-token")),
                worker_name: self.worker_name.unwrap_or_else(|| Arc::from("test-worker")),
                activity_arn: self.activity_arn.unwrap_or_else(|| {
                    Arc::from("arn:aws:states:us-east-1:123456789012:activity:test")
                }),
                heartbeat: self.heartbeat.unwrap_or_else(|| Arc::new(NoHeartbeat)),
                cancel: self.cancel.unwrap_or_default(),
                worker_config: self
                    .worker_config
                    .unwrap_or_else(|| Arc::new(serde_json::Value::Object(Default::default()))),
                state: self.state.unwrap_or_default(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Lost;
    impl Heartbeat for Lost {
        fn beat(&self) -> BoxFuture<'_, Result<(), HeartbeatError>> {
            Box::pin(async { Err(HeartbeatError::TaskLost("TaskTimedOut".into())) })
        }
    }

    #[test]
    fn token_debug_and_display_hide_the_token() {
        let t = TaskToken::new("AAAA-secret-token-value");
        assert!(!format!("{t:?}").contains("secret"));
        assert!(!t.to_string().contains("secret"));
        assert_eq!(t.to_string().len(), 16);
        assert_eq!(
            t.short_hash(),
            TaskToken::new("AAAA-secret-token-value").short_hash()
        );
        assert_ne!(t.short_hash(), TaskToken::new("other").short_hash());
    }

    #[tokio::test]
    async fn lost_heartbeat_cancels_the_task() {
        let ctx = Context::builder().heartbeat(Arc::new(Lost)).build();
        assert!(!ctx.is_cancelled());
        let err = ctx.heartbeat().await.unwrap_err();
        assert!(matches!(err, HeartbeatError::TaskLost(_)));
        assert!(ctx.is_cancelled());
        ctx.cancelled().await;
    }

    #[test]
    fn state_is_found_by_type() {
        let mut s = SharedState::new();
        s.insert(42u32);
        s.insert(String::from("db"));
        let ctx = Context::builder().state(Arc::new(s)).build();
        assert_eq!(ctx.state::<u32>(), Some(&42));
        assert_eq!(ctx.state::<String>().map(String::as_str), Some("db"));
        assert_eq!(ctx.state::<u64>(), None);
    }

    #[test]
    fn worker_config_decodes_or_names_the_problem() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Cfg {
            threads: u32,
        }
        let ctx = Context::builder()
            .worker_config(serde_json::json!({"threads": "many"}))
            .build();
        let err = ctx.worker_config::<Cfg>().unwrap_err();
        assert!(
            err.to_string().contains("invalid type: string \"many\""),
            "{err}"
        );
    }
}
