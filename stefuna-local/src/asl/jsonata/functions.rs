//! The JSONata functions Step Functions adds (`$partition`, `$range`, `$hash`, `$random` with a
//! seed, `$uuid`, `$parse`) and the one it takes away (`$eval`).
//!
//! AWS: <https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html>
//! ("JSONata functions provided by Step Functions").

use jsonata_core::evaluator::{Evaluator, EvaluatorError};
use jsonata_core::value::JValue;

type Result = std::result::Result<JValue, EvaluatorError>;

fn err(msg: impl Into<String>) -> EvaluatorError {
    EvaluatorError::EvaluationError(msg.into())
}

fn int(args: &[JValue], i: usize, func: &str) -> std::result::Result<i64, EvaluatorError> {
    match args.get(i).and_then(JValue::as_f64) {
        Some(n) if n.fract() == 0.0 => Ok(n as i64),
        _ => Err(err(format!(
            "${func}: argument {} must be an integer",
            i + 1
        ))),
    }
}

fn string<'a>(
    args: &'a [JValue],
    i: usize,
    func: &str,
) -> std::result::Result<&'a str, EvaluatorError> {
    args.get(i)
        .and_then(JValue::as_str)
        .ok_or_else(|| err(format!("${func}: argument {} must be a string", i + 1)))
}

/// `$partition(array, size)`: the array in chunks of `size` (the last one may be shorter).
fn partition(args: &[JValue]) -> Result {
    let items = args
        .first()
        .and_then(JValue::as_array)
        .ok_or_else(|| err("$partition: argument 1 must be an array"))?;
    let size = int(args, 1, "partition")?;
    if size < 1 {
        return Err(err("$partition: the chunk size must be a positive integer"));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(JValue::array(
        items
            .chunks(size)
            .map(|c| JValue::array(c.to_vec()))
            .collect(),
    ))
}

/// `$range(start, end, step)`: from `start` to `end` inclusive, by `step` (1 when left out).
fn range(args: &[JValue]) -> Result {
    let step = match args.get(2) {
        None | Some(JValue::Undefined) => 1,
        Some(_) => int(args, 2, "range")?,
    };
    let (start, end) = (int(args, 0, "range")?, int(args, 1, "range")?);
    if step == 0 {
        return Err(err("$range: the step must not be 0"));
    }
    let mut out = Vec::new();
    let mut n = start;
    while (step > 0 && n <= end) || (step < 0 && n >= end) {
        if out.len() == 1000 {
            return Err(err("$range: the range would have more than 1000 items"));
        }
        out.push(JValue::from_f64(n as f64));
        n += step;
    }
    Ok(JValue::array(out))
}

/// `$hash(data, algorithm)`: the hex digest (MD5, SHA-1, SHA-256, SHA-384, SHA-512).
fn hash(args: &[JValue]) -> Result {
    let data = string(args, 0, "hash")?;
    let algorithm = string(args, 1, "hash")?;
    crate::asl::hash::hex_digest(algorithm, data.as_bytes())
        .map(JValue::from)
        .ok_or_else(|| {
            err(format!(
                "$hash: unknown algorithm '{algorithm}'; accepted: MD5, SHA-1, SHA-256, SHA-384, SHA-512"
            ))
        })
}

/// `$random()` or `$random(seed)`: a number in [0, 1); the same seed gives the same number.
fn random(args: &[JValue]) -> Result {
    let n = match args.first() {
        None | Some(JValue::Undefined) => fastrand::f64(),
        Some(_) => fastrand::Rng::with_seed(int(args, 0, "random")? as u64).f64(),
    };
    Ok(JValue::from_f64(n))
}

/// `$uuid()`: a random version 4 UUID.
fn uuid(_: &[JValue]) -> Result {
    Ok(JValue::from(crate::names::uuid_v4().to_string()))
}

/// `$parse(text)`: the JSON value the string holds.
fn parse(args: &[JValue]) -> Result {
    let text = string(args, 0, "parse")?;
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| err(format!("$parse: not valid JSON: {e}")))?;
    Ok(JValue::from(v))
}

/// Registers the functions on an evaluator.
pub(super) fn register(ev: &mut Evaluator) {
    // The names do not collide with JSONata's built-ins, and `random`/`eval` are impure ones
    // the crate lets a host replace: these calls cannot fail.
    let _ = ev.register_fn("partition", partition);
    let _ = ev.register_fn("range", range);
    let _ = ev.register_fn("hash", hash);
    let _ = ev.register_fn("uuid", uuid);
    let _ = ev.register_fn("parse", parse);
    let _ = ev.register_fn_override("random", random);
    let _ = ev.register_fn_override("eval", |_: &[JValue]| -> Result {
        Err(err("$eval is not supported by Step Functions; use $parse"))
    });
}
