//! Where a configuration value came from (defaults, attribute, file, environment, flag) and how
//! figment's errors are worded for people: the key, the value found, what was expected, and the
//! source ("env STEFUNA_HEARTBEAT", "--heartbeat", "/path/stefuna.toml").

use figment::error::{Actual, Kind};
use figment::{Figment, Metadata};

use super::layers::{ATTRIBUTE, DEFAULTS, ENVIRONMENT, FLAGS};
use super::{ENV_PREFIX, list};

/// Where configuration values came from, when known.
pub(super) struct Sources<'a>(pub(super) Option<&'a Figment>);

impl Sources<'_> {
    pub(super) fn of(&self, path: &[&str]) -> String {
        let owned: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        self.of_owned(&owned)
    }

    pub(super) fn of_owned(&self, path: &[String]) -> String {
        match self.0 {
            Some(figment) => describe(figment.find_metadata(&path.join(".")), path),
            None => "the configuration".to_owned(),
        }
    }
}

impl Sources<'_> {
    /// The layer a value came from: defaults 0, attribute 1, file 2, environment 3, flags 4.
    pub(super) fn rank(&self, path: &[&str]) -> u8 {
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

pub(super) fn describe_error(figment: &Figment, e: figment::Error) -> String {
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
