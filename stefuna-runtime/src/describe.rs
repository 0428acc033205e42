//! `--describe`: what a worker binary would run, as JSON, once every configuration layer is
//! applied. Tools (`cargo xtask deploy` of stefuna-xtask) read a worker from its built binary
//! this way, never from its source text.
//!
//! The JSON (one document on stdout, exit 0; a configuration error exits 2 as usual, and
//! nothing starts: no poll, no health port, no AWS call):
//!
//! ```json
//! {
//!   "format": 1,
//!   "worker": {"name": "StefunaWorker", "endpoint_url": null, "region": null},
//!   "activities": [
//!     {"name": "Hello", "arn": "arn:aws:states:us-east-1:123456789012:activity:hello",
//!      "region": "us-east-1", "heartbeat": 120, "processes": 4}
//!   ]
//! }
//! ```
//!
//! - `format` is 1; a change that breaks readers of this shape would raise it. New keys may be
//!   added without raising it, so readers should ignore keys they do not know.
//! - `worker`: the `name` key (base of the worker name), and `endpoint_url` / `region` as
//!   configured (`null` when unset: AWS's endpoint, each activity's ARN region).
//! - `activities`, in the order the binary hosts them: `name` is `Activity::name`, `arn` the ARN
//!   it polls, `region` the region it signs with, `heartbeat` the interval in seconds (`null`:
//!   sends none), `processes` its tasks at once.

use serde::{Deserialize, Serialize};
use stefuna_core::ActivityDefaults;

use crate::config::{Config, ConfigError};

/// The `format` this runtime writes.
pub const FORMAT: u32 = 1;

/// What `BINARY --describe` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Description {
    /// Version of this shape ([`FORMAT`]).
    pub format: u32,
    /// Settings of the whole worker.
    pub worker: WorkerDescription,
    /// Each hosted activity, in order.
    pub activities: Vec<ActivityDescription>,
}

/// The worker-wide part of a [`Description`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkerDescription {
    /// The `name` key: base of the worker name `{name}-{hostname}-{pid}`.
    pub name: String,
    /// The Step Functions endpoint; `None`: AWS's.
    pub endpoint_url: Option<String>,
    /// The `region` key; `None`: each activity's ARN region.
    pub region: Option<String>,
}

/// One hosted activity in a [`Description`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActivityDescription {
    /// `Activity::name`.
    pub name: String,
    /// The activity ARN the worker polls.
    pub arn: String,
    /// The region the worker signs its calls with.
    pub region: String,
    /// Heartbeat interval in seconds; `None` sends no heartbeats.
    pub heartbeat: Option<u64>,
    /// Tasks of this activity run at once.
    pub processes: usize,
}

impl Description {
    /// Describes `config` hosting `activities` (name and attribute defaults, in order).
    ///
    /// # Errors
    /// An activity whose settings are refused (no ARN, not an activity ARN, ...).
    pub fn new(
        config: &Config,
        activities: &[(String, ActivityDefaults)],
    ) -> Result<Description, ConfigError> {
        // The settings `load` resolved, not a second resolution.
        let settings = config.settings_for(activities)?;
        let activities = activities
            .iter()
            .zip(settings)
            .map(|((name, _), s)| ActivityDescription {
                name: name.clone(),
                arn: s.arn,
                region: s.region,
                heartbeat: s.heartbeat.map(|d| d.as_secs()),
                processes: s.processes,
            })
            .collect();
        Ok(Description {
            format: FORMAT,
            worker: WorkerDescription {
                name: config.name.clone(),
                endpoint_url: config.endpoint_url.clone(),
                region: config.region.clone(),
            },
            activities,
        })
    }
}

/// Prints the description of `config` for `--describe`: exit 0, or 2 with the error on stderr.
pub(crate) fn print(
    config: &Config,
    activities: &[(String, ActivityDefaults)],
) -> std::process::ExitCode {
    match Description::new(config, activities) {
        Ok(d) => {
            let json = serde_json::to_string_pretty(&d).expect("a description serializes");
            println!("{json}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(ConfigError::EXIT_CODE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:states:eu-west-1:123456789012:activity:hello";

    #[test]
    fn one_activity_takes_the_top_level_keys() {
        let config = Config {
            activity_arn: Some(ARN.into()),
            heartbeat: 30,
            processes: 3,
            ..Config::default()
        };
        let d =
            Description::new(&config, &[("Hello".into(), ActivityDefaults::default())]).unwrap();
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            serde_json::json!({
                "format": 1,
                "worker": {"name": "StefunaWorker", "endpoint_url": null, "region": null},
                "activities": [{"name": "Hello", "arn": ARN, "region": "eu-west-1",
                                "heartbeat": 30, "processes": 3}]
            })
        );
        let back: Description = serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn a_missing_arn_is_the_config_error() {
        let err = Description::new(
            &Config::default(),
            &[("Hello".into(), ActivityDefaults::default())],
        )
        .unwrap_err();
        assert!(err.to_string().contains("no activity ARN"), "{err}");
    }
}
