//! Layered configuration: defaults < activity attributes < `stefuna.toml` / `--config` <
//! `STEFUNA_*` environment < CLI flags, with errors that name the key, the value and its source.
//!
//! [`load`] is what a worker binary calls; [`load_embedded`] is the same without CLI flags, for a
//! server started inside an existing service. [`Config::figment`] shows the layer order.
//!
//! Environment keys are nested with `__` (`STEFUNA_WORKER_CONFIG__BUCKET=x`,
//! `STEFUNA_ACTIVITIES__RESIZE__PROCESSES=4`) and, like activity names under `activities`, are
//! read in lowercase.
//!
//! The module is split by job: this file holds the types and loading; `layers.rs` the figment
//! layers; `sources.rs` where a value came from and how errors are worded; `validate.rs` the
//! checks of single keys; `resolve.rs` each activity's settings.

mod layers;
mod resolve;
mod server_config;
mod sources;
mod validate;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use figment::providers::Serialized;
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};
use stefuna_core::ActivityDefaults;

use crate::cli::Cli;
use layers::{ATTRIBUTE, DEFAULTS, FLAGS, Layer, attribute_defaults, config_file};
pub use resolve::{ActivitySettings, activity_arn_region};
pub use server_config::ServerConfig;
use sources::{Sources, describe_error};

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Where tasks run (the `isolation` key).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Isolation {
    /// Tasks run as tokio tasks (blocking ones on the blocking pool) in the worker process.
    #[default]
    Thread,
    /// Each slot's task runs in a warm child process of the same executable.
    Process,
}

/// The default `maxtasksperchild` in process isolation: a child is replaced after 1,000 tasks.
/// Process mode is chosen for native code, where slow leaks are common; replacing a child costs
/// one process start and one init hook run (a few milliseconds), so every 1,000 tasks it is
/// well under 1% of a task's cost while a leak stays bounded. 0 turns recycling off.
pub const DEFAULT_MAX_TASKS_PER_CHILD: u64 = 1000;

/// Per-activity settings for a server hosting several activities (`[activities.<Name>]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ActivityConfig {
    /// The activity ARN.
    pub activity_arn: Option<String>,
    /// Tasks of this activity run at once; 0 means the CPU count.
    pub processes: Option<usize>,
    /// Heartbeat interval in seconds; 0 is off.
    pub heartbeat: Option<u64>,
}

/// The worker's configuration (see the README's configuration table).
///
/// Build one with [`Config::default`] and set fields, or load one with [`load`] /
/// [`load_embedded`]. The struct is `#[non_exhaustive]`: new keys are not breaking changes.
///
/// # Example
/// ```
/// let mut config = stefuna_runtime::Config::default();
/// config.heartbeat = 30;
/// config.healthcheck = 0;
/// assert_eq!(config.name, "StefunaWorker");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Base of the worker name `{name}-{hostname}-{pid}`.
    pub name: String,
    /// The activity ARN to poll (single-activity servers).
    pub activity_arn: Option<String>,
    /// Tasks run at once (`concurrency` is an alias); 0 means the CPU count, as in stefuna 1.0.1.
    #[serde(alias = "concurrency")]
    pub processes: usize,
    /// Most `GetActivityTask` calls open at once; `None` lets the runtime decide.
    pub pollers: Option<usize>,
    /// Heartbeat interval in seconds; 0 is off.
    pub heartbeat: u64,
    /// Health port; 0 turns the health server off.
    pub healthcheck: u16,
    /// Health bind address.
    pub healthcheck_host: IpAddr,
    /// A level (`info`; stefuna 1.0.1's `warning`, `critical` and `fatal` too) or tracing
    /// directives (`info,stefuna=debug`). Loading writes it in tracing's words.
    pub loglevel: String,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// Seconds in-flight tasks get to finish on shutdown; `None` waits for them.
    pub shutdown_grace: Option<u64>,
    /// Seconds without a successful Step Functions call before `/healthz` answers 503.
    pub liveness_timeout: u64,
    /// Free-form table for the activity code ([`stefuna_core::Context::worker_config`]).
    pub worker_config: serde_json::Value,
    /// The server's own keys (`lost_task_grace`, `delivery_budget`) and the user's, for the init
    /// hook.
    pub server_config: ServerConfig,
    /// Step Functions endpoint override.
    pub endpoint_url: Option<String>,
    /// AWS region; by default the ARN's.
    pub region: Option<String>,
    /// Per-activity settings, by activity name.
    pub activities: std::collections::BTreeMap<String, ActivityConfig>,
    /// Where tasks run: `thread` (default, in this process) or `process` (a warm child
    /// process per slot; see `docs/process-isolation.md`).
    pub isolation: Isolation,
    /// Process isolation: a child is replaced after this many tasks (0: never). `None` means
    /// [`DEFAULT_MAX_TASKS_PER_CHILD`]. Without process isolation it has no effect (warned).
    pub maxtasksperchild: Option<u64>,
    /// Process isolation: each child's address-space limit in MiB (`RLIMIT_AS`); an allocation
    /// past it makes the child abort and its task fail with `Stefuna.WorkerCrashed`.
    pub child_memory_limit_mb: Option<u64>,
    /// stefuna 1.0.1 key: accepted and ignored, with a warning.
    pub start_method: Option<serde_json::Value>,
    /// Each hosted activity's settings, resolved once by [`load`] (by lowercase name).
    #[serde(skip)]
    pub(crate) resolved: Option<Vec<(String, ActivitySettings)>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: "StefunaWorker".into(),
            activity_arn: None,
            processes: cpu_count(),
            pollers: None,
            heartbeat: 0,
            healthcheck: 8080,
            healthcheck_host: IpAddr::from([0, 0, 0, 0]),
            loglevel: "info".into(),
            log_format: LogFormat::Text,
            shutdown_grace: None,
            liveness_timeout: 300,
            worker_config: serde_json::Value::Object(Default::default()),
            server_config: ServerConfig::default(),
            endpoint_url: None,
            region: None,
            activities: Default::default(),
            isolation: Isolation::Thread,
            maxtasksperchild: None,
            child_memory_limit_mb: None,
            start_method: None,
            resolved: None,
        }
    }
}

/// The number of CPUs, what `processes = 0` stands for.
pub(crate) fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Prefix of the environment variables read as configuration.
pub const ENV_PREFIX: &str = "STEFUNA_";

/// The config file read from the working directory when `--config` is not given.
pub const DEFAULT_FILE: &str = "stefuna.toml";

/// A configuration error: the full message names the key, the value and where it came from.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    message: String,
    /// No ARN at all: fine in `--local` mode, where the emulator provides one.
    missing_arn: bool,
}

impl ConfigError {
    /// The process exit code for configuration errors.
    pub const EXIT_CODE: u8 = 2;

    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
            missing_arn: false,
        }
    }

    /// The message (same as `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }

    fn join(messages: Vec<String>) -> Result<(), ConfigError> {
        if messages.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::new(messages.join("\n")))
        }
    }
}

/// Loads the configuration of a worker binary: defaults < activity attributes < config file <
/// `STEFUNA_*` environment < `cli`, then checks every value.
///
/// With exactly one activity its attribute defaults fill `activity_arn`, `heartbeat` and
/// `processes`; with several they fill `activities.<name>`. Each activity's settings are resolved
/// and checked here, once (see [`Config::activity_settings`]), so nothing starts with a bad
/// configuration.
///
/// # Example
/// ```no_run
/// use clap::Parser;
/// use stefuna_core::ActivityDefaults;
/// use stefuna_runtime::{cli::Cli, config};
///
/// let arn = "arn:aws:states:us-east-1:123456789012:activity:hello";
/// let activities = [("Hello".to_owned(), ActivityDefaults::new(Some(arn.into()), Some(60), None))];
/// let config = match config::load(&Cli::parse(), &activities) {
///     Ok(config) => config,
///     Err(e) => {
///         eprintln!("{e}");
///         std::process::exit(config::ConfigError::EXIT_CODE.into());
///     }
/// };
/// let settings = config.activity_settings("Hello", &activities[0].1, true)?;
/// # Ok::<(), config::ConfigError>(())
/// ```
pub fn load(cli: &Cli, activities: &[(String, ActivityDefaults)]) -> Result<Config, ConfigError> {
    let figment = Config::figment(cli, activities)?;
    Config::extract_checked(&figment, activities, cli.local)
}

/// [`load`] without CLI flags, for a server embedded in an existing service. Here `healthcheck`
/// defaults to 0: a worker inside a service serves no port of its own unless a layer (file,
/// environment) asks for one; mount [`crate::Monitor::routes`] on the service's server instead.
pub fn load_embedded(activities: &[(String, ActivityDefaults)]) -> Result<Config, ConfigError> {
    let embedded = Config {
        healthcheck: 0,
        ..Config::default()
    };
    let figment = Config::figment_over(embedded, &Cli::default(), activities)?;
    Config::extract_checked(&figment, activities, false)
}

impl Config {
    /// The configuration layers, later wins.
    pub fn figment(
        cli: &Cli,
        activities: &[(String, ActivityDefaults)],
    ) -> Result<Figment, ConfigError> {
        Config::figment_over(Config::default(), cli, activities)
    }

    fn figment_over(
        defaults: Config,
        cli: &Cli,
        activities: &[(String, ActivityDefaults)],
    ) -> Result<Figment, ConfigError> {
        let mut figment =
            Figment::from(defaults).merge(Layer::named(attribute_defaults(activities), ATTRIBUTE));
        if let Some(path) = config_file(cli)? {
            figment = figment.merge(Layer::file(path));
        }
        Ok(figment
            .merge(Layer::env())
            .merge(Layer::named(Serialized::defaults(cli), FLAGS)))
    }

    /// Extracts and checks a configuration from `figment` (for example [`Config::figment`] with
    /// an extra layer merged in).
    pub fn from_figment(
        figment: &Figment,
        activities: &[(String, ActivityDefaults)],
    ) -> Result<Config, ConfigError> {
        Config::extract_checked(figment, activities, false)
    }

    /// With `local`, an activity may lack an ARN: local mode creates one.
    fn extract_checked(
        figment: &Figment,
        activities: &[(String, ActivityDefaults)],
        local: bool,
    ) -> Result<Config, ConfigError> {
        let mut config: Config = figment.extract().map_err(|e| {
            ConfigError::new(
                e.into_iter()
                    .map(|e| describe_error(figment, e))
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
        let sources = Sources(Some(figment));
        config.apply_precedence(&sources);
        config.endpoint_from_env()?;
        config.validate(&sources)?;
        config.check_activities(activities, &sources, local)?;
        Ok(config)
    }

    /// Warns once (tracing::warn!) about stefuna 1.0.1 keys that are accepted but ignored.
    pub fn warn_legacy_keys(&self) {
        static WARNED: AtomicBool = AtomicBool::new(false);
        let keys = self.legacy_keys();
        if keys.is_empty() || WARNED.swap(true, Ordering::Relaxed) {
            return;
        }
        for key in keys {
            if key == "start_method" {
                tracing::warn!(
                    "`start_method` is a stefuna 1.0.1 setting with no effect: stefuna never \
                     forks; with `isolation = \"process\"` every child is a fresh exec of this \
                     binary (what Python calls `spawn`), the only start that is safe with threads \
                     and a tokio runtime; remove it from the configuration"
                );
            } else {
                tracing::warn!(
                    "`{key}` has no effect with `isolation = \"thread\"`: tasks run in this \
                     process; set `isolation = \"process\"` to run them in recycled children"
                );
            }
        }
    }

    fn legacy_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.isolation == Isolation::Thread && self.maxtasksperchild.is_some() {
            keys.push("maxtasksperchild");
        }
        if self.start_method.is_some() {
            keys.push("start_method");
        }
        keys
    }

    /// Tasks a child runs before it is replaced; `None`: never.
    pub fn max_tasks_per_child(&self) -> Option<u64> {
        match self.maxtasksperchild.unwrap_or(DEFAULT_MAX_TASKS_PER_CHILD) {
            0 => None,
            n => Some(n),
        }
    }

    /// `worker_config` decoded into `T`.
    ///
    /// # Example
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Db { url: String, pool: u32 }
    ///
    /// let mut config = stefuna_runtime::Config::default();
    /// config.worker_config = serde_json::json!({"url": "postgres://db", "pool": 4});
    /// let db: Db = config.worker_config_as()?;
    /// assert_eq!(db.pool, 4);
    /// # Ok::<(), stefuna_runtime::ConfigError>(())
    /// ```
    pub fn worker_config_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConfigError> {
        T::deserialize(&self.worker_config)
            .map_err(|e| ConfigError::new(format!("invalid `worker_config`: {e}")))
    }
}

/// The built-in defaults as the lowest layer.
impl Provider for Config {
    fn metadata(&self) -> Metadata {
        Metadata::named(DEFAULTS)
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        Serialized::defaults(self).data()
    }
}

/// Backticked names joined with commas.
fn list(names: &[impl AsRef<str>]) -> String {
    names
        .iter()
        .map(|n| format!("`{}`", n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // Jail closures return figment's own (large) error type
mod tests;
