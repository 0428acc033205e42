//! Each hosted activity's settings (ARN, region, processes, heartbeat), resolved once from the
//! merged configuration and the activities' attribute arguments.

use std::time::Duration;

use stefuna_core::ActivityDefaults;

use super::layers::ATTRIBUTE;
use super::sources::Sources;
use super::validate::is_region;
use super::{Config, ConfigError, cpu_count, list};

/// Settings for one hosted activity, resolved from the config.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
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

impl Config {
    /// For a single-activity server `single = true`: top-level keys apply; otherwise
    /// `activities.<name>` then the attribute defaults. Errors: no ARN, ARN not an activity ARN
    /// (`arn:aws:states:REGION:ACCOUNT:activity:NAME`), processes 0.
    ///
    /// Either way an `[activities.<name>]` entry (name matched without regard to case) wins over
    /// the top-level keys, and with several activities the top-level `processes` and `heartbeat`
    /// apply to those that set none. [`load`](super::load) has already put the attribute defaults in and
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
    /// let mut config = Config::default();
    /// config.heartbeat = 30;
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

    /// The settings of every activity in `activities`, in order: the ones [`super::load`]
    /// resolved when they are for these activities, else resolved now.
    pub(crate) fn settings_for(
        &self,
        activities: &[(String, ActivityDefaults)],
    ) -> Result<Vec<ActivitySettings>, ConfigError> {
        if let Some(resolved) = &self.resolved
            && resolved.len() == activities.len()
            && resolved
                .iter()
                .zip(activities)
                .all(|((r, _), (n, _))| *r == n.to_lowercase())
        {
            return Ok(resolved.iter().map(|(_, s)| s.clone()).collect());
        }
        let single = activities.len() == 1;
        activities
            .iter()
            .map(|(name, defaults)| self.activity_settings(name, defaults, single))
            .collect()
    }

    /// Resolves every activity again and keeps the result, after a change such as local mode
    /// filling in ARNs.
    #[cfg(feature = "local")]
    pub(crate) fn resolve_again(
        &mut self,
        activities: &[(String, ActivityDefaults)],
    ) -> Result<(), ConfigError> {
        self.resolved = None;
        let settings = self.settings_for(activities)?;
        self.resolved = Some(
            activities
                .iter()
                .map(|(name, _)| name.to_lowercase())
                .zip(settings)
                .collect(),
        );
        Ok(())
    }

    pub(super) fn check_activities(
        &mut self,
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
        let mut resolved = Vec::with_capacity(activities.len());
        for (name, defaults) in activities {
            match self.resolve(name, defaults, single, src) {
                Ok(settings) => resolved.push((name.to_lowercase(), settings)),
                Err(e) if !(local && e.missing_arn) => errors.push(e.message),
                Err(_) => {}
            }
        }
        ConfigError::join(errors)?;
        self.resolved = (resolved.len() == activities.len()).then_some(resolved);
        Ok(())
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
        // stefuna 1.0.1: "If 0, cpu_count is used" (a hand-built config may still hold 0).
        let _ = processes_src;
        let processes = if processes == 0 {
            cpu_count()
        } else {
            processes
        };
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
