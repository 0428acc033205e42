//! AWS's own wording for the runtime errors of values read from the input: a Wait state's
//! `SecondsPath`/`TimestampPath`, a Map state's `MaxConcurrencyPath`, `ToleratedFailure*Path`
//! and its items. Each text is AWS's, word for word, as its recorded histories show them
//! (LocalStack's snapshots recorded against AWS: `test_wait.snapshot.json`,
//! `test_base_scenarios.snapshot.json`). The interpreter adds the
//! `An error occurred while executing the state 'NAME' (entered at the event id #N).` prefix.

use std::borrow::Cow;

use serde_json::Value;
use time::OffsetDateTime;

use super::ErrorCause;
use super::context::{Ctx, parse_timestamp};
use super::path::Path;

/// `States.Runtime` with `cause`.
fn runtime(cause: String) -> ErrorCause {
    ErrorCause::new("States.Runtime", cause)
}

/// A value as AWS prints it inside these messages: strings bare, anything else as JSON.
fn shown(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

/// The longest wait AWS accepts, in seconds (recorded: a timestamp 24855 days ahead waits,
/// 24856 days fails with `Wait state delay is too long.`; the bound is Java's int).
pub(crate) const MAX_WAIT_SECONDS: i64 = i32::MAX as i64;

/// A wait until `t` that is too long.
pub(crate) fn check_wait(t: OffsetDateTime, now: OffsetDateTime) -> Result<(), ErrorCause> {
    if (t - now).whole_seconds() > MAX_WAIT_SECONDS {
        return Err(runtime("Wait state delay is too long.".to_owned()));
    }
    Ok(())
}

/// A Wait state's `SecondsPath`: a non-negative integer.
pub(crate) fn seconds_path(p: &Path, ctx: &Ctx<'_>, input: &Value) -> Result<u64, ErrorCause> {
    let path = p.text();
    let v = ctx.resolve(p, input).ok_or_else(|| {
        runtime(format!(
            "The SecondsPath parameter does not reference an input value: {path}"
        ))
    })?;
    if let Some(n) = v.as_u64() {
        return Ok(n);
    }
    if v.as_i64().is_some() {
        return Err(runtime(format!(
            "The SecondsPath parameter references a negative value: {path} == {}",
            shown(&v)
        )));
    }
    Err(runtime(format!(
        "The SecondsPath parameter cannot be parsed as a long value: {path} == {}",
        shown(&v)
    )))
}

/// A Wait state's `TimestampPath`: an ISO-8601 timestamp with an offset.
pub(crate) fn timestamp_path(
    p: &Path,
    ctx: &Ctx<'_>,
    input: &Value,
) -> Result<OffsetDateTime, ErrorCause> {
    let path = p.text();
    // Not recorded for TimestampPath; worded as AWS words the same case of SecondsPath.
    let v = ctx.resolve(p, input).ok_or_else(|| {
        runtime(format!(
            "The TimestampPath parameter does not reference an input value: {path}"
        ))
    })?;
    v.as_str().and_then(parse_timestamp).ok_or_else(|| {
        runtime(format!(
            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {path} == {}",
            shown(&v)
        ))
    })
}

/// A value read by `MaxConcurrencyPath` or `ToleratedFailureCountPath`: a non-negative integer.
pub(crate) fn int_path(
    field: &str,
    p: &Path,
    ctx: &Ctx<'_>,
    input: &Value,
) -> Result<i64, ErrorCause> {
    let v = ctx.resolve(p, input).ok_or_else(|| ctx.missing(p, input))?;
    v.as_i64().ok_or_else(|| {
        runtime(format!(
            "The {field} field refers to value \"{}\" which is not a valid integer: {}",
            shown(&v),
            p.text()
        ))
    })
}

/// A value read by `ToleratedFailurePercentagePath`: a number.
pub(crate) fn float_path(
    field: &str,
    p: &Path,
    ctx: &Ctx<'_>,
    input: &Value,
) -> Result<f64, ErrorCause> {
    let v = ctx.resolve(p, input).ok_or_else(|| ctx.missing(p, input))?;
    v.as_f64().ok_or_else(|| {
        runtime(format!(
            "The {field} field refers to value \"{}\" which is not a valid float: {}",
            shown(&v),
            p.text()
        ))
    })
}

/// A resolved `ToleratedFailurePercentage`: between 0 and 100.
pub(crate) fn check_percentage(p: f64) -> Result<f64, ErrorCause> {
    if !(0.0..=100.0).contains(&p) {
        return Err(runtime(
            "ToleratedFailurePercentage must be between 0 and 100.".to_owned(),
        ));
    }
    Ok(p)
}

/// A resolved `ToleratedFailureCount`: not negative.
pub(crate) fn check_count(n: i64) -> Result<u64, ErrorCause> {
    u64::try_from(n).map_err(|_| runtime("ToleratedFailureCount cannot be negative.".to_owned()))
}

/// The items a Map state iterates over must be an array.
pub(crate) fn not_an_array(v: &Value) -> ErrorCause {
    runtime(format!("Map state input must be an array but was: {v}"))
}
