//! `server_config`: the server's own keys, typed and checked like every other key, and the
//! user's own keys, handed to the init hook.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The server's own `server_config` keys: name, default, what it means.
const OWN_KEYS: &[(&str, f64, &str)] = &[
    (
        "lost_task_grace",
        5.0,
        "seconds a lost task's async code gets after `Context::cancelled()` fires",
    ),
    (
        "delivery_budget",
        15.0,
        "seconds results get to be delivered after shutdown's grace ran out",
    ),
];

/// The `server_config` table.
///
/// Its own keys, `lost_task_grace` (seconds, default 5) and `delivery_budget` (seconds, default
/// 15), are checked when the configuration loads: a value that is not a non-negative number is
/// refused with the key and its source. Every other key is the user's, read with
/// [`ServerConfig::get`] or [`ServerConfig::user`] (stefuna 1.0.1's `Server.init(server_config)`).
///
/// # Example
/// ```
/// use std::time::Duration;
/// use stefuna_runtime::config::ServerConfig;
///
/// let sc: ServerConfig = serde_json::from_value(serde_json::json!({
///     "lost_task_grace": 2.5,
///     "pool_size": 8,
/// })).unwrap();
/// assert_eq!(sc.lost_task_grace(), Duration::from_millis(2500));
/// assert_eq!(sc.delivery_budget(), Duration::from_secs(15));
/// assert_eq!(sc.get::<u32>("pool_size")?, Some(8));
/// # Ok::<(), stefuna_runtime::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ServerConfig(serde_json::Map<String, serde_json::Value>);

impl ServerConfig {
    /// Seconds a lost task's async code may keep running after its `cancelled()` fired.
    pub fn lost_task_grace(&self) -> Duration {
        self.seconds("lost_task_grace")
    }

    /// How long results may take to be delivered once shutdown's grace has run out.
    pub fn delivery_budget(&self) -> Duration {
        self.seconds("delivery_budget")
    }

    /// Sets one of the server's own keys, in seconds (`lost_task_grace`, `delivery_budget`), or a
    /// user key.
    pub fn set(&mut self, key: &str, value: impl Into<serde_json::Value>) {
        self.0.insert(key.to_owned(), value.into());
    }

    /// The user key `key` decoded into `T`; `None` when absent.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ConfigError> {
        self.0
            .get(key)
            .map(|v| {
                T::deserialize(v).map_err(|e| {
                    ConfigError::new(format!("invalid value for `server_config.{key}`: {e}"))
                })
            })
            .transpose()
    }

    /// Every user key (all but the server's own) decoded into `T`, a struct of your settings.
    pub fn user<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let user: serde_json::Map<_, _> = self
            .0
            .iter()
            .filter(|(k, _)| !OWN_KEYS.iter().any(|(own, ..)| own == k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        T::deserialize(serde_json::Value::Object(user))
            .map_err(|e| ConfigError::new(format!("invalid `server_config`: {e}")))
    }

    /// The whole table.
    pub fn as_map(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }

    fn seconds(&self, key: &str) -> Duration {
        let default = OWN_KEYS
            .iter()
            .find(|(k, ..)| *k == key)
            .map_or(0.0, |(_, d, _)| *d);
        let secs = self.0.get(key).and_then(non_negative).unwrap_or(default);
        Duration::from_secs_f64(secs)
    }

    /// The server's own keys whose values are wrong: (key, found, expected).
    pub(super) fn problems(&self) -> Vec<(&'static str, String, &'static str)> {
        OWN_KEYS
            .iter()
            .filter_map(|(key, _, _)| {
                let value = self.0.get(*key)?;
                non_negative(value).is_none().then(|| {
                    (
                        *key,
                        value.to_string(),
                        "a non-negative number of seconds, such as 5 or 2.5",
                    )
                })
            })
            .collect()
    }
}

fn non_negative(value: &serde_json::Value) -> Option<f64> {
    value
        .as_f64()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
}
