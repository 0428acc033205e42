//! Typed reading of a definition's JSON objects, producing [`DefinitionError`]s that name the
//! offending field and its location.

use serde_json::{Map, Value};

use super::DefinitionError;
use super::path::Path;

/// A schema error at `path`.
pub(crate) fn schema(path: impl Into<String>, message: impl Into<String>) -> DefinitionError {
    DefinitionError {
        code: "SCHEMA_VALIDATION_FAILED".into(),
        message: message.into(),
        path: path.into(),
    }
}

/// A definition error with a specific code.
pub(crate) fn error(
    code: &str,
    path: impl Into<String>,
    message: impl Into<String>,
) -> DefinitionError {
    DefinitionError {
        code: code.into(),
        message: message.into(),
        path: path.into(),
    }
}

/// A JSON object being read, with its location.
pub(crate) struct Fields<'a> {
    pub(crate) obj: &'a Map<String, Value>,
    pub(crate) at: String,
}

impl<'a> Fields<'a> {
    /// Reads `v` as an object located at `at`.
    pub(crate) fn new(v: &'a Value, at: impl Into<String>) -> Result<Self, DefinitionError> {
        let at = at.into();
        match v {
            Value::Object(obj) => Ok(Fields { obj, at }),
            other => Err(schema(
                at,
                format!("expected an object, found {}", kind(other)),
            )),
        }
    }

    /// The location of `key` inside this object.
    pub(crate) fn at(&self, key: &str) -> String {
        format!("{}/{key}", self.at)
    }

    /// Rejects keys that are not in `allowed`.
    pub(crate) fn only(&self, allowed: &[&str]) -> Result<(), DefinitionError> {
        for k in self.obj.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(schema(
                    self.at(k),
                    format!(
                        "field '{k}' is not supported here; accepted fields: {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether `key` is present (even as null).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.obj.contains_key(key)
    }

    /// The raw value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key)
    }

    /// An optional string.
    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>, DefinitionError> {
        match self.obj.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(schema(
                self.at(key),
                format!("'{key}' must be a string, found {}", kind(other)),
            )),
        }
    }

    /// A required string.
    pub(crate) fn req_str(&self, key: &str) -> Result<&'a str, DefinitionError> {
        self.str(key)?.ok_or_else(|| {
            schema(
                self.at.clone(),
                format!("these fields are required: [{key}]"),
            )
        })
    }

    /// An optional boolean.
    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, DefinitionError> {
        match self.obj.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(schema(
                self.at(key),
                format!("'{key}' must be a boolean, found {}", kind(other)),
            )),
        }
    }

    /// An optional non-negative integer no lower than `min`.
    pub(crate) fn uint(&self, key: &str, min: u64) -> Result<Option<u64>, DefinitionError> {
        match self.obj.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n >= min => Ok(Some(n)),
                _ => Err(schema(
                    self.at(key),
                    format!("'{key}' must be an integer >= {min}, found {v}"),
                )),
            },
        }
    }

    /// An optional number no lower than `min`.
    pub(crate) fn number(&self, key: &str, min: f64) -> Result<Option<f64>, DefinitionError> {
        match self.obj.get(key) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(n) if n >= min => Ok(Some(n)),
                _ => Err(schema(
                    self.at(key),
                    format!("'{key}' must be a number >= {min}, found {v}"),
                )),
            },
        }
    }

    /// An optional JSONPath (`null` is not accepted); `$$` paths read the context object.
    pub(crate) fn path(&self, key: &str) -> Result<Option<Path>, DefinitionError> {
        self.str(key)?
            .map(|s| {
                Path::parse(s).map_err(|e| {
                    schema(
                        self.at(key),
                        format!("the value for the field '{key}' must be a valid JSONPath: {e}"),
                    )
                })
            })
            .transpose()
    }

    /// An optional reference path (a path to a single node).
    pub(crate) fn reference_path(&self, key: &str) -> Result<Option<Path>, DefinitionError> {
        self.str(key)?
            .map(|s| {
                Path::parse_reference(s).map_err(|e| {
                    schema(
                        self.at(key),
                        format!(
                            "the value for the field '{key}' must be a valid reference path: {e}"
                        ),
                    )
                })
            })
            .transpose()
    }

    /// An optional reference path that can be written to: not into the context object.
    pub(crate) fn writable_path(&self, key: &str) -> Result<Option<Path>, DefinitionError> {
        match self.reference_path(key)? {
            Some(p) if p.is_context() || p.var().is_some() => Err(schema(
                self.at(key),
                format!(
                    "'{key}' must be a path into the state's data ($...); the context object ($$...) and variables ($name) are read-only"
                ),
            )),
            other => Ok(other),
        }
    }
}

/// The JSON kind of a value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
