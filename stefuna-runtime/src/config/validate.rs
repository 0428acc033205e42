//! Checks of single keys, after the layers are merged: each bad value is reported with the key,
//! the value and its source, all at once. Also where stefuna 1.0.1's spellings become stefuna's
//! (`loglevel = "warning"`, `processes = 0`).

use super::sources::Sources;
use super::{Config, ConfigError, cpu_count};

/// Levels `loglevel` accepts, with stefuna 1.0.1's (Python's) names mapped to tracing's.
const LEVELS: &[(&str, &str)] = &[
    ("trace", "trace"),
    ("debug", "debug"),
    ("info", "info"),
    ("warn", "warn"),
    ("warning", "warn"),
    ("error", "error"),
    ("critical", "error"),
    ("fatal", "error"),
    ("off", "off"),
];

const LOGLEVEL_EXPECTED: &str = "a level (`trace`, `debug`, `info`, `warn` or `warning`, `error`, \
     `critical` or `fatal` (both mean `error`), `off`) or tracing directives written \
     `target=level`, such as `info,stefuna=debug`";

/// `loglevel` in tracing's words: every directive is a level or `target=level`, and stefuna
/// 1.0.1's `warning`, `critical` and `fatal` become `warn`, `error` and `error`. A bare word that
/// is not a level is refused: tracing would read it as a target and silence everything else.
pub(crate) fn normalize_loglevel(loglevel: &str) -> Result<String, String> {
    let level = |word: &str| {
        LEVELS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(word.trim()))
            .map(|(_, level)| *level)
    };
    let mut out = Vec::new();
    for directive in loglevel.split(',').map(str::trim) {
        if directive.is_empty() {
            continue;
        }
        match directive.rsplit_once('=') {
            Some((target, word)) => match level(word) {
                Some(l) if !target.trim().is_empty() => out.push(format!("{}={l}", target.trim())),
                _ => return Err(format!("`{directive}` is not `target=level`")),
            },
            None => match level(directive) {
                Some(l) => out.push(l.to_owned()),
                None => return Err(format!("`{directive}` is not a level")),
            },
        }
    }
    if out.is_empty() {
        return Err("it is empty".to_owned());
    }
    let joined = out.join(",");
    tracing_subscriber::EnvFilter::try_new(&joined).map_err(|e| e.to_string())?;
    Ok(joined)
}

impl Config {
    /// `endpoint_url` falls back to `AWS_ENDPOINT_URL_SFN`, then `AWS_ENDPOINT_URL`.
    pub(super) fn endpoint_from_env(&mut self) -> Result<(), ConfigError> {
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

    /// Checks every key and rewrites stefuna 1.0.1's spellings (`processes = 0`, `loglevel =
    /// "warning"`) into stefuna's.
    pub(super) fn validate(&mut self, src: &Sources<'_>) -> Result<(), ConfigError> {
        let mut errors = Vec::new();
        let mut bad = |key: &str, found: String, expected: &str| {
            let path: Vec<&str> = key.split('.').collect();
            errors.push(format!(
                "invalid value for `{key}`: found {found} (from {}); expected {expected}",
                src.of(&path)
            ));
        };
        if self.name.trim().is_empty() {
            bad(
                "name",
                "an empty string".into(),
                "a worker name such as `Resizer`",
            );
        }
        // stefuna 1.0.1: "If 0, cpu_count is used".
        if self.processes == 0 {
            self.processes = cpu_count();
        }
        for entry in self.activities.values_mut() {
            if entry.processes == Some(0) {
                entry.processes = Some(cpu_count());
            }
        }
        if self.pollers == Some(0) {
            bad("pollers", "0".into(), "at least 1");
        }
        match normalize_loglevel(&self.loglevel) {
            Ok(level) => self.loglevel = level,
            Err(why) => bad(
                "loglevel",
                format!("{:?} ({why})", self.loglevel),
                LOGLEVEL_EXPECTED,
            ),
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
        if !self.worker_config.is_object() {
            bad("worker_config", self.worker_config.to_string(), "a table");
        }
        for (key, found, expected) in self.server_config.problems() {
            bad(&format!("server_config.{key}"), found, expected);
        }
        ConfigError::join(errors)
    }
}

pub(super) fn is_region(region: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::normalize_loglevel;

    #[test]
    fn stefuna_1_0_1_levels_become_tracing_levels() {
        assert_eq!(normalize_loglevel("warning").unwrap(), "warn");
        assert_eq!(normalize_loglevel("CRITICAL").unwrap(), "error");
        assert_eq!(normalize_loglevel("fatal").unwrap(), "error");
        assert_eq!(normalize_loglevel("Info").unwrap(), "info");
        assert_eq!(
            normalize_loglevel("warning,stefuna=debug,my_worker=critical").unwrap(),
            "warn,stefuna=debug,my_worker=error"
        );
    }

    #[test]
    fn a_bare_word_that_is_no_level_is_refused() {
        assert!(
            normalize_loglevel("stefuna")
                .unwrap_err()
                .contains("not a level")
        );
        assert!(normalize_loglevel("verbose").is_err());
        assert!(normalize_loglevel("stefuna=loud").is_err());
        assert!(normalize_loglevel("").is_err());
    }
}
