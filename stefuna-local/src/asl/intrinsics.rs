//! Intrinsic functions (`States.Format('Hello {}', $.name)` and friends), parsed once into a
//! call tree. Bad arguments at run time fail with `States.IntrinsicFailure`.

use serde_json::{Number, Value};

use super::ErrorCause;
use super::context::Ctx;
use super::path::Path;

const FAILURE: &str = "States.IntrinsicFailure";

/// The intrinsic functions stefuna-local knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
    Hash,
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "States.Format" => Func::Format,
            "States.StringToJson" => Func::StringToJson,
            "States.JsonToString" => Func::JsonToString,
            "States.Array" => Func::Array,
            "States.ArrayPartition" => Func::ArrayPartition,
            "States.ArrayContains" => Func::ArrayContains,
            "States.ArrayRange" => Func::ArrayRange,
            "States.ArrayGetItem" => Func::ArrayGetItem,
            "States.ArrayLength" => Func::ArrayLength,
            "States.ArrayUnique" => Func::ArrayUnique,
            "States.Base64Encode" => Func::Base64Encode,
            "States.Base64Decode" => Func::Base64Decode,
            "States.JsonMerge" => Func::JsonMerge,
            "States.MathRandom" => Func::MathRandom,
            "States.MathAdd" => Func::MathAdd,
            "States.StringSplit" => Func::StringSplit,
            "States.UUID" => Func::Uuid,
            "States.Hash" => Func::Hash,
            _ => return None,
        })
    }

    /// Accepted argument counts (min, max).
    fn arity(self) -> (usize, usize) {
        match self {
            Func::Format => (1, usize::MAX),
            Func::Array => (0, usize::MAX),
            Func::Uuid => (0, 0),
            Func::StringToJson
            | Func::JsonToString
            | Func::ArrayLength
            | Func::ArrayUnique
            | Func::Base64Encode
            | Func::Base64Decode => (1, 1),
            Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayGetItem
            | Func::MathAdd
            | Func::StringSplit
            | Func::Hash => (2, 2),
            Func::ArrayRange | Func::JsonMerge => (3, 3),
            Func::MathRandom => (2, 3),
        }
    }
}

/// One argument of a call.
#[derive(Clone, Debug)]
enum Arg {
    /// A string literal: its value and its raw text (escapes kept, for `States.Format`).
    Str {
        value: String,
        raw: String,
    },
    Lit(Value),
    Path(Path),
    Call(Box<Call>),
}

/// A parsed intrinsic function call.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    name: String,
    func: Func,
    args: Vec<Arg>,
}

/// Whether a string looks like an intrinsic call (so `.$` values are parsed as one).
pub(crate) fn looks_like_call(s: &str) -> bool {
    s.trim_start().starts_with("States.")
}

/// Parses an intrinsic function call.
pub(crate) fn parse(text: &str) -> Result<Call, String> {
    let mut p = Parser { s: text, i: 0 };
    let call = p.call()?;
    p.ws();
    if p.i != text.len() {
        return Err(format!(
            "unexpected text after the call: '{}'",
            &text[p.i..]
        ));
    }
    Ok(call)
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn call(&mut self) -> Result<Call, String> {
        self.ws();
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.')
        {
            self.i += 1;
        }
        let name = &self.s[start..self.i];
        let func = match Func::from_name(name) {
            Some(f) => f,
            None => return Err(format!("unknown intrinsic function '{name}'")),
        };
        self.ws();
        if self.peek() != Some(b'(') {
            return Err(format!("expected '(' after {name}"));
        }
        self.i += 1;
        let mut args = Vec::new();
        self.ws();
        if self.peek() == Some(b')') {
            self.i += 1;
        } else {
            loop {
                args.push(self.arg()?);
                self.ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b')') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(format!("expected ',' or ')' in the arguments of {name}")),
                }
            }
        }
        let (min, max) = func.arity();
        if args.len() < min || args.len() > max {
            let expected = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(format!(
                "{name} takes {expected} argument(s), found {}",
                args.len()
            ));
        }
        check_literals(name, func, &args)?;
        Ok(Call {
            name: name.to_owned(),
            func,
            args,
        })
    }

    fn arg(&mut self) -> Result<Arg, String> {
        self.ws();
        let rest = &self.s[self.i..];
        match self.peek() {
            None => Err("missing argument".into()),
            Some(b'\'') => self.string(),
            Some(b'$') => {
                let start = self.i;
                let mut depth = 0usize;
                let mut quote: Option<u8> = None;
                while let Some(c) = self.peek() {
                    match (quote, c) {
                        (Some(q), c) if c == q => quote = None,
                        (Some(_), b'\\') => self.i += 1,
                        (Some(_), _) => {}
                        (None, b'\'' | b'"') => quote = Some(c),
                        (None, b'[') => depth += 1,
                        (None, b']') => depth = depth.saturating_sub(1),
                        (None, b',' | b')') if depth == 0 => break,
                        _ => {}
                    }
                    self.i += 1;
                }
                let text = self.s[start..self.i.min(self.s.len())].trim_end();
                Path::parse(text).map(Arg::Path)
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                while self.peek().is_some_and(|c| {
                    c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E')
                }) {
                    self.i += 1;
                }
                let text = &self.s[start..self.i];
                let n: Number =
                    serde_json::from_str(text).map_err(|_| format!("invalid number '{text}'"))?;
                Ok(Arg::Lit(Value::Number(n)))
            }
            _ if rest.starts_with("true") => {
                self.i += 4;
                Ok(Arg::Lit(Value::Bool(true)))
            }
            _ if rest.starts_with("false") => {
                self.i += 5;
                Ok(Arg::Lit(Value::Bool(false)))
            }
            _ if rest.starts_with("null") => {
                self.i += 4;
                Ok(Arg::Lit(Value::Null))
            }
            _ if rest.starts_with("States.") => Ok(Arg::Call(Box::new(self.call()?))),
            _ => Err(format!("invalid argument starting at '{rest}'")),
        }
    }

    fn string(&mut self) -> Result<Arg, String> {
        self.i += 1;
        let start = self.i;
        let mut value = String::new();
        loop {
            let Some(c) = self.s[self.i..].chars().next() else {
                return Err("unterminated string literal".into());
            };
            self.i += c.len_utf8();
            match c {
                '\'' => break,
                '\\' => {
                    let Some(e) = self.s[self.i..].chars().next() else {
                        return Err("unterminated string literal".into());
                    };
                    self.i += e.len_utf8();
                    value.push(e);
                }
                c => value.push(c),
            }
        }
        let raw = self.s[start..self.i - 1].to_owned();
        Ok(Arg::Str { value, raw })
    }
}

/// What a literal argument must be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Any,
    Str,
    Int,
    Array,
    False,
}

/// Refuses literal arguments of the wrong kind when the definition is parsed, as AWS does
/// (paths and nested calls are checked when they run).
fn check_literals(name: &str, func: Func, args: &[Arg]) -> Result<(), String> {
    use Want::*;
    let wants: &[Want] = match func {
        Func::Format => &[Str],
        Func::StringToJson | Func::Base64Encode | Func::Base64Decode => &[Str],
        Func::StringSplit | Func::Hash => &[Str, Str],
        Func::ArrayPartition => &[Array, Int],
        Func::ArrayContains | Func::ArrayLength | Func::ArrayUnique => &[Array],
        Func::ArrayGetItem => &[Array, Int],
        Func::ArrayRange => &[Int, Int, Int],
        Func::MathAdd => &[Int, Int],
        Func::MathRandom => &[Int, Int, Int],
        Func::JsonMerge => &[Any, Any, False],
        Func::JsonToString | Func::Array | Func::Uuid => &[],
    };
    for (i, (arg, want)) in args.iter().zip(wants).enumerate() {
        let ok = match (arg, want) {
            (Arg::Path(_) | Arg::Call(_), _) | (_, Any) => true,
            (Arg::Str { .. }, Str) => true,
            (Arg::Lit(v), Int) => v.as_i64().is_some(),
            (Arg::Lit(Value::Bool(false)), False) => true,
            _ => false,
        };
        if !ok {
            let what = match want {
                Str => "a string",
                Int => "an integer",
                Array => "an array (a path or a call)",
                False => "false (only shallow merges are supported)",
                Any => "any value",
            };
            return Err(format!("argument {} of {name} must be {what}", i + 1));
        }
    }
    if func == Func::Hash
        && let Some(Arg::Str { value, .. }) = args.get(1)
        && !["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"].contains(&value.as_str())
    {
        return Err(format!(
            "unknown hash algorithm '{value}'; accepted: MD5, SHA-1, SHA-256, SHA-384, SHA-512"
        ));
    }
    Ok(())
}

fn fail(call: &Call, msg: impl std::fmt::Display) -> ErrorCause {
    ErrorCause::new(
        FAILURE,
        format!("Invalid arguments in {}: {msg}", call.name),
    )
}

fn as_i64(call: &Call, v: &Value) -> Result<i64, ErrorCause> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
        .ok_or_else(|| fail(call, format!("expected an integer, found {v}")))
}

/// An integer, or a number rounded half up (toward positive infinity), as Java's
/// `Math.round` rounds.
fn as_rounded(call: &Call, v: &Value) -> Result<i64, ErrorCause> {
    if let Some(i) = v.as_i64() {
        return Ok(i);
    }
    v.as_f64()
        .map(|f| (f + 0.5).floor())
        .filter(|f| f.is_finite() && f.abs() < 9.2e18)
        .map(|f| f as i64)
        .ok_or_else(|| fail(call, format!("expected an integer, found {v}")))
}

fn as_str<'v>(call: &Call, v: &'v Value) -> Result<&'v str, ErrorCause> {
    v.as_str()
        .ok_or_else(|| fail(call, format!("expected a string, found {v}")))
}

fn as_array<'v>(call: &Call, v: &'v Value) -> Result<&'v Vec<Value>, ErrorCause> {
    v.as_array()
        .ok_or_else(|| fail(call, format!("expected an array, found {v}")))
}

impl Call {
    /// Evaluates the call against the state's input and context.
    pub(crate) fn eval(&self, input: &Value, ctx: &Ctx<'_>) -> Result<Value, ErrorCause> {
        let mut vals = Vec::with_capacity(self.args.len());
        for arg in &self.args {
            vals.push(match arg {
                Arg::Str { value, .. } => Value::String(value.clone()),
                Arg::Lit(v) => v.clone(),
                Arg::Path(p) => ctx
                    .resolve(p, input)
                    .ok_or_else(|| ctx.missing(p, input))?
                    .into_owned(),
                Arg::Call(c) => c.eval(input, ctx)?,
            });
        }
        self.apply(vals)
    }

    fn apply(&self, vals: Vec<Value>) -> Result<Value, ErrorCause> {
        Ok(match self.func {
            Func::Format => {
                let template = match &self.args[0] {
                    Arg::Str { raw, .. } => raw.clone(),
                    _ => escape_braces(as_str(self, &vals[0])?),
                };
                Value::String(format(self, &template, &vals[1..])?)
            }
            Func::StringToJson => {
                let text = as_str(self, &vals[0])?.trim();
                // Recorded on AWS: an empty or blank string gives null, and `-0` gives 0 (a
                // Java integer has no negative zero).
                match text {
                    "" => Value::Null,
                    "-0" => Value::from(0),
                    _ => serde_json::from_str(text)
                        .map_err(|e| fail(self, format!("the string is not valid JSON: {e}")))?,
                }
            }
            Func::JsonToString => Value::String(vals[0].to_string()),
            Func::Array => Value::Array(vals),
            Func::ArrayPartition => {
                let arr = as_array(self, &vals[0])?;
                let n = as_i64(self, &vals[1])?;
                if n <= 0 {
                    return Err(fail(self, "the chunk size must be a positive integer"));
                }
                Value::Array(
                    arr.chunks(n as usize)
                        .map(|c| Value::Array(c.to_vec()))
                        .collect(),
                )
            }
            Func::ArrayContains => Value::Bool(as_array(self, &vals[0])?.contains(&vals[1])),
            Func::ArrayRange => {
                let (start, end, step) = (
                    as_i64(self, &vals[0])?,
                    as_i64(self, &vals[1])?,
                    as_i64(self, &vals[2])?,
                );
                if step == 0 {
                    return Err(fail(self, "the step must not be 0"));
                }
                let mut out = Vec::new();
                let mut x = start;
                while (step > 0 && x <= end) || (step < 0 && x >= end) {
                    if out.len() == 1000 {
                        return Err(fail(self, "the range has more than 1000 items"));
                    }
                    out.push(Value::from(x));
                    x += step;
                }
                Value::Array(out)
            }
            Func::ArrayGetItem => {
                let arr = as_array(self, &vals[0])?;
                let i = as_i64(self, &vals[1])?;
                usize::try_from(i)
                    .ok()
                    .and_then(|i| arr.get(i))
                    .cloned()
                    .ok_or_else(|| fail(self, format!("index {i} is out of bounds")))?
            }
            Func::ArrayLength => Value::from(as_array(self, &vals[0])?.len()),
            Func::ArrayUnique => {
                let mut out: Vec<Value> = Vec::new();
                for v in as_array(self, &vals[0])? {
                    if !out.contains(v) {
                        out.push(v.clone());
                    }
                }
                Value::Array(out)
            }
            Func::Base64Encode => Value::String(base64_encode(as_str(self, &vals[0])?.as_bytes())),
            Func::Base64Decode => {
                let bytes = base64_decode(as_str(self, &vals[0])?)
                    .ok_or_else(|| fail(self, "the string is not valid base64"))?;
                Value::String(
                    String::from_utf8(bytes)
                        .map_err(|_| fail(self, "the decoded bytes are not UTF-8"))?,
                )
            }
            Func::JsonMerge => {
                if vals[2] != Value::Bool(false) {
                    return Err(fail(self, "only shallow merges (false) are supported"));
                }
                let (Value::Object(a), Value::Object(b)) = (&vals[0], &vals[1]) else {
                    return Err(fail(self, "both values to merge must be objects"));
                };
                let mut out = a.clone();
                out.extend(b.iter().map(|(k, v)| (k.clone(), v.clone())));
                Value::Object(out)
            }
            Func::MathRandom => {
                let (start, end) = (as_i64(self, &vals[0])?, as_i64(self, &vals[1])?);
                if start >= end {
                    return Err(fail(self, "the start must be less than the end"));
                }
                let rng = match vals.get(2) {
                    Some(seed) => fastrand::Rng::with_seed(as_i64(self, seed)? as u64),
                    None => fastrand::Rng::new(),
                };
                let mut rng = rng;
                Value::from(rng.i64(start..end))
            }
            Func::MathAdd => {
                // AWS rounds each argument half up, as Java's Math.round does, then adds
                // (recorded: `1.49 + 1.5` gives 3, `-1.5 + -1.51` gives -3).
                let (a, b) = (as_rounded(self, &vals[0])?, as_rounded(self, &vals[1])?);
                Value::from(
                    a.checked_add(b)
                        .ok_or_else(|| fail(self, "the sum overflows"))?,
                )
            }
            Func::StringSplit => {
                let s = as_str(self, &vals[0])?;
                let delims: Vec<char> = as_str(self, &vals[1])?.chars().collect();
                Value::Array(
                    s.split(|c| delims.contains(&c))
                        .filter(|p| !p.is_empty())
                        .map(|p| Value::String(p.to_owned()))
                        .collect(),
                )
            }
            Func::Uuid => Value::String(uuid::Uuid::new_v4().to_string()),
            Func::Hash => {
                let data = as_str(self, &vals[0])?;
                if data.chars().count() > 10_000 {
                    return Err(fail(
                        self,
                        "the data to hash is longer than 10000 characters",
                    ));
                }
                let algorithm = as_str(self, &vals[1])?;
                Value::String(super::hash::hex_digest(algorithm, data.as_bytes()).ok_or_else(
                    || {
                        fail(
                            self,
                            format!("unknown algorithm '{algorithm}'; accepted: MD5, SHA-1, SHA-256, SHA-384, SHA-512"),
                        )
                    },
                )?)
            }
        })
    }
}

fn escape_braces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '{' | '}' | '\\' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Fills `{}` placeholders of a raw (escapes kept) template.
fn format(call: &Call, raw: &str, args: &[Value]) -> Result<String, ErrorCause> {
    let mut out = String::with_capacity(raw.len());
    let mut next = 0;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                let arg = args.get(next).ok_or_else(|| {
                    fail(
                        call,
                        format!(
                            "the template has more placeholders than the {} argument(s)",
                            args.len()
                        ),
                    )
                })?;
                java_text(arg, &mut out);
                next += 1;
            }
            c => out.push(c),
        }
    }
    if next != args.len() {
        return Err(fail(
            call,
            format!(
                "the template has {next} placeholder(s) but {} argument(s) were given",
                args.len()
            ),
        ));
    }
    Ok(out)
}

/// Writes a value the way AWS's `States.Format` prints it, Java's `toString` of the parsed
/// JSON: strings bare, objects as `{k=v, k2=v2}`, arrays as `[a, b]` (recorded on AWS:
/// `{"Arg1": 1, "Arg2": []}` prints as `{Arg1=1, Arg2=[]}`).
fn java_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                java_text(item, out);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            out.push('{');
            for (i, (k, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                java_text(item, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Standard alphabet, padding written on encode and optional on decode (as the hand-written
/// decoder this replaced accepted).
const B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

fn base64_encode(bytes: &[u8]) -> String {
    base64::Engine::encode(&B64, bytes)
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    base64::Engine::decode(&B64, s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asl::ExecutionInfo;
    use crate::asl::context::ExecCtx;
    use serde_json::json;
    use time::OffsetDateTime;

    fn eval(expr: &str, input: Value) -> Result<Value, ErrorCause> {
        let exec = ExecCtx::new(
            ExecutionInfo {
                id: "arn:exec".into(),
                name: "e".into(),
                start_time: OffsetDateTime::UNIX_EPOCH,
                role_arn: String::new(),
                state_machine_id: String::new(),
                state_machine_name: String::new(),
            },
            Value::Null,
        );
        let ctx = Ctx::new(&exec, "S", OffsetDateTime::UNIX_EPOCH);
        parse(expr).expect("parses").eval(&input, &ctx)
    }

    #[test]
    fn format_fills_placeholders_and_honours_escapes() {
        let v = eval(
            "States.Format('Hello {} \\{\\} {}', $.name, 3)",
            json!({"name": "Ann"}),
        );
        assert_eq!(v.unwrap(), json!("Hello Ann {} 3"));
        let v = eval("States.Format('it\\'s {}', true)", json!({}));
        assert_eq!(v.unwrap(), json!("it's true"));
        let err = eval("States.Format('{} {}', 1)", json!({})).unwrap_err();
        assert_eq!(err.error, "States.IntrinsicFailure");
    }

    #[test]
    fn json_conversions_round_trip() {
        assert_eq!(
            eval("States.StringToJson($.s)", json!({"s": "{\"a\":1}"})).unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            eval("States.JsonToString($.o)", json!({"o": {"a": 1}})).unwrap(),
            json!("{\"a\":1}")
        );
        assert_eq!(
            eval("States.StringToJson('nope')", json!({}))
                .unwrap_err()
                .error,
            FAILURE
        );
    }

    #[test]
    fn arrays_and_math() {
        assert_eq!(
            eval("States.Array(1, 'a', $.x, null)", json!({"x": [true]})).unwrap(),
            json!([1, "a", [true], null])
        );
        assert_eq!(
            eval("States.ArrayLength($.a)", json!({"a": [1, 2, 3]})).unwrap(),
            json!(3)
        );
        assert_eq!(
            eval("States.MathAdd($.n, -2)", json!({"n": 5})).unwrap(),
            json!(3)
        );
        assert_eq!(
            eval("States.ArrayPartition(States.Array(1,2,3), 2)", json!({})).unwrap(),
            json!([[1, 2], [3]])
        );
        assert_eq!(
            eval("States.ArrayRange(1, 9, 3)", json!({})).unwrap(),
            json!([1, 4, 7])
        );
        assert_eq!(
            eval("States.ArrayGetItem($.a, 1)", json!({"a": [5, 6]})).unwrap(),
            json!(6)
        );
        assert_eq!(
            eval("States.ArrayContains($.a, 6)", json!({"a": [5, 6]})).unwrap(),
            json!(true)
        );
        assert_eq!(
            eval("States.ArrayUnique($.a)", json!({"a": [1, 1, 2]})).unwrap(),
            json!([1, 2])
        );
        assert_eq!(
            eval("States.MathAdd($.s, 1)", json!({"s": "a"}))
                .unwrap_err()
                .error,
            FAILURE
        );
        let r = eval("States.MathRandom(1, 5)", json!({}))
            .unwrap()
            .as_i64()
            .unwrap();
        assert!((1..5).contains(&r));
    }

    #[test]
    fn strings_base64_merge_uuid() {
        assert_eq!(
            eval("States.StringSplit('a,b,,c', ',')", json!({})).unwrap(),
            json!(["a", "b", "c"])
        );
        assert_eq!(
            eval("States.Base64Encode('Data to encode')", json!({})).unwrap(),
            json!("RGF0YSB0byBlbmNvZGU=")
        );
        assert_eq!(
            eval("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", json!({})).unwrap(),
            json!("Data to encode")
        );
        assert_eq!(
            eval(
                "States.JsonMerge($.a, $.b, false)",
                json!({"a": {"x": 1, "y": 1}, "b": {"y": 2}})
            )
            .unwrap(),
            json!({"x": 1, "y": 2})
        );
        let u = eval("States.UUID()", json!({})).unwrap();
        assert_eq!(u.as_str().unwrap().len(), 36);
    }

    #[test]
    fn hash_hex_digests() {
        let v = eval("States.Hash($.d, 'SHA-256')", json!({"d": "abc"})).unwrap();
        assert_eq!(
            v,
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        let v = eval("States.Hash('abc', 'MD5')", json!({})).unwrap();
        assert_eq!(v, json!("900150983cd24fb0d6963f7d28e17f72"));
        assert_eq!(
            eval("States.Hash('abc', $.alg)", json!({"alg": "CRC"}))
                .unwrap_err()
                .error,
            FAILURE
        );
    }

    #[test]
    fn nested_calls_and_paths_with_commas() {
        let v = eval(
            "States.Format('{}', States.JsonToString($['a,b']))",
            json!({"a,b": [1]}),
        );
        assert_eq!(v.unwrap(), json!("[1]"));
    }

    #[test]
    fn path_arguments_may_hold_filters() {
        let input = json!({"outs": [{"k": "A", "v": 1}, {"k": "B", "v": 2}]});
        let v = eval("States.ArrayGetItem($.outs[?(@.k == 'B')].v, 0)", input);
        assert_eq!(v.unwrap(), json!(2));
    }

    #[test]
    fn missing_path_is_a_runtime_error() {
        assert_eq!(
            eval("States.Format('{}', $.nope)", json!({}))
                .unwrap_err()
                .error,
            "States.Runtime"
        );
    }

    #[test]
    fn literal_arguments_of_the_wrong_kind_are_refused_at_parse_time() {
        for bad in [
            "States.Hash('abc', 'CRC')",
            "States.MathAdd(1,'-1')",
            "States.MathAdd(1.5, 1)",
            "States.ArrayRange(1, 'x', 1)",
            "States.ArrayLength('abc')",
            "States.JsonMerge($.a, $.b, true)",
            "States.StringToJson(5)",
            "States.Format(1, 2)",
        ] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
        for good in [
            "States.MathAdd($.a, -1)",
            "States.ArrayLength(States.Array(1))",
            "States.Format('{}', 1)",
        ] {
            assert!(parse(good).is_ok(), "{good} should parse");
        }
    }

    #[test]
    fn parse_errors_are_reported() {
        for bad in [
            "States.Nope(1)",
            "States.Format(",
            "States.Format('x'",
            "States.UUID(1)",
            "States.MathAdd(1)",
            "States.Array(1) extra",
            "States.Array(foo)",
        ] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
    }
}
