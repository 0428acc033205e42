//! The figment layers: built-in defaults, the activities' attribute arguments, the config file,
//! the `STEFUNA_*` environment and the command-line flags, each renaming the `concurrency` alias
//! and lowercasing activity names so layers merge key by key.

use std::path::PathBuf;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};
use stefuna_core::ActivityDefaults;

use super::sources::Sources;
use super::{Config, ConfigError, DEFAULT_FILE, ENV_PREFIX};
use crate::cli::Cli;

// Names of the layers; `sources::describe` turns them back into "env X", "--flag" and so on.
pub(super) const DEFAULTS: &str = "built-in defaults";
pub(super) const ATTRIBUTE: &str = "#[stefuna::activity]";
pub(super) const ENVIRONMENT: &str = "environment";
pub(super) const FLAGS: &str = "command-line flags";

/// Top-level keys holding strings: an environment value such as `STEFUNA_NAME=123` stays a string.
const STRING_KEYS: &[&str] = &[
    "name",
    "activity_arn",
    "loglevel",
    "log_format",
    "healthcheck_host",
    "endpoint_url",
    "region",
    "isolation",
];

impl Config {
    /// A per-activity value yields to a top-level value from a later layer: `--heartbeat 5` beats
    /// both `#[stefuna::activity(heartbeat = 120)]` and `[activities.hello] heartbeat` in a file,
    /// while `[activities.hello]` in a file still beats a top-level key in the same file.
    pub(super) fn apply_precedence(&mut self, src: &Sources<'_>) {
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
}

/// `--config PATH` (which must exist), else `./stefuna.toml` when present.
pub(super) fn config_file(cli: &Cli) -> Result<Option<PathBuf>, ConfigError> {
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
pub(super) fn attribute_defaults(
    activities: &[(String, ActivityDefaults)],
) -> Serialized<serde_json::Value> {
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
    let mut value = match activities {
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
    // One process per binary: any activity asking for process isolation gets it for all.
    let modes: Vec<&str> = activities
        .iter()
        .filter_map(|(_, d)| d.isolation.as_deref())
        .collect();
    if let Some(i) = modes.iter().find(|m| **m == "process").or(modes.first()) {
        value.insert("isolation".into(), (*i).into());
    }
    Serialized::defaults(serde_json::Value::Object(value))
}

/// One configuration layer: renames the `concurrency` alias to `processes` and lowercases
/// activity names, so layers merge key by key; optionally renames the provider.
pub(super) struct Layer<P> {
    inner: P,
    name: Option<&'static str>,
    env: bool,
}

impl<P: Provider> Layer<P> {
    pub(super) fn named(inner: P, name: &'static str) -> Self {
        Layer {
            inner,
            name: Some(name),
            env: false,
        }
    }
}

impl Layer<figment::providers::Data<Toml>> {
    pub(super) fn file(path: PathBuf) -> Self {
        Layer {
            inner: Toml::file_exact(path),
            name: None,
            env: false,
        }
    }
}

impl Layer<Env> {
    pub(super) fn env() -> Self {
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
