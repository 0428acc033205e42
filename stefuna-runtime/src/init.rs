//! The async init hook: runs once inside the runtime, after the configuration is loaded and
//! before the first poll, and returns the state tasks read with `ctx.state::<T>()` (stefuna
//! 1.0.1's `Worker.init()` and `Server.init(server_config)`).

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use stefuna_core::SharedState;

use crate::config::{Config, ConfigError};

/// Why an init hook failed: any error type converts into it (`anyhow::Error`,
/// `std::io::Error`, `String`, ...).
pub type InitError = Box<dyn std::error::Error + Send + Sync>;

/// What an init hook gets: the configuration after every layer, with typed readers for
/// `worker_config` and the user's `server_config` keys.
///
/// # Example
/// ```
/// use stefuna_runtime::InitContext;
///
/// #[derive(serde::Deserialize)]
/// struct DbSettings { url: String, pool_size: u32 }
///
/// struct Pool { url: String, size: u32 }
///
/// async fn init(ctx: InitContext) -> Result<Pool, stefuna_runtime::ConfigError> {
///     let db: DbSettings = ctx.worker_config()?;
///     Ok(Pool { url: db.url, size: db.pool_size })
/// }
/// # let _ = stefuna_runtime::Server::builder().init(init);
/// ```
#[derive(Clone, Debug)]
pub struct InitContext {
    config: Arc<Config>,
    worker_name: Arc<str>,
}

impl InitContext {
    pub(crate) fn new(config: Arc<Config>, worker_name: Arc<str>) -> Self {
        InitContext {
            config,
            worker_name,
        }
    }

    /// The whole configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `worker_config` decoded into `T` (an error names `worker_config` and what did not fit).
    pub fn worker_config<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        self.config.worker_config_as()
    }

    /// The user's `server_config` keys (all but the server's own) decoded into `T`.
    pub fn server_config<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        self.config.server_config.user()
    }

    /// This worker's name, `{name}-{hostname}-{pid}`.
    pub fn worker_name(&self) -> &str {
        &self.worker_name
    }
}

/// An init hook: an `async fn(InitContext) -> Result<T, E>` (or a closure returning such a
/// future) whose `T` becomes shared state, read by tasks with `ctx.state::<T>()`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a stefuna init hook",
    label = "expected an `async fn(stefuna::InitContext) -> Result<T, E>`",
    note = "an init hook takes `stefuna::InitContext` by value and returns a future of \
            `Result<T, E>`: `T: Send + Sync + 'static` is the state tasks read with \
            `ctx.state::<T>()`, and `E` converts into `Box<dyn std::error::Error + Send + Sync>` \
            (anyhow::Error, std::io::Error, String, ...)"
)]
pub trait InitHook<T>: Send + 'static {
    /// Runs the hook.
    fn call(self, ctx: InitContext) -> BoxFuture<'static, Result<T, InitError>>;
}

impl<F, Fut, T, E> InitHook<T> for F
where
    F: FnOnce(InitContext) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    E: Into<InitError>,
    T: Send + Sync + 'static,
{
    fn call(self, ctx: InitContext) -> BoxFuture<'static, Result<T, InitError>> {
        Box::pin(async move { self(ctx).await.map_err(Into::into) })
    }
}

/// A hook with its state type erased: runs, then puts its value into the shared state.
pub(crate) type BoxedInit = Box<
    dyn FnOnce(
            InitContext,
        )
            -> BoxFuture<'static, Result<Box<dyn FnOnce(&mut SharedState) + Send>, InitError>>
        + Send,
>;

pub(crate) fn boxed<T, H>(hook: H) -> BoxedInit
where
    T: Send + Sync + 'static,
    H: InitHook<T>,
{
    Box::new(move |ctx| {
        Box::pin(async move {
            let value = hook.call(ctx).await?;
            Ok(Box::new(move |state: &mut SharedState| state.insert(value))
                as Box<dyn FnOnce(&mut SharedState) + Send>)
        })
    })
}

/// An init error on one line: the error and its sources, joined with `: `.
pub(crate) fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ").replace(['\n', '\r'], " ")
}
