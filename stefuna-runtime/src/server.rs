//! The server: hosts one or more activities, each with its own slot pool and pollers, plus the
//! health server, until shutdown.
//!
//! [`ServerBuilder::run`] is for a server embedded in an existing service (shutdown through
//! [`ServerBuilder::shutdown`]); `ServerBuilder::run_main` (in `main_entry.rs`) is a worker
//! binary's whole `main` (CLI, config, logging, runtime, signals, `--local`).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use stefuna_core::{Activity, ActivityDefaults, SharedState};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::client::Clients;
use crate::config::{self, Config, ConfigError};
use crate::health::{self, Health, Phase};
use crate::init::{BoxedInit, InitContext, InitHook};
use crate::monitor::Monitor;
use crate::poller::poll_loop;
use crate::pool::{ActivityPool, Shared, pollers_for};
use crate::schedule::ServiceClock;
use crate::shutdown::{Limits, Shutdown};

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No activity was registered.
    #[error("no activity to run; register one with `Server::builder().activity(..)`")]
    NoActivities,
    /// Two registered activities have the same name.
    #[error("activity `{0}` is registered twice; activity names must be unique")]
    DuplicateActivity(String),
    /// The init hook failed; the worker stopped before its first poll.
    #[error("init failed: {0}")]
    Init(String),
    /// The health server could not listen.
    #[error(
        "cannot start the health server on {addr}: {source}; set `healthcheck` to a free port, \
         or 0 to turn it off"
    )]
    HealthBind {
        /// The address it tried.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

impl ServerError {
    /// The process exit code for this error: 2 for configuration errors, else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            ServerError::Config(_)
            | ServerError::NoActivities
            | ServerError::DuplicateActivity(_) => ConfigError::EXIT_CODE,
            ServerError::HealthBind { .. } | ServerError::Init(_) => 1,
        }
    }
}

/// A stefuna worker server.
///
/// # Example
/// ```no_run
/// use std::sync::Arc;
/// use stefuna_core::{Activity, Context, Invocation, TaskError};
///
/// struct Echo;
/// impl Activity for Echo {
///     fn name(&self) -> &str { "Echo" }
///     fn invoke(self: Arc<Self>, input: String, _ctx: Context) -> Invocation {
///         Invocation::Async(Box::pin(async move { Ok::<_, TaskError>(input) }))
///     }
/// }
///
/// fn main() -> std::process::ExitCode {
///     stefuna_runtime::Server::builder().activity(Echo).run_main()
/// }
/// ```
#[derive(Debug)]
pub struct Server;

impl Server {
    /// A builder with no activity yet.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }
}

/// Configures and runs a [`Server`].
#[derive(Default)]
pub struct ServerBuilder {
    pub(crate) activities: Vec<Arc<dyn Activity>>,
    pub(crate) state: SharedState,
    pub(crate) config: Option<Config>,
    shutdown: Option<BoxFuture<'static, ()>>,
    client: Option<aws_sdk_sfn::Client>,
    health_listener: Option<std::net::TcpListener>,
    abandon_polls: bool,
    monitor: Option<Monitor>,
    pub(crate) init: Vec<BoxedInit>,
    service_clock: ServiceClock,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field(
                "activities",
                &self.activities.iter().map(|a| a.name()).collect::<Vec<_>>(),
            )
            .field("state", &self.state)
            .field("config", &self.config.is_some())
            .field("init_hooks", &self.init.len())
            .finish_non_exhaustive()
    }
}

impl ServerBuilder {
    /// Hosts `activity` (one slot pool and its own pollers per activity).
    pub fn activity(mut self, activity: impl Activity) -> Self {
        self.activities.push(Arc::new(activity));
        self
    }

    /// Hosts an activity already behind an `Arc`.
    pub fn activity_arc(mut self, activity: Arc<dyn Activity>) -> Self {
        self.activities.push(activity);
        self
    }

    /// Shares `value` with every task ([`stefuna_core::Context::state`]), looked up by type.
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// Runs `hook` once inside the runtime, after the configuration is loaded and before the
    /// first poll; the value it returns is shared state that tasks read with
    /// `ctx.state::<T>()`. While it runs `/readyz` answers 503; when it fails the server stops
    /// before polling with [`ServerError::Init`] (a worker binary prints one line and exits 1).
    /// Several hooks run in the order given.
    ///
    /// # Example
    /// ```no_run
    /// use stefuna_runtime::{InitContext, Server};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Settings { db_url: String }
    /// struct Db(String);
    ///
    /// async fn connect(ctx: InitContext) -> Result<Db, stefuna_runtime::ConfigError> {
    ///     let s: Settings = ctx.worker_config()?;
    ///     Ok(Db(s.db_url))
    /// }
    /// # async fn run(activity: std::sync::Arc<dyn stefuna_core::Activity>) {
    /// Server::builder().activity_arc(activity).init(connect).run().await.unwrap();
    /// # }
    /// ```
    pub fn init<T, H>(mut self, hook: H) -> Self
    where
        T: Send + Sync + 'static,
        H: InitHook<T>,
    {
        self.init.push(crate::init::boxed(hook));
        self
    }

    /// Reports health and metrics through `monitor`, which the caller may already have mounted
    /// on its own HTTP server ([`Monitor::routes`]).
    pub fn monitor(mut self, monitor: Monitor) -> Self {
        self.monitor = Some(monitor);
        self
    }

    /// Uses this configuration instead of loading one (`run`) or parsing flags (`run_main`).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Shuts the server down when `signal` completes (for [`ServerBuilder::run`]): readiness
    /// goes 503, polling stops, in-flight tasks get `shutdown_grace`.
    pub fn shutdown(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// With `true`, the [`ServerBuilder::shutdown`] future also gives up open polls instead of
    /// waiting up to a long poll (~60 s) for their answer; in-flight tasks still drain. Only for
    /// when no task can be handed to an open poll any more, e.g. a test whose executions of these
    /// activities have all ended. Off by default.
    pub fn abandon_polls_on_shutdown(mut self, abandon: bool) -> Self {
        self.abandon_polls = abandon;
        self
    }

    /// Talks to Step Functions through this client's configuration (credentials, region,
    /// endpoint, HTTP client) instead of loading one; the runtime still sets its own timeouts
    /// and retry policy.
    pub fn client(mut self, client: aws_sdk_sfn::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Reads Step Functions' time from `now` instead of the system clock, for
    /// `stefuna_schedule_to_start_seconds` (now minus the task's `$$.State.EnteredTime`). Only
    /// an emulator needs it: stefuna-local with a sped-up `time_scale` stamps virtual time, which
    /// runs ahead of the system clock; pass its `Emulator::clock()`.
    pub fn service_clock(mut self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.service_clock = ServiceClock::new(now);
        self
    }

    /// Serves health on this listener instead of binding `healthcheck_host:healthcheck`.
    pub fn health_listener(mut self, listener: std::net::TcpListener) -> Self {
        self.health_listener = Some(listener);
        self
    }

    pub(crate) fn activity_defaults(&self) -> Vec<(String, ActivityDefaults)> {
        self.activities
            .iter()
            .map(|a| (a.name().to_owned(), a.defaults()))
            .collect()
    }

    /// Runs until the [`ServerBuilder::shutdown`] future completes and the drain ends.
    ///
    /// The configuration is the one given with [`ServerBuilder::config`], else
    /// [`config::load_embedded`] (defaults, attributes, `stefuna.toml`, `STEFUNA_*`; no health
    /// port unless one of those sets `healthcheck`). Logging is left to the caller.
    ///
    /// **Cancel-safe.** The server runs on a task of its own. When this future is dropped (a
    /// `tokio::select!` branch that lost, say), no new poll opens, and the tasks in flight keep
    /// the worker's contract in the background: each is finished and answered, or failed with
    /// `Stefuna.WorkerShutdown` when `shutdown_grace` runs out. Keep the runtime alive until they
    /// are answered.
    pub async fn run(mut self) -> Result<(), ServerError> {
        let shutdown = Shutdown::default();
        let abandon_polls = self.abandon_polls;
        let watcher = self.shutdown.take().map(|signal| {
            let s = shutdown.clone();
            tokio::spawn(async move {
                signal.await;
                tracing::info!(abandon_polls, "shutdown requested");
                if abandon_polls {
                    s.abandon_polls.cancel();
                }
                s.request();
            })
        });
        let config = match self.config.take() {
            Some(c) => c,
            None => config::load_embedded(&self.activity_defaults())?,
        };
        config.warn_legacy_keys();
        if config.isolation == config::Isolation::Process {
            return Err(ConfigError::new(
                "`isolation = \"process\"` needs a worker binary: its children re-execute the \
                 binary, whose `main` must call `run_main` (the #[stefuna::activity] main does); \
                 `ServerBuilder::run` inside a service supports `isolation = \"thread\"` only",
            )
            .into());
        }
        let guard = DrainOnDrop {
            shutdown: shutdown.clone(),
            watcher,
        };
        let res = tokio::spawn(self.serve(config, shutdown)).await;
        drop(guard);
        match res {
            Ok(r) => r,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("the stefuna server task was cancelled: {e}"),
        }
    }

    /// Everything between configuration and exit.
    pub(crate) async fn serve(self, config: Config, shutdown: Shutdown) -> Result<(), ServerError> {
        if self.activities.is_empty() {
            return Err(ServerError::NoActivities);
        }
        let mut seen = std::collections::HashSet::new();
        for a in &self.activities {
            if !seen.insert(a.name().to_lowercase()) {
                return Err(ServerError::DuplicateActivity(a.name().to_owned()));
            }
        }
        let settings = config.settings_for(&self.activity_defaults())?;
        let resolved: Vec<_> = self.activities.iter().cloned().zip(settings).collect();

        let worker_name: Arc<str> = crate::worker::worker_name(&config.name).into();
        let monitor = self.monitor.unwrap_or_default();
        let health = monitor.health().clone();
        health.set_liveness_timeout(Duration::from_secs(config.liveness_timeout));
        health.set_phase(Phase::Starting);
        let metrics = health.metrics.clone();
        let watchdog = AbortOnDrop(tokio::spawn(health.clone().watchdog()));

        let (stop_health, health_task) = start_health(&config, self.health_listener, &health)
            .await?
            .unzip();
        let health_server = HealthServer(stop_health, health_task);

        let config = Arc::new(config);
        let mut state = self.state;
        // In process isolation the hooks run in each child, not in the parent.
        let hooks = if config.isolation == config::Isolation::Process {
            Vec::new()
        } else {
            self.init
        };
        for hook in hooks {
            let ctx = InitContext::new(config.clone(), worker_name.clone());
            tracing::info!("running the init hook");
            let outcome = tokio::select! {
                r = hook(ctx) => r,
                () = shutdown.drain.cancelled() => {
                    tracing::info!("shutdown requested while the init hook ran; not polling");
                    health.set_phase(Phase::Stopped);
                    health_server.stop().await;
                    return Ok(());
                }
            };
            match outcome {
                Ok(insert) => insert(&mut state),
                Err(e) => {
                    // The caller reports it (run_main prints one line and exits 1).
                    let message = crate::init::one_line(e.as_ref());
                    health.set_phase(Phase::Stopped);
                    health_server.stop().await;
                    return Err(ServerError::Init(message));
                }
            }
        }

        let shared = Arc::new(Shared {
            worker_name: worker_name.clone(),
            worker_config: Arc::new(config.worker_config.clone()),
            state: Arc::new(state),
            health: health.clone(),
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
            tracker: TaskTracker::new(),
            lost_task_grace: config.server_config.lost_task_grace(),
            service_clock: self.service_clock,
        });

        let mut clients: HashMap<String, Clients> = HashMap::new();
        let mut all_children = Vec::new();
        let config_value = serde_json::to_value(&*config).unwrap_or_default();
        for (activity, settings) in resolved {
            let region = config
                .region
                .clone()
                .unwrap_or_else(|| settings.region.clone());
            let clients = match (&self.client, clients.get(&region)) {
                (Some(c), _) => Clients::from_client(c),
                (None, Some(c)) => c.clone(),
                (None, None) => {
                    let c = Clients::load(&region, config.endpoint_url.as_deref()).await;
                    clients.insert(region.clone(), c.clone());
                    c
                }
            };
            let name: Arc<str> = activity.name().into();
            metrics.register(&name);
            let pollers = pollers_for(settings.processes, config.pollers);
            tracing::info!(
                activity = %name,
                arn = %settings.arn,
                worker = %worker_name,
                processes = settings.processes,
                pollers,
                heartbeat_seconds = settings.heartbeat.map_or(0, |d| d.as_secs()),
                "polling"
            );
            let children = (config.isolation == config::Isolation::Process).then(|| {
                let spec = crate::isolation::parent::Spawn {
                    activity: activity.name().to_owned(),
                    arn: settings.arn.clone(),
                    worker_name: worker_name.to_string(),
                    config: config_value.clone(),
                };
                let c = Arc::new(crate::isolation::Children::new(
                    spec,
                    name.clone(),
                    config.max_tasks_per_child(),
                    shared.lost_task_grace,
                    metrics.clone(),
                ));
                all_children.push(c.clone());
                c
            });
            let pool = Arc::new(ActivityPool {
                series: metrics.series_of(&name),
                activity,
                name,
                arn: settings.arn.as_str().into(),
                slots: Arc::new(Semaphore::new(settings.processes)),
                clients,
                settings,
                children,
            });
            for i in 0..pollers {
                shared
                    .tracker
                    .spawn(poll_loop(shared.clone(), pool.clone(), i));
            }
        }
        let budget = config.server_config.delivery_budget();
        shutdown.set_limits(Limits {
            grace: config.shutdown_grace.map(Duration::from_secs),
            budget,
        });
        health.set_phase(Phase::Polling);

        shutdown.drain.cancelled().await;
        health.set_phase(Phase::Draining);
        shared.tracker.close();
        tracing::info!(
            in_flight = metrics.in_flight(),
            grace = ?config.shutdown_grace,
            "draining: no new polls; waiting for open polls and in-flight tasks"
        );
        let grace = config.shutdown_grace.map(Duration::from_secs);
        let drained = tokio::select! {
            () = shared.tracker.wait() => true,
            () = sleep_or_forever(grace) => {
                tracing::warn!("shutdown grace ran out");
                false
            }
            () = shutdown.force.cancelled() => false,
        };
        if !drained {
            tracing::warn!(
                in_flight = metrics.in_flight(),
                "failing tasks still running with Stefuna.WorkerShutdown"
            );
            shutdown.force.cancel();
            if tokio::time::timeout(budget, shared.tracker.wait())
                .await
                .is_err()
            {
                shutdown.exit.cancel();
                // Let the retry loops log what they could not deliver.
                let _ = tokio::time::timeout(Duration::from_secs(1), shared.tracker.wait()).await;
                tracing::error!("exiting with results still undelivered");
            }
        }
        shutdown.exit.cancel();
        for children in &all_children {
            children.close().await;
        }
        health.set_phase(Phase::Stopped);
        health_server.stop().await;
        drop(watchdog);
        tracing::info!("worker stopped");
        Ok(())
    }
}

/// Drains the server when [`ServerBuilder::run`]'s future is dropped before it ends.
struct DrainOnDrop {
    shutdown: Shutdown,
    watcher: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        if !self.shutdown.drain.is_cancelled() {
            tracing::info!("the server's run() future was dropped: draining in the background");
            self.shutdown.drain.cancel();
        }
        if let Some(w) = self.watcher.take() {
            w.abort();
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The health server's stopper and task, when it runs.
struct HealthServer(
    Option<tokio::sync::oneshot::Sender<()>>,
    Option<tokio::task::JoinHandle<()>>,
);

impl HealthServer {
    async fn stop(self) {
        if let (Some(stop), Some(task)) = (self.0, self.1) {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
    }
}

/// A handle to stop the health server, and its task.
type HealthHandle = (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
);

async fn start_health(
    config: &Config,
    listener: Option<std::net::TcpListener>,
    health: &Arc<Health>,
) -> Result<Option<HealthHandle>, ServerError> {
    let listener = match listener {
        Some(l) => {
            let addr = l
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
            l.set_nonblocking(true)
                .and_then(|()| tokio::net::TcpListener::from_std(l))
                .map_err(|source| ServerError::HealthBind { addr, source })?
        }
        None if config.healthcheck == 0 => return Ok(None),
        None => {
            let addr = SocketAddr::new(config.healthcheck_host, config.healthcheck);
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| ServerError::HealthBind { addr, source })?
        }
    };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!("health server listening on http://{addr}");
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(health::serve(listener, health.clone(), async move {
        let _ = rx.await;
    }));
    Ok(Some((tx, task)))
}

async fn sleep_or_forever(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
