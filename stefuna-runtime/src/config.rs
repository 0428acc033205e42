//! Layered configuration: defaults < activity attributes < `stefuna.toml` / `--config` <
//! `STEFUNA_*` environment < CLI flags, with errors that name the key, the value and its source.
//!
//! (Skeleton: the field set below is the contract used by the rest of the runtime.)

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

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
