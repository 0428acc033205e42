//! Layered configuration: defaults < activity attributes < `stefuna.toml` / `--config` <
//! `STEFUNA_*` environment < CLI flags, with errors that name the key, the value and its source.
//!
//! [`load`] is what a worker binary calls; [`load_embedded`] is the same without CLI flags, for a
//! server started inside an existing service. [`Config::figment`] shows the layer order.
//!
//! Environment keys are nested with `__` (`STEFUNA_WORKER_CONFIG__BUCKET=x`,
//! `STEFUNA_ACTIVITIES__RESIZE__PROCESSES=4`) and, like activity names under `activities`, are
//! read in lowercase.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use figment::error::{Actual, Kind};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};
use stefuna_core::ActivityDefaults;

use crate::cli::Cli;

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Per-activity settings for a server hosting several activities (`[activities.<Name>]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityConfig {
    /// The activity ARN.
    pub activity_arn: Option<String>,
    /// Tasks of this activity run at once.
    pub processes: Option<usize>,
    /// Heartbeat interval in seconds; 0 is off.
    pub heartbeat: Option<u64>,
}

/// The worker's configuration (see the README's configuration table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Base of the worker name `{name}-{hostname}-{pid}`.
    pub name: String,
    /// The activity ARN to poll (single-activity servers).
    pub activity_arn: Option<String>,
    /// Tasks run at once (`concurrency` is an alias).
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
    /// tracing filter directives (`info`, `info,stefuna=debug`).
    pub loglevel: String,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// Seconds in-flight tasks get to finish on shutdown; `None` waits for them.
    pub shutdown_grace: Option<u64>,
    /// Seconds without a successful Step Functions call before `/healthz` answers 503.
    pub liveness_timeout: u64,
    /// Free-form table for the activity code ([`stefuna_core::Context::worker_config`]).
    pub worker_config: serde_json::Value,
    /// Free-form table for the server.
    pub server_config: serde_json::Value,
    /// Step Functions endpoint override.
    pub endpoint_url: Option<String>,
    /// AWS region; by default the ARN's.
    pub region: Option<String>,
    /// Per-activity settings, by activity name.
    pub activities: std::collections::BTreeMap<String, ActivityConfig>,
    /// stefuna 1.0.1 key: accepted and ignored, with a warning.
    pub maxtasksperchild: Option<serde_json::Value>,
    /// stefuna 1.0.1 key: accepted and ignored, with a warning.
    pub start_method: Option<serde_json::Value>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: "StefunaWorker".into(),
            activity_arn: None,
            processes: std::thread::available_parallelism().map_or(1, |n| n.get()),
            pollers: None,
            heartbeat: 0,
            healthcheck: 8080,
            healthcheck_host: IpAddr::from([0, 0, 0, 0]),
            loglevel: "info".into(),
            log_format: LogFormat::Text,
            shutdown_grace: None,
            liveness_timeout: 300,
            worker_config: serde_json::Value::Object(Default::default()),
            server_config: serde_json::Value::Object(Default::default()),
            endpoint_url: None,
            region: None,
            activities: Default::default(),
            maxtasksperchild: None,
            start_method: None,
        }
    }
}

/// Prefix of the environment variables read as configuration.
pub const ENV_PREFIX: &str = "STEFUNA_";

/// The config file read from the working directory when `--config` is not given.
pub const DEFAULT_FILE: &str = "stefuna.toml";

// Names of the layers; `describe` turns them back into "env X", "--flag" and so on.
const DEFAULTS: &str = "built-in defaults";
const ATTRIBUTE: &str = "#[stefuna::activity]";
const ENVIRONMENT: &str = "environment";
const FLAGS: &str = "command-line flags";

/// Top-level keys holding strings: an environment value such as `STEFUNA_NAME=123` stays a string.
const STRING_KEYS: &[&str] = &[
    "name",
    "activity_arn",
    "loglevel",
    "log_format",
    "healthcheck_host",
    "endpoint_url",
    "region",
];

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

/// Settings for one hosted activity, resolved from the config.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivitySettings {
    /// The activity ARN to poll.
    pub arn: String,
    /// The AWS region: the `region` key, else the ARN's.
    pub region: String,
    /// Tasks of this activity run at once (at least 1).
    pub processes: usize,
    /// Heartbeat interval; `None` sends no heartbeats.
    pub heartbeat: Option<Duration>,
}

/// Loads the configuration of a worker binary: defaults < activity attributes < config file <
/// `STEFUNA_*` environment < `cli`, then checks every value.
///
/// With exactly one activity its attribute defaults fill `activity_arn`, `heartbeat` and
/// `processes`; with several they fill `activities.<name>`. Each activity's settings are checked
/// here (see [`Config::activity_settings`]), so nothing starts with a bad configuration.
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

/// [`load`] without CLI flags, for a server embedded in an existing service.
pub fn load_embedded(activities: &[(String, ActivityDefaults)]) -> Result<Config, ConfigError> {
    load(&Cli::default(), activities)
}

impl Config {
    /// The configuration layers, later wins.
    pub fn figment(
        cli: &Cli,
        activities: &[(String, ActivityDefaults)],
    ) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Config::default())
            .merge(Layer::named(attribute_defaults(activities), ATTRIBUTE));
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

    /// For a single-activity server `single = true`: top-level keys apply; otherwise
    /// `activities.<name>` then the attribute defaults. Errors: no ARN, ARN not an activity ARN
    /// (`arn:aws:states:REGION:ACCOUNT:activity:NAME`), processes 0.
    ///
    /// Either way an `[activities.<name>]` entry (name matched without regard to case) wins over
    /// the top-level keys, and with several activities the top-level `processes` and `heartbeat`
    /// apply to those that set none. [`load`] has already put the attribute defaults in and
    /// let a top-level key from a later layer (say `--heartbeat`) replace per-activity values
    /// from earlier ones. For a config built by hand, `defaults` supplies the ARN (and, with
    /// several activities, concurrency and heartbeat).
    ///
    /// # Example
    /// ```
    /// use stefuna_core::ActivityDefaults;
    /// use stefuna_runtime::config::Config;
    ///
    /// let arn = "arn:aws:states:eu-west-1:123456789012:activity:hello";
    /// let defaults = ActivityDefaults::new(Some(arn.into()), Some(30), None);
    /// let config = Config { heartbeat: 30, ..Config::default() };
    /// let settings = config.activity_settings("Hello", &defaults, true)?;
    /// assert_eq!(settings.region, "eu-west-1");
    /// assert_eq!(settings.heartbeat, Some(std::time::Duration::from_secs(30)));
    /// # Ok::<(), stefuna_runtime::config::ConfigError>(())
    /// ```
    pub fn activity_settings(
        &self,
        name: &str,
        defaults: &ActivityDefaults,
        single: bool,
    ) -> Result<ActivitySettings, ConfigError> {
        self.resolve(name, defaults, single, &Sources(None))
    }

    /// Warns once (tracing::warn!) about stefuna 1.0.1 keys that are accepted but ignored.
    pub fn warn_legacy_keys(&self) {
        static WARNED: AtomicBool = AtomicBool::new(false);
        let keys = self.legacy_keys();
        if keys.is_empty() || WARNED.swap(true, Ordering::Relaxed) {
            return;
        }
        for key in keys {
            tracing::warn!(
                "`{key}` is a stefuna 1.0.1 setting with no effect: tasks run as async tasks \
                 in one process, not in forked children; remove it from the configuration"
            );
        }
    }

    fn legacy_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.maxtasksperchild.is_some() {
            keys.push("maxtasksperchild");
        }
        if self.start_method.is_some() {
            keys.push("start_method");
        }
        keys
    }

    /// A per-activity value yields to a top-level value from a later layer: `--heartbeat 5` beats
    /// both `#[stefuna::activity(heartbeat = 120)]` and `[activities.hello] heartbeat` in a file,
    /// while `[activities.hello]` in a file still beats a top-level key in the same file.
    fn apply_precedence(&mut self, src: &Sources<'_>) {
        let (top_processes, top_heartbeat) = (self.processes, self.heartbeat);
        let top_arn = self.activity_arn.clone();
        for (name, entry) in &mut self.activities {
            let later =
                |field: &str| src.rank(&[field]) > src.rank(&["activities", name.as_str(), field]);
            if entry.processes.is_some() && later("processes") {
                entry.processes = Some(top_processes);
            }
            if entry.heartbeat.is_some() && later("heartbeat") {
                entry.heartbeat = Some(top_heartbeat);
            }
            if entry.activity_arn.is_some() && top_arn.is_some() && later("activity_arn") {
                entry.activity_arn = top_arn.clone();
            }
        }
    }

    /// `endpoint_url` falls back to `AWS_ENDPOINT_URL_SFN`, then `AWS_ENDPOINT_URL`.
    fn endpoint_from_env(&mut self) -> Result<(), ConfigError> {
        if self.endpoint_url.is_some() {
            return Ok(());
        }
        for var in ["AWS_ENDPOINT_URL_SFN", "AWS_ENDPOINT_URL"] {
            if let Ok(url) = std::env::var(var)
                && !url.trim().is_empty()
            {
                check_url(&url).map_err(|e| {
                    ConfigError::new(format!(
                        "invalid endpoint URL {url:?} (from env {var}): {e}"
                    ))
                })?;
                self.endpoint_url = Some(url.trim().to_owned());
                return Ok(());
            }
        }
        Ok(())
    }

    fn validate(&self, src: &Sources<'_>) -> Result<(), ConfigError> {
        let mut errors = Vec::new();
        let mut bad = |key: &str, found: String, expected: &str| {
            errors.push(format!(
                "invalid value for `{key}`: found {found} (from {}); expected {expected}",
                src.of(&[key])
            ));
        };
        if self.name.trim().is_empty() {
            bad(
                "name",
                "an empty string".into(),
                "a worker name such as `Resizer`",
            );
        }
        if self.processes == 0 {
            bad("processes", "0".into(), "at least 1");
        }
        if self.pollers == Some(0) {
            bad("pollers", "0".into(), "at least 1");
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.loglevel) {
            bad(
                "loglevel",
                format!("{:?} ({e})", self.loglevel),
                "a level (`error`, `warn`, `info`, `debug`, `trace`) or tracing directives \
                 such as `info,stefuna=debug`",
            );
        }
        if let Some(url) = &self.endpoint_url
            && let Err(e) = check_url(url)
        {
            bad(
                "endpoint_url",
                format!("{url:?} ({e})"),
                "a URL such as http://127.0.0.1:8083",
            );
        }
        if let Some(region) = &self.region
            && !is_region(region)
        {
            bad(
                "region",
                format!("{region:?}"),
                "an AWS region such as `us-east-1`",
            );
        }
        for key in ["worker_config", "server_config"] {
            let value = if key == "worker_config" {
                &self.worker_config
            } else {
                &self.server_config
            };
            if !value.is_object() {
                bad(key, value.to_string(), "a table");
            }
        }
        ConfigError::join(errors)
    }

    /// Checks that every hosted activity resolves, and that nothing names an activity or ARN
    /// that would be silently ignored.
    fn check_activities(
        &self,
        activities: &[(String, ActivityDefaults)],
        src: &Sources<'_>,
        local: bool,
    ) -> Result<(), ConfigError> {
        if activities.is_empty() {
            return Ok(());
        }
        let mut errors = Vec::new();
        let names: Vec<String> = activities.iter().map(|(n, _)| n.to_lowercase()).collect();
        for (key, entry) in &self.activities {
            if !names.contains(&key.to_lowercase()) {
                let field = if entry.activity_arn.is_some() {
                    "activity_arn"
                } else if entry.processes.is_some() {
                    "processes"
                } else {
                    "heartbeat"
                };
                errors.push(format!(
                    "unknown activity `{key}` in `activities` (from {}); this server hosts {}",
                    src.of(&["activities", key, field]),
                    list(&names)
                ));
            }
        }
        let single = activities.len() == 1;
        if !single && let Some(arn) = &self.activity_arn {
            errors.push(format!(
                "`activity_arn` {arn:?} (from {}) names one activity but this server hosts {} \
                 ({}); set `activities.<name>.activity_arn` for each instead",
                src.of(&["activity_arn"]),
                activities.len(),
                list(&names)
            ));
        }
        for (name, defaults) in activities {
            match self.resolve(name, defaults, single, src) {
                Err(e) if !(local && e.missing_arn) => errors.push(e.message),
                _ => {}
            }
        }
        ConfigError::join(errors)
    }

    fn resolve(
        &self,
        name: &str,
        defaults: &ActivityDefaults,
        single: bool,
        src: &Sources<'_>,
    ) -> Result<ActivitySettings, ConfigError> {
        let entry = self
            .activities
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name));
        let entry_key = |field: &str| match entry {
            Some((k, _)) => vec!["activities".to_owned(), k.clone(), field.to_owned()],
            None => vec![field.to_owned()],
        };
        let entry = entry.map(|(_, e)| e);

        let (arn, arn_key, arn_src) = if let Some(arn) = entry.and_then(|e| e.activity_arn.clone())
        {
            let key = entry_key("activity_arn");
            let from = src.of_owned(&key);
            (arn, key.join("."), from)
        } else if single && let Some(arn) = self.activity_arn.clone() {
            (arn, "activity_arn".to_owned(), src.of(&["activity_arn"]))
        } else if let Some(arn) = defaults.arn.clone() {
            (arn, "arn".to_owned(), ATTRIBUTE.to_owned())
        } else if single {
            return Err(ConfigError {
                missing_arn: true,
                ..ConfigError::new(
                    "no activity ARN: set `arn` in #[stefuna::activity], `activity_arn` in \
                     stefuna.toml, STEFUNA_ACTIVITY_ARN or --activity-arn",
                )
            });
        } else {
            let lower = name.to_lowercase();
            return Err(ConfigError {
                missing_arn: true,
                ..ConfigError::new(format!(
                    "no activity ARN for activity `{name}`: set `arn` in its #[stefuna::activity], \
                 `activities.{lower}.activity_arn` in stefuna.toml or \
                 STEFUNA_ACTIVITIES__{}__ACTIVITY_ARN",
                    lower.to_uppercase()
                ))
            });
        };
        // Say `arn` when the value came from the attribute argument of that name.
        let arn_key = if arn_src == ATTRIBUTE {
            "arn".to_owned()
        } else {
            arn_key
        };
        let Some(arn_region) = activity_arn_region(&arn) else {
            return Err(ConfigError::new(format!(
                "`{arn_key}` {arn:?} (from {arn_src}) is not an activity ARN; expected \
                 arn:aws:states:REGION:ACCOUNT:activity:NAME"
            )));
        };

        let (processes, processes_src) = match entry.and_then(|e| e.processes) {
            Some(n) => (n, src.of_owned(&entry_key("processes"))),
            None if single => (self.processes, src.of(&["processes"])),
            None => match defaults.concurrency {
                Some(n) => (n, ATTRIBUTE.to_owned()),
                None => (self.processes, src.of(&["processes"])),
            },
        };
        if processes == 0 {
            return Err(ConfigError::new(format!(
                "invalid value for `processes` of activity `{name}`: found 0 (from \
                 {processes_src}); expected at least 1"
            )));
        }
        let heartbeat = match entry.and_then(|e| e.heartbeat) {
            Some(s) => s,
            None if single => self.heartbeat,
            None => defaults.heartbeat.unwrap_or(self.heartbeat),
        };
        Ok(ActivitySettings {
            region: self.region.clone().unwrap_or_else(|| arn_region.to_owned()),
            arn,
            processes,
            heartbeat: (heartbeat > 0).then(|| Duration::from_secs(heartbeat)),
        })
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

/// The region of an activity ARN `arn:PARTITION:states:REGION:ACCOUNT:activity:NAME`, or `None`
/// when `arn` is not one.
pub fn activity_arn_region(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts[..] {
        [
            "arn",
            partition,
            "states",
            region,
            account,
            "activity",
            name,
        ] if partition.starts_with("aws")
            && is_region(region)
            && !account.is_empty()
            && account.bytes().all(|b| b.is_ascii_digit())
            && !name.is_empty() =>
        {
            Some(region)
        }
        _ => None,
    }
}

fn is_region(region: &str) -> bool {
    !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn check_url(url: &str) -> Result<(), &'static str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("it must start with http:// or https://")?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("it has no host");
    }
    Ok(())
}

fn list(names: &[impl AsRef<str>]) -> String {
    names
        .iter()
        .map(|n| format!("`{}`", n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `--config PATH` (which must exist), else `./stefuna.toml` when present.
fn config_file(cli: &Cli) -> Result<Option<PathBuf>, ConfigError> {
    match &cli.config {
        Some(path) => {
            let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            if path.is_file() {
                Ok(Some(path))
            } else if path.exists() {
                Err(ConfigError::new(format!(
                    "config file {} (from --config) is not a file",
                    path.display()
                )))
            } else {
                Err(ConfigError::new(format!(
                    "config file {} (from --config) does not exist",
                    path.display()
                )))
            }
        }
        None => Ok(std::env::current_dir()
            .map(|dir| dir.join(DEFAULT_FILE))
            .ok()
            .filter(|path| path.is_file())),
    }
}

/// The activities' attribute arguments as a layer: top-level keys for one activity,
/// `activities.<name>` for several.
fn attribute_defaults(activities: &[(String, ActivityDefaults)]) -> Serialized<serde_json::Value> {
    let table = |d: &ActivityDefaults, arn_key: &str| {
        let mut t = serde_json::Map::new();
        if let Some(arn) = &d.arn {
            t.insert(arn_key.into(), arn.clone().into());
        }
        if let Some(h) = d.heartbeat {
            t.insert("heartbeat".into(), h.into());
        }
        if let Some(c) = d.concurrency {
            t.insert("processes".into(), c.into());
        }
        t
    };
    let value = match activities {
        [(_, defaults)] => table(defaults, "activity_arn"),
        _ => {
            let per_name = activities
                .iter()
                .map(|(name, d)| (name.to_lowercase(), table(d, "activity_arn")))
                .filter(|(_, t)| !t.is_empty())
                .map(|(n, t)| (n, serde_json::Value::Object(t)))
                .collect::<serde_json::Map<_, _>>();
            let mut top = serde_json::Map::new();
            if !per_name.is_empty() {
                top.insert("activities".into(), per_name.into());
            }
            top
        }
    };
    Serialized::defaults(serde_json::Value::Object(value))
}

/// One configuration layer: renames the `concurrency` alias to `processes` and lowercases
/// activity names, so layers merge key by key; optionally renames the provider.
struct Layer<P> {
    inner: P,
    name: Option<&'static str>,
    env: bool,
}

impl<P: Provider> Layer<P> {
    fn named(inner: P, name: &'static str) -> Self {
        Layer {
            inner,
            name: Some(name),
            env: false,
        }
    }
}

impl Layer<figment::providers::Data<Toml>> {
    fn file(path: PathBuf) -> Self {
        Layer {
            inner: Toml::file_exact(path),
            name: None,
            env: false,
        }
    }
}

impl Layer<Env> {
    fn env() -> Self {
        Layer {
            // `STEFUNA_LOCAL_*` configures the stefuna-local emulator binary, not the worker.
            inner: Env::prefixed(ENV_PREFIX)
                .filter(|k| !k.as_str().to_ascii_lowercase().starts_with("local_"))
                .split("__"),
            name: Some(ENVIRONMENT),
            env: true,
        }
    }
}

impl<P: Provider> Provider for Layer<P> {
    fn metadata(&self) -> Metadata {
        match self.name {
            Some(name) => Metadata::named(name),
            None => self.inner.metadata(),
        }
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        let mut data = self.inner.data()?;
        for dict in data.values_mut() {
            rename_alias(dict, &[]).map_err(figment::Error::from)?;
            if let Some(Value::Dict(tag, activities)) = dict.remove("activities") {
                let mut lowered = Dict::new();
                for (name, mut value) in activities {
                    if let Value::Dict(_, table) = &mut value {
                        rename_alias(table, &["activities", &name])
                            .map_err(figment::Error::from)?;
                    }
                    let lower = name.to_lowercase();
                    if lowered.insert(lower.clone(), value).is_some() {
                        return Err(format!(
                            "activity `{lower}` appears twice in `activities` (names are \
                             matched without regard to case); keep one"
                        )
                        .into());
                    }
                }
                dict.insert("activities".into(), Value::Dict(tag, lowered));
            }
            if self.env {
                // Env parses `STEFUNA_NAME=123` as a number; these keys want the text as typed.
                for key in STRING_KEYS {
                    if let Some(value) = dict.get_mut(*key)
                        && !matches!(value, Value::String(..))
                        && let Some(raw) = Env::var(&format!("{ENV_PREFIX}{key}"))
                    {
                        *value = Value::from(raw);
                    }
                }
            }
        }
        Ok(data)
    }
}

fn rename_alias(table: &mut Dict, path: &[&str]) -> Result<(), String> {
    if let Some(value) = table.remove("concurrency") {
        if table.contains_key("processes") {
            let mut key = path.join(".");
            if !key.is_empty() {
                key.push('.');
            }
            return Err(format!(
                "both `{key}processes` and its alias `{key}concurrency` are set; keep one"
            ));
        }
        table.insert("processes".into(), value);
    }
    Ok(())
}

/// Where configuration values came from, when known.
struct Sources<'a>(Option<&'a Figment>);

impl Sources<'_> {
    fn of(&self, path: &[&str]) -> String {
        let owned: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        self.of_owned(&owned)
    }

    fn of_owned(&self, path: &[String]) -> String {
        match self.0 {
            Some(figment) => describe(figment.find_metadata(&path.join(".")), path),
            None => "the configuration".to_owned(),
        }
    }
}

impl Sources<'_> {
    /// The layer a value came from: defaults 0, attribute 1, file 2, environment 3, flags 4.
    fn rank(&self, path: &[&str]) -> u8 {
        let Some(md) = self.0.and_then(|f| f.find_metadata(&path.join("."))) else {
            return 0;
        };
        if md.source.as_ref().and_then(|s| s.file_path()).is_some() {
            return 2;
        }
        match &*md.name {
            ATTRIBUTE => 1,
            ENVIRONMENT => 3,
            FLAGS => 4,
            _ => 0,
        }
    }
}

/// "env STEFUNA_HEARTBEAT", "--heartbeat", "/path/stefuna.toml", ...
fn describe(metadata: Option<&Metadata>, path: &[String]) -> String {
    let Some(md) = metadata else {
        return "the configuration".to_owned();
    };
    if let Some(file) = md.source.as_ref().and_then(|s| s.file_path()) {
        return file.display().to_string();
    }
    match &*md.name {
        ENVIRONMENT => format!(
            "env {ENV_PREFIX}{}",
            path.iter()
                .map(|p| p.to_uppercase())
                .collect::<Vec<_>>()
                .join("__")
        ),
        FLAGS => format!(
            "--{}",
            path.last()
                .map(String::as_str)
                .unwrap_or("")
                .replace('_', "-")
        ),
        DEFAULTS => "built-in default".to_owned(),
        other => other.to_owned(),
    }
}

fn describe_error(figment: &Figment, e: figment::Error) -> String {
    let key = e.path.join(".");
    let source = || {
        if e.path.is_empty() {
            describe(e.metadata.as_ref(), &e.path)
        } else {
            describe(figment.find_metadata(&key).or(e.metadata.as_ref()), &e.path)
        }
    };
    match &e.kind {
        Kind::UnknownField(field, expected) => {
            let mut path = e.path.clone();
            if path.last() != Some(field) {
                path.push(field.clone());
            }
            let full = path.join(".");
            let from = describe(figment.find_metadata(&full).or(e.metadata.as_ref()), &path);
            format!(
                "unknown key `{full}` in {from}; expected one of {}",
                list(expected)
            )
        }
        Kind::UnknownVariant(found, expected) => format!(
            "invalid value for `{key}`: found string {found:?}, expected {} (from {})",
            or_list(expected),
            source()
        ),
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => format!(
            "invalid value for `{key}`: found {}, expected {} (from {})",
            show(actual),
            expected_phrase(expected, actual),
            source()
        ),
        Kind::Message(message) if e.path.is_empty() => match e.metadata.as_ref() {
            Some(md) if md.source.as_ref().and_then(|s| s.file_path()).is_some() => {
                format!("config file {} is not valid: {message}", source())
            }
            _ => format!("{message} (in {})", source()),
        },
        Kind::Message(message) => {
            let found = figment
                .find_value(&key)
                .map(|v| show(&v.to_actual()))
                .unwrap_or_else(|_| "a value".to_owned());
            let expected = if e.path.last().is_some_and(|k| k == "healthcheck_host") {
                "; expected an IP address such as 0.0.0.0 or 127.0.0.1"
            } else {
                ""
            };
            format!(
                "invalid value for `{key}`: found {found} ({message}) (from {}){expected}",
                source()
            )
        }
        other => format!("{other} for `{key}` (from {})", source()),
    }
}

fn or_list(names: &[&str]) -> String {
    match names {
        [a, b] => format!("`{a}` or `{b}`"),
        _ => format!("one of {}", list(names)),
    }
}

fn show(actual: &Actual) -> String {
    match actual {
        Actual::Str(s) => format!("string {s:?}"),
        Actual::Unsigned(n) => format!("integer {n}"),
        Actual::Signed(n) => format!("integer {n}"),
        Actual::Float(x) => format!("number {x}"),
        Actual::Bool(b) => format!("boolean {b}"),
        Actual::Map => "a table".to_owned(),
        Actual::Seq => "an array".to_owned(),
        other => other.to_string(),
    }
}

fn expected_phrase(expected: &str, actual: &Actual) -> String {
    match expected {
        "u16" => "an integer from 0 to 65535".to_owned(),
        "u8" | "u32" | "u64" | "u128" | "usize" if matches!(actual, Actual::Signed(n) if *n < 0) => {
            "an integer of 0 or more".to_owned()
        }
        "u8" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
            "an integer".to_owned()
        }
        "IP address" => "an IP address such as 0.0.0.0 or 127.0.0.1".to_owned(),
        "a map" => "a table".to_owned(),
        s if s.starts_with("struct ") => "a table".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // Jail closures return figment's own (large) error type
mod tests {
    use clap::Parser;
    use figment::Jail;

    use super::*;

    const ARN: &str = "arn:aws:states:eu-west-1:123456789012:activity:hello";
    const RESIZE_ARN: &str = "arn:aws:states:us-east-1:123456789012:activity:resize";

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("worker").chain(args.iter().copied())).unwrap()
    }

    fn hello(
        arn: Option<&str>,
        heartbeat: Option<u64>,
        concurrency: Option<usize>,
    ) -> Vec<(String, ActivityDefaults)> {
        vec![(
            "Hello".to_owned(),
            ActivityDefaults::new(arn.map(str::to_owned), heartbeat, concurrency),
        )]
    }

    fn two() -> Vec<(String, ActivityDefaults)> {
        vec![
            (
                "Hello".to_owned(),
                ActivityDefaults::new(Some(ARN.into()), Some(60), None),
            ),
            (
                "Resize".to_owned(),
                ActivityDefaults::new(Some(RESIZE_ARN.into()), None, Some(2)),
            ),
        ]
    }

    /// The error message of `load`, which must fail.
    fn load_err(cli: &Cli, activities: &[(String, ActivityDefaults)]) -> String {
        match load(cli, activities) {
            Ok(c) => panic!("loaded {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn assert_mentions(message: &str, parts: &[&str]) {
        eprintln!("{message}");
        for part in parts {
            assert!(message.contains(part), "{part:?} missing from: {message}");
        }
    }

    #[test]
    fn nothing_set_gives_the_defaults() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let config = load(&cli(&[]), &[]).unwrap();
            assert_eq!(config, Config::default());
            assert_eq!(config.name, "StefunaWorker");
            assert_eq!(config.healthcheck, 8080);
            assert_eq!(config.log_format, LogFormat::Text);
            assert!(config.processes >= 1);
            assert_eq!(config.worker_config, serde_json::json!({}));
            Ok(())
        });
    }

    #[test]
    fn config_is_a_provider_of_its_defaults() {
        let config: Config = Figment::from(Config::default()).extract().unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn each_layer_overrides_the_one_below() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let acts = hello(Some(ARN), Some(10), Some(2));
            let c = load(&cli(&[]), &acts).unwrap();
            assert_eq!(
                (c.heartbeat, c.processes, c.activity_arn.as_deref()),
                (10, 2, Some(ARN))
            );
            assert_eq!(c.name, "StefunaWorker", "built-in default below everything");

            jail.create_file(
                "stefuna.toml",
                "heartbeat = 20\nprocesses = 3\nname = \"FromFile\"",
            )?;
            let c = load(&cli(&[]), &acts).unwrap();
            assert_eq!(
                (c.heartbeat, c.processes, c.name.as_str()),
                (20, 3, "FromFile")
            );

            jail.set_env("STEFUNA_HEARTBEAT", 30);
            jail.set_env("STEFUNA_PROCESSES", 4);
            let c = load(&cli(&[]), &acts).unwrap();
            assert_eq!(
                (c.heartbeat, c.processes, c.name.as_str()),
                (30, 4, "FromFile")
            );

            let c = load(&cli(&["--heartbeat", "40"]), &acts).unwrap();
            assert_eq!(
                (c.heartbeat, c.processes),
                (40, 4),
                "an absent flag keeps the env value"
            );

            let s = c.activity_settings("Hello", &acts[0].1, true).unwrap();
            assert_eq!(s.heartbeat, Some(Duration::from_secs(40)));
            assert_eq!(s.processes, 4);
            Ok(())
        });
    }

    #[test]
    fn explicit_zero_heartbeat_overrides_the_attribute() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let acts = hello(Some(ARN), Some(120), None);
            let c = load(&cli(&["--heartbeat", "0"]), &acts).unwrap();
            let s = c.activity_settings("Hello", &acts[0].1, true).unwrap();
            assert_eq!(s.heartbeat, None);
            Ok(())
        });
    }

    #[test]
    fn config_flag_replaces_the_default_file() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("stefuna.toml", "heartbeat = 1")?;
            jail.create_file("other.toml", "heartbeat = 2")?;
            let c = load(&cli(&["--config", "other.toml"]), &[]).unwrap();
            assert_eq!(c.heartbeat, 2);
            assert_eq!(load(&cli(&[]), &[]).unwrap().heartbeat, 1);
            Ok(())
        });
    }

    #[test]
    fn missing_config_file_is_refused() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let err = load_err(&cli(&["--config", "nope/y.toml"]), &[]);
            let path = jail.directory().join("nope/y.toml");
            assert_eq!(
                err,
                format!(
                    "config file {} (from --config) does not exist",
                    path.display()
                )
            );
            Ok(())
        });
    }

    #[test]
    fn concurrency_is_an_alias_of_processes() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("stefuna.toml", "concurrency = 3")?;
            assert_eq!(load(&cli(&[]), &[]).unwrap().processes, 3);
            assert_eq!(load(&cli(&["--processes", "7"]), &[]).unwrap().processes, 7);
            jail.set_env("STEFUNA_CONCURRENCY", 5);
            assert_eq!(load(&cli(&[]), &[]).unwrap().processes, 5);

            jail.create_file("stefuna.toml", "concurrency = 3\nprocesses = 4")?;
            let err = load_err(&cli(&[]), &[]);
            assert_mentions(&err, &["`processes`", "`concurrency`", "keep one"]);
            Ok(())
        });
    }

    #[test]
    fn nested_env_keys_fill_tables() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "stefuna.toml",
                "[worker_config]\nregion = \"eu\"\n\n[activities.Resize]\nheartbeat = 9",
            )?;
            jail.set_env("STEFUNA_WORKER_CONFIG__BUCKET", "x");
            jail.set_env("STEFUNA_ACTIVITIES__RESIZE__PROCESSES", 4);
            let acts = two();
            let c = load(&cli(&[]), &acts).unwrap();
            assert_eq!(
                c.worker_config,
                serde_json::json!({"region": "eu", "bucket": "x"})
            );
            let s = c.activity_settings("Resize", &acts[1].1, false).unwrap();
            assert_eq!(s.processes, 4);
            assert_eq!(s.heartbeat, Some(Duration::from_secs(9)));
            assert_eq!(s.arn, RESIZE_ARN);

            jail.set_env("STEFUNA_ACTIVITIES__RESIZE__PROCESSES", "x");
            let err = load_err(&cli(&[]), &acts);
            assert_eq!(
                err,
                "invalid value for `activities.resize.processes`: found string \"x\", expected \
                 an integer (from env STEFUNA_ACTIVITIES__RESIZE__PROCESSES)"
            );
            Ok(())
        });
    }

    #[test]
    fn several_activities_resolve_separately() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let acts = two();
            let c = load(&cli(&[]), &acts).unwrap();
            let h = c.activity_settings("Hello", &acts[0].1, false).unwrap();
            let r = c.activity_settings("Resize", &acts[1].1, false).unwrap();
            assert_eq!(
                h,
                ActivitySettings {
                    arn: ARN.into(),
                    region: "eu-west-1".into(),
                    processes: Config::default().processes,
                    heartbeat: Some(Duration::from_secs(60)),
                }
            );
            assert_eq!(
                r,
                ActivitySettings {
                    arn: RESIZE_ARN.into(),
                    region: "us-east-1".into(),
                    processes: 2,
                    heartbeat: None,
                }
            );

            // Top-level keys from a file beat the attribute arguments of every activity.
            jail.create_file("stefuna.toml", "processes = 5\nheartbeat = 7")?;
            let c = load(&cli(&[]), &acts).unwrap();
            for (name, d) in &acts {
                let s = c.activity_settings(name, d, false).unwrap();
                assert_eq!(
                    (s.processes, s.heartbeat),
                    (5, Some(Duration::from_secs(7)))
                );
            }
            Ok(())
        });
    }

    #[test]
    fn a_later_top_level_value_beats_an_earlier_per_activity_one() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "stefuna.toml",
                "processes = 9\n[activities.Resize]\nprocesses = 3\n[activities.hello]\nheartbeat = 4",
            )?;
            let acts = two();
            let c = load(&cli(&[]), &acts).unwrap();
            // Same layer: the activity's own table wins; a file beats the attribute.
            let r = c.activity_settings("Resize", &acts[1].1, false).unwrap();
            let h = c.activity_settings("Hello", &acts[0].1, false).unwrap();
            assert_eq!((r.processes, h.processes), (3, 9));
            assert_eq!(h.heartbeat, Some(Duration::from_secs(4)));

            jail.set_env("STEFUNA_PROCESSES", 6);
            let c = load(&cli(&["--heartbeat", "11"]), &acts).unwrap();
            let r = c.activity_settings("Resize", &acts[1].1, false).unwrap();
            let h = c.activity_settings("Hello", &acts[0].1, false).unwrap();
            assert_eq!((r.processes, h.processes), (6, 6));
            assert_eq!(h.heartbeat, Some(Duration::from_secs(11)));
            assert_eq!(r.heartbeat, Some(Duration::from_secs(11)));

            // One activity: a flag beats its [activities.hello] table too.
            jail.create_file("stefuna.toml", "[activities.hello]\nheartbeat = 4")?;
            let acts = hello(Some(ARN), None, None);
            let c = load(&cli(&["--heartbeat", "2"]), &acts).unwrap();
            let s = c.activity_settings("Hello", &acts[0].1, true).unwrap();
            assert_eq!(s.heartbeat, Some(Duration::from_secs(2)));
            Ok(())
        });
    }

    #[test]
    fn several_activities_refuse_a_top_level_arn_and_unknown_names() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let err = load_err(&cli(&["--activity-arn", ARN]), &two());
            assert_mentions(
                &err,
                &[
                    "`activity_arn`",
                    ARN,
                    "--activity-arn",
                    "`hello`",
                    "`resize`",
                ],
            );

            jail.create_file("stefuna.toml", "[activities.resze]\nprocesses = 2")?;
            let err = load_err(&cli(&[]), &two());
            assert_mentions(
                &err,
                &["unknown activity `resze`", "stefuna.toml", "`resize`"],
            );
            Ok(())
        });
    }

    #[test]
    fn activities_table_applies_to_a_single_activity() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "stefuna.toml",
                "heartbeat = 5\n[activities.Hello]\nheartbeat = 8",
            )?;
            let acts = hello(Some(ARN), None, None);
            let c = load(&cli(&[]), &acts).unwrap();
            let s = c.activity_settings("hello", &acts[0].1, true).unwrap();
            assert_eq!(s.heartbeat, Some(Duration::from_secs(8)));
            Ok(())
        });
    }

    #[test]
    fn wrong_type_names_key_value_and_env_var() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("STEFUNA_HEARTBEAT", "ten");
            let err = load_err(&cli(&[]), &[]);
            assert_eq!(
                err,
                "invalid value for `heartbeat`: found string \"ten\", expected an integer \
                 (from env STEFUNA_HEARTBEAT)"
            );
            Ok(())
        });
    }

    #[test]
    fn wrong_types_in_a_file_name_the_file() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("stefuna.toml", "healthcheck = 70000\nprocesses = -1")?;
            let err = load_err(&cli(&[]), &[]);
            let file = jail.directory().join("stefuna.toml");
            assert_mentions(
                &err,
                &[
                    "`healthcheck`",
                    "70000",
                    "0 to 65535",
                    &file.display().to_string(),
                ],
            );
            Ok(())
        });
    }

    #[test]
    fn unknown_key_in_file_lists_the_accepted_keys() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("stefuna.toml", "heartbeet = 10")?;
            let err = load_err(&cli(&[]), &[]);
            let file = jail.directory().join("stefuna.toml");
            assert!(
                err.starts_with(&format!(
                    "unknown key `heartbeet` in {}; expected one of `name`, `activity_arn`",
                    file.display()
                )),
                "{err}"
            );
            assert_mentions(&err, &["`heartbeat`", "`processes`"]);
            Ok(())
        });
    }

    #[test]
    fn unknown_key_in_env_names_the_variable() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("STEFUNA_HEARTBEET", 10);
            let err = load_err(&cli(&[]), &[]);
            assert_mentions(&err, &["unknown key `heartbeet`", "env STEFUNA_HEARTBEET"]);
            Ok(())
        });
    }

    #[test]
    fn emulator_variables_are_not_worker_keys() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("STEFUNA_LOCAL_PORT", 9000);
            jail.set_env("STEFUNA_LOCAL_THROTTLE", "0.1");
            jail.set_env("STEFUNA_HEARTBEAT", 7);
            let acts = [(
                "hello".to_string(),
                ActivityDefaults::new(
                    Some("arn:aws:states:us-east-1:123456789012:activity:hello".into()),
                    None,
                    None,
                ),
            )];
            let c = load(&cli(&[]), &acts).unwrap();
            assert_eq!(c.heartbeat, 7);
            Ok(())
        });
    }

    #[test]
    fn unknown_key_inside_an_activity_table() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("stefuna.toml", "[activities.hello]\nheartbet = 1")?;
            let err = load_err(&cli(&[]), &two());
            assert_mentions(
                &err,
                &[
                    "unknown key `activities.hello.heartbet`",
                    "stefuna.toml",
                    "`heartbeat`",
                ],
            );
            Ok(())
        });
    }

    #[test]
    fn bad_enum_ip_and_filter_values_are_refused() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("stefuna.toml", "log_format = \"xml\"")?;
            let err = load_err(&cli(&[]), &[]);
            assert_mentions(
                &err,
                &[
                    "`log_format`",
                    "\"xml\"",
                    "`text` or `json`",
                    "stefuna.toml",
                ],
            );

            jail.create_file("stefuna.toml", "")?;
            jail.set_env("STEFUNA_HEALTHCHECK_HOST", "localhost");
            let err = load_err(&cli(&[]), &[]);
            assert_mentions(
                &err,
                &[
                    "`healthcheck_host`",
                    "\"localhost\"",
                    "env STEFUNA_HEALTHCHECK_HOST",
                    "IP address",
                ],
            );

            jail.clear_env();
            let err = load_err(&cli(&["--loglevel", "info,stefuna=loud"]), &[]);
            assert_mentions(&err, &["`loglevel`", "info,stefuna=loud", "--loglevel"]);
            assert!(load(&cli(&["--loglevel", "warn,stefuna_runtime=debug"]), &[]).is_ok());
            Ok(())
        });
    }

    #[test]
    fn bad_toml_names_the_file() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("stefuna.toml", "heartbeat = = 1")?;
            let err = load_err(&cli(&[]), &[]);
            assert_mentions(&err, &["config file", "stefuna.toml", "not valid"]);
            Ok(())
        });
    }

    #[test]
    fn state_machine_arn_is_not_an_activity_arn() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let sm = "arn:aws:states:us-east-1:123:stateMachine:x";
            let err = load_err(&cli(&["--activity-arn", sm]), &hello(Some(ARN), None, None));
            assert_eq!(
                err,
                format!(
                    "`activity_arn` \"{sm}\" (from --activity-arn) is not an activity ARN; \
                     expected arn:aws:states:REGION:ACCOUNT:activity:NAME"
                )
            );
            let err = load_err(&cli(&[]), &hello(Some("hello"), None, None));
            assert_mentions(&err, &["`arn` \"hello\"", "(from #[stefuna::activity])"]);
            Ok(())
        });
    }

    #[test]
    fn missing_arn_says_where_to_set_it() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let err = load_err(&cli(&[]), &hello(None, None, None));
            assert_eq!(
                err,
                "no activity ARN: set `arn` in #[stefuna::activity], `activity_arn` in \
                 stefuna.toml, STEFUNA_ACTIVITY_ARN or --activity-arn"
            );
            // --local creates the activity, so it needs no ARN; a bad one is still refused.
            assert!(load(&cli(&["--local"]), &hello(None, None, None)).is_ok());
            let err = load_err(&cli(&["--local"]), &hello(Some("nope"), None, None));
            assert_mentions(&err, &["`arn` \"nope\"", "not an activity ARN"]);
            jail.set_env("STEFUNA_ACTIVITY_ARN", ARN);
            assert_eq!(
                load(&cli(&[]), &hello(None, None, None))
                    .unwrap()
                    .activity_arn
                    .as_deref(),
                Some(ARN)
            );
            Ok(())
        });
    }

    #[test]
    fn zero_processes_is_refused() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let err = load_err(&cli(&["--processes", "0"]), &[]);
            assert_mentions(
                &err,
                &["`processes`", "found 0", "--processes", "at least 1"],
            );
            let c = Config {
                processes: 0,
                ..Config::default()
            };
            let err = c
                .activity_settings(
                    "Hello",
                    &ActivityDefaults::new(Some(ARN.into()), None, None),
                    true,
                )
                .unwrap_err();
            assert_mentions(&err.to_string(), &["`processes`", "found 0"]);
            Ok(())
        });
    }

    #[test]
    fn legacy_keys_are_accepted_and_reported() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "stefuna.toml",
                "maxtasksperchild = 100\nstart_method = \"spawn\"",
            )?;
            let c = load(&cli(&[]), &[]).unwrap();
            assert_eq!(c.legacy_keys(), ["maxtasksperchild", "start_method"]);
            c.warn_legacy_keys();
            c.warn_legacy_keys();
            assert!(Config::default().legacy_keys().is_empty());
            Ok(())
        });
    }

    #[test]
    fn endpoint_falls_back_to_aws_env_vars() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            assert_eq!(load(&cli(&[]), &[]).unwrap().endpoint_url, None);
            jail.set_env("AWS_ENDPOINT_URL", "http://127.0.0.1:1");
            assert_eq!(
                load(&cli(&[]), &[]).unwrap().endpoint_url.as_deref(),
                Some("http://127.0.0.1:1")
            );
            jail.set_env("AWS_ENDPOINT_URL_SFN", "http://127.0.0.1:2");
            assert_eq!(
                load(&cli(&[]), &[]).unwrap().endpoint_url.as_deref(),
                Some("http://127.0.0.1:2")
            );
            jail.set_env("STEFUNA_ENDPOINT_URL", "http://127.0.0.1:3");
            assert_eq!(
                load(&cli(&[]), &[]).unwrap().endpoint_url.as_deref(),
                Some("http://127.0.0.1:3")
            );
            let c = load(&cli(&["--endpoint-url", "https://states.example"]), &[]).unwrap();
            assert_eq!(c.endpoint_url.as_deref(), Some("https://states.example"));

            jail.clear_env();
            jail.set_env("AWS_ENDPOINT_URL_SFN", "localhost:4566");
            let err = load_err(&cli(&[]), &[]);
            assert_mentions(
                &err,
                &["localhost:4566", "env AWS_ENDPOINT_URL_SFN", "http://"],
            );
            Ok(())
        });
    }

    #[test]
    fn region_comes_from_the_arn_unless_set() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let acts = hello(Some(ARN), None, None);
            let c = load(&cli(&[]), &acts).unwrap();
            assert_eq!(c.region, None);
            assert_eq!(
                c.activity_settings("Hello", &acts[0].1, true)
                    .unwrap()
                    .region,
                "eu-west-1"
            );
            let c = load(&cli(&["--region", "ap-south-1"]), &acts).unwrap();
            assert_eq!(
                c.activity_settings("Hello", &acts[0].1, true)
                    .unwrap()
                    .region,
                "ap-south-1"
            );
            let err = load_err(&cli(&["--region", "Not A Region"]), &acts);
            assert_mentions(&err, &["`region`", "Not A Region", "--region"]);
            Ok(())
        });
    }

    #[test]
    fn string_keys_from_env_stay_strings() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("STEFUNA_NAME", 123);
            assert_eq!(load(&cli(&[]), &[]).unwrap().name, "123");
            Ok(())
        });
    }

    #[test]
    fn embedded_load_reads_file_and_env() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("stefuna.toml", "name = \"Embedded\"")?;
            jail.set_env("STEFUNA_HEALTHCHECK", 0);
            let c = load_embedded(&hello(Some(ARN), None, None)).unwrap();
            assert_eq!((c.name.as_str(), c.healthcheck), ("Embedded", 0));
            Ok(())
        });
    }

    #[test]
    fn hand_built_config_takes_the_arn_from_defaults() {
        let c = Config::default();
        let d = ActivityDefaults::new(Some(ARN.into()), Some(3), None);
        let s = c.activity_settings("Hello", &d, true).unwrap();
        assert_eq!((s.arn.as_str(), s.region.as_str()), (ARN, "eu-west-1"));
        assert_eq!(s.processes, c.processes);
        let s = c.activity_settings("Hello", &d, false).unwrap();
        assert_eq!(s.heartbeat, Some(Duration::from_secs(3)));
        let err = c
            .activity_settings("Hello", &ActivityDefaults::default(), false)
            .unwrap_err();
        assert_mentions(
            &err.to_string(),
            &[
                "no activity ARN for activity `Hello`",
                "activities.hello.activity_arn",
            ],
        );
    }

    #[test]
    fn activity_arns_are_recognised() {
        assert_eq!(activity_arn_region(ARN), Some("eu-west-1"));
        assert_eq!(
            activity_arn_region("arn:aws-cn:states:cn-north-1:123456789012:activity:a"),
            Some("cn-north-1")
        );
        for bad in [
            "",
            "hello",
            "arn:aws:states:us-east-1:123456789012:stateMachine:a",
            "arn:aws:states:us-east-1:123456789012:activity:",
            "arn:aws:states::123456789012:activity:a",
            "arn:aws:lambda:us-east-1:123456789012:activity:a",
            "arn:aws:states:us-east-1:12x:activity:a",
            "arn:aws:states:us-east-1:123456789012:activity:a:b",
        ] {
            assert_eq!(activity_arn_region(bad), None, "{bad}");
        }
    }
}
